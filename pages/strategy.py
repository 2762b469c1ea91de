"""Our strategy: the objectives, and how your department's KPIs serve them — for every signed-in user."""

from __future__ import annotations

import streamlit as st

from kpialign.ui import auth, nav
from kpialign.ui import line_of_sight as los
from kpialign.ui.widgets import plain

user = auth.require(nav.roles_for("pages/strategy.py"))

st.title("Our strategy")
st.caption("What the organisation is working towards, and how each department's KPIs serve it.")


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
    los.kpi_cards(view)
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
    los.kpi_cards(other)
