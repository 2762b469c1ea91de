"""The panels and forms of HR's Survey waves page: a wave's actions (open, close, delete, move the
closing date), participation, personal links, a new wave, and the question bank.

Every change is one audited service call (:mod:`kpialign.services.surveys`, the functions the CLI
calls too; closing also stores the wave's counts, :func:`kpialign.scorecard.counts.close_wave`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

import pandas as pd
import streamlit as st
from sqlmodel import Session

from kpialign import charts
from kpialign.config import ConfigError, load_settings, secret_key
from kpialign.core import csv_out
from kpialign.scorecard import counts
from kpialign.services import surveys
from kpialign.services.question_bank import DIMENSIONS
from kpialign.ui import data, forms, link_admin
from kpialign.ui.widgets import plain

P = "hr_waves"
LINKS = f"{P}.links"  # (wave name, CSV bytes) of the links just made: shown once, then gone
NOTICE = f"{P}.notice"
PENDING = f"{P}.pending"  # ("open" | "close", wave id) awaiting confirmation in a dialog
PARTICIPATION_BARS = 25  # more departments than this: chart the lowest rates, list all in a table
STATUS_ICON = {"draft": ":material/edit_note:", "open": ":material/radio_button_checked:", "closed": ":material/lock:"}


def run(action: Callable[[Session], Any], success: str, *, rerun: bool = False) -> bool:
    """One audited change in a write transaction; a refusal is shown and nothing is written.
    With ``rerun``, a change that went through reruns the page (which shows its notice)."""
    st.session_state.pop(PENDING, None)
    ok = forms.change(action, notice=NOTICE, success=success, unchanged=None).ok
    if ok and rerun:
        st.rerun()
    return ok


def status_line(wave: surveys.WaveInfo) -> str:
    """The wave's state in one line of Markdown (the wave's name is not in it: names are user text)."""
    return (
        f"{STATUS_ICON[wave.status]} **{wave.status.capitalize()}** · {wave.opens_on:%d %b %Y} to "
        f"{wave.closes_on:%d %b %Y} · {len(wave.department_ids)} departments · {len(wave.question_ids)} questions "
        f"· minimum group {wave.min_group}"
    )


def _dismiss() -> None:
    st.session_state.pop(PENDING, None)


def _confirm_pending(wave: surveys.WaveInfo, actor: str) -> None:
    """Keep the dialog of a pending open or close of this wave open until it is confirmed or dismissed."""
    pending = st.session_state.get(PENDING)
    if not pending:
        return
    if pending[1] != wave.id or {"draft": "open", "open": "close"}.get(wave.status) != pending[0]:
        _dismiss()  # another wave was chosen meanwhile, or the wave moved on: never reopen a stale dialog
        return
    if pending[0] == "open":
        forms.confirm(
            "Open this wave?", subject=f"Wave: {wave.name}", button="Open the wave", key=f"{P}.open_yes",
            icon=":material/play_arrow:", on_dismiss=_dismiss,
            message="Once open, the questions, departments and privacy thresholds are locked; only the "
            "closing date can still move. Personal links start working on the opening date.",
            on_confirm=lambda: run(
                lambda s: surveys.open_wave(session=s, wave_id=wave.id, actor=actor),
                f"Wave {wave.name} is open.", rerun=True,
            ),
        )  # fmt: skip
    else:
        forms.confirm(
            "Close this wave?", subject=f"Wave: {wave.name}", button="Close the wave", key=f"{P}.close_yes",
            icon=":material/lock:", cancel="Keep it open", cancel_key=f"{P}.close_no", warn=True, on_dismiss=_dismiss,
            message="Closing is final: every personal link stops working at once, and the wave's results "
            "never change again. Employees who have not answered yet can no longer answer.",
            # A closed wave never changes: closing also stores its counts once (scorecard.counts).
            on_confirm=lambda: run(
                lambda s: counts.close_wave(session=s, wave_id=wave.id, actor=actor), f"Wave {wave.name} is closed.",
                rerun=True,
            ),
        )  # fmt: skip


def wave_actions(wave: surveys.WaveInfo, actor: str) -> None:
    """Open (after a confirmation) or delete a draft; close an open wave (after a confirmation) or move its
    closing date."""
    c1, c2, _ = st.columns(3)
    if wave.status == "draft":
        if c1.button("Open wave", type="primary", icon=":material/play_arrow:", key=f"{P}.open"):
            st.session_state[PENDING] = ("open", wave.id)
        if c2.button("Delete draft", icon=":material/delete:", key=f"{P}.delete"):
            run(
                lambda s: surveys.delete_draft_wave(session=s, wave_id=wave.id, actor=actor),
                f"Draft {wave.name} deleted.",
                rerun=True,
            )
    elif wave.status == "open":
        if c1.button("Close wave…", type="primary", icon=":material/lock:", key=f"{P}.close"):
            st.session_state[PENDING] = ("close", wave.id)
        with c2.popover("Change closing date", icon=":material/event:"):
            new_close = st.date_input("Closes on", value=wave.closes_on, min_value=wave.opens_on, key=f"{P}.close_on")
            if st.button("Save date", key=f"{P}.save_close"):
                run(
                    lambda s: surveys.update_wave(session=s, wave_id=wave.id, closes_on=new_close, actor=actor),
                    "Closing date changed.",
                    rerun=True,
                )
    else:
        st.caption("This wave is closed; its results never change.")
    _confirm_pending(wave, actor)


def _rates(shown: pd.DataFrame) -> pd.DataFrame:
    shown = shown.copy()
    shown["rate"] = shown["rate"].astype(float)
    shown["label"] = [
        f"{int(r)} of {int(i)} ({x:.0%})"
        for r, i, x in zip(shown["responded"], shown["invited"], shown["rate"], strict=True)
    ]
    return shown


def participation_panel(wave: surveys.WaveInfo) -> None:
    """Who has answered, per department, above the wave's minimum group; and its CSV."""
    with data.reading() as session:
        part = surveys.participation(session=session, wave_id=wave.id)
    st.subheader("Participation")
    total = part[part["department"] == "All departments"].iloc[0]
    depts_part = part[part["department"] != "All departments"]
    if bool(total["shown"]) and total["invited"]:
        st.progress(
            min(float(total["rate"]), 1.0),
            text=f"All departments: {int(total['responded'])} of {int(total['invited'])} responded ({total['rate']:.0%})",
        )
    else:
        st.info(f"Participation appears once at least {wave.min_group} people are invited.", icon=":material/info:")
    shown, hidden = depts_part[depts_part["shown"]], depts_part[~depts_part["shown"]]
    if not shown.empty:
        shown = _rates(shown)
        many = len(shown) > PARTICIPATION_BARS
        chart_rows = shown
        if many:
            # At 200 departments one bar each is 7,000 px: chart the lowest rates (where a reminder helps).
            chart_rows = shown.sort_values(["rate", "department"]).head(PARTICIPATION_BARS)
            st.caption(
                f"The {PARTICIPATION_BARS} departments with the lowest response rate of {len(shown)}; "
                "every department is in the table below."
            )
        st.altair_chart(charts.participation_bars(chart_rows), width="stretch")
        if many:
            st.dataframe(
                shown.sort_values("rate")[["department", "invited", "responded", "rate"]],
                hide_index=True,
                width="stretch",
                column_config={
                    "department": "Department",
                    "invited": "Invited",
                    "responded": "Responded",
                    "rate": st.column_config.ProgressColumn("Rate", min_value=0, max_value=1, format="percent"),
                },
            )
        else:
            with st.expander("Progress per department"):
                for row in shown.sort_values("department").itertuples():
                    st.progress(
                        min(float(row.rate), 1.0),
                        text=f"{plain(row.department)}: {int(row.responded)} of {int(row.invited)} ({row.rate:.0%})",
                    )
    if not hidden.empty:
        st.caption(
            f"Not shown, to protect small groups (fewer than {wave.min_group} invited, or hidden so that "
            f"totals cannot reveal them): {plain(', '.join(hidden['department']))}"
        )
    st.download_button(
        "Download participation (CSV)",
        data=csv_out.write_csv(part.drop(columns=["department_id"]).assign(wave=wave.name), excel=True),
        file_name=csv_out.export_filename("participation", wave.name, date.today()),
        mime=csv_out.CSV_MIME,
        icon=":material/download:",
        key=f"{P}.part_csv",
    )


def _make_links(make: Callable[[Session], pd.DataFrame]) -> pd.DataFrame | None:
    try:
        with data.writing() as session:
            return make(session)
    except surveys.SurveyError as exc:
        st.error(plain(str(exc)), icon=":material/error:")
        return None


def links_panel(wave: surveys.WaveInfo, dept_path: Mapping[int, str], actor: str) -> None:
    """Make personal links (for a department, or one per row of a CSV); show them once; maintenance."""
    st.subheader("Personal links")
    st.caption(
        "Each link works once, only while the wave is open. Links are shown only now — kpialign "
        "keeps a one-way fingerprint of each link, never the link itself, and never the e-mail addresses."
    )
    how = st.radio("Make links", ["For a department", "From a CSV (email,department)"], horizontal=True, key=f"{P}.how")
    try:
        key = secret_key(load_settings().database_url)
    except ConfigError as exc:
        st.error(plain(str(exc)))
        return
    base = load_settings().base_url
    made: pd.DataFrame | None = None
    if how == "For a department":
        with st.form(f"{P}.invite_dept"):
            dept = st.selectbox("Department", list(wave.department_ids), format_func=lambda d: str(dept_path.get(d, d)))
            count = st.number_input("Number of links", min_value=1, max_value=surveys.MAX_LINKS_PER_BATCH, value=10)
            if st.form_submit_button("Make links", icon=":material/link:"):
                made = _make_links(
                    lambda s: surveys.invite_department(
                        session=s,
                        wave_id=wave.id,
                        department=int(dept),
                        count=int(count),
                        key=key,
                        base_url=base,
                        actor=actor,
                    )
                )
    else:
        upload = st.file_uploader("CSV file with the columns email and department", type=["csv"], key=f"{P}.upload")
        if upload is not None and st.button("Make one link per row", icon=":material/link:", key=f"{P}.csv_go"):
            text = upload.getvalue().decode("utf-8-sig", errors="replace")
            made = _make_links(
                lambda s: surveys.invite_from_csv(
                    session=s, wave_id=wave.id, csv_text=text, key=key, base_url=base, actor=actor
                )
            )
    if made is not None:
        st.session_state[LINKS] = (wave.name, len(made), csv_out.write_csv(made, excel=True))
    if (links := st.session_state.get(LINKS)) and links[0] == wave.name:
        st.success(f"{links[1]} personal link(s) made. Download them now; they cannot be shown again.")
        st.download_button(
            "Download links (CSV)",
            data=links[2],
            file_name=csv_out.export_filename("survey-links", wave.name, date.today()),
            mime=csv_out.CSV_MIME,
            type="primary",
            icon=":material/download:",
            key=f"{P}.links_csv",
            on_click="ignore",
        )
    link_admin.maintenance_panel(wave, dept_path, key=key, base_url=base, actor=actor)


def new_wave_form(questions: pd.DataFrame, dept_path: Mapping[int, str], actor: str) -> None:
    """Create a draft wave: name, dates, minimum group, questions (in order) and departments."""
    active = questions[questions["active"]]
    with data.reading() as session:
        defaults = surveys.wave_defaults(session=session)
    with st.form(f"{P}.create", clear_on_submit=False):
        name = st.text_input("Name", placeholder="e.g. Spring 2026", max_chars=200)
        c1, c2 = st.columns(2)
        opens_on = c1.date_input("Opens on", value=date.today())
        closes_on = c2.date_input("Closes on", value=date.today() + timedelta(days=14))
        min_group = st.number_input(
            "Minimum group size",
            min_value=surveys.MIN_GROUP_FLOOR,
            value=defaults.min_group,  # the admin's default k (Scoring settings)
            help="Results of groups with fewer responses are never shown. Locked once the wave opens.",
        )
        qlabels = {int(r.id): f"{r.code} · {r.text}" for r in active.itertuples()}
        chosen_q = st.multiselect(
            "Questions (in this order)", list(qlabels), default=list(qlabels), format_func=lambda q: str(qlabels[q])
        )
        chosen_d = st.multiselect(
            "Departments", list(dept_path), format_func=lambda d: str(dept_path[d]), placeholder="Choose departments"
        )
        if st.form_submit_button("Create draft wave", type="primary", icon=":material/add:") and run(
            lambda s: surveys.create_wave(
                session=s, name=name, opens_on=opens_on, closes_on=closes_on, question_ids=chosen_q,
                department_ids=chosen_d, min_group=int(min_group), actor=actor,
            ),
            f"Draft wave {name.strip()} created. Open it on the Waves tab when it is ready.",
        ):  # fmt: skip
            st.rerun()


def question_bank(questions: pd.DataFrame, actor: str) -> None:
    """Add a question; edit (unless a wave that has opened used it), retire or restore one."""
    c1, c2 = st.columns(2)
    with c1, st.form(f"{P}.add_q", clear_on_submit=True):
        st.markdown("**Add a question**")
        code = st.text_input("Code", max_chars=40, placeholder="e.g. LS4")
        text = st.text_area("Text", max_chars=500)
        dimension = st.selectbox("Dimension", list(DIMENSIONS), format_func=DIMENSIONS.get)
        reverse = st.checkbox("Reverse-scored (agreeing is unfavourable)")
        if st.form_submit_button("Add question", icon=":material/add:") and run(
            lambda s: surveys.add_question(
                session=s, code=code, text=text, dimension=dimension, reverse=reverse, actor=actor
            ),
            f"Question {code.strip().upper()} added.",
        ):
            st.rerun()
    with c2:
        st.markdown("**Edit, retire or restore**")
        qnames = {int(r.id): f"{r.code} · {r.text}" for r in questions.itertuples()}
        if not qnames:
            return
        qid = st.selectbox("Question", list(qnames), format_func=lambda q: str(qnames[q]), key=f"{P}.edit_q")
        row = questions.set_index("id").loc[qid]
        if bool(row["locked"]):
            st.caption("Used in a wave that has opened: it can be retired or restored, not edited.")
        else:
            new_text = st.text_area("Text", value=row["text"], key=f"{P}.edit_text.{qid}")
            if st.button("Save text", key=f"{P}.save_text") and run(
                lambda s: surveys.edit_question(session=s, question_id=qid, text=new_text, actor=actor),
                "Question updated.",
            ):
                st.rerun()
        active_now = bool(row["active"])
        label = "Retire question" if active_now else "Restore question"
        if st.button(label, key=f"{P}.toggle_q") and run(
            lambda s: surveys.set_question_active(session=s, question_id=qid, active=not active_now, actor=actor),
            f"Question {row['code']} {'retired' if active_now else 'restored'}.",
        ):
            st.rerun()
