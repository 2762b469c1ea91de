"""KPI data entry: actuals and period targets per department and period, and which periods are missing."""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from kpialign.core.errors import Refused
from kpialign.services import measurements, strategy
from kpialign.services.measurements import EditScope
from kpialign.ui import auth, data, nav, reviews_ui
from kpialign.ui.widgets import plain

user = auth.require(nav.roles_for("pages/kpi_data.py"))
scope = EditScope.for_user(user)
NOTICE = "kpi_data.notice"
HISTORY = 12  # months shown in the missing-periods view

st.title("KPI data")

with data.reading() as session:
    depts = strategy.departments_frame(session, include_retired=False)
    latest = measurements.latest_periods(session)

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
    until = max(until, measurements.period_bounds(latest_for)[1])
periods = list(reversed(measurements.recent_periods(freq, count=24 if freq == "monthly" else 8, until=until)))
default = periods.index(latest_for) if latest_for in periods else 0
period = c3.selectbox("Period", periods, index=default, key="kpi_data.period")

if notice := st.session_state.pop(NOTICE, None):
    st.success(plain(notice), icon=":material/check_circle:")

with data.reading() as session:
    grid = measurements.entry_grid(session, department_id=dept_id, period=period)

st.subheader(f"{plain(labels[dept_id])} — {period}")
if grid.empty:
    st.info(f"This department has no active {freq} KPIs.")
else:
    st.caption(
        "Enter the actual for each KPI. Leave 'Target this period' empty to use the KPI's default "
        "target; fill it in where this period's target differs. Every change is recorded in the audit log."
    )
    edited = st.data_editor(
        grid,
        hide_index=True,
        width="stretch",
        num_rows="fixed",
        disabled=["kpi_id", "kpi", "unit", "polarity", "default_target", "entered_by"],
        column_order=["kpi", "unit", "polarity", "default_target", "target", "actual", "entered_by"],
        column_config={
            "kpi": st.column_config.TextColumn("KPI", width="large"),
            "unit": st.column_config.TextColumn("Unit"),
            "polarity": st.column_config.TextColumn("Better when"),
            "default_target": st.column_config.NumberColumn("Default target"),
            "target": st.column_config.NumberColumn(
                "Target this period",
                help="Only where it differs from the default target",
                min_value=-1e15,
                max_value=1e15,
            ),
            "actual": st.column_config.NumberColumn("Actual", min_value=-1e15, max_value=1e15),
            "entered_by": st.column_config.TextColumn("Entered by"),
        },
        key=f"kpi_data.grid.{dept_id}.{period}",
    )
    entries, problems = measurements.grid_entries(grid, edited, period=period)
    if problems:
        st.error("Some cells cannot be saved:", icon=":material/error:")
        st.dataframe(
            pd.DataFrame([p.__dict__ for p in problems]).astype({"value": str}),
            hide_index=True,
            width="stretch",
            column_config={"kpi": "KPI", "column": "Column", "value": "Value", "reason": "Problem"},
        )
    save = st.button(
        f"Save {len(entries)} change(s)" if entries else "No changes to save",
        type="primary",
        disabled=not entries or bool(problems),
        icon=":material/save:",
        key="kpi_data.save",
    )
    if save:
        try:
            with data.writing() as session:
                summary = measurements.apply_entries(session, scope=scope, entries=entries)
        except Refused as exc:
            st.error(plain(str(exc)), icon=":material/error:")
        else:
            st.session_state[NOTICE] = f"Saved: {summary.describe()}"
            st.rerun()

    with_values = grid[grid["actual"].notna()]
    if not with_values.empty:
        with st.expander("Remove an actual entered by mistake"):
            names = dict(zip(with_values["kpi_id"].astype(int), with_values["kpi"], strict=True))
            victim = st.selectbox(
                "KPI", list(names), format_func=names.get, index=None, key=f"kpi_data.delete.{dept_id}.{period}"
            )
            sure = st.checkbox(
                f"Yes, remove this actual for {period} (the removal is recorded in the audit log)",
                key=f"kpi_data.delete_sure.{dept_id}.{period}",
            )
            if st.button("Remove actual", disabled=victim is None or not sure, key="kpi_data.delete_go"):
                try:
                    with data.writing() as session:
                        measurements.delete_value(session, scope=scope, kpi_id=victim, period=period)
                except Refused as exc:
                    st.error(plain(str(exc)), icon=":material/error:")
                else:
                    st.session_state[NOTICE] = f"Removed the actual of {names[victim]} for {period}."
                    st.rerun()

if not grid.empty:
    reviews_ui.checkin_editor(user, department_id=dept_id, period=period, kpis=grid)

# ------------------------------------------------------------------ missing periods
st.subheader("Which periods are missing")
end = measurements.period_bounds(period)[1]
months = measurements.recent_periods("monthly", count=HISTORY, until=end)
start = measurements.period_bounds(months[0])[0]
with data.reading() as session:
    missing = measurements.missing_periods(session, start=start, end=end, department_ids=[dept_id])
    kpis = strategy.kpis_frame(session, include_retired=False)
kpis = kpis[kpis["department_id"] == dept_id]
rows = []
for _, k in kpis.iterrows():
    for p in measurements.complete_periods(k["frequency"], start, end):
        rows.append({"kpi": k["name"], "period": p, "frequency": k["frequency"]})
status = pd.DataFrame(rows, columns=["kpi", "period", "frequency"])
if status.empty:
    st.info("No active KPIs in this department.")
else:
    gap = set(zip(missing["kpi"], missing["period"], strict=True))
    status["status"] = [
        "missing" if (k, p) in gap else "entered" for k, p in zip(status["kpi"], status["period"], strict=True)
    ]
    n_missing = int((status["status"] == "missing").sum())
    st.caption(
        f"{n_missing} of {len(status)} KPI periods from {months[0]} to {months[-1]} have no actual yet."
        if n_missing
        else f"Every KPI period from {months[0]} to {months[-1]} has an actual."
    )
    chart = (
        alt.Chart(status)
        .mark_rect(stroke="white", strokeWidth=2)
        .encode(
            x=alt.X("period:N", title="Period", sort=None, axis=alt.Axis(labelAngle=-45, labelOverlap=False)),
            y=alt.Y("kpi:N", title=None, axis=alt.Axis(labelLimit=260, labelOverlap=False)),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(domain=["entered", "missing"], range=["#4c9a6a", "#e07b39"]),
                legend=alt.Legend(title="Actual", orient="right"),
            ),
            tooltip=[alt.Tooltip("kpi:N", title="KPI"), "period:N", alt.Tooltip("status:N", title="Actual")],
        )
        # the height includes the rotated period labels and the axis title
        .properties(height=30 * status["kpi"].nunique() + 110)
    )
    st.altair_chart(chart, width="stretch")
    if n_missing:
        with st.expander(f"List of the {n_missing} missing KPI periods"):
            st.dataframe(
                missing[["kpi", "period", "frequency"]],
                hide_index=True,
                width="stretch",
                column_config={"kpi": "KPI", "period": "Period", "frequency": "Frequency"},
            )
