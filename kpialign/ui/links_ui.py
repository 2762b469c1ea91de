"""Shared pieces of the links pages (strategy map, conflicts, committee, KPI links): cached reads.

Everything is keyed on the data version, so a new link, value or setting anywhere makes it stale.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from kpialign.scorecard import links as links_read
from kpialign.scorecard.model import Scorecard
from kpialign.services import kpi_links, strategy
from kpialign.ui import data, scorecard_ui


@dataclass(frozen=True)
class LinksData:
    sc: Scorecard
    links: pd.DataFrame  # kpi_links.links_frame joined with the evidence of each link
    pulling: pd.DataFrame  # strategy.findings(...).conflicts: KPIs pulling against an objective others push
    departments: pd.DataFrame  # id, name, path (active)


@st.cache_data(ttl=3600, max_entries=8, show_spinner="Testing the KPI links…")
def _load(version: int, url: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    sc = scorecard_ui.get()
    with data.reading() as session:
        links = kpi_links.links_frame(session=session)
        pulling = strategy.findings(session=session).conflicts
        depts = strategy.departments_frame(session=session, include_retired=False)
    return links_read.links_with_evidence(links, sc), pulling, depts


def load() -> LinksData:
    """The scorecard (latest period, latest closed wave), the links with evidence, the conflicts of kind (a)."""
    sc = scorecard_ui.get()
    links, pulling, depts = _load(data.version(), str(data.engine().url))
    return LinksData(sc, links, pulling, depts)


EVIDENCE_HELP = (
    "Evidence is a predictive association in past data, never proof of cause. For each link both KPIs' "
    "actuals are aligned on their common periods (missing periods stay missing), differenced or detrended, "
    "prewhitened with an AR filter fitted to the driver, then cross-correlated at lags 0–6 and tested with a "
    "Granger F-test at the expected lag; p-values are adjusted with Benjamini-Hochberg across all links. "
    "Fewer than 24 common periods: not enough data."
)
