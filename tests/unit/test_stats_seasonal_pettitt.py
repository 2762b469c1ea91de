"""Seasonal Mann-Kendall against pymannkendall; Pettitt against published output and its definition."""

from __future__ import annotations

import math

import numpy as np
import pymannkendall as pmk
import pytest
from scipy import stats as sps

from kpialign.core.stats import ChangePoint, mann_kendall, pettitt, seasonal_mann_kendall

REL = 1e-9

# Pettitt (1979), Table 1 (simulated data of Page 1955), as shipped in R's trend package as
# `PagesData` and listed in the example of R's wq::pett
# (https://rdocumentation.org/packages/wq/versions/0.4.8/topics/pett).
PAGES_DATA = [
    -1.05, 0.96, 1.22, 0.58, -0.98, -0.03, -1.54, -0.71, -0.35, 0.66, 0.44, 0.91, -0.02, -1.42, 1.26, -1.02,
    -0.81, 1.66, 1.05, 0.97, 2.14, 1.22, -0.24, 1.60, 0.72, -0.12, 0.44, 0.03, 0.66, 0.56, 1.37, 1.66, 0.10,
    0.80, 1.29, 0.49, -0.07, 1.18, 3.29, 1.84,
]  # fmt: skip


def _seasonal_cases(count: int) -> list[tuple[np.ndarray, int]]:
    rng = np.random.default_rng(77)
    cases = []
    for k in range(count):
        period = int(rng.choice([2, 4, 7, 12]))
        length = period * int(rng.integers(2, 16)) + int(rng.integers(0, period))
        t = np.arange(length)
        x = np.sin(2 * np.pi * t / period) * 3 + rng.normal(size=length) + rng.normal(scale=0.02) * t
        if k % 3 == 1:
            x = np.round(x)
        elif k % 3 == 2:
            x = np.round(x, 1)
        x[rng.random(length) < rng.choice([0.0, 0.1, 0.3])] = np.nan
        cases.append((x, period))
    return cases


def test_seasonal_matches_pymannkendall() -> None:
    compared = 0
    for x, period in _seasonal_cases(300):
        ours = seasonal_mann_kendall(x, period)
        if ours.trend == "insufficient data":
            continue
        ref = pmk.seasonal_test(x, period=period)
        compared += 1
        assert ours.method == "seasonal" and math.isnan(ours.p_exact)
        assert ours.s == ref.s
        assert ours.var_s == pytest.approx(ref.var_s, rel=REL)
        assert ours.z == pytest.approx(ref.z, rel=REL)
        assert ours.tau == pytest.approx(ref.Tau, rel=REL)
        assert ours.slope == pytest.approx(ref.slope, rel=REL, abs=1e-15)
        assert ours.intercept == pytest.approx(ref.intercept, rel=REL, abs=1e-9)
        if ref.p >= 1e-6:  # see the Mann-Kendall tests for why smaller p use norm.sf
            assert ours.p == pytest.approx(ref.p, rel=REL)
        else:
            assert ours.p == pytest.approx(2 * sps.norm.sf(abs(ref.z)), rel=REL)
        assert ours.trend == ref.trend
        assert ours.slope_low <= ours.slope <= ours.slope_high
    assert compared > 250


def test_seasonal_with_period_one_is_the_plain_test() -> None:
    rng = np.random.default_rng(4)
    for _ in range(30):
        x = np.round(rng.normal(size=int(rng.integers(11, 80))), 1)
        x[rng.random(len(x)) < 0.1] = np.nan
        seasonal, plain = seasonal_mann_kendall(x, 1), mann_kendall(x)
        for name in ("s", "var_s", "z", "p", "tau", "slope", "intercept", "slope_low", "slope_high", "n", "trend"):
            assert getattr(seasonal, name) == getattr(plain, name), name
        assert seasonal.tau_b == pytest.approx(plain.tau_b, rel=1e-12)


def test_seasonal_slope_is_per_cycle() -> None:
    t = np.arange(12 * 6)
    pattern = np.array([5.0, 9, 2, 7, 7, 1, 0, 3, 8, 4, 6, 2])
    x = pattern[t % 12] + 0.5 * t  # 0.5 per month = 6 per year, on top of a seasonal shape
    res = seasonal_mann_kendall(x, 12)
    assert res.slope == res.slope_low == res.slope_high == 6.0
    assert res.trend == "increasing" and res.tau == 1.0
    assert res.intercept == pytest.approx(np.median(x) - 6.0 * np.median(t) / 12)


def test_seasonal_edge_cases() -> None:
    assert seasonal_mann_kendall([1.0, 2.0], 12).trend == "insufficient data"
    assert seasonal_mann_kendall(np.arange(12.0), 12).trend == "insufficient data"  # one value per season
    flat = seasonal_mann_kendall(np.ones(48), 12)
    assert (flat.s, flat.p, flat.trend) == (0.0, 1.0, "no trend")
    assert math.isnan(flat.tau_b)
    with pytest.raises(ValueError):
        seasonal_mann_kendall(np.arange(24.0), 0)
    with pytest.raises(ValueError):
        seasonal_mann_kendall(np.arange(24.0), 2.5)


# --------------------------------------------------------------------------- Pettitt


def test_pettitt_matches_published_pages_data_result() -> None:
    # Pettitt (1979): change point after observation 17, K = 232, p = 0.014 — quoted in R's
    # trend package, man/PagesData.Rd ("significant p = 0.014 change-point at i = 17"; repository
    # cran/trend) and in wq::pett's example ("K=232, p=0.0146, change-point=17").
    res = pettitt(PAGES_DATA)
    assert res.index == 17
    assert res.statistic == 232
    assert res.p == pytest.approx(0.0146, abs=5e-5)
    assert res.p == pytest.approx(0.014, abs=1e-3)
    assert res.p == pytest.approx(2 * math.exp(-6 * 232**2 / (40**3 + 40**2)), rel=1e-12)


def _pettitt_by_definition(x: np.ndarray) -> tuple[int, float]:
    """Pettitt's U_k = sum_{i<=k} sum_{j>k} sign(x_i - x_j), by brute force."""
    n = len(x)
    u = np.array([np.sign(x[:k, None] - x[None, k:]).sum() for k in range(1, n + 1)])
    return int(np.argmax(np.abs(u))) + 1, float(np.abs(u).max())


def test_pettitt_equals_its_definition_on_random_series() -> None:
    rng = np.random.default_rng(12)
    for _ in range(200):
        n = int(rng.integers(2, 60))
        x = np.round(rng.normal(size=n) + (np.arange(n) > rng.integers(0, n)) * rng.normal(), 1)
        index, stat = _pettitt_by_definition(x)
        res = pettitt(x)
        assert res.statistic == stat
        if stat > 0:
            assert res.index == index
            assert res.p == pytest.approx(min(1.0, 2 * math.exp(-6 * stat**2 / (n**3 + n**2))), rel=1e-12)


def test_pettitt_index_refers_to_the_original_positions() -> None:
    x = [1.0, np.nan, 1.2, 0.9, 1.1, np.nan, 5.0, 5.2, np.nan, 4.9, 5.1]
    res = pettitt(x)
    assert res.index == 5  # x[:5] is before the shift, x[5:] after
    assert pettitt([v for v in x if not math.isnan(v)]).index == 4


def test_pettitt_edge_cases() -> None:
    assert pettitt([3.0] * 10) == ChangePoint(None, 0.0, 1.0)
    for few in ([], [1.0], [np.nan, np.nan]):
        res = pettitt(few)
        assert res.index is None and math.isnan(res.statistic) and math.isnan(res.p)
    index, statistic, p = pettitt(np.r_[np.zeros(20), np.ones(20)])  # unpacks like a tuple
    assert index == 20 and statistic == 400 and p < 1e-3
