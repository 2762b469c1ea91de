"""Department: its KPIs with trend charts, its survey items against the previous wave, participation."""

from __future__ import annotations

import streamlit as st

from kpialign.core import scoring
from kpialign.scorecard import views
from kpialign.ui import auth, nav, reviews_ui
from kpialign.ui import department_ui as dui
from kpialign.ui import line_of_sight as los
from kpialign.ui import scorecard_ui as ui

user = auth.require(nav.roles_for("pages/department.py"))

st.title("Department")


@st.fragment
def body() -> None:
    period, wave = ui.filters("department")
    sc = ui.get(period, wave, user=user)
    if sc.empty:
        st.info("There are no departments to score yet.")
        return
    rows = sc.departments.sort_values(["division", "department"])
    labels = [f"{d} ({v})" for d, v in zip(rows["department"], rows["division"], strict=True)]
    ids = rows["department_id"].tolist()
    default = 0
    wanted = st.query_params.get("id")
    if wanted and wanted.isdigit():
        los.refuse_out_of_scope(user, int(wanted), "department")
    if wanted and wanted.isdigit() and int(wanted) in ids:
        default = ids.index(int(wanted))
    choice = st.selectbox("Department", labels, index=default, key="department.choice")
    dept_id = ids[labels.index(choice)]
    view = views.department_view(sc, dept_id)
    row = view.row
    st.caption(ui.computed_from(sc))
    dui.headline(sc, row)

    st.subheader("Trends of the department's scores")
    comp = view.component_trends.assign(
        result=[
            scoring.trend_words(d, p, q)
            for d, p, q in zip(
                view.component_trends["direction"], view.component_trends["p"], view.component_trends["q"], strict=True
            )
        ]
    )
    st.dataframe(comp[["what", "result"]], hide_index=True, width="stretch",
                 column_config={"what": "Score", "result": "Mann-Kendall trend"})  # fmt: skip

    st.subheader("KPIs")
    dui.kpi_section(view, dept_id)
    st.subheader("Survey: line-of-sight items")
    dui.survey_items(sc, view)
    los.dimension_section(sc, dept_id, str(row["department"]), period=period, wave=wave)
    st.subheader("Participation")
    dui.participation(sc, dept_id)

    st.subheader("Review pack")
    quarters, q = reviews_ui.quarter_choices()
    pack_period = st.selectbox("Quarter", quarters, index=q, key="department.pack_period")
    reviews_ui.pack_download(department_id=dept_id, period=pack_period, label="Make the review pack",
                             key="department.pack", name=str(row["department"]))  # fmt: skip


body()
