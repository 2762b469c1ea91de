"""Mann-Kendall, Sen's slope and the batch version against independent references.

References: pymannkendall 1.4.3 (original_test, sens_slope, hamed_rao_modification_test),
scipy (theilslopes, kendalltau) and the published output of R's modifiedmk::mmkh.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pymannkendall as pmk
import pytest
from scipy import stats as sps

from kpialign.core import stats
from kpialign.core.stats import TREND_FIELDS, TrendResult, mann_kendall, mann_kendall_batch

REL = 1e-9
N_RANDOM = 1200

# R datasets::Nile, annual flow of the Nile at Aswan 1871-1970 (as printed by `Nile` in R).
NILE = [
    1120, 1160, 963, 1210, 1160, 1160, 813, 1230, 1370, 1140, 995, 935, 1110, 994, 1020, 960, 1180, 799, 958, 1140,
    1100, 1210, 1150, 1250, 1260, 1220, 1030, 1100, 774, 840, 874, 694, 940, 833, 701, 916, 692, 1020, 1050, 969,
    831, 726, 456, 824, 702, 1120, 1100, 832, 764, 821, 768, 845, 864, 862, 698, 845, 744, 796, 1040, 759,
    781, 865, 845, 944, 984, 897, 822, 1010, 771, 676, 649, 846, 812, 742, 801, 1040, 860, 874, 848, 890,
    744, 749, 838, 1050, 918, 986, 797, 923, 975, 815, 1020, 906, 901, 1170, 912, 746, 919, 718, 714, 740,
]  # fmt: skip


def random_series(rng: np.random.Generator, count: int, max_n: int = 200) -> list[np.ndarray]:
    """Series of length 3..max_n: continuous, rounded (ties), small integers (heavy ties), with NaNs."""
    out = []
    for k in range(count):
        n = int(rng.integers(3, max_n + 1))
        t = np.arange(n)
        base = rng.normal(size=n) + rng.normal(scale=0.05) * t
        kind = k % 5
        if kind == 0:
            x = base.copy()
        elif kind == 1:
            x = np.round(base, 1)
        elif kind == 2:
            x = rng.integers(0, 5, size=n).astype(float)
        elif kind == 3:
            x = np.round(base * 3)
        else:
            x = 1000.0 + np.round(base * 40) * 0.25
        x[rng.random(n) < rng.choice([0.0, 0.05, 0.2, 0.4])] = np.nan
        if np.count_nonzero(~np.isnan(x)) < 3:
            keep = rng.choice(n, size=3, replace=False)
            x[keep] = base[keep]
        out.append(x)
    out[0][:] = 7.0  # a constant series
    return out


@pytest.fixture(scope="module")
def random_cases() -> list[tuple[np.ndarray, TrendResult, object, object]]:
    rng = np.random.default_rng(20240601)
    cases = []
    for x in random_series(rng, N_RANDOM):
        cases.append((x, mann_kendall(x), pmk.original_test(x), pmk.sens_slope(x)))
    return cases


def same(a: TrendResult, b: TrendResult) -> bool:
    """Field-by-field equality where NaN equals NaN."""
    for name in TREND_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if not (x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))):
            return False
    return True


def _close(ours: float, ref: float, rel: float = REL, abs_: float = 0.0) -> bool:
    return ours == pytest.approx(float(ref), rel=rel, abs=abs_)


def test_matches_pymannkendall_on_random_series(random_cases) -> None:
    assert len(random_cases) >= 1000
    lengths = [len(x) for x, *_ in random_cases]
    assert min(lengths) == 3 and max(lengths) == 200
    assert sum(np.isnan(x).any() for x, *_ in random_cases) > 300
    for x, ours, ref, sen in random_cases:
        assert ours.n == np.count_nonzero(~np.isnan(x))
        assert ours.s == ref.s
        assert _close(ours.var_s, ref.var_s)
        assert _close(ours.z, ref.z)
        assert _close(ours.tau, ref.Tau)
        assert _close(ours.slope, sen.slope, abs_=1e-15)
        assert _close(ours.intercept, sen.intercept, abs_=1e-9)
        assert _close(ours.slope, ref.slope, abs_=1e-15)
        # pymannkendall computes p = 2 * (1 - cdf(|z|)), which loses relative precision
        # below ~1e-6; there the reference is the same formula without the cancellation.
        if ref.p >= 1e-6:
            assert _close(ours.p, ref.p)
        else:
            assert _close(ours.p, 2 * sps.norm.sf(abs(ref.z)))
        if math.isnan(ours.p_exact):  # otherwise h uses the exact p (tested below)
            assert ours.h == bool(ref.h)
            assert ours.trend == ref.trend


def test_batch_equals_loop_and_pymannkendall(random_cases) -> None:
    width = max(len(x) for x, *_ in random_cases)
    matrix = np.full((len(random_cases), width), np.nan)
    for row, (x, *_) in enumerate(random_cases):
        matrix[row, : len(x)] = x  # trailing NaNs keep every value's time position
    frame = mann_kendall_batch(matrix)
    assert list(frame.columns) == list(TREND_FIELDS)
    assert len(frame) == len(random_cases)
    for row, (_, ours, ref, _sen) in enumerate(random_cases):
        got = frame.iloc[row]
        for name in TREND_FIELDS:
            want = getattr(ours, name)
            if isinstance(want, float) and math.isnan(want):
                assert math.isnan(got[name]), (row, name)
            else:
                assert got[name] == want, (row, name)
        assert got["s"] == ref.s


def test_matches_scipy_theilslopes_and_kendalltau(random_cases) -> None:
    for x, ours, *_ in random_cases[:400]:
        t = np.flatnonzero(~np.isnan(x)).astype(float)
        xv = x[~np.isnan(x)]
        theil = sps.theilslopes(xv, t)
        assert _close(ours.slope, theil.slope, rel=1e-12, abs_=1e-15)
        assert _close(ours.intercept, theil.intercept, rel=1e-12, abs_=1e-9)
        assert _close(ours.slope_low, theil.low_slope, rel=1e-12, abs_=1e-15)
        assert _close(ours.slope_high, theil.high_slope, rel=1e-12, abs_=1e-15)
        if np.unique(xv).size == 1:
            assert math.isnan(ours.tau_b)  # scipy's kendalltau is NaN for a constant input too
        else:
            assert _close(ours.tau_b, sps.kendalltau(t, xv).statistic, rel=1e-12, abs_=1e-15)


def test_exact_p_matches_scipy_kendalltau_exact() -> None:
    rng = np.random.default_rng(3)
    for n in range(3, 11):
        for _ in range(25):
            x = rng.permutation(n).astype(float) * 1.5 - 4
            ours = mann_kendall(x)
            ref = sps.kendalltau(np.arange(n), x, method="exact").pvalue
            assert ours.p_exact == pytest.approx(ref, rel=1e-12)
    assert math.isnan(mann_kendall([1.0, 2.0, 2.0, 3.0]).p_exact)  # ties: no exact p
    assert math.isnan(mann_kendall(np.arange(11.0)).p_exact)  # n > 10
    assert mann_kendall([1.0, 2.0, 3.0]).p_exact == pytest.approx(2 / 6)


def test_h_and_trend_use_the_exact_p_where_it_exists() -> None:
    # Five increasing values: exact p = 2/120 = 0.0167, normal approximation p = 0.0275.
    res = mann_kendall([1.0, 2.0, 3.0, 4.0, 5.0], alpha=0.02)
    assert res.p_exact == pytest.approx(2 / 120) and res.p > 0.02
    assert res.h is True and res.trend == "increasing"
    perms = np.array(list(itertools.permutations(range(6))), dtype=float)
    frame = mann_kendall_batch(perms, alpha=0.02)
    assert (frame["h"] == (frame["p_exact"] < 0.02)).all()
    assert ((frame["p"] < 0.02) != frame["h"]).any()  # the normal approximation would differ
    # The exact test is valid: under H0 it rejects at most alpha of all orderings.
    assert frame["h"].mean() <= 0.02
    assert set(frame.loc[frame["h"], "trend"]) == {"increasing", "decreasing"}


# --------------------------------------------------------------------------- Hamed-Rao


def test_hamed_rao_matches_published_modifiedmk_output_for_nile() -> None:
    # Expected values: output of `mmkh(c(Nile))` printed in the modifiedmk 1.6 reference page,
    # repository patakamuri/modifiedmk, file docs/reference/mmkh.html (pkgdown example output;
    # also https://rdrr.io/cran/modifiedmk/man/mmkh.html).
    res = mann_kendall(NILE, method="hamed_rao")
    assert res.method == "hamed_rao"
    assert res.z == pytest.approx(-2.81997919565, rel=1e-9)  # "Corrected Zc"
    assert res.p == pytest.approx(0.00480267631, rel=1e-8)  # "new P-value"
    assert res.n_ratio == pytest.approx(2.14289832710, rel=1e-9)  # "N/N*"
    assert res.var_s == pytest.approx(241565.35691662686, rel=1e-12)  # "new.variance"
    assert res.tau == pytest.approx(-0.28020202020, rel=1e-9)  # "Tau"
    assert res.slope == pytest.approx(-2.6, rel=1e-12)  # "Sen's slope"
    assert res.trend == "decreasing"
    plain = mann_kendall(NILE)
    assert plain.method == "original" and plain.n_ratio == 1.0
    assert plain.z == pytest.approx(-4.12806652284, rel=1e-9)  # "Original Z" (same page)
    assert plain.p == pytest.approx(0.00003658263, rel=1e-6)  # "old P.value" (same page)
    assert plain.var_s == pytest.approx(112728.33333333331, rel=1e-12)  # "old.variance"


@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")  # pymannkendall, n/n* < 0
def test_hamed_rao_matches_pymannkendall_on_autocorrelated_series() -> None:
    rng = np.random.default_rng(11)
    checked = 0
    for k in range(150):
        n = int(rng.integers(24, 160))
        phi = rng.uniform(-0.5, 0.9)
        e = rng.normal(size=n)
        x = np.empty(n)
        x[0] = e[0]
        for i in range(1, n):
            x[i] = phi * x[i - 1] + e[i]
        x += rng.normal(scale=0.03) * np.arange(n)
        if k % 3 == 0:
            x = np.round(x, 1)
        ours = mann_kendall(x, method="hamed_rao")
        ref = pmk.hamed_rao_modification_test(x)
        base = mann_kendall(x)
        ratio = ref.var_s / base.var_s
        if ratio <= 0:  # the correction cannot be applied; we fall back and say so
            assert ours.method == "original"
            continue
        checked += 1
        assert ours.method == "hamed_rao"
        assert _close(ours.n_ratio, ratio)
        assert _close(ours.var_s, ref.var_s)
        assert _close(ours.z, ref.z)
        assert ours.s == ref.s
        if ref.p >= 1e-6:
            assert _close(ours.p, ref.p)
        assert ours.trend == ref.trend
    assert checked > 100


def test_hamed_rao_is_not_applied_to_short_or_constant_series() -> None:
    short = np.sin(np.arange(23.0))
    res = mann_kendall(short, method="hamed_rao")
    assert res.method == "original" and res.n_ratio == 1.0
    assert same(res, mann_kendall(short))
    flat = mann_kendall(np.full(40, 3.0), method="hamed_rao")
    assert flat.method == "original" and flat.p == 1.0


# --------------------------------------------------------------------------- edge cases


def test_constant_series() -> None:
    res = mann_kendall([4.0] * 12)
    assert (res.s, res.var_s, res.z, res.p, res.tau) == (0.0, 0.0, 0.0, 1.0, 0.0)
    assert (res.slope, res.slope_low, res.slope_high, res.intercept) == (0.0, 0.0, 0.0, 4.0)
    assert math.isnan(res.tau_b) and math.isnan(res.p_exact)
    assert res.trend == "no trend" and res.h is False


@pytest.mark.parametrize("x", [[], [np.nan] * 6, [1.0], [1.0, 2.0], [np.nan, 1.0, np.nan, 5.0, np.nan]])
def test_fewer_than_three_values_is_insufficient(x: list[float]) -> None:
    res = mann_kendall(x)
    assert res.trend == "insufficient data" and res.h is False
    assert res.n == np.count_nonzero(~np.isnan(np.asarray(x, dtype=float)))
    assert math.isnan(res.p) and math.isnan(res.s) and math.isnan(res.slope)
    row = mann_kendall_batch(np.array([[*x, np.nan]], dtype=float)).iloc[0]
    assert row["trend"] == "insufficient data" and math.isnan(row["p"])


def test_nans_keep_their_time_positions() -> None:
    res = mann_kendall([0.0, np.nan, np.nan, 3.0, 4.0])
    assert res.slope == 1.0 and res.intercept == 0.0 and res.n == 3
    assert res.s == mann_kendall([0.0, 3.0, 4.0]).s


def test_huge_z_does_not_underflow() -> None:
    x = np.arange(400.0)
    res = mann_kendall(x)
    assert res.z > 29
    assert 1 - sps.norm.cdf(res.z) == 0.0  # the naive formula would report p = 0
    assert res.p == 2 * sps.norm.sf(res.z) and res.p > 0


def test_ten_thousand_points() -> None:
    n = 10_000
    res = mann_kendall(np.arange(n) * 0.5 + 3)
    assert res.n == n and res.s == n * (n - 1) / 2
    assert res.slope == res.slope_low == res.slope_high == 0.5
    assert res.intercept == 3.0
    assert res.p > 0  # |z| ~ 150: floored at the smallest positive double, never 0
    assert res.trend == "increasing"
    rng = np.random.default_rng(5)
    x = rng.normal(size=n) + 0.0002 * np.arange(n)
    x[rng.random(n) < 0.01] = np.nan
    noisy = mann_kendall(x)
    t, xv = np.flatnonzero(~np.isnan(x)), x[~np.isnan(x)]
    pairs = len(xv) * (len(xv) - 1) / 2
    assert noisy.s == round(sps.kendalltau(t, xv).statistic * pairs)
    assert noisy.slope_low <= noisy.slope <= noisy.slope_high


def test_memory_bounded_path_equals_the_in_memory_path(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    rows = random_series(rng, 6, max_n=700)
    width = max(len(r) for r in rows)
    matrix = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        matrix[i, : len(r)] = r
    matrix[1, :] = np.round(rng.normal(size=width), 1)  # long, tied
    expected = mann_kendall_batch(matrix)
    single = [mann_kendall(r) for r in matrix]
    monkeypatch.setattr(stats, "_PAIR_BUDGET", 5_000)
    pd.testing.assert_frame_equal(mann_kendall_batch(matrix), expected)
    assert all(same(mann_kendall(r), want) for r, want in zip(matrix, single, strict=True))


def test_batch_keeps_a_dataframe_index_and_validates_input() -> None:
    frame = pd.DataFrame(np.arange(12.0).reshape(3, 4), index=["a", "b", "c"])
    out = mann_kendall_batch(frame)
    assert list(out.index) == ["a", "b", "c"]
    assert out["h"].dtype == bool and out["n"].dtype == np.int64
    assert (out["method"] == "original").all() and (out["n_ratio"] == 1.0).all()
    assert len(mann_kendall_batch(np.empty((0, 5)))) == 0
    nullable = pd.DataFrame({"m1": [1.0, 2.0], "m2": [pd.NA, 3.0], "m3": [4.0, 1.0]}, dtype="Float64")
    assert mann_kendall_batch(nullable)["n"].tolist() == [2, 3]
    assert mann_kendall(pd.Series([1.0, pd.NA, 2.0, 3.0], dtype="Float64")).n == 3
    with pytest.raises(ValueError):
        mann_kendall_batch(np.arange(5.0))
    with pytest.raises(ValueError):
        mann_kendall([1.0, np.inf, 2.0])
    with pytest.raises(ValueError):
        mann_kendall([1.0, 2.0, 3.0], alpha=1.5)
    with pytest.raises(ValueError):
        mann_kendall([1.0, 2.0, 3.0], method="yue_wang")


def test_batch_results_do_not_depend_on_the_cache_block_size(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(18)
    walks = np.cumsum(rng.normal(size=(61, 60)), axis=1)  # continuous: 18 rows per block, last one partial
    walks[5, 7] = np.nan
    walks[40] = np.round(walks[40])  # ties in one row of a block
    default = mann_kendall_batch(walks)
    for budget in (1, 1770 * 7, 1 << 22):  # one row per block, 7 rows, everything in one block
        monkeypatch.setattr(stats, "_CACHE_PAIRS", budget)
        pd.testing.assert_frame_equal(mann_kendall_batch(walks), default)
    for row in (0, 5, 17, 18, 40, 60):
        ref, sen = (
            pmk.original_test(walks[row]),
            sps.theilslopes(walks[row][~np.isnan(walks[row])], np.flatnonzero(~np.isnan(walks[row]))),
        )
        got = default.iloc[row]
        assert got["s"] == ref.s and _close(got["var_s"], ref.var_s)
        assert _close(got["slope"], sen.slope, abs_=1e-15)
        assert _close(got["slope_low"], sen.low_slope, abs_=1e-15)
        assert _close(got["slope_high"], sen.high_slope, abs_=1e-15)


def test_rows_without_ties_skip_the_tie_correction_and_rows_with_ties_keep_it() -> None:
    rng = np.random.default_rng(19)
    continuous = rng.normal(size=(4, 30))
    tied = np.round(rng.normal(size=(3, 30)) * 2)
    n = 30
    untied_var = n * (n - 1) * (2 * n + 5) / 18
    only_continuous = mann_kendall_batch(continuous)
    assert (only_continuous["var_s"] == untied_var).all()
    mixed = mann_kendall_batch(np.vstack([continuous, tied]))
    for row, x in enumerate(np.vstack([continuous, tied])):
        assert _close(mixed["var_s"].iloc[row], pmk.original_test(x).var_s)
    assert (mixed["var_s"].iloc[4:] < untied_var).all()
