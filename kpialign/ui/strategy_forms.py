"""The forms of the Strategy setup page: objectives, departments, KPIs, links, expected coverage,
and the confirmation of a removal (retire what has history, delete the rest).

Every change is one audited service call (:mod:`kpialign.services.strategy`, the functions the
CLI and the strategy import call too) in one write transaction; keys keep the page's prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st
from sqlmodel import Session

from kpialign.models import kpi_columns
from kpialign.services import accounts, strategy
from kpialign.services.strategy import KpiInput
from kpialign.ui import data, forms
from kpialign.ui.widgets import plain

P = "strategy_setup"
NOTICE = f"{P}.notice"
PENDING = f"{P}.pending"  # the removal awaiting confirmation in a dialog: (kind, ids...)
POLARITY = {"higher": "Higher is better", "lower": "Lower is better", "range": "Inside a range"}
KEPT = " (kept for history, hidden from new work)."
NOTHING_REFERS = "Nothing refers to it, so it will be deleted."
KPI_COLUMNS = [  # from the one KPI shape (KpiRead): unit .. weight, then links and active
    "department",
    "name",
    *kpi_columns(without=("department_id", "name", "description", "owner_id", "active")),
    "links",
    "active",
]
KPI_TABLE_CONFIG = {
    "department": "Department",
    "name": "KPI",
    "unit": "Unit",
    "polarity": "Better when",
    "baseline": st.column_config.NumberColumn("Baseline"),
    "target": st.column_config.NumberColumn("Target"),
    "range_low": st.column_config.NumberColumn("Range low"),
    "range_high": st.column_config.NumberColumn("Range high"),
    "frequency": "Frequency",
    "weight": st.column_config.NumberColumn("Weight", format="%.2f"),
    "links": st.column_config.NumberColumn("Objective links"),
    "active": st.column_config.CheckboxColumn("Active"),
}


@dataclass(frozen=True)
class Setup:
    """Everything the page shows and its forms choose from, read once per run."""

    actor: str
    objectives: pd.DataFrame
    depts: pd.DataFrame
    kpis: pd.DataFrame
    links: pd.DataFrame
    expectations: pd.DataFrame
    obj_label: dict[int, str]
    dept_label: dict[int, str]
    active_objs: list[int]
    active_depts: list[int]
    owner_label: dict[int, str]

    @classmethod
    def load(cls, session: Session, *, actor: str) -> Setup:
        objectives = strategy.objectives_frame(session=session)
        depts = strategy.departments_frame(session=session)
        users = accounts.list_users(session=session)
        return cls(
            actor=actor,
            objectives=objectives,
            depts=depts,
            kpis=strategy.kpis_frame(session=session),
            links=strategy.links_frame(session=session),
            expectations=strategy.expectations_frame(session=session),
            obj_label=dict(
                zip(objectives["id"].astype(int), objectives["code"] + "  " + objectives["title"], strict=True)
            ),
            dept_label=dict(zip(depts["id"].astype(int), depts["path"], strict=True)),
            active_objs=[int(i) for i in objectives.loc[objectives["active"], "id"]],
            active_depts=[int(i) for i in depts.loc[depts["active"], "id"]],
            owner_label={int(r.id): r.email for r in users.itertuples() if r.active} if not users.empty else {},
        )


def run(action: Callable[[Session], Any], success: str | Callable[[Any], str]) -> None:
    """One audited change in a write transaction; a refusal is shown and nothing is written."""
    st.session_state.pop(PENDING, None)
    if forms.change(action, notice=NOTICE, success=success).ok:
        st.rerun()


def _num(value: float | None) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _parent_index(options: list[int], parent_id: object) -> int | None:
    current = None if pd.isna(parent_id) else int(parent_id)  # type: ignore[call-overload]
    return options.index(current) if current in options else None


# ----------------------------------------------------------------------------- objectives
def objective_forms(s: Setup) -> None:
    """Add an objective; change or remove one."""
    new_tab, edit_tab = st.tabs(["Add an objective", "Change or remove"])
    with new_tab, st.form(f"{P}.obj_new", clear_on_submit=True):
        c1, c2 = st.columns([1, 3])
        code = c1.text_input("Code", max_chars=40, placeholder="O4")
        title = c2.text_input("Title", max_chars=300)
        description = st.text_area("Description (optional)")
        c3, c4 = st.columns([3, 1])
        parent = c3.selectbox("Cascades from (parent)", s.active_objs, format_func=s.obj_label.get, index=None)
        weight = c4.number_input("Weight", min_value=0.0, value=1.0, step=0.5)
        if st.form_submit_button("Add objective", type="primary"):
            run(
                lambda ss: strategy.create_objective(
                    session=ss,
                    actor=s.actor,
                    code=code,
                    title=title,
                    description=description,
                    parent_id=parent,
                    weight=weight,
                ),
                f"Objective {code.strip()} added.",
            )
    with edit_tab:
        oid = st.selectbox("Objective", list(s.obj_label), format_func=s.obj_label.get, index=None, key=f"{P}.obj_pick")
        if oid is None:
            return
        row = s.objectives[s.objectives["id"] == oid].iloc[0]
        with st.form(f"{P}.obj_edit.{oid}"):
            title = st.text_input("Title", value=row["title"], max_chars=300)
            description = st.text_area("Description", value=row["description"])
            options = [o for o in s.active_objs if o != oid]
            index = _parent_index(options, row["parent_id"])
            parent = st.selectbox("Cascades from (parent)", options, format_func=s.obj_label.get, index=index)
            weight = st.number_input("Weight", min_value=0.0, value=float(row["weight"]), step=0.5)
            active = st.checkbox("Active", value=bool(row["active"]))
            if st.form_submit_button("Save changes", type="primary"):
                run(
                    lambda ss: strategy.update_objective(
                        session=ss, actor=s.actor, objective_id=oid, title=title, description=description,
                        parent_id=parent, weight=weight, active=active,
                    ),
                    "Objective saved.",
                )  # fmt: skip
        if st.button("Remove objective…", icon=":material/delete:", key=f"{P}.obj_remove"):
            st.session_state[PENDING] = ("objective", oid)


# ---------------------------------------------------------------------------- departments
def department_forms(s: Setup) -> None:
    """Add a department; change or remove one."""
    new_tab, edit_tab = st.tabs(["Add a department", "Change or remove"])
    with new_tab, st.form(f"{P}.dept_new", clear_on_submit=True):
        name = st.text_input("Name", max_chars=200)
        c1, c2 = st.columns([3, 1])
        parent = c1.selectbox("Part of", s.active_depts, format_func=s.dept_label.get, index=None)
        headcount = c2.number_input("Headcount", min_value=0, value=0, step=1)
        if st.form_submit_button("Add department", type="primary"):
            run(
                lambda ss: strategy.create_department(
                    session=ss, actor=s.actor, name=name, parent_id=parent, headcount=int(headcount)
                ),
                "Department added.",
            )
    with edit_tab:
        did = st.selectbox(
            "Department", list(s.dept_label), format_func=s.dept_label.get, index=None, key=f"{P}.dept_pick"
        )
        if did is None:
            return
        row = s.depts[s.depts["id"] == did].iloc[0]
        with st.form(f"{P}.dept_edit.{did}"):
            name = st.text_input("Name", value=row["name"], max_chars=200)
            options = [d for d in s.active_depts if d != did]
            index = _parent_index(options, row["parent_id"])
            parent = st.selectbox("Part of", options, format_func=s.dept_label.get, index=index)
            headcount = st.number_input("Headcount", min_value=0, value=int(row["headcount"]), step=1)
            active = st.checkbox("Active", value=bool(row["active"]))
            if st.form_submit_button("Save changes", type="primary"):
                run(
                    lambda ss: strategy.update_department(
                        session=ss, actor=s.actor, department_id=did, name=name, parent_id=parent,
                        headcount=int(headcount), active=active,
                    ),
                    "Department saved.",
                )  # fmt: skip
        if st.button("Remove department…", icon=":material/delete:", key=f"{P}.dept_remove"):
            st.session_state[PENDING] = ("department", did)


# ----------------------------------------------------------------------------------- KPIs
def kpi_form(s: Setup, key: str, start: KpiInput, *, submit: str) -> KpiInput | None:
    """The KPI form; returns the entered definition when submitted."""
    with st.form(key):
        c1, c2 = st.columns([3, 2])
        name = c1.text_input("Name", value=start.name, max_chars=200)
        # a retired KPI's own department stays choosable while it is edited
        keep = start.department_id in s.active_depts or not start.department_id
        options = s.active_depts if keep else [start.department_id, *s.active_depts]
        dept = c2.selectbox(
            "Department",
            options,
            format_func=s.dept_label.get,
            index=options.index(start.department_id) if start.department_id in options else None,
        )
        c0, c00 = st.columns([3, 2])
        description = c0.text_input("Definition (one line)", value=start.description)
        owners = list(s.owner_label)
        owner = c00.selectbox(
            "Owner (optional)",
            owners,
            format_func=s.owner_label.get,
            index=owners.index(start.owner_id) if start.owner_id in owners else None,
            help="The person accountable for the KPI. Who may enter its data is set by KPI-owner roles.",
        )
        c3, c4, c5, c6 = st.columns(4)
        unit = c3.text_input("Unit", value=start.unit, max_chars=40)
        polarity = c4.selectbox(
            "Polarity", list(POLARITY), format_func=POLARITY.get, index=list(POLARITY).index(start.polarity)
        )
        frequency = c5.selectbox(
            "Frequency", ["monthly", "quarterly"], index=["monthly", "quarterly"].index(start.frequency)
        )
        weight = c6.number_input("Weight", min_value=0.0, value=float(start.weight), step=0.5)
        c7, c8, c9, c10 = st.columns(4)
        baseline = c7.number_input("Baseline (optional)", value=_num(start.baseline), format="%g")
        target = c8.number_input("Target (higher/lower)", value=_num(start.target), format="%g")
        low = c9.number_input("Range low (range)", value=_num(start.range_low), format="%g")
        high = c10.number_input("Range high (range)", value=_num(start.range_high), format="%g")
        st.caption(
            "Higher/lower KPIs need a target (and optionally a baseline: attainment runs from baseline to "
            "target). Range KPIs need a low and a high end."
        )
        if not st.form_submit_button(submit, type="primary"):
            return None
    return KpiInput(
        department_id=dept,  # type: ignore[arg-type]
        name=name, unit=unit, polarity=polarity, baseline=baseline, target=target, range_low=low,
        range_high=high, frequency=frequency, weight=weight, owner_id=owner, description=description,
    )  # fmt: skip


def template_start(template: Any | None) -> KpiInput:
    """The blank KPI form, or one filled in from a KPI template (the department is left to choose)."""
    t = template
    return KpiInput(
        department_id=0,
        name=t.name if t else "",
        unit=t.unit if t else "",
        polarity=t.polarity if t else "higher",
        frequency=t.frequency if t else "monthly",
        range_low=t.range_low if t else None,
        range_high=t.range_high if t else None,
        description=t.definition if t else "",
    )


def kpi_forms(s: Setup, templates: dict[str, Any]) -> None:
    """Add a KPI (blank or from a template); change, retire, reactivate or remove one."""
    new_tab, edit_tab = st.tabs(["Add a KPI", "Change or remove"])
    with new_tab:
        tkey = st.selectbox(
            "Start from a template",
            list(templates),
            format_func=lambda k: f"{templates[k].category} — {templates[k].name} ({templates[k].unit})",
            index=None,
            placeholder="Blank form",
            key=f"{P}.template",
        )
        t = templates.get(tkey) if tkey else None
        if t is not None:
            st.caption(plain(f"{t.name}: {t.definition}"))
        entered = kpi_form(s, f"{P}.kpi_new.{tkey}", template_start(t), submit="Add KPI")
        if entered is not None:
            run(lambda ss: strategy.create_kpi(session=ss, actor=s.actor, kpi=entered), "KPI added.")
    with edit_tab:
        kpi_label = {
            int(r.kpi_id): f"{r.department} — {r.name}" + ("" if r.active else " (retired)")
            for r in s.kpis.itertuples()
        }
        kid = st.selectbox("KPI", list(kpi_label), format_func=kpi_label.get, index=None, key=f"{P}.kpi_pick")
        if kid is None:
            return
        with data.reading() as session:
            current_kpi = strategy.get_kpi(session=session, kpi_id=kid)
        entered = kpi_form(s, f"{P}.kpi_edit.{kid}", current_kpi, submit="Save changes")
        if entered is not None:
            run(lambda ss: strategy.update_kpi(session=ss, actor=s.actor, kpi_id=kid, kpi=entered), "KPI saved.")
        c1, c2 = st.columns(2)
        active_now = bool(s.kpis.loc[s.kpis["kpi_id"] == kid, "active"].iloc[0])
        if not active_now and c1.button("Reactivate KPI", key=f"{P}.kpi_reactivate"):
            run(
                lambda ss: strategy.set_kpi_active(session=ss, actor=s.actor, kpi_id=kid, active=True),
                "KPI reactivated.",
            )
        if active_now and c2.button("Remove KPI…", icon=":material/delete:", key=f"{P}.kpi_remove"):
            st.session_state[PENDING] = ("kpi", kid, kpi_label[kid])


# ---------------------------------------------------------------------------------- links
def link_form(s: Setup) -> None:
    """Link a KPI to an objective with a contribution (or change the contribution of a link)."""
    active_kpis = s.kpis[s.kpis["active"]]
    link_kpi_label = {int(r.kpi_id): f"{r.department} — {r.name}" for r in active_kpis.itertuples()}
    if not link_kpi_label or not s.active_objs:
        st.info("Add objectives and KPIs first.")
        return
    with st.form(f"{P}.link_form"):
        c1, c2 = st.columns(2)
        lk = c1.selectbox("KPI", list(link_kpi_label), format_func=link_kpi_label.get, index=None)
        lo = c2.selectbox("Objective", s.active_objs, format_func=s.obj_label.get, index=None)
        contribution = st.slider("Contribution", min_value=-1.0, max_value=1.0, value=1.0, step=0.05)
        if st.form_submit_button("Save link", type="primary"):
            if lk is None or lo is None:
                st.error("Choose a KPI and an objective.")
            else:
                run(
                    lambda ss: strategy.set_link(
                        session=ss, actor=s.actor, kpi_id=lk, objective_id=lo, contribution=contribution
                    ),
                    "Link saved.",
                )


def link_removal(s: Setup) -> None:
    """Pick a link to remove (confirmed in a dialog)."""
    link_label = {
        (int(r.kpi_id), int(r.objective_id)): f"{r.objective_code} ← {r.department} — {r.kpi} ({r.contribution:+.2f})"
        for r in s.links.itertuples()
    }
    pick = st.selectbox("Remove a link", list(link_label), format_func=link_label.get, index=None, key=f"{P}.link_pick")
    if pick is not None and st.button("Remove link…", icon=":material/link_off:", key=f"{P}.link_remove"):
        st.session_state[PENDING] = ("link", pick[0], pick[1], link_label[pick])


# ------------------------------------------------------------------------ expected coverage
def expectation_form(s: Setup, department_id: int) -> None:
    """The objectives one department is expected to serve."""
    current = [
        int(o)
        for o in s.expectations.loc[s.expectations["department_id"] == department_id, "objective_id"]
        if int(o) in s.active_objs
    ]
    with st.form(f"{P}.exp_form.{department_id}"):
        chosen = st.multiselect("Expected to serve", s.active_objs, default=current, format_func=s.obj_label.get)
        if st.form_submit_button("Save expectations", type="primary"):
            run(
                lambda ss: strategy.set_expectations(
                    session=ss, actor=s.actor, department_id=department_id, objective_ids=chosen
                ),
                lambda n: f"{n} expectation(s) changed.",
            )


# ------------------------------------------------------------------------ confirmations
@dataclass(frozen=True)
class Removal:
    """How one kind of removal is confirmed: what it is called, how its history is found, how it goes."""

    title: str
    noun: str
    key: str
    history: Callable[[Session, int], list[str]]
    remove: Callable[[Session, str, int], Any]  # (session, actor, id) -> "retired" | "deleted"
    retire_note: str
    delete_note: str


REMOVALS = {
    "objective": Removal(
        "Remove objective", "Objective", "obj",
        lambda ss, i: strategy.objective_has_history(session=ss, objective_id=i),
        lambda ss, actor, i: strategy.remove_objective(session=ss, actor=actor, objective_id=i), KEPT, NOTHING_REFERS,
    ),
    "department": Removal(
        "Remove department", "Department", "dept",
        lambda ss, i: strategy.department_has_history(session=ss, department_id=i),
        lambda ss, actor, i: strategy.remove_department(session=ss, actor=actor, department_id=i), KEPT, NOTHING_REFERS,
    ),
    "kpi": Removal(
        "Remove KPI", "KPI", "kpi",
        lambda ss, i: strategy.kpi_has_history(session=ss, kpi_id=i),
        lambda ss, actor, i: strategy.remove_kpi(session=ss, actor=actor, kpi_id=i),
        ": its data stays, no new values can be entered.",
        "It has no recorded data, so it will be deleted together with its objective links.",
    ),
}  # fmt: skip


def _dismiss() -> None:
    st.session_state.pop(PENDING, None)


def confirm_pending(s: Setup) -> None:
    """Keep the dialog of a pending removal open (across reruns) until it is confirmed or dismissed."""
    pending = st.session_state.get(PENDING)
    if not pending:
        return
    kind, *args = pending
    if kind == "link":
        kpi_id, objective_id, text = args
        forms.confirm(
            "Remove link", subject=text, button="Remove link", key=f"{P}.link_confirm",
            message="The KPI will no longer count towards this objective. The change is recorded in the audit log.",
            on_confirm=lambda: run(
                lambda ss: strategy.remove_link(session=ss, actor=s.actor, kpi_id=kpi_id, objective_id=objective_id),
                "Link removed.",
            ),
            on_dismiss=_dismiss,
        )  # fmt: skip
        return
    how, entity_id = REMOVALS[kind], args[0]
    labels = {"objective": s.obj_label, "department": s.dept_label}.get(kind, {})
    subject = args[1] if kind == "kpi" else labels.get(entity_id, f"#{entity_id}")
    with data.reading() as session:
        history = how.history(session, entity_id)
    forms.confirm_removal(
        how.title, subject=subject, history=history,
        retire_note=how.retire_note, delete_note=how.delete_note, key=f"{P}.{how.key}_confirm",
        on_confirm=lambda: run(lambda ss: how.remove(ss, s.actor, entity_id), lambda outcome: f"{how.noun} {outcome}."),
        on_dismiss=_dismiss,
    )  # fmt: skip
