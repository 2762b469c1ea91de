"""The scorecard's result types: a wave as the scorecard sees it, and the whole scorecard.

Plain data (frames and dicts) built by :func:`kpialign.scorecard.build.build_scorecard` and
read by the page view-models in :mod:`kpialign.scorecard.views`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kpialign.core import privacy
from kpialign.core.scoring import CorrelationResult, ScoringSettings


@dataclass(frozen=True)
class WaveRef:
    wave_id: int
    name: str
    status: str
    min_group: int
    closes_on: Any
    responses: int

    @property
    def k(self) -> int:

        return privacy.effective_k(self.min_group)


@dataclass
class Scorecard:
    """The whole scorecard for one period and wave; every frame says what it was computed from."""

    settings: ScoringSettings
    period: str | None  # YYYY-MM
    month: int | None
    wave: WaveRef | None
    previous_wave: WaveRef | None
    waves: list[WaveRef]
    departments: pd.DataFrame  # one row per scored department (see department_scorecard)
    organisation: dict[str, Any]
    org_series: pd.DataFrame  # month, period, alignment, performance, understanding, coverage, units
    panel: pd.DataFrame  # department_id x month: performance, coverage, understanding (as of), alignment
    understanding: pd.DataFrame  # wave_id x department_id: U, interval, respondents, suppressed
    likert: pd.DataFrame  # shown cells only: wave_id, unit_id, unit_level, question_id, value, count
    kpis: pd.DataFrame  # one row per KPI: attainment in the period, trend, q over all KPIs
    attainment: pd.DataFrame  # long: kpi_id, period, month, actual, target, attainment, progress
    objectives: pd.DataFrame
    questions: pd.DataFrame
    changes: pd.DataFrame  # department x question: selected wave vs previous (shown cells only)
    correlation: CorrelationResult
    links: pd.DataFrame = field(default_factory=pd.DataFrame)  # kpi_id, objective_id, contribution (cascaded)
    expected: pd.DataFrame = field(default_factory=pd.DataFrame)  # department_id, objective_id
    division_of: dict[int, int] = field(default_factory=dict)  # department id -> division id
    division_names: dict[int, str] = field(default_factory=dict)
    division_respondents: pd.DataFrame = field(
        default_factory=pd.DataFrame
    )  # wave_id, division_id, respondents, suppressed
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.departments.empty


DEPARTMENT_COLUMNS = [
    "department_id",
    "department",
    "division",
    "headcount",
    "alignment",
    "status",
    "partial",
    "missing",
    "performance",
    "understanding",
    "u_low",
    "u_high",
    "coverage",
    "pick_share",
    "n_kpis",
    "n_with_data",
    "n_missing",
    "respondents",
    "u_suppressed",
    "n_expected",
    "n_covered",
    "trend",
    "trend_direction",
    "trend_p",
    "trend_q",
    "trend_significant",
    "trend_slope",
    "trend_n",
    "p_trend",
    "p_trend_q",
    "p_trend_p",
    "p_trend_direction",
    "u_trend",
    "u_trend_q",
    "u_trend_p",
    "u_trend_direction",
    "rank",
    "rank_p05",
    "rank_p95",
    "rank_shift",
    "quadrant",
    "period",
    "wave",
]
