"""Reorganise for admins: rename, move, merge, split or close a unit with an effective date; history kept."""

from __future__ import annotations

from datetime import date

import streamlit as st

from kpialign import charts
from kpialign.scorecard import history as unit_history
from kpialign.services import reorg, strategy
from kpialign.ui import auth, data, nav
from kpialign.ui.widgets import plain, refusals

user = auth.require(nav.roles_for("pages/reorganise.py"))
DONE = "reorganise.done"
STEPS = {
    "rename": "Rename",
    "move": "Move under another unit",
    "merge": "Merge into another unit",
    "split": "Split in two",
    "close": "Close",
}

st.title("Reorganise")
st.caption(
    "Record how the organisation changes. Each step has an effective date and is kept in the unit's history: "
    "a renamed or moved unit keeps its KPIs, trends and survey results; a merged unit's history stays "
    "visible under its own name before the merge date; survey results are never pooled across a merge."
)
if done := st.session_state.pop(DONE, None):
    st.success(plain(done), icon=":material/check_circle:")

with data.reading() as session:
    depts = strategy.departments_frame(session=session)
    kpis = strategy.kpis_frame(session=session, include_retired=False)
active = depts[depts["active"]]
if active.empty:
    st.info("There are no units yet. Add them on Strategy setup or import your directory.", icon=":material/info:")
    st.stop()
labels = dict(zip(active["id"], active["path"], strict=True))

unit = st.selectbox("Unit", list(labels), format_func=labels.get, key="reorganise.unit")
step = st.segmented_control("Change", list(STEPS), format_func=STEPS.get, default="rename", key="reorganise.step")
others = [d for d in labels if d != unit]

with st.form("reorganise.form"):
    effective_on = st.date_input("Effective date", value=date.today(), max_value=date.today())
    args: dict = {}
    if step == "rename":
        args["name"] = st.text_input("New name", value=str(active.set_index("id").loc[unit, "name"]), max_chars=200)
    elif step == "move":
        top = [None, *others]
        args["parent_id"] = st.selectbox(
            "New parent", top, format_func=lambda d: "(top level)" if d is None else labels[d]
        )
    elif step == "merge":
        args["into_id"] = st.selectbox("Merge into", others, format_func=labels.get)
        st.caption("Its KPIs, people, sub-units and headcount move to that unit; this unit is closed.")
    elif step == "split":
        args["new_name"] = st.text_input("Name of the new unit", max_chars=200)
        own = kpis[kpis["department_id"] == unit]
        kpi_names = dict(zip(own["kpi_id"], own["name"], strict=True))
        args["kpi_ids"] = st.multiselect("KPIs that move to the new unit", list(kpi_names), format_func=kpi_names.get)
        args["headcount"] = st.number_input("Headcount of the new unit", min_value=0, step=1, value=0)
    else:
        st.caption("Only a unit without active sub-units and KPIs can be closed; merge it otherwise.")
    submitted = st.form_submit_button(STEPS[step or "rename"], type="primary")

if submitted and step:
    fn = {
        "rename": reorg.rename_unit,
        "move": reorg.move_unit,
        "merge": reorg.merge_units,
        "split": reorg.split_unit,
        "close": reorg.close_unit,
    }[step]
    key = "source_id" if step == "merge" else "department_id"
    with refusals() as outcome, data.writing() as session:
        fn(session=session, actor=user.email, effective_on=effective_on, **{key: unit}, **args)
    if not outcome.failed:
        st.session_state[DONE] = f"{STEPS[step]}: {labels[unit]} — recorded with effective date {effective_on}."
        st.rerun()

st.subheader(f"Performance history of {labels[unit]}")
with data.reading() as session:
    series = unit_history.unit_history(session, unit)
    steps = [p.until.isoformat() for p in reorg.predecessors(session=session, department_id=unit)]
    survey = unit_history.unit_survey_history(session, unit)
    history = reorg.history_frame(session=session)
if series.empty:
    st.text("This unit has no KPIs of its own with data yet.")
else:
    st.altair_chart(charts.unit_history(series, merge_dates=steps), width="stretch")
    if steps:
        st.caption("Dashed: the history of a unit before it was merged in or split off, under its own name.")

if steps and not survey.empty:
    st.caption("Survey understanding by wave, each unit's own respondents (never pooled across a merge):")
    st.dataframe(
        survey.drop(columns=["kind", "suppressed"]),
        hide_index=True,
        width="stretch",
        column_config={
            "series": st.column_config.TextColumn("Unit", width="large"),
            "wave": st.column_config.TextColumn("Wave"),
            "closes_on": st.column_config.DateColumn("Closed"),
            "respondents": st.column_config.NumberColumn("Respondents", help="Blank: fewer than the wave's minimum"),
            "understanding": st.column_config.ProgressColumn("Understanding", min_value=0.0, max_value=1.0),
        },
    )

st.subheader("Reorganisation log")
if history.empty:
    st.text("No reorganisation recorded yet.")
else:
    st.dataframe(
        history,
        hide_index=True,
        width="stretch",
        column_config={
            "effective_on": st.column_config.DateColumn("Effective"),
            "unit": st.column_config.TextColumn("Unit"),
            "kind": st.column_config.TextColumn("Step"),
            "what": st.column_config.TextColumn("What changed", width="large"),
            "by": st.column_config.TextColumn("By"),
        },
        key="reorganise.history",
    )
