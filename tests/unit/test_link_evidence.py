"""Evidence for KPI links: series aligned on common periods (gaps explicit), the verdicts on the demo's
planted structure, the strategy map's filtering, conflicts and a committee's view."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kpialign import db
from kpialign.core import stats
from kpialign.scorecard import build
from kpialign.scorecard import links as links_read
from kpialign.services import kpi_links, strategy


def _s(periods, values) -> pd.Series:
    return pd.Series(values, index=periods, dtype=float)


def test_aligns_on_the_overlap_and_lists_every_gap_without_filling_it():
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    driver = _s(months, range(12)).drop("2025-05")
    outcome = _s(months[2:], range(10)).drop("2025-08")
    pair = links_read.align_pair(driver, outcome, driver_frequency="monthly", outcome_frequency="monthly")
    assert pair.periods == months[2:] and pair.frequency == "monthly"
    assert pair.missing == ["2025-05", "2025-08"]
    assert np.isnan(pair.driver[pair.periods.index("2025-05")]) and np.isnan(pair.outcome[pair.periods.index("2025-08")])
    assert pair.n == 8
    assert pair.driver[0] == 2 and pair.outcome[0] == 0  # same period, not shifted


def test_a_monthly_kpi_linked_to_a_quarterly_one_is_averaged_to_full_quarters_only():
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    monthly = _s(months, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]).drop("2025-08")
    quarterly = _s(["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"], [10, 20, 30, 40])
    pair = links_read.align_pair(monthly, quarterly, driver_frequency="monthly", outcome_frequency="quarterly")
    assert pair.frequency == "quarterly" and pair.periods == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    assert pair.driver[[0, 1, 3]].tolist() == [2.0, 5.0, 11.0] and np.isnan(pair.driver[2])
    assert pair.missing == ["2025-Q3"] and pair.n == 3


def test_series_that_do_not_overlap_give_nothing_to_test():
    a = _s(["2024-01", "2024-02"], [1, 2])
    b = _s(["2025-01", "2025-02"], [1, 2])
    pair = links_read.align_pair(a, b, driver_frequency="monthly", outcome_frequency="monthly")
    assert pair.periods == [] and pair.n == 0
    empty = links_read.align_pair(a, pd.Series(dtype=float), driver_frequency="monthly", outcome_frequency="monthly")
    assert empty.n == 0
