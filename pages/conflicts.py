"""Conflicting priorities: where departments pull against each other, and what was decided."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from kpialign.scorecard import links as links_read
from kpialign.services import actions, kpi_links
from kpialign.ui import auth, data, links_ui, nav
from kpialign.ui.widgets import refusals

user = auth.require(nav.roles_for("pages/conflicts.py"))


def _opt(value: object) -> int | None:
    return None if pd.isna(value) else int(value)  # type: ignore[call-overload]


st.title("Conflicting priorities")
st.caption(
    "Three signs that departments pull in different directions: a KPI that works against an objective other "
    "departments push; a drawn link whose data move the opposite way to the one expected; and an objective on "
    "which some serving departments improve significantly while others worsen."
)
d = links_ui.load()
conf = links_read.conflicts(d.sc, d.pulling, d.links)
dept_ids = dict(zip(d.departments["name"], d.departments["id"].astype(int), strict=True))
if not actions.sees_everything(user=user):  # a manager sees the conflicts that involve their units
    items_all = links_read.conflict_items(conf, dept_ids)
    mine = items_all[items_all["department_ids"].map(lambda ids: any(user.manages(i) for i in ids))]
else:
    mine = links_read.conflict_items(conf, dept_ids)

c1, c2, c3 = st.columns(3)
c1.metric("KPIs pulling against an objective", len(conf.pulling))
c2.metric("Links with the opposite sign", len(conf.opposite))
c3.metric("Objectives with diverging trends", len(conf.diverging))

st.subheader("KPIs that pull against an objective others push")
if conf.pulling.empty:
    st.success("No KPI works against an objective that another department pushes.")
else:
    st.dataframe(
        conf.pulling[["objective_code", "objective", "kpi", "department", "contribution", "pushed_by"]],
        hide_index=True,
        column_config={
            "objective_code": "Code",
            "objective": "Objective",
            "kpi": "KPI pulling against it",
            "department": "Its department",
            "contribution": st.column_config.NumberColumn("Contribution", format="%.1f"),
            "pushed_by": "Departments pushing the objective",
        },
    )

st.subheader("Links whose data contradict the expected direction")
if conf.opposite.empty:
    st.success("No drawn link is contradicted by its data.")
else:
    st.dataframe(
        conf.opposite[
            ["driver", "driver_department", "outcome", "outcome_department", "expected_lag", "verdict", "q_text"]
        ],
        hide_index=True,
        column_config={
            "driver": "Driver KPI",
            "driver_department": "Driver's department",
            "outcome": "Outcome KPI",
            "outcome_department": "Outcome's department",
            "expected_lag": "Expected lag",
            "verdict": "Evidence",
            "q_text": "Adjusted (BH)",
        },
    )
    st.caption(links_ui.EVIDENCE_HELP)

st.subheader("Objectives on which departments' trends diverge")
if conf.diverging.empty:
    st.success("On no objective do serving departments move significantly in opposite directions.")
else:
    st.dataframe(
        conf.diverging[["code", "objective", "improving", "worsening", "details"]],
        hide_index=True,
        column_config={
            "code": "Code",
            "objective": "Objective",
            "improving": "Improving",
            "worsening": "Worsening",
            "details": "Trend per department",
        },
    )
    st.caption(
        "Per department: the contribution-weighted attainment of its KPIs serving the objective, month by month "
        f"over up to {d.sc.settings.trend_periods} months; Mann-Kendall test, Benjamini-Hochberg across all "
        f"objective × department series, significant at q < {d.sc.settings.alpha}."
    )

st.subheader("Record a decision")
manageable = mine[
    mine["department_ids"].map(lambda ids: any(actions.may_manage(user=user, department_id=i) for i in ids))
]
if manageable.empty:
    st.caption("Admins, leaders and the managers of the departments involved can record a decision here.")
else:
    names = {v: k for k, v in dept_ids.items()}
    pick = st.selectbox(
        "Conflict",
        manageable.index,
        format_func=lambda i: f"[{manageable.at[i, 'kind']}] {manageable.at[i, 'label']}",
        key="conflicts.pick",
    )
    involved = [i for i in manageable.at[pick, "department_ids"] if actions.may_manage(user=user, department_id=i)]
    dept = st.selectbox(
        "Department that acts", involved, format_func=lambda i: names.get(i, f"#{i}"), key="conflicts.department"
    )
    with st.form("conflicts.decision", clear_on_submit=True):
        title = st.text_input("Decision (short title)", max_chars=200)
        text = st.text_area("What was decided and why", max_chars=4000)
        due = st.date_input("Due", value=date.today() + timedelta(days=30), min_value=date.today())
        if st.form_submit_button("Record the decision as an action", type="primary"):
            with refusals() as outcome, data.writing() as session:
                kpi_links.record_conflict_decision(
                    session=session,
                    user=user,
                    department_id=int(dept),
                    title=title,
                    decision=text,
                    objective_id=_opt(manageable.at[pick, "objective_id"]),
                    kpi_id=_opt(manageable.at[pick, "kpi_id"]),
                    due_on=due,
                )
            if not outcome.failed:
                st.success("Recorded. It is followed up with the department's other actions.")

with data.reading() as session:
    decisions = kpi_links.conflict_decisions(session=session, user=user)
if not decisions.empty:
    st.caption("Decisions recorded so far")
    shown = decisions.assign(title=decisions["title"].str.removeprefix(kpi_links.DECISION_PREFIX))
    st.dataframe(
        shown[["title", "department", "status_label", "due_on", "owner", "description"]],
        hide_index=True,
        column_config={"title": "Decision", "status_label": "Status", "due_on": "Due", "description": "Details"},
    )
