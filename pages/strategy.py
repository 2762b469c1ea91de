"""Our strategy: the objectives, and how your department's KPIs serve them — for every signed-in user."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpialign.ui import auth, nav
from kpialign.ui import line_of_sight as los
from kpialign.ui.widgets import plain

user = auth.require(nav.roles_for("pages/strategy.py"))

st.title("Our strategy")
st.caption("What the organisation is working towards, and how each department's KPIs serve it.")


def kpi_table(view) -> None:
    """The KPIs of a view in words, with the objectives each serves and how much."""
    if view.kpis.empty:
        st.info(view.note or "There are no KPIs to show.")
        return
    serves = (
        view.serves.assign(text=view.serves["objective"] + " (" + view.serves["how"] + ")")
        .groupby("kpi_id")["text"]
        .agg("; ".join)
        if not view.serves.empty
        else pd.Series(dtype=object)
    )
    table = view.kpis.assign(serves=view.kpis["kpi_id"].map(serves).fillna("not linked to an objective"))
    multi = table["department"].nunique() > 1
    cols = (["department"] if multi else []) + ["kpi", "words", "actual", "target", "unit", "change", "serves"]
    st.dataframe(
        table[cols],
        hide_index=True,
        width="stretch",
        column_config={
            "department": st.column_config.TextColumn("Department"),
            "kpi": st.column_config.TextColumn("KPI"),
            "words": st.column_config.TextColumn("This period", width="medium"),
            "actual": st.column_config.NumberColumn("Actual", format="%.1f"),
            "target": st.column_config.NumberColumn("Target", format="%.1f"),
            "unit": st.column_config.TextColumn("Unit", width="small"),
            "change": st.column_config.TextColumn("Since last period", width="medium"),
            "serves": st.column_config.TextColumn("Serves objective (how much)", width="large"),
        },
    )


view = los.strategy_view(user.department_id)
period = f"KPI month {view.period}" if view.period else "no KPI values yet"
st.caption(f"{period}. Status and trend in words: a trend is named only when it is clear after a significance test.")

st.header("Our objectives")
los.objectives(view.objectives)

if view.department_id is None:
    st.info(view.note or "", icon=":material/info:")
else:
    st.header(f"{plain(view.department)}: our KPIs")
    st.caption("Which objectives each KPI serves, how it is doing this period, and what changed since the last one.")
    kpi_table(view)
    st.subheader("What changed since the last period")
    if view.changes:
        for line in view.changes:
            st.text("• " + line)
    elif not view.kpis.empty:
        st.text(f"No KPI of {view.department} moved to a different status since {view.previous_period}.")

st.header("Other departments")
names = los.department_names()
others = sorted((n, i) for i, n in names.items() if i != view.department_id)
choice = st.selectbox(
    "See another department's KPIs",
    [i for _n, i in others],
    index=None,
    format_func=lambda i: names[i],
    placeholder="Choose a department",
    key="strategy.other",
)
if choice is not None:
    other = los.strategy_view(int(choice))
    st.subheader(plain(names[choice]))
    kpi_table(other)
