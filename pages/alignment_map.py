"""The alignment map: which departments' KPIs serve which strategic objective, and what is missing."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpialign import charts
from kpialign.services import strategy
from kpialign.ui import auth, data, nav, vega

user = auth.require(nav.roles_for("pages/alignment_map.py"))


@st.cache_data(ttl=600, max_entries=8, show_spinner=False)
def _load(version: int, url: str) -> tuple[pd.DataFrame, strategy.Findings, pd.DataFrame, pd.DataFrame]:
    with data.reading() as session:
        return (
            strategy.alignment_matrix(session=session),
            strategy.findings(session=session),
            strategy.objectives_frame(session=session, include_retired=False),
            strategy.departments_frame(session=session, include_retired=False),
        )


@st.cache_data(ttl=600, max_entries=32, show_spinner=False)
def _heatmap(version: int, url: str, chosen: tuple[str, ...]) -> vega.Spec:
    """The heatmap of the chosen departments as a Vega-Lite spec, drawn once per data version."""
    matrix, _found, objectives, _depts = _load(version, url)
    shown = matrix[matrix["department"].isin(chosen)]
    return vega.spec(charts.alignment_heatmap(shown, objectives, departments=list(chosen)))


matrix, found, objectives, depts = _load(data.version(), str(data.engine().url))
MAX_COLUMNS = 20  # departments shown at once in the heatmap (more do not fit at 1400 px)

st.title("Alignment map")
st.caption(
    "Which departments' KPIs serve which strategic objective. A KPI serves an objective with a "
    "contribution above 0 and pulls against it below 0; departments are expected to serve the "
    "objectives set on the Strategy setup page."
)
if objectives.empty:
    st.info("There are no strategic objectives yet. An admin can add them on the Strategy setup page.")
    st.stop()

c1, c2, c3, c4 = st.columns(4)
c1.metric("Objectives without a KPI", len(found.coverage_gaps))
c2.metric("KPIs linked to no objective", len(found.orphans))
c3.metric("Conflicts", len(found.conflicts))
c4.metric("Expected but not covered", len(found.missing_expected))

# ------------------------------------------------------------------------------ heatmap
st.subheader("Objectives × departments")
if matrix.empty:
    st.info("No KPI is linked to an objective yet, and no department is expected to serve one.")
else:
    dept_options = sorted(matrix["department"].unique())
    # Group by division (the top of each department's path) so that 200 departments stay choosable.
    division_of = {int(i): str(p).split(" / ")[0] for i, p in zip(depts["id"], depts["path"], strict=True)}
    matrix = matrix.assign(division=matrix["department_id"].map(division_of))
    divisions = sorted(matrix["division"].dropna().unique())
    division = "All divisions"
    if len(dept_options) > MAX_COLUMNS and len(divisions) > 1:
        division = st.selectbox("Division", ["All divisions", *divisions], key="alignment_map.division")
    if division != "All divisions":
        dept_options = sorted(matrix.loc[matrix["division"] == division, "department"].unique())
    chosen = st.multiselect(
        "Departments",
        dept_options,
        default=dept_options[:MAX_COLUMNS],
        key=f"alignment_map.departments.{division}",
        help="The map shows departments that have KPIs linked to an objective or are expected to serve one.",
    )
    if len(dept_options) > MAX_COLUMNS:
        st.caption(f"{len(dept_options)} departments to choose from; the map stays readable with up to {MAX_COLUMNS}.")
    shown = matrix[matrix["department"].isin(chosen)]
    if shown.empty:
        st.info("Choose at least one department.")
    else:
        vega.show(_heatmap(data.version(), str(data.engine().url), tuple(chosen)))
        st.caption("The number in a cell is how many of the department's KPIs serve the objective. Hover for details.")

# ------------------------------------------------------------------------------ findings
st.subheader("Findings")
tabs = st.tabs(
    [
        f"Coverage gaps ({len(found.coverage_gaps)})",
        f"Orphan KPIs ({len(found.orphans)})",
        f"Conflicts ({len(found.conflicts)})",
        f"Missing expected coverage ({len(found.missing_expected)})",
    ]
)
with tabs[0]:
    st.caption("Objectives that no active KPI serves, neither directly nor through a child objective.")
    if found.coverage_gaps.empty:
        st.success("Every objective is served by at least one KPI.", icon=":material/check_circle:")
    else:
        st.dataframe(
            found.coverage_gaps[["code", "title", "path"]],
            hide_index=True,
            width="stretch",
            column_config={"code": "Code", "title": "Objective", "path": "Cascades from"},
        )
with tabs[1]:
    st.caption("Active KPIs linked to no objective: measured, but not tied to the strategy.")
    if found.orphans.empty:
        st.success("Every KPI is linked to an objective.", icon=":material/check_circle:")
    else:
        st.dataframe(
            found.orphans[["department", "kpi"]],
            hide_index=True,
            width="stretch",
            column_config={"department": "Department", "kpi": "KPI"},
        )
with tabs[2]:
    st.caption("KPIs that pull against an objective that another department's KPIs push.")
    if found.conflicts.empty:
        st.success("No department's KPIs pull against another department's objectives.", icon=":material/check_circle:")
    else:
        st.dataframe(
            found.conflicts[["objective_code", "objective", "department", "kpi", "contribution", "pushed_by"]],
            hide_index=True,
            width="stretch",
            column_config={
                "objective_code": "Objective",
                "objective": "Title",
                "department": "Pulling department",
                "kpi": "KPI",
                "contribution": st.column_config.NumberColumn("Contribution", format="%.2f"),
                "pushed_by": "Pushed by",
            },
        )
with tabs[3]:
    st.caption("Departments expected to serve an objective that have no KPI serving it.")
    if found.missing_expected.empty:
        st.success("Every department serves the objectives it is expected to serve.", icon=":material/check_circle:")
    else:
        st.dataframe(
            found.missing_expected[["department", "objective_code", "objective"]],
            hide_index=True,
            width="stretch",
            column_config={"department": "Department", "objective_code": "Objective", "objective": "Title"},
        )
