"""Property tests (hypothesis) for the statistics engine."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from kpialign.core.stats import (
    TREND_FIELDS,
    benjamini_hochberg,
    compare_likert,
    mann_kendall,
    mann_kendall_batch,
    pettitt,
    wilson_interval,
)

# Whole numbers (with NaN for gaps) keep differences, slopes and shifts exact, and tie often.
whole = st.one_of(st.integers(-40, 40).map(float), st.just(math.nan))
series = st.lists(whole, min_size=0, max_size=40)
real = st.one_of(st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False), st.just(math.nan))


def _eq(a: object, b: object) -> bool:
    """Equality where NaN equals NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


@given(series)
def test_reversing_a_series_flips_the_signs(values: list[float]) -> None:
    fwd, back = mann_kendall(values), mann_kendall(values[::-1])
    assert fwd.n == back.n
    if fwd.n < 3:
        return
    assert back.s == -fwd.s and back.z == -fwd.z and back.tau == -fwd.tau
    assert _eq(back.tau_b, -fwd.tau_b)
    assert back.slope == -fwd.slope
    assert back.slope_low == -fwd.slope_high and back.slope_high == -fwd.slope_low
    assert back.p == fwd.p and _eq(back.p_exact, fwd.p_exact) and back.h == fwd.h
    flipped = {"increasing": "decreasing", "decreasing": "increasing", "no trend": "no trend"}
    assert back.trend == flipped[fwd.trend]


@given(series, st.integers(-(10**6), 10**6))
def test_adding_a_constant_changes_only_the_intercept(values: list[float], shift: int) -> None:
    base = mann_kendall(values)
    moved = mann_kendall([v + shift for v in values])
    for name in TREND_FIELDS:
        if name != "intercept":
            assert _eq(getattr(moved, name), getattr(base, name)), name
    if base.n >= 3:
        assert math.isclose(moved.intercept, base.intercept + shift, rel_tol=1e-12, abs_tol=1e-9)


@given(st.integers(1, 12), st.integers(0, 30), st.data())
def test_batch_equals_the_loop(rows: int, width: int, data: st.DataObject) -> None:
    cell = data.draw(st.sampled_from([whole, real]))
    matrix = np.array(
        [data.draw(st.lists(cell, min_size=width, max_size=width)) for _ in range(rows)], dtype=float
    ).reshape(rows, width)
    frame = mann_kendall_batch(matrix)
    for r in range(rows):
        one, row = mann_kendall(matrix[r]), frame.iloc[r]
        for name in TREND_FIELDS:
            want, got = getattr(one, name), row[name]
            assert _eq(got.item() if hasattr(got, "item") else got, want), (r, name)


@given(st.lists(real, min_size=3, max_size=60))
def test_mann_kendall_invariants(values: list[float]) -> None:
    res = mann_kendall(values)
    if res.n < 3:
        assert res.trend == "insufficient data"
        return
    assert 0 < res.p <= 1 and -1 <= res.tau <= 1
    assert res.slope_low <= res.slope <= res.slope_high
    assert res.h == ((res.p_exact if not math.isnan(res.p_exact) else res.p) < 0.05)
    assert res.z * res.s >= 0 and (res.z != 0 or abs(res.s) <= 1)  # continuity correction: |S| = 1 gives z = 0


@given(st.lists(whole, min_size=2, max_size=50))
def test_pettitt_change_point_splits_the_series(values: list[float]) -> None:
    res = pettitt(values)
    n = sum(not math.isnan(v) for v in values)
    if n < 2:
        assert res.index is None
        return
    assert 0 <= res.statistic <= (n // 2) * (n - n // 2)  # at most the Mann-Whitney maximum
    assert 0 < res.p <= 1
    if res.index is not None:
        before = [v for v in values[: res.index] if not math.isnan(v)]
        after = [v for v in values[res.index :] if not math.isnan(v)]
        assert before and after and not math.isnan(values[res.index - 1])


@given(st.lists(st.one_of(st.floats(0, 1), st.just(math.nan)), max_size=50))
def test_bh_is_monotone_and_never_below_the_raw_p(p: list[float]) -> None:
    raw = np.array(p, dtype=float)
    adj = benjamini_hochberg(raw)
    ok = ~np.isnan(raw)
    assert np.array_equal(np.isnan(adj), ~ok)
    assert (adj[ok] >= raw[ok] - 1e-15).all() and (adj[ok] <= 1).all()
    order = np.argsort(raw[ok], kind="stable")
    assert (np.diff(adj[ok][order]) >= -1e-15).all()


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.floats(0.5, 0.999))
def test_wilson_contains_the_estimate(a: int, b: int, confidence: float) -> None:
    k, n = min(a, b), max(a, b)
    low, high = wilson_interval(k, n, confidence=confidence)
    if n == 0:
        assert math.isnan(low) and math.isnan(high)
        return
    assert 0 <= low <= k / n <= high <= 1


@given(st.lists(st.integers(0, 60), min_size=5, max_size=5), st.lists(st.integers(0, 60), min_size=5, max_size=5))
def test_likert_swap_symmetry(a: list[int], b: list[int]) -> None:
    ab, ba = compare_likert(a, b), compare_likert(b, a)
    if sum(a) == 0 or sum(b) == 0:
        assert math.isnan(ab.u) and math.isnan(ba.u)
        return
    assert ab.u + ba.u == sum(a) * sum(b)
    assert ab.rank_biserial == -ba.rank_biserial and ab.p_mwu == ba.p_mwu
    assert math.isclose(ab.fav_diff_low, -ba.fav_diff_high, abs_tol=1e-12)
    assert ab.fav_diff_low <= ab.fav_diff <= ab.fav_diff_high
    assert 0 < ab.p_mwu <= 1 and 0 < ab.p_fav <= 1
