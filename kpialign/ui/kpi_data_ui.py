"""The KPI data page's sections: the entry grid (actuals and period targets, with the cells that
cannot be saved), the removal of a mistaken actual, and which KPI periods are still missing.

Writes go through :func:`kpialign.services.measurements.apply_entries` and
:func:`~kpialign.services.measurements.delete_value` (the functions the CSV import and the CLI
use), which check the KPI owner's scope again; a refusal shows its message, anything else a
generic one (:func:`kpialign.ui.forms.change`).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpialign import charts
from kpialign.core.periods import complete_periods, period_bounds, recent_periods
from kpialign.services import measurements, strategy
from kpialign.services.measurements import EditScope
from kpialign.ui import data, forms

NOTICE = "kpi_data.notice"
HISTORY = 12  # months shown in the missing-periods view


def entry_grid(grid: pd.DataFrame, *, scope: EditScope, dept_id: int, period: str) -> None:
    """Edit the actuals and period targets of one department's KPIs for one period, and save them."""
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
    entries, problems = measurements.grid_entries(before=grid, after=edited, period=period)
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
    if (
        save
        and forms.change(
            lambda s: measurements.apply_entries(session=s, scope=scope, entries=entries),
            notice=NOTICE,
            success=lambda summary: f"Saved: {summary.describe()}",
            unchanged=None,
        ).ok
    ):
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
            remove = st.button("Remove actual", disabled=victim is None or not sure, key="kpi_data.delete_go")
            if (
                remove
                and forms.change(
                    lambda s: measurements.delete_value(session=s, scope=scope, kpi_id=victim, period=period),
                    notice=NOTICE,
                    success=f"Removed the actual of {names.get(victim)} for {period}.",
                    unchanged=None,
                ).ok
            ):
                st.rerun()


def period_status(kpis: pd.DataFrame, missing: pd.DataFrame, start, end) -> pd.DataFrame:
    """One row per KPI and complete period from ``start`` to ``end`` (by the KPI's frequency), with
    ``status`` "missing" where ``missing`` (kpi, period) lists it, else "entered"."""
    rows = []
    for _, k in kpis.iterrows():
        for p in complete_periods(k["frequency"], start, end):
            rows.append({"kpi": k["name"], "period": p, "frequency": k["frequency"]})
    status = pd.DataFrame(rows, columns=["kpi", "period", "frequency"])
    gap = set(zip(missing["kpi"], missing["period"], strict=True))
    status["status"] = [
        "missing" if (k, p) in gap else "entered" for k, p in zip(status["kpi"], status["period"], strict=True)
    ]
    return status


def missing_section(dept_id: int, period: str) -> None:
    """Which KPI periods of the last HISTORY months (to ``period``) have no actual yet."""
    st.subheader("Which periods are missing")
    end = period_bounds(period)[1]
    months = recent_periods("monthly", count=HISTORY, until=end)
    start = period_bounds(months[0])[0]
    with data.reading() as session:
        missing = measurements.missing_periods(session=session, start=start, end=end, department_ids=[dept_id])
        kpis = strategy.kpis_frame(session=session, include_retired=False)
    status = period_status(kpis[kpis["department_id"] == dept_id], missing, start, end)
    if status.empty:
        st.info("No active KPIs in this department.")
        return
    n_missing = int((status["status"] == "missing").sum())
    st.caption(
        f"{n_missing} of {len(status)} KPI periods from {months[0]} to {months[-1]} have no actual yet."
        if n_missing
        else f"Every KPI period from {months[0]} to {months[-1]} has an actual."
    )
    st.altair_chart(charts.missing_periods(status), width="stretch")
    if n_missing:
        with st.expander(f"List of the {n_missing} missing KPI periods"):
            st.dataframe(
                missing[["kpi", "period", "frequency"]],
                hide_index=True,
                width="stretch",
                column_config={"kpi": "KPI", "period": "Period", "frequency": "Frequency"},
            )
