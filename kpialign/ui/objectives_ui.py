"""The Objectives page's content, computed once per data version and KPI month for every leader.

One ``st.cache_data`` entry holds what the page draws (the score chart as a Vega-Lite spec, the
objectives table, each objective's KPI table), so a warm rerun neither copies the scorecard nor
builds a chart (:mod:`kpialign.ui.vega`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from kpialign import charts
from kpialign.ui import scorecard_ui as ui
from kpialign.ui import vega
from kpialign.ui.widgets import plain


@dataclass(frozen=True)
class ObjectivesView:
    empty: bool
    period: str | None = None
    overall: dict = field(default_factory=dict)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    spec: vega.Spec | None = None
    kpis: list[tuple[str, pd.DataFrame]] = field(default_factory=list)  # per objective: label (Markdown-safe), KPIs


def _names(ids, names: dict, limit: int = 5) -> str:
    """The serving departments, sorted; at 200 departments the first few and how many more."""
    ds = sorted(names.get(d, str(d)) for d in ids)
    if len(ds) <= limit:
        return ", ".join(ds)
    return f"{len(ds)}: " + ", ".join(ds[:limit]) + f" and {len(ds) - limit} more"


@st.cache_data(ttl=3600, max_entries=16, show_spinner="Computing the scorecard…")
def _view(version: int, url: str, period: str | None) -> ObjectivesView:
    sc = ui.cached_scorecard(version, url, period, None)
    obj = sc.objectives
    if obj.empty:
        return ObjectivesView(empty=True)
    names = dict(zip(sc.departments["department_id"], sc.departments["department"], strict=True))
    table = pd.DataFrame(
        {
            "code": obj["code"],
            "objective": obj["title"],
            "score %": (obj["score"] * 100).round(1),
            "finding": [
                "gap: no KPI serves it" if g else ("conflict: a KPI pulls against it" if c else "")
                for g, c in zip(obj["gap"], obj["conflict"], strict=True)
            ],
            "KPIs serving": obj["n_kpis"],
            "with data": obj["n_with_data"],
            "departments": [_names(ds, names) for ds in obj["departments"]],
            "pulling against": obj["n_against"],
        }
    )
    spec = None
    if table["score %"].notna().any():
        spec = vega.spec(charts.objective_bars(table, green=sc.settings.green, amber=sc.settings.amber))
    kp = sc.kpis.merge(sc.links, on="kpi_id")
    kpis = []
    for o in obj.itertuples(index=False):
        mine = kp[kp["objective_id"] == o.objective_id]
        frame = pd.DataFrame(
            {
                "KPI": mine["name"],
                "department": mine["department_id"].map(names),
                "contribution": mine["contribution"],
                "via sub-objective": ~mine["direct"].astype(bool),
                "attainment %": (mine["attainment"] * 100).round(1),
                "trend": mine["trend"],
            }
        ).sort_values("contribution", ascending=False)
        kpis.append((plain(f"{o.code} — {o.title}"), frame))  # an expander's label is Markdown
    overall = dict(sc.organisation.get("objectives", {}))
    return ObjectivesView(False, sc.period, overall, table, spec, kpis)


def view(version: int, url: str, period: str | None) -> ObjectivesView:
    return ui.refusing(lambda: _view(version, url, period))
