"""Survey statistics: Likert comparison from counts, Wilson, Cronbach's alpha, Benjamini-Hochberg."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy import stats as sps

from kpialign.core.stats import benjamini_hochberg, compare_likert, cronbach_alpha, wilson_interval


def _expand(counts: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(1, len(counts) + 1), counts).astype(float)


def _random_counts(rng: np.random.Generator, k: int) -> np.ndarray:
    counts = rng.multinomial(int(rng.integers(1, 400)), rng.dirichlet(np.ones(k)))
    counts[rng.random(k) < 0.2] = 0  # empty categories
    if counts.sum() == 0:
        counts[int(rng.integers(0, k))] = 3
    return counts


# --------------------------------------------------------------------------- compare_likert


def test_mann_whitney_from_counts_equals_scipy_on_expanded_answers() -> None:
    rng = np.random.default_rng(21)
    for case in range(300):
        k = 5 if case % 4 else 7
        a, b = _random_counts(rng, k), _random_counts(rng, k)
        res = compare_likert(a, b)
        ref = sps.mannwhitneyu(_expand(a), _expand(b), method="asymptotic", alternative="two-sided")
        assert (res.n_a, res.n_b) == (a.sum(), b.sum())
        assert res.u == ref.statistic
        assert res.p_mwu == pytest.approx(ref.pvalue, rel=1e-12, abs=1e-300)
        assert res.rank_biserial == pytest.approx(2 * ref.statistic / (a.sum() * b.sum()) - 1, rel=1e-12, abs=1e-15)


def test_rank_biserial_matches_pingouin() -> None:
    rng = np.random.default_rng(8)
    for _ in range(20):
        a, b = _random_counts(rng, 5), _random_counts(rng, 5)
        ref = pg.mwu(_expand(a), _expand(b))
        assert compare_likert(a, b).rank_biserial == pytest.approx(ref["RBC"].iloc[0], rel=1e-12, abs=1e-15)


def test_favourable_share_and_pooled_z_test_equal_chi_square() -> None:
    rng = np.random.default_rng(5)
    for _ in range(200):
        a, b = _random_counts(rng, 5), _random_counts(rng, 5)
        res = compare_likert(a, b, favourable=(4, 5))
        fa, fb = a[3:].sum(), b[3:].sum()
        assert res.fav_a == fa / a.sum() and res.fav_b == fb / b.sum()
        assert res.fav_diff == pytest.approx(res.fav_a - res.fav_b, abs=1e-15)
        assert res.fav_diff_low <= res.fav_diff <= res.fav_diff_high
        table = np.array([[fa, a.sum() - fa], [fb, b.sum() - fb]])
        if (table.sum(axis=0) > 0).all():
            ref = sps.chi2_contingency(table, correction=False).pvalue
            assert res.p_fav == pytest.approx(ref, rel=1e-9)
        else:  # nobody (or everybody) favourable in both groups: no evidence of a difference
            assert res.p_fav == 1.0


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (hybrid score),
        # as reproduced with SAS in https://www.lexjansen.com/wuss/2016/127_Final_Paper_PDF.pdf p. 9
        # (the reference values used by the diffCI tests of an R package, seen in a public test file).
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (10, 10, 0, 20, 0.6791, 1.0000),
        (84, 101, 89, 105, -0.1177, 0.0851),  # same paper, HIV trial example
    ],
)
def test_newcombe_interval_matches_published_values(
    x1: int, n1: int, x2: int, n2: int, low: float, high: float
) -> None:
    res = compare_likert([0, 0, n1 - x1, x1, 0], [0, 0, n2 - x2, x2, 0])
    assert res.fav_diff == pytest.approx(x1 / n1 - x2 / n2)
    assert res.fav_diff_low == pytest.approx(low, abs=5e-5)
    assert res.fav_diff_high == pytest.approx(high, abs=5e-5)


def test_all_answers_in_one_category() -> None:
    res = compare_likert([0, 0, 10, 0, 0], [0, 0, 7, 0, 0])
    ref = sps.mannwhitneyu([3.0] * 10, [3.0] * 7, method="asymptotic")
    assert res.u == ref.statistic == 35 and res.p_mwu == ref.pvalue == 1.0
    assert (res.rank_biserial, res.fav_a, res.fav_b, res.fav_diff, res.p_fav) == (0.0, 0.0, 0.0, 0.0, 1.0)
    assert res.fav_diff_low < 0 < res.fav_diff_high
    top = compare_likert([0, 0, 0, 0, 4], [0, 0, 0, 0, 9])
    assert top.fav_a == top.fav_b == 1.0 and top.p_fav == 1.0 and top.p_mwu == 1.0


def test_counts_are_never_expanded() -> None:
    billion = 10**9
    res = compare_likert([0, 0, 0, 0, billion], [billion, 0, 0, 0, 0])
    assert res.n_a == res.n_b == billion
    assert res.u == float(billion) ** 2 and res.rank_biserial == 1.0
    assert res.p_mwu == 5e-324  # |z| ~ 1e5: floored, never exactly 0
    assert res.fav_diff == 1.0 and res.fav_diff_high == 1.0


def test_swapping_the_groups_mirrors_the_result() -> None:
    a, b = [3, 10, 20, 40, 27], [5, 12, 25, 30, 28]
    ab, ba = compare_likert(a, b), compare_likert(b, a)
    assert ba.u == ab.n_a * ab.n_b - ab.u and ba.rank_biserial == -ab.rank_biserial
    assert ba.p_mwu == ab.p_mwu and ba.p_fav == pytest.approx(ab.p_fav, rel=1e-12)
    assert ba.fav_diff_low == pytest.approx(-ab.fav_diff_high) and ba.fav_diff_high == pytest.approx(-ab.fav_diff_low)


def test_compare_likert_with_an_empty_group_and_bad_input() -> None:
    res = compare_likert([0, 0, 0, 0, 0], [1, 2, 3, 4, 5])
    assert res.n_a == 0 and math.isnan(res.u) and math.isnan(res.p_mwu) and math.isnan(res.fav_a)
    assert res.fav_b == 9 / 15
    for bad in ([1, -1, 2, 3, 4], [1.5, 1, 2, 3, 4], [1, 2, 3, 4]):
        with pytest.raises(ValueError):
            compare_likert(bad, [1, 2, 3, 4, 5])
    with pytest.raises(ValueError):
        compare_likert([1, 2, 3, 4, 5], [1, 2, 3, 4, 5], favourable=(6,))


# --------------------------------------------------------------------------- Wilson


def test_wilson_equals_scipy_binomtest() -> None:
    for n in (1, 2, 7, 30, 263, 5000):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            for conf in (0.8, 0.95, 0.99):
                ref = sps.binomtest(k, n).proportion_ci(confidence_level=conf, method="wilson")
                low, high = wilson_interval(k, n, confidence=conf)
                assert low == pytest.approx(ref.low, rel=1e-12, abs=1e-15)
                assert high == pytest.approx(ref.high, rel=1e-12, abs=1e-15)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0


def test_wilson_edge_cases() -> None:
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    for args in ((-1, 5), (6, 5), (1, -1)):
        with pytest.raises(ValueError):
            wilson_interval(*args)
    with pytest.raises(ValueError):
        wilson_interval(1, 5, confidence=1.0)


# --------------------------------------------------------------------------- Cronbach


def _likert_items(rng: np.random.Generator, n: int, k: int) -> pd.DataFrame:
    trait = rng.normal(size=(n, 1))
    scores = np.clip(np.round(3 + trait + rng.normal(scale=rng.uniform(0.5, 2), size=(n, k))), 1, 5)
    return pd.DataFrame(scores, columns=[f"q{i}" for i in range(k)])


def test_cronbach_equals_pingouin_on_complete_data() -> None:
    rng = np.random.default_rng(31)
    for _ in range(60):
        items = _likert_items(rng, int(rng.integers(5, 300)), int(rng.integers(2, 12)))
        alpha, (low, high) = cronbach_alpha(items)
        ref_alpha, ref_ci = pg.cronbach_alpha(items, nan_policy="listwise")
        assert alpha == pytest.approx(ref_alpha, rel=1e-12)
        assert low == pytest.approx(ref_ci[0], abs=5e-4 + 1e-12)  # pingouin rounds to 3 decimals
        assert high == pytest.approx(ref_ci[1], abs=5e-4 + 1e-12)
        assert low <= alpha <= high


def test_cronbach_listwise_deletion() -> None:
    rng = np.random.default_rng(32)
    for _ in range(30):
        items = _likert_items(rng, 80, 6)
        items = items.mask(rng.random(items.shape) < 0.05)
        alpha, (low, high) = cronbach_alpha(items)
        assert alpha == pytest.approx(pg.cronbach_alpha(items, nan_policy="listwise")[0], rel=1e-12)
        # pingouin's interval takes n before deletion; on the complete rows it is the Feldt one.
        _, ref_ci = pg.cronbach_alpha(items.dropna(), nan_policy="listwise")
        assert (low, high) == pytest.approx(tuple(ref_ci), abs=5e-4 + 1e-12)


def test_cronbach_published_pingouin_example() -> None:
    # pingouin.cronbach_alpha docstring: listwise on the bundled "cronbach_wide_missing" data gives
    # 0.8016949152542373 ("In R: psych:alpha(data, use='complete.obs')").
    data = pg.read_dataset("cronbach_wide_missing")
    alpha, _ = cronbach_alpha(data)
    assert alpha == pytest.approx(0.8016949152542373, rel=1e-12)


def test_cronbach_edge_cases() -> None:
    with pytest.raises(ValueError):
        cronbach_alpha(pd.DataFrame({"q1": [1.0, 2.0, 3.0]}))
    few = pd.DataFrame({"q1": [1.0, np.nan, 3.0], "q2": [2.0, 2.0, np.nan]})
    alpha, (low, high) = cronbach_alpha(few)
    assert math.isnan(alpha) and math.isnan(low) and math.isnan(high)
    flat = pd.DataFrame({"q1": [3.0] * 5, "q2": [3.0] * 5})
    assert math.isnan(cronbach_alpha(flat)[0])
    assert cronbach_alpha(np.array([[1, 2], [2, 3], [3, 5.0]]))[0] == pytest.approx(
        pg.cronbach_alpha(pd.DataFrame([[1, 2], [2, 3], [3, 5.0]]))[0]
    )


# --------------------------------------------------------------------------- Benjamini-Hochberg


def test_bh_equals_scipy_with_nans_kept_in_place() -> None:
    rng = np.random.default_rng(41)
    for _ in range(100):
        p = rng.uniform(size=int(rng.integers(2, 200))) ** 3
        p[rng.random(p.size) < 0.1] = np.nan
        p[rng.random(p.size) < 0.05] = 0.5  # ties
        out = benjamini_hochberg(p)
        nan = np.isnan(p)
        assert np.array_equal(np.isnan(out), nan)
        if (~nan).sum() > 1:
            ref = sps.false_discovery_control(p[~nan], method="bh")
            np.testing.assert_allclose(out[~nan], ref, rtol=1e-15, atol=0)


def test_bh_scipy_docstring_example_and_edge_cases() -> None:
    np.testing.assert_allclose(benjamini_hochberg([0.5, 0.6, 0.1, 0.001]), [0.6, 0.6, 0.2, 0.004])
    assert benjamini_hochberg([]).shape == (0,)
    assert benjamini_hochberg([0.03]).tolist() == [0.03]
    grid = benjamini_hochberg([[0.01, np.nan], [0.04, 0.03]])
    assert grid.shape == (2, 2) and np.isnan(grid[0, 1])
    np.testing.assert_allclose(grid[~np.isnan(grid)], [0.03, 0.04, 0.04])
    with pytest.raises(ValueError):
        benjamini_hochberg([0.2, 1.2])
