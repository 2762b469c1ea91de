"""A cross-functional committee's scorecard: its departments' KPIs on its objectives, links, conflicts, cooperation."""

from __future__ import annotations

import streamlit as st

from kpialign import charts
from kpialign.scorecard import links as links_read
from kpialign.services import committees
from kpialign.ui import auth, data, links_ui, nav, scorecard_ui
from kpialign.ui.widgets import refusals

user = auth.require(nav.roles_for("pages/committee.py"))
LINK_COLUMNS = {
    "driver": "Driver KPI",
    "driver_department": "Driver's department",
    "outcome": "Outcome KPI",
    "outcome_department": "Outcome's department",
    "expected_lag": "Lag",
    "verdict": "Evidence",
    "q_text": "Adjusted (BH)",
}
CONFLICT_COLUMNS = {
    **LINK_COLUMNS,
    "objective_code": "Objective",
    "kpi": "KPI pulling against it",
    "department": "Its department",
    "pushed_by": "Pushed by",
    "code": "Objective",
    "improving": "Improving",
    "worsening": "Worsening",
    "details": "Trend per department",
}

st.title("Committee")
with data.reading() as session:
    visible = committees.committees_frame(session=session, user=user)
if visible.empty:
    st.info(
        "You are not on any cross-functional committee. Leaders and admins see every committee; "
        "an admin sets committees up on the Committees setup page."
    )
    st.stop()
names = dict(zip(visible["committee_id"].astype(int), visible["name"], strict=True))
cid = st.selectbox("Committee", list(names), format_func=names.get, key="committee.pick")
info = None
with refusals(), data.reading() as session:
    info = committees.committee_info(session=session, user=user, committee_id=int(cid))
if info is None:
    st.stop()

if info.description:
    st.text(info.description)
c1, c2, c3 = st.columns(3)
c1.caption("Objectives")
c1.text("\n".join(info.objectives["code"] + " " + info.objectives["title"]))
c2.caption("Departments")
c2.text("\n".join(info.departments["department"]))
c3.caption("Members")
c3.text("\n".join(info.members["name"].where(info.members["name"] != "", info.members["email"])) or "–")

d = links_ui.load()
objective_ids = info.objectives["objective_id"].astype(int).tolist()
department_ids = info.departments["department_id"].astype(int).tolist()
view = links_read.committee_view(
    d.sc, objective_ids=objective_ids, department_ids=department_ids, evidence_links=d.links, pulling=d.pulling
)

st.subheader("KPIs on the committee's objectives")
if view.kpis.empty:
    st.info("None of the committee's departments has a KPI serving its objectives yet.")
else:
    table = view.kpis[["department", "name", "objectives", "score", "status", "trend"]]
    st.dataframe(
        scorecard_ui.styled_status(table),
        hide_index=True,
        column_config={
            "department": "Department",
            "name": "KPI",
            "objectives": "Serves",
            "score": st.column_config.NumberColumn("% of target", format="%.0f"),
            "status": "Status",
            "trend": "Trend",
        },
    )
    st.caption(scorecard_ui.computed_from(d.sc))

st.subheader("How their KPIs depend on each other")
content = links_read.map_content(d.sc, view.links, objective_ids=objective_ids, department_ids=department_ids)
if view.links.empty:
    st.info("No KPI links are drawn between the committee's departments yet.")
else:
    st.graphviz_chart(
        charts.strategy_map_dot(content.objectives, content.kpis, content.serves, content.links), width="stretch"
    )
    st.dataframe(
        view.links[
            ["driver", "driver_department", "outcome", "outcome_department", "expected_lag", "verdict", "q_text"]
        ],
        hide_index=True,
        column_config=LINK_COLUMNS,
    )
    st.caption(links_ui.EVIDENCE_HELP)

st.subheader("Conflicts on its objectives")
conf = view.conflicts
if conf.total == 0:
    st.success("No conflicting priorities among the committee's departments on its objectives.")
for frame, what, cols in (
    (
        conf.pulling,
        "KPIs pulling against an objective others push",
        ["objective_code", "kpi", "department", "pushed_by"],
    ),
    (conf.opposite, "Links whose data contradict the expected direction", ["driver", "outcome", "verdict"]),
    (conf.diverging, "Objectives with diverging trends", ["code", "improving", "worsening", "details"]),
):
    if not frame.empty:
        st.caption(what)
        st.dataframe(frame[cols], hide_index=True)

st.subheader("Working across teams (survey)")
if view.survey.empty:
    st.info(
        "No cross-team survey results to show: they come from closed waves only, and a department's answers "
        "are hidden below the privacy threshold."
    )
else:
    st.dataframe(
        view.survey,
        hide_index=True,
        column_config={
            "department": "Department",
            "item": "Item",
            "text": "Statement",
            "favourable_pct": st.column_config.ProgressColumn("% agree", format="%.0f %%", min_value=0, max_value=100),
            "answers": "Answers",
        },
    )
    st.caption(
        f"Wave {view.wave} (closed). Departments with fewer responses than the threshold are left out. "
        "Results are confidential, not anonymous."
    )
