"""Home: the organisation at a glance, from the database."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from kpialign.services import summary
from kpialign.ui import auth, data, nav, reviews_ui

user = auth.require(nav.roles_for("pages/home.py"))
FRESHNESS_BARS = 25  # more departments than this: chart the least complete, list all in a table


@st.cache_data(ttl=600, max_entries=16, show_spinner=False)
def _glance(version: int, url: str) -> summary.Glance:  # not "_version": "_" args are not hashed
    with data.reading() as session:
        return summary.organisation_glance(session)


g = _glance(data.version(), str(data.engine().url))

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
fresh = g.freshness
if fresh.empty:
    st.info("No KPI values have been recorded yet.")
else:
    fresh = fresh.assign(
        status=pd.cut(fresh["share"], [-0.01, 0.5, 0.99, 1.0], labels=["mostly missing", "some missing", "complete"])
    )
    chart_df = fresh
    if len(fresh) > FRESHNESS_BARS:
        # At 200 departments a bar each is 5,000 px of mostly identical green: chart the least complete.
        complete = int((fresh["status"] == "complete").sum())
        chart_df = fresh.sort_values(["share", "department"]).head(FRESHNESS_BARS)
        st.caption(
            f"{complete} of {len(fresh)} departments have a value for every KPI. "
            f"The chart shows the {FRESHNESS_BARS} least complete; every department is in the table below it."
        )
    chart = (
        alt.Chart(chart_df)
        .mark_bar()
        .encode(
            x=alt.X(
                "share:Q",
                title="KPIs with data for the latest period",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            y=alt.Y("department:N", sort="-x", title=None, axis=alt.Axis(labelLimit=240)),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(
                    domain=["complete", "some missing", "mostly missing"], range=["#2e7d32", "#f9a825", "#c62828"]
                ),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            tooltip=["department", "kpis", "with_data_latest", alt.Tooltip("share:Q", format=".0%")],
        )
    )
    # Streamlit sizes the whole chart (axis and legend included) to this height: 28 px a bar plus room.
    st.altair_chart(chart, width="stretch", height=28 * len(chart_df) + 110)
    if len(fresh) > FRESHNESS_BARS:
        with st.expander(f"All {len(fresh)} departments"):
            st.dataframe(
                fresh.sort_values(["share", "department"])[["department", "kpis", "with_data_latest", "share"]],
                hide_index=True,
                width="stretch",
                column_config={
                    "department": "Department",
                    "kpis": "Active KPIs",
                    "with_data_latest": "With a value",
                    "share": st.column_config.ProgressColumn("Share", min_value=0, max_value=1, format="percent"),
                },
            )
