"""The Overview's heavy parts, computed once per data version and scope and shared by every leader.

Each section (headline figures and trend, the department table, the chart of each tab) is a
``st.cache_data`` entry keyed on the data version (a write in any replica makes it stale), the
filters, and the *units the user may see* (:func:`kpialign.scorecard.scope.visible_units`):
never on who asked. Leaders (all units) share one entry; a manager gets the entry of their own
units, cut from the leaders' scorecard by :func:`kpialign.scorecard.scope.cut_to` with the
same privacy rules, so a cache can never hand one scope's figures to another.

Charts are cached as Vega-Lite specs (:mod:`kpialign.ui.vega`), so a warm rerun only sends
what was computed before: no scorecard copy, no Altair validation, no pandas work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from kpialign import charts
from kpialign.core import scoring
from kpialign.scorecard import views
from kpialign.scorecard.model import Scorecard
from kpialign.services.accounts import UserContext
from kpialign.ui import data, vega
from kpialign.ui import scorecard_ui as ui
from kpialign.ui.widgets import plain

ALL_DIVISIONS = "All divisions"
CHART_ROWS = {"Top and bottom": "both", "Top": "top", "Bottom": "bottom"}
SCORES, QUADRANT, RANKING, MATRIX = (
    "Scores",
    "Understanding vs performance",
    "How robust is the ranking?",
    "Departments x objectives",
)
TABS = [SCORES, QUADRANT, RANKING, MATRIX]
STATUS_BADGE = {"green": "green", "amber": "orange", "red": "red"}
# The status tag's background per status: the pale colours the status cells always had.
STATUS_TAGS = {"green": "#c8e6c9", "amber": "#ffe0b2", "red": "#ffcdd2", "no score": "#e0e0e0"}
STATUS_COLUMN = st.column_config.MultiselectColumn(
    "Status", options=list(STATUS_TAGS), color=list(STATUS_TAGS.values())
)


@dataclass(frozen=True)
class Metric:
    label: str
    value: str
    help: str
    delta: str | None = None
    delta_color: str = "normal"


@dataclass(frozen=True)
class Headline:
    """Everything above the department table."""

    empty: bool
    computed_from: str = ""
    notes: list[str] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    status: str = ""
    trend_caption: str = ""
    trend_spec: vega.Spec | None = None
    divisions: list[str] = field(default_factory=list)
    alpha: float = 0.05


@dataclass(frozen=True)
class Panel:
    """One tab below the table: its chart (or a message when there is nothing to draw) and captions.

    Captions are Markdown-safe (user text in them went through :func:`kpialign.ui.widgets.plain`).
    """

    spec: vega.Spec | None
    captions: list[str]
    info: str = ""


def _shown(sc: Scorecard, division: str, search: str) -> pd.DataFrame:
    rows = sc.departments
    if division != ALL_DIVISIONS:
        rows = rows[rows["division"] == division]
    if search:
        rows = rows[rows["department"].str.contains(search, case=False, regex=False)]
    return rows


@st.cache_data(ttl=3600, max_entries=64, show_spinner="Computing the scorecard…")
def _headline(version: int, url: str, period: str | None, wave: str | None, units: ui.Units) -> Headline:
    sc = ui.scoped_scorecard(version, url, period, wave, units)
    if sc.empty:
        return Headline(empty=True)
    s, org = sc.settings, sc.organisation
    a, u = org["alignment"], org["understanding"]
    trend = org.get("trend") or {}
    words = scoring.trend_words(trend["direction"], trend["p_used"], None, int(trend["n"])) if trend else ""
    metrics = [
        Metric(
            "Organisation score",
            ui.score_text(a["value"]),
            f"Headcount-weighted mean of {a['units']} of {a['units_total']} departments "
            f"({a['headcount']:,.0f} of {a['headcount_total']:,.0f} people). Status: {org['status']}. " + words,
            delta=f"{trend['slope']:+.2f} per month" if trend.get("n", 0) >= 3 else None,
            delta_color="normal" if trend.get("significant") else "off",
        ),
        Metric("Performance P", ui.pct(org["performance"]["value"]), "Headcount-weighted mean attainment"),
        Metric(
            "Understanding U",
            ui.pct(u["value"]),
            f"From {u['units']} departments whose survey figures may be shown ({u['headcount']:,.0f} people).",
        ),
        Metric("Coverage C", ui.pct(org["coverage"]["value"]), "Share of expected objectives served by KPIs with data"),
    ]
    return Headline(
        empty=False,
        computed_from=ui.computed_from(sc),
        notes=list(sc.notes),
        metrics=metrics,
        status=str(org["status"]),
        trend_caption=("Organisation trend: " + words) if trend else "",
        trend_spec=vega.spec(charts.org_trend(sc.org_series, green=s.green, amber=s.amber)),
        divisions=[ALL_DIVISIONS, *sorted(sc.departments["division"].dropna().unique())],
        alpha=float(s.alpha),
    )


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _table(
    version: int, url: str, period: str | None, wave: str | None, units: ui.Units, division: str, search: str
) -> pd.DataFrame:
    """The department table for the filters (empty when nothing matches); status as a one-tag list.

    The status is shown as a coloured tag (:data:`STATUS_COLUMN`) rather than through a pandas
    Styler: a Styler is re-rendered cell by cell on every rerun (42 ms CPU for the 192 x 16
    enterprise table, against 1 ms for the plain table).
    """
    sc = ui.scoped_scorecard(version, url, period, wave, units)
    table = views.scorecard_table(_shown(sc, division, search))
    return table.assign(status=[[str(v)] for v in table["status"]])


@st.cache_data(ttl=3600, max_entries=128, show_spinner=False)
def _panel(
    version: int,
    url: str,
    period: str | None,
    wave: str | None,
    units: ui.Units,
    division: str,
    search: str,
    top_n: int,
    which: str,
    tab: str,
) -> Panel:
    sc = ui.scoped_scorecard(version, url, period, wave, units)
    s = sc.settings
    shown = _shown(sc, division, search)
    cut = charts.top_bottom(shown, "alignment", top_n, which=CHART_ROWS.get(which, "both"))
    note = [f"Showing {len(cut)} of {len(shown)} departments; use the filters to see others."] * (len(cut) < len(shown))
    if tab == QUADRANT:
        captions = []
        hidden = int(shown["understanding"].isna().sum())
        if hidden:
            captions.append(f"{hidden} department(s) not plotted: no survey figure may be shown for them.")
        captions.append("Correlation of understanding with next period's performance: " + sc.correlation.describe())
        if sc.correlation.what:
            captions.append(sc.correlation.what)
        chart = charts.quadrant(shown, p_cut=s.quadrant_performance, u_cut=s.quadrant_understanding)
        return Panel(vega.spec(chart), captions)
    if tab == RANKING:
        captions = [
            *note,
            f"Bars: 5–95 % of ranks over {s.mc_draws:,} random weightings around the configured weights "
            f"(seed {s.mc_seed}). Long bars: the rank depends on the weights.",
        ]
        unranked = cut.loc[cut["partial"].fillna(False).astype(bool), "department"].astype(str).tolist()
        if unranked:
            captions.append(  # department names are user text: escaped, never Markdown
                "Not ranked, partial score (a component is missing, so the score is not comparable): "
                + plain(", ".join(unranked))
            )
        return Panel(vega.spec(charts.rank_bands(cut)), captions)
    if tab == MATRIX:
        matrix = views.department_objective_matrix(sc)
        # rows in the same order as the score bars (best first), not in database order
        position = {d: i for i, d in enumerate(cut["department_id"])}
        matrix = matrix[matrix["department_id"].isin(position)]
        matrix = matrix.assign(_pos=matrix["department_id"].map(position)).sort_values("_pos", kind="stable")
        if matrix.empty:
            return Panel(None, [], info="No KPI is linked to an objective yet.")
        chart = charts.dept_objective_heatmap(matrix, green=s.green, amber=s.amber)
        captions = [
            *note,
            "Cells: % of target attained by the department's KPIs serving the objective; 'gap': expected but no KPI.",
        ]
        return Panel(vega.spec(chart), captions)
    return Panel(vega.spec(charts.score_bars(cut, green=s.green, amber=s.amber)), note)


@dataclass(frozen=True)
class View:
    """What the cached sections are keyed on, read once per rerun: data version, database, filters, scope."""

    version: int
    url: str
    period: str | None
    wave: str | None
    units: ui.Units

    @classmethod
    def of(cls, user: UserContext, period: str | None, wave: str | None) -> View:
        return cls(data.version(), str(data.engine().url), period, wave, ui.units_key(user))

    def _args(self) -> tuple:
        return (self.version, self.url, self.period, self.wave, self.units)

    def headline(self) -> Headline:
        return ui.refusing(lambda: _headline(*self._args()))

    def table(self, division: str, search: str) -> pd.DataFrame:
        return ui.refusing(lambda: _table(*self._args(), division, search))

    def panel(self, division: str, search: str, top_n: int, which: str, tab: str) -> Panel:
        return ui.refusing(lambda: _panel(*self._args(), division, search, int(top_n), which, tab))
