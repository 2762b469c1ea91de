"""KPI data entry: actuals and period targets per department and period, and which periods are missing."""

from __future__ import annotations

from datetime import date

import streamlit as st

from kpialign.core.periods import period_bounds, recent_periods
from kpialign.services import measurements, strategy
from kpialign.services.measurements import EditScope
from kpialign.ui import auth, data, forms, nav, reviews_ui
from kpialign.ui import kpi_data_ui as kdu
from kpialign.ui.widgets import plain

user = auth.require(nav.roles_for("pages/kpi_data.py"))
scope = EditScope.for_user(user)

st.title("KPI data")

with data.reading() as session:
    depts = strategy.departments_frame(session=session, include_retired=False)
    latest = measurements.latest_periods(session=session)

editable = depts if scope.departments is None else depts[depts["id"].isin(scope.departments)]
editable = editable[editable["kpis"] > 0]
if editable.empty:
    if scope.departments is not None and not scope.departments:
        st.warning("You are not the KPI owner of any department, so there is no KPI data for you to keep.")
    else:
        st.info("No department has active KPIs yet. An admin can add KPIs on the Strategy setup page.")
    st.stop()

labels = dict(zip(editable["id"].astype(int), editable["path"], strict=True))
c1, c2, c3 = st.columns([3, 1.2, 1.2])
dept_id = c1.selectbox("Department", list(labels), format_func=lambda i: labels[i], key="kpi_data.department")
freq = c2.segmented_control(
    "Frequency", ["monthly", "quarterly"], default="monthly", key="kpi_data.frequency", required=True
)
latest_for = latest.get(freq)
until = date.today()
if latest_for:
    until = max(until, period_bounds(latest_for)[1])
periods = list(reversed(recent_periods(freq, count=24 if freq == "monthly" else 8, until=until)))
default = periods.index(latest_for) if latest_for in periods else 0
period = c3.selectbox("Period", periods, index=default, key="kpi_data.period")

forms.show_notice(kdu.NOTICE)

with data.reading() as session:
    grid = measurements.entry_grid(session=session, department_id=dept_id, period=period)

st.subheader(f"{plain(labels[dept_id])} — {period}")
if grid.empty:
    st.info(f"This department has no active {freq} KPIs.")
else:
    kdu.entry_grid(grid, scope=scope, dept_id=dept_id, period=period)
    reviews_ui.checkin_editor(user, department_id=dept_id, period=period, kpis=grid)

kdu.missing_section(dept_id, period)
