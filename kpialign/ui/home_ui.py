"""Home's cached parts: the organisation at a glance and the data-freshness chart, once per data version.

Nothing here depends on who asks (the same figures for every signed-in user), so one cache
entry per data version serves everyone; the chart is cached as a Vega-Lite spec
(:mod:`kpialign.ui.vega`), so a warm Home sends it without rebuilding it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from kpialign import charts
from kpialign.services import summary
from kpialign.ui import data, vega

FRESHNESS_BARS = 25  # more departments than this: chart the least complete, list all in a table


@st.cache_data(ttl=600, max_entries=16, show_spinner=False)
def glance(version: int, url: str) -> summary.Glance:  # not "_version": "_" args are not hashed
    with data.reading() as session:
        return summary.organisation_glance(session=session)


@dataclass(frozen=True)
class Freshness:
    table: pd.DataFrame  # every department, least complete first
    spec: vega.Spec | None  # the chart of the least complete (at most FRESHNESS_BARS)
    bars: int
    note: str


@st.cache_data(ttl=600, max_entries=16, show_spinner=False)
def freshness(version: int, url: str) -> Freshness:
    """The freshness chart and table, built once per data version for everyone (no per-user content)."""
    fresh = glance(version, url).freshness
    if fresh.empty:
        return Freshness(fresh, None, 0, "")
    fresh = fresh.assign(
        status=pd.cut(fresh["share"], [-0.01, 0.5, 0.99, 1.0], labels=list(reversed(charts.FRESHNESS_COLOURS)))
    )
    chart_df, note = fresh, ""
    if len(fresh) > FRESHNESS_BARS:
        # At 200 departments a bar each is 5,000 px of mostly identical green: chart the least complete.
        complete = int((fresh["status"] == "complete").sum())
        chart_df = fresh.sort_values(["share", "department"]).head(FRESHNESS_BARS)
        note = (
            f"{complete} of {len(fresh)} departments have a value for every KPI. "
            f"The chart shows the {FRESHNESS_BARS} least complete; every department is in the table below it."
        )
    table = fresh.sort_values(["share", "department"])[["department", "kpis", "with_data_latest", "share"]]
    return Freshness(table, vega.spec(charts.freshness_bars(chart_df)), len(chart_df), note)
