"""Department: its KPIs with trend charts, its survey items against the previous wave, participation.

Every section comes from kpialign.ui.department_ui, computed once per data version, filters, scope
and department, and shared by every leader who opens that department.
"""

from __future__ import annotations

import streamlit as st

from kpialign.ui import auth, data, nav, reviews_ui
from kpialign.ui import department_ui as dui
from kpialign.ui import line_of_sight as los
from kpialign.ui import scorecard_ui as ui

user = auth.require(nav.roles_for("pages/department.py"))

st.title("Department")


@st.fragment
def body() -> None:
    period, wave = ui.filters("department")
    key = (data.version(), str(data.engine().url), period, wave, ui.units_key(user))
    pick = dui.choices(*key)
    if not pick.ids:
        st.info("There are no departments to score yet.")
        return
    default = 0
    wanted = st.query_params.get("id")
    if wanted and wanted.isdigit():
        los.refuse_out_of_scope(user, int(wanted), "department")
    if wanted and wanted.isdigit() and int(wanted) in pick.ids:
        default = pick.ids.index(int(wanted))
    choice = st.selectbox("Department", pick.labels, index=default, key="department.choice")
    dept_id = pick.ids[pick.labels.index(choice)]
    sec = dui.section(*key, dept_id)
    st.caption(sec.computed_from)
    dui.headline(sec)

    st.subheader("Trends of the department's scores")
    st.dataframe(sec.components, hide_index=True, width="stretch",
                 column_config={"what": "Score", "result": "Mann-Kendall trend"})  # fmt: skip

    st.subheader("KPIs")
    dui.kpi_section(sec, dept_id)
    st.subheader("Survey: line-of-sight items")
    dui.survey_items(sec)
    dui.dimensions(sec, dept_id, period=period, wave=wave)
    st.subheader("Participation")
    dui.participation(sec)

    st.subheader("Review pack")
    quarters, q = reviews_ui.quarter_choices()
    pack_period = st.selectbox("Quarter", quarters, index=q, key="department.pack_period")
    reviews_ui.pack_download(department_id=dept_id, period=pack_period, label="Make the review pack",
                             key="department.pack", name=str(sec.row["department"]))  # fmt: skip


body()
