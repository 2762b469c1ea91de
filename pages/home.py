"""Home: the organisation at a glance, from the database."""

from __future__ import annotations

import streamlit as st

from kpialign.ui import auth, data, home_ui, nav, reviews_ui, vega

user = auth.require(nav.roles_for("pages/home.py"))

version, url = data.version(), str(data.engine().url)
g = home_ui.glance(version, url)

st.title("Organisation at a glance")
greeting = f"Welcome, {user.name}." if user.name else "Welcome."
st.text(greeting)

if g.departments == 0:
    st.info(
        "The organisation is empty. An admin can add departments, objectives and KPIs on the "
        "Strategy setup page, or run `python -m kpialign seed-demo` to explore with demo data.",
        icon=":material/info:",
    )
    st.stop()

reviews_ui.home_alerts(user)

c1, c2, c3, c4 = st.columns(4)
c1.metric("Departments", g.departments, help=f"{g.top_level_units} top-level divisions; {g.headcount:,} people")
c2.metric(
    "Strategic objectives",
    g.objectives,
    delta=f"{g.objectives_without_kpi} without a KPI" if g.objectives_without_kpi else "all served by KPIs",
    delta_color="inverse" if g.objectives_without_kpi else "normal",
    delta_arrow="off",
)
c3.metric("Active KPIs", g.kpis)
c4.metric("Latest KPI month", g.latest_period or "no data yet")

st.subheader("Latest survey wave")
w = g.latest_wave
if w is None:
    st.info("No survey wave has been opened yet. HR can create one on the Survey waves page.")
else:
    status = {"open": "open now", "closed": "closed"}.get(w.status, w.status)
    st.text(f"{w.name} — {status} ({w.opens_on:%d %b %Y} to {w.closes_on:%d %b %Y})")
    if w.rate is None:
        st.caption(f"Participation is shown only when at least {w.min_group} people were invited.")
    else:
        st.progress(min(w.rate, 1.0), text=f"{w.responded:,} of {w.invited:,} invited responded ({w.rate:.0%})")

st.subheader("Data freshness")
if g.last_entry_at is not None:
    st.caption(
        f"Last KPI value entered {g.last_entry_at:%d %b %Y}. Share of each department's KPIs with a value for the latest period:"
    )
fresh = home_ui.freshness(version, url)
if fresh.table.empty:
    st.info("No KPI values have been recorded yet.")
else:
    if fresh.note:
        st.caption(fresh.note)
    # Streamlit sizes the whole chart (axis and legend included) to this height: 28 px a bar plus room.
    vega.show(fresh.spec, height=28 * fresh.bars + 110)
    if fresh.bars < len(fresh.table):
        with st.expander(f"All {len(fresh.table)} departments"):
            st.dataframe(
                fresh.table,
                hide_index=True,
                width="stretch",
                column_config={
                    "department": "Department",
                    "kpis": "Active KPIs",
                    "with_data_latest": "With a value",
                    "share": st.column_config.ProgressColumn("Share", min_value=0, max_value=1, format="percent"),
                },
            )
