"""Admin: objectives (a tree), departments (a tree, with headcount), KPIs, links and expected coverage."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from kpialign.models import kpi_columns
from kpialign.services import accounts, kpi_templates, strategy
from kpialign.services.strategy import KpiInput
from kpialign.ui import auth, data, forms, nav
from kpialign.ui.widgets import plain, refusals

user = auth.require(nav.roles_for("pages/strategy_setup.py"))
ACTOR = user.email
NOTICE = "strategy_setup.notice"
PENDING = "strategy_setup.pending"  # the removal awaiting confirmation in a dialog: (kind, ids...)
KPI_COLUMNS = [  # from the one KPI shape (KpiRead): unit .. weight, then links and active
    "department",
    "name",
    *kpi_columns(without=("department_id", "name", "description", "owner_id", "active")),
    "links",
    "active",
]
POLARITY = {"higher": "Higher is better", "lower": "Lower is better", "range": "Inside a range"}


def run(action: Callable, success: str) -> None:
    """One audited change in a write transaction; a refusal is shown and nothing is written."""
    st.session_state.pop(PENDING, None)
    result = None
    with refusals() as outcome, data.writing() as session:
        result = action(session)
    if outcome.failed:
        return
    st.session_state[NOTICE] = success.format(result=result) if result is not False else "Nothing changed."
    st.rerun()


def _num(value: float | None) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


with data.reading() as session:
    objectives = strategy.objectives_frame(session)
    depts = strategy.departments_frame(session)
    kpis = strategy.kpis_frame(session)
    links = strategy.links_frame(session)
    expectations = strategy.expectations_frame(session)
    users = accounts.list_users(session)

st.title("Strategy setup")
st.caption(
    "Every change on this page is validated first and recorded in the audit log with the state before and after."
)
if notice := st.session_state.pop(NOTICE, None):
    st.success(plain(notice), icon=":material/check_circle:")

obj_label = dict(zip(objectives["id"].astype(int), objectives["code"] + "  " + objectives["title"], strict=True))
dept_label = dict(zip(depts["id"].astype(int), depts["path"], strict=True))
active_objs = [int(i) for i in objectives.loc[objectives["active"], "id"]]
active_depts = [int(i) for i in depts.loc[depts["active"], "id"]]
owner_label = {int(r.id): r.email for r in users.itertuples() if r.active} if not users.empty else {}

t_obj, t_dept, t_kpi, t_link, t_exp = st.tabs(
    ["Objectives", "Departments", "KPIs", "KPI ↔ objective links", "Expected coverage"]
)


# ------------------------------------------------------------------------ confirmations
def _dismiss() -> None:
    st.session_state.pop(PENDING, None)


KEPT = " (kept for history, hidden from new work)."


def confirm_remove_objective(objective_id: int) -> None:
    with data.reading() as session:
        history = strategy.objective_has_history(session, objective_id)
    forms.confirm_removal(
        "Remove objective", subject=obj_label.get(objective_id, f"#{objective_id}"), history=history,
        retire_note=KEPT, delete_note="Nothing refers to it, so it will be deleted.", key="strategy_setup.obj_confirm",
        on_confirm=lambda: run(lambda s: strategy.remove_objective(s, actor=ACTOR, objective_id=objective_id),
                               "Objective {result}."),
        on_dismiss=_dismiss,
    )  # fmt: skip


def confirm_remove_department(department_id: int) -> None:
    with data.reading() as session:
        history = strategy.department_has_history(session, department_id)
    forms.confirm_removal(
        "Remove department", subject=dept_label.get(department_id, f"#{department_id}"), history=history,
        retire_note=KEPT, delete_note="Nothing refers to it, so it will be deleted.", key="strategy_setup.dept_confirm",
        on_confirm=lambda: run(lambda s: strategy.remove_department(s, actor=ACTOR, department_id=department_id),
                               "Department {result}."),
        on_dismiss=_dismiss,
    )  # fmt: skip


def confirm_remove_kpi(kpi_id: int, name: str) -> None:
    with data.reading() as session:
        history = strategy.kpi_has_history(session, kpi_id)
    forms.confirm_removal(
        "Remove KPI", subject=name, history=history,
        retire_note=": its data stays, no new values can be entered.",
        delete_note="It has no recorded data, so it will be deleted together with its objective links.",
        key="strategy_setup.kpi_confirm",
        on_confirm=lambda: run(lambda s: strategy.remove_kpi(s, actor=ACTOR, kpi_id=kpi_id), "KPI {result}."),
        on_dismiss=_dismiss,
    )  # fmt: skip


def confirm_remove_link(kpi_id: int, objective_id: int, text: str) -> None:
    forms.confirm(
        "Remove link", subject=text, button="Remove link", key="strategy_setup.link_confirm",
        message="The KPI will no longer count towards this objective. The change is recorded in the audit log.",
        on_confirm=lambda: run(lambda s: strategy.remove_link(s, actor=ACTOR, kpi_id=kpi_id, objective_id=objective_id),
                               "Link removed."),
        on_dismiss=_dismiss,
    )  # fmt: skip


# ----------------------------------------------------------------------------- objectives
with t_obj:
    if objectives.empty:
        st.info(
            "No objectives yet. Add the organisation's strategic objectives below; a child objective cascades its parent."
        )
    else:
        view = objectives.assign(objective=objectives["depth"].map(lambda d: "    " * d) + objectives["code"])
        st.dataframe(
            view[["objective", "title", "weight", "kpis", "active"]],
            hide_index=True,
            width="stretch",
            column_config={
                "objective": st.column_config.TextColumn("Code (indented under its parent)"),
                "title": "Title",
                "weight": st.column_config.NumberColumn("Weight", format="%.2f"),
                "kpis": st.column_config.NumberColumn("Active KPIs linked"),
                "active": st.column_config.CheckboxColumn("Active"),
            },
            key="strategy_setup.obj_table",
        )
    new_tab, edit_tab = st.tabs(["Add an objective", "Change or remove"])
    with new_tab, st.form("strategy_setup.obj_new", clear_on_submit=True):
        c1, c2 = st.columns([1, 3])
        code = c1.text_input("Code", max_chars=40, placeholder="O4")
        title = c2.text_input("Title", max_chars=300)
        description = st.text_area("Description (optional)")
        c3, c4 = st.columns([3, 1])
        parent = c3.selectbox("Cascades from (parent)", active_objs, format_func=obj_label.get, index=None)
        weight = c4.number_input("Weight", min_value=0.0, value=1.0, step=0.5)
        if st.form_submit_button("Add objective", type="primary"):
            run(
                lambda s: strategy.create_objective(
                    s, actor=ACTOR, code=code, title=title, description=description, parent_id=parent, weight=weight
                ),
                f"Objective {code.strip()} added.",
            )
    with edit_tab:
        oid = st.selectbox(
            "Objective", list(obj_label), format_func=obj_label.get, index=None, key="strategy_setup.obj_pick"
        )
        if oid is not None:
            row = objectives[objectives["id"] == oid].iloc[0]
            with st.form(f"strategy_setup.obj_edit.{oid}"):
                title = st.text_input("Title", value=row["title"], max_chars=300)
                description = st.text_area("Description", value=row["description"])
                options = [o for o in active_objs if o != oid]
                current = None if pd.isna(row["parent_id"]) else int(row["parent_id"])
                parent = st.selectbox(
                    "Cascades from (parent)",
                    options,
                    format_func=obj_label.get,
                    index=options.index(current) if current in options else None,
                )
                weight = st.number_input("Weight", min_value=0.0, value=float(row["weight"]), step=0.5)
                active = st.checkbox("Active", value=bool(row["active"]))
                if st.form_submit_button("Save changes", type="primary"):
                    run(
                        lambda s: strategy.update_objective(
                            s,
                            actor=ACTOR,
                            objective_id=oid,
                            title=title,
                            description=description,
                            parent_id=parent,
                            weight=weight,
                            active=active,
                        ),
                        "Objective saved.",
                    )
            if st.button("Remove objective…", icon=":material/delete:", key="strategy_setup.obj_remove"):
                st.session_state[PENDING] = ("objective", oid)

# ---------------------------------------------------------------------------- departments
with t_dept:
    if depts.empty:
        st.info("No departments yet. Add divisions, departments and teams below.")
    else:
        view = depts.assign(department=depts["depth"].map(lambda d: "    " * d) + depts["name"])
        st.dataframe(
            view[["department", "headcount", "kpis", "active"]],
            hide_index=True,
            width="stretch",
            column_config={
                "department": st.column_config.TextColumn("Department (indented under its parent)"),
                "headcount": st.column_config.NumberColumn("Headcount", format="%d"),
                "kpis": st.column_config.NumberColumn("Active KPIs"),
                "active": st.column_config.CheckboxColumn("Active"),
            },
            key="strategy_setup.dept_table",
        )
    new_tab, edit_tab = st.tabs(["Add a department", "Change or remove"])
    with new_tab, st.form("strategy_setup.dept_new", clear_on_submit=True):
        name = st.text_input("Name", max_chars=200)
        c1, c2 = st.columns([3, 1])
        parent = c1.selectbox("Part of", active_depts, format_func=dept_label.get, index=None)
        headcount = c2.number_input("Headcount", min_value=0, value=0, step=1)
        if st.form_submit_button("Add department", type="primary"):
            run(
                lambda s: strategy.create_department(
                    s, actor=ACTOR, name=name, parent_id=parent, headcount=int(headcount)
                ),
                "Department added.",
            )
    with edit_tab:
        did = st.selectbox(
            "Department", list(dept_label), format_func=dept_label.get, index=None, key="strategy_setup.dept_pick"
        )
        if did is not None:
            row = depts[depts["id"] == did].iloc[0]
            with st.form(f"strategy_setup.dept_edit.{did}"):
                name = st.text_input("Name", value=row["name"], max_chars=200)
                options = [d for d in active_depts if d != did]
                current = None if pd.isna(row["parent_id"]) else int(row["parent_id"])
                parent = st.selectbox(
                    "Part of",
                    options,
                    format_func=dept_label.get,
                    index=options.index(current) if current in options else None,
                )
                headcount = st.number_input("Headcount", min_value=0, value=int(row["headcount"]), step=1)
                active = st.checkbox("Active", value=bool(row["active"]))
                if st.form_submit_button("Save changes", type="primary"):
                    run(
                        lambda s: strategy.update_department(
                            s,
                            actor=ACTOR,
                            department_id=did,
                            name=name,
                            parent_id=parent,
                            headcount=int(headcount),
                            active=active,
                        ),
                        "Department saved.",
                    )
            if st.button("Remove department…", icon=":material/delete:", key="strategy_setup.dept_remove"):
                st.session_state[PENDING] = ("department", did)


# ----------------------------------------------------------------------------------- KPIs
def kpi_form(key: str, start: KpiInput, *, submit: str) -> KpiInput | None:
    """The KPI form; returns the entered definition when submitted."""
    with st.form(key):
        c1, c2 = st.columns([3, 2])
        name = c1.text_input("Name", value=start.name, max_chars=200)
        options = (
            active_depts
            if start.department_id in active_depts or not start.department_id
            else [
                start.department_id,
                *active_depts,
            ]
        )
        dept = c2.selectbox(
            "Department",
            options,
            format_func=dept_label.get,
            index=options.index(start.department_id) if start.department_id in options else None,
        )
        c0, c00 = st.columns([3, 2])
        description = c0.text_input("Definition (one line)", value=start.description)
        owners = list(owner_label)
        owner = c00.selectbox(
            "Owner (optional)",
            owners,
            format_func=owner_label.get,
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
        name=name,
        unit=unit,
        polarity=polarity,
        baseline=baseline,
        target=target,
        range_low=low,
        range_high=high,
        frequency=frequency,
        weight=weight,
        owner_id=owner,
        description=description,
    )


with t_kpi:
    if kpis.empty:
        st.info("No KPIs yet. Start from a template below, or from a blank form.")
    else:
        st.dataframe(
            kpis[KPI_COLUMNS],
            hide_index=True,
            width="stretch",
            column_config={
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
            },
            key="strategy_setup.kpi_table",
        )
    new_tab, edit_tab = st.tabs(["Add a KPI", "Change or remove"])
    with new_tab:
        templates = {t.key: t for t in kpi_templates.TEMPLATES}
        tkey = st.selectbox(
            "Start from a template",
            list(templates),
            format_func=lambda k: f"{templates[k].category} — {templates[k].name} ({templates[k].unit})",
            index=None,
            placeholder="Blank form",
            key="strategy_setup.template",
        )
        t = templates.get(tkey) if tkey else None
        if t is not None:
            st.caption(plain(f"{t.name}: {t.definition}"))
        start = KpiInput(
            department_id=0,
            name=t.name if t else "",
            unit=t.unit if t else "",
            polarity=t.polarity if t else "higher",
            frequency=t.frequency if t else "monthly",
            range_low=t.range_low if t else None,
            range_high=t.range_high if t else None,
            description=t.definition if t else "",
        )
        entered = kpi_form(f"strategy_setup.kpi_new.{tkey}", start, submit="Add KPI")
        if entered is not None:
            run(lambda s: strategy.create_kpi(s, actor=ACTOR, kpi=entered), "KPI added.")
    with edit_tab:
        kpi_label = {
            int(r.kpi_id): f"{r.department} — {r.name}" + ("" if r.active else " (retired)") for r in kpis.itertuples()
        }
        kid = st.selectbox("KPI", list(kpi_label), format_func=kpi_label.get, index=None, key="strategy_setup.kpi_pick")
        if kid is not None:
            with data.reading() as session:
                current_kpi = strategy.get_kpi(session, kid)
            entered = kpi_form(f"strategy_setup.kpi_edit.{kid}", current_kpi, submit="Save changes")
            if entered is not None:
                run(lambda s: strategy.update_kpi(s, actor=ACTOR, kpi_id=kid, kpi=entered), "KPI saved.")
            c1, c2 = st.columns(2)
            active_now = bool(kpis.loc[kpis["kpi_id"] == kid, "active"].iloc[0])
            if not active_now and c1.button("Reactivate KPI", key="strategy_setup.kpi_reactivate"):
                run(lambda s: strategy.set_kpi_active(s, actor=ACTOR, kpi_id=kid, active=True), "KPI reactivated.")
            if active_now and c2.button("Remove KPI…", icon=":material/delete:", key="strategy_setup.kpi_remove"):
                st.session_state[PENDING] = ("kpi", kid, kpi_label[kid])

# ---------------------------------------------------------------------------------- links
with t_link:
    st.caption(
        "Link a KPI to the objectives it serves. Contribution 1 = serves it fully, 0.5 = partly; "
        "a negative contribution means the KPI pulls against the objective (a trade-off)."
    )
    active_kpis = kpis[kpis["active"]]
    link_kpi_label = {int(r.kpi_id): f"{r.department} — {r.name}" for r in active_kpis.itertuples()}
    if not link_kpi_label or not active_objs:
        st.info("Add objectives and KPIs first.")
    else:
        with st.form("strategy_setup.link_form"):
            c1, c2 = st.columns(2)
            lk = c1.selectbox("KPI", list(link_kpi_label), format_func=link_kpi_label.get, index=None)
            lo = c2.selectbox("Objective", active_objs, format_func=obj_label.get, index=None)
            contribution = st.slider("Contribution", min_value=-1.0, max_value=1.0, value=1.0, step=0.05)
            if st.form_submit_button("Save link", type="primary"):
                if lk is None or lo is None:
                    st.error("Choose a KPI and an objective.")
                else:
                    run(
                        lambda s: strategy.set_link(
                            s, actor=ACTOR, kpi_id=lk, objective_id=lo, contribution=contribution
                        ),
                        "Link saved.",
                    )
    if links.empty:
        st.info("No links yet.")
    else:
        st.dataframe(
            links[["objective_code", "objective", "department", "kpi", "contribution"]],
            hide_index=True,
            width="stretch",
            column_config={
                "objective_code": "Objective",
                "objective": "Title",
                "department": "Department",
                "kpi": "KPI",
                "contribution": st.column_config.ProgressColumn(
                    "Contribution", min_value=-1.0, max_value=1.0, format="%.2f"
                ),
            },
            key="strategy_setup.link_table",
        )
        link_label = {
            (
                int(r.kpi_id),
                int(r.objective_id),
            ): f"{r.objective_code} ← {r.department} — {r.kpi} ({r.contribution:+.2f})"
            for r in links.itertuples()
        }
        pick = st.selectbox(
            "Remove a link", list(link_label), format_func=link_label.get, index=None, key="strategy_setup.link_pick"
        )
        if pick is not None and st.button("Remove link…", icon=":material/link_off:", key="strategy_setup.link_remove"):
            st.session_state[PENDING] = ("link", pick[0], pick[1], link_label[pick])

# ------------------------------------------------------------------------ expected coverage
with t_exp:
    st.caption(
        "Which objectives each department is expected to serve. The alignment map flags expected "
        "objectives that none of the department's KPIs serves, and coverage in the scorecard counts them."
    )
    if not active_depts or not active_objs:
        st.info("Add departments and objectives first.")
    else:
        edid = st.selectbox(
            "Department", active_depts, format_func=dept_label.get, index=None, key="strategy_setup.exp_dept"
        )
        if edid is not None:
            current = [
                int(o)
                for o in expectations.loc[expectations["department_id"] == edid, "objective_id"]
                if int(o) in active_objs
            ]
            with st.form(f"strategy_setup.exp_form.{edid}"):
                chosen = st.multiselect("Expected to serve", active_objs, default=current, format_func=obj_label.get)
                if st.form_submit_button("Save expectations", type="primary"):
                    run(
                        lambda s: strategy.set_expectations(s, actor=ACTOR, department_id=edid, objective_ids=chosen),
                        "{result} expectation(s) changed.",
                    )
        if not expectations.empty:
            st.dataframe(
                expectations[["department", "objective_code", "objective"]],
                hide_index=True,
                width="stretch",
                column_config={"department": "Department", "objective_code": "Objective", "objective": "Title"},
                key="strategy_setup.exp_table",
            )

# A pending removal keeps its dialog open across reruns until it is confirmed or dismissed.
pending = st.session_state.get(PENDING)
if pending:
    kind, *args = pending
    {
        "objective": confirm_remove_objective,
        "department": confirm_remove_department,
        "kpi": confirm_remove_kpi,
        "link": confirm_remove_link,
    }[kind](*args)
