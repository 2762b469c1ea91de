"""Lead-lag evidence for KPI links against independent references and simulations.

References: statsmodels 0.15 (adfuller, kpss, ar_select_order/AutoReg, ccf,
grangercausalitytests), scipy (pearsonr, lfilter) and plain numpy least squares for gaps.
Simulations use the batch form so that the 2,000-pair checks stay fast.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import signal
from scipy import stats as sps
from statsmodels.tsa.ar_model import ar_select_order
from statsmodels.tsa.stattools import adfuller, ccf, grangercausalitytests, kpss

from kpialign.core.stats import (
    LEAD_LAG_FIELDS,
    LeadLagResult,
    benjamini_hochberg,
    lead_lag,
    lead_lag_batch,
)

REL = 1e-8


def random_walks(rng: np.random.Generator, pairs: int, periods: int = 60) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.cumsum(rng.normal(size=(pairs, periods)), axis=1),
        np.cumsum(rng.normal(size=(pairs, periods)), axis=1),
    )


def linked(
    rng: np.random.Generator, pairs: int, *, lag: int = 2, effect: float = 0.5, ar: float = 0.0, periods: int = 60
) -> tuple[np.ndarray, np.ndarray]:
    """Driver: integrated AR(1) (KPI-like level); outcome changes by ``effect`` x the driver's change ``lag`` periods ago."""
    shocks = rng.normal(size=(pairs, periods + 50))
    dx = signal.lfilter([1.0], [1.0, -ar], shocks, axis=1)[:, 50:]
    dy = np.zeros_like(dx)
    dy[:, lag:] = effect * dx[:, :-lag]
    dy += rng.normal(size=dx.shape)
    return np.cumsum(dx, axis=1), 100 + np.cumsum(dy, axis=1)


def trend_stationary(rng: np.random.Generator, periods: int = 60, lag: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Two series stationary around a line, the outcome's deviation following the driver's."""
    t = np.arange(periods)
    ex = signal.lfilter([1.0], [1.0, -0.3], rng.normal(size=periods))
    ey = rng.normal(size=periods) * 0.8
    ey[lag:] += 0.7 * ex[:-lag]
    return 10 + 0.4 * t + ex, 50 - 0.2 * t + ey


def statsmodels_granger(dy: np.ndarray, dx: np.ndarray, lag: int) -> tuple[float, float, float, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' FutureWarning about its result object
        out = grangercausalitytests(np.column_stack([dy, dx]), maxlag=[lag])
    f, p, df_den, df_num = out[lag][0]["ssr_ftest"]
    return float(f), float(p), float(df_den), int(df_num)


def transformed(x: np.ndarray, result: LeadLagResult) -> np.ndarray:
    if result.transform == "difference":
        return np.diff(x)
    t = np.arange(len(x))
    return x - np.polyval(np.polyfit(t, x, 1), t)


def prewhitened(z: np.ndarray, result: LeadLagResult) -> np.ndarray:
    a = np.r_[1.0, -np.asarray(result.ar_coefficients)]
    return signal.lfilter(a, [1.0], z)[result.ar_order :]


# --------------------------------------------------------------------------- calibration


def test_independent_random_walks_are_flagged_about_as_often_as_alpha_while_level_correlation_flags_most() -> None:
    rng = np.random.default_rng(15)
    x, y = random_walks(rng, 2000)

    at_expected = lead_lag_batch(x, y, expected_lag=[2] * 2000, fdr=False)
    flagged = (at_expected["verdict"] != "no evidence").mean()
    supported = at_expected["verdict"].str.startswith("supported").mean()
    # 2,000 independent pairs: the share flagged has a binomial SD of 0.5 points at 5 %.
    assert 0.035 <= flagged <= 0.065
    assert supported <= 0.05
    assert (at_expected["p"] < 0.05).mean() == pytest.approx(flagged)

    picked = lead_lag_batch(x, y, fdr=False)  # best lag chosen from the data, Bonferroni over the lags
    assert (picked["verdict"] != "no evidence").mean() <= 0.06
    assert picked["verdict"].str.startswith("supported").mean() <= 0.05

    # The trap the differencing avoids: correlating the levels of two unrelated random walks.
    xc, yc = x - x.mean(axis=1, keepdims=True), y - y.mean(axis=1, keepdims=True)
    r = (xc * yc).sum(axis=1) / np.sqrt((xc**2).sum(axis=1) * (yc**2).sum(axis=1))
    level_p = 2 * sps.t.sf(np.abs(r) * np.sqrt(58 / (1 - r**2)), 58)  # pearsonr's test, n = 60
    assert level_p[0] == pytest.approx(sps.pearsonr(x[0], y[0]).pvalue, rel=1e-9)
    assert (level_p < 0.05).mean() > 0.6


def test_bh_across_links_flags_almost_nothing_among_independent_random_walks() -> None:
    x, y = random_walks(np.random.default_rng(7), 500)
    frame = lead_lag_batch(x, y, expected_lag=[1] * 500)
    assert (frame["q"] < 0.05).sum() <= 2
    assert (frame["verdict"] == "no evidence").sum() >= 498


@pytest.mark.parametrize("ar", [0.0, 0.7])
def test_a_real_effect_at_lag_two_is_found_at_lag_two_in_most_runs(ar: float) -> None:
    x, y = linked(np.random.default_rng(2), 300, lag=2, effect=0.5, ar=ar)
    frame = lead_lag_batch(x, y, fdr=False)
    assert (frame["best_lag"] == 2).mean() >= 0.85
    # Picking the lag from the data costs power (Bonferroni over 6 lags); knowing it helps.
    assert (frame["verdict"] == "supported at lag 2").mean() >= 0.6
    expected = lead_lag_batch(x, y, expected_lag=[2] * 300)
    assert (expected["verdict"] == "supported at lag 2").mean() >= 0.8
    if ar:  # a persistent driver gets a prewhitening filter
        assert (frame["ar_order"] >= 1).mean() >= 0.8


def test_an_effect_of_the_other_sign_is_reported_as_opposite_sign() -> None:
    x, y = linked(np.random.default_rng(3), 1, lag=2, effect=-0.8)
    assert lead_lag(x[0], y[0], expected_lag=2).verdict == "opposite sign"
    assert lead_lag(x[0], y[0], expected_lag=2, expected_sign=-1).verdict == "supported at lag 2"
    assert lead_lag(x[0], y[0], expected_lag=2).sign == -1


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize("seed", range(6))
def test_granger_f_and_p_equal_statsmodels_on_the_differenced_data(seed: int) -> None:
    x, y = linked(np.random.default_rng(100 + seed), 1, lag=1 + seed % 3, effect=0.3, ar=0.4)
    for lag in (None, 1, 3, 6):
        result = lead_lag(x[0], y[0], expected_lag=lag)
        assert result.transform == "difference"
        f, p, df_den, df_num = statsmodels_granger(np.diff(y[0]), np.diff(x[0]), result.tested_lag)
        assert result.f == pytest.approx(f, rel=REL)
        assert result.p_granger == pytest.approx(p, rel=1e-6)
        assert (result.df_num, result.df_den) == (df_num, df_den)
        if lag is None:
            assert result.lag_source == "best"
            assert result.p == pytest.approx(min(1.0, 6 * p), rel=1e-6)
        else:
            assert result.p == result.p_granger


def test_trend_stationary_series_are_detrended_and_tested_like_statsmodels() -> None:
    detrended = 0
    for seed in range(12):
        x, y = trend_stationary(np.random.default_rng(200 + seed))
        result = lead_lag(x, y, expected_lag=1)
        if result.transform == "difference":
            # ADF has little power at n = 60: then one of the pre-tests did not agree.
            pretests = (result.adf_p_driver, result.adf_p_outcome, result.kpss_p_driver, result.kpss_p_outcome)
            assert max(pretests[:2]) >= 0.05 or min(pretests[2:]) < 0.05
            continue
        detrended += 1
        assert max(result.adf_p_driver, result.adf_p_outcome) < 0.05
        assert min(result.kpss_p_driver, result.kpss_p_outcome) >= 0.05
        f, p, _, _ = statsmodels_granger(transformed(y, result), transformed(x, result), 1)
        assert result.f == pytest.approx(f, rel=REL)
        assert result.p_granger == pytest.approx(p, rel=1e-6)
        assert result.verdict == "supported at lag 1"
    assert detrended >= 5


@pytest.mark.parametrize("seed", range(8))
def test_pretests_equal_statsmodels_adfuller_and_kpss(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    x, y = linked(rng, 1, ar=0.5) if seed % 2 else trend_stationary(rng, periods=30 + 5 * seed)
    x, y = np.ravel(x), np.ravel(y)
    result = lead_lag(x, y)
    lags = math.floor(round((len(x) - 1) ** (1 / 3), 9))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for series, adf_p, kpss_p in (
            (x, result.adf_p_driver, result.kpss_p_driver),
            (y, result.adf_p_outcome, result.kpss_p_outcome),
        ):
            ref_adf = adfuller(series, maxlag=lags, regression="ct", autolag=None, result_object=False)
            ref_kpss = kpss(series, regression="ct", nlags="legacy", result_object=False)
            assert adf_p == pytest.approx(ref_adf[1], rel=1e-9, abs=1e-12)
            assert kpss_p == pytest.approx(ref_kpss[1], rel=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_prewhitening_and_cross_correlations_equal_statsmodels(seed: int) -> None:
    x, y = linked(np.random.default_rng(400 + seed), 1, lag=2, ar=0.2 + 0.1 * seed)
    x, y = x[0], y[0]
    result = lead_lag(x, y)
    dx, dy = np.diff(x), np.diff(y)
    selection = ar_select_order(dx, maxlag=6, ic="aic", trend="c")
    assert result.ar_order == (0 if selection.ar_lags is None else max(selection.ar_lags))
    params = selection.model.fit().params
    np.testing.assert_allclose(result.ar_coefficients, params[1:], rtol=1e-8)
    fx, fy = prewhitened(dx, result), prewhitened(dy, result)
    reference = ccf(fy, fx, adjusted=False)[:7]  # ccf(a, b)[k] pairs a[t + k] with b[t]
    np.testing.assert_allclose(result.ccf, reference, rtol=1e-9, atol=1e-12)
    assert result.lags == tuple(range(7))
    assert result.best_lag == 1 + int(np.argmax(np.abs(reference[1:])))
    pairs = len(fx) - np.arange(7)
    half = 1.959963984540054 / np.sqrt(pairs - 3)
    np.testing.assert_allclose(result.ccf_low, np.tanh(np.arctanh(reference) - half), rtol=1e-9)
    np.testing.assert_allclose(result.ccf_high, np.tanh(np.arctanh(reference) + half), rtol=1e-9)


def test_some_simulated_drivers_need_a_prewhitening_filter() -> None:
    # Guards the test above against only ever comparing the trivial AR(0) filter.
    orders = []
    for seed in range(8):
        x, y = linked(np.random.default_rng(400 + seed), 1, lag=2, ar=0.2 + 0.1 * seed)
        orders.append(lead_lag(x[0], y[0]).ar_order)
    assert max(orders) >= 1


def test_an_expected_lag_of_zero_is_tested_by_the_same_period_correlation() -> None:
    rng = np.random.default_rng(5)
    x = np.cumsum(rng.normal(size=48))
    y = 0.5 * x + np.cumsum(rng.normal(size=48))
    result = lead_lag(x, y, expected_lag=0)
    fx, fy = prewhitened(np.diff(x), result), prewhitened(np.diff(y), result)
    reference = sps.pearsonr(fx, fy)
    assert result.tested_lag == 0 and result.df_num == 1 and result.df_den == len(fx) - 2
    assert result.p_granger == pytest.approx(reference.pvalue, rel=1e-8)
    assert result.verdict == "supported at lag 0"


def test_an_expected_lag_beyond_max_lag_extends_the_cross_correlations() -> None:
    x, y = linked(np.random.default_rng(9), 1, lag=8, effect=0.6)
    result = lead_lag(x[0], y[0], expected_lag=8)
    assert result.lags == tuple(range(9)) and len(result.ccf) == 9
    assert result.tested_lag == 8 and result.df_num == 8
    assert result.verdict == "supported at lag 8"


def test_units_and_offsets_do_not_change_the_evidence_and_a_flipped_outcome_flips_the_sign() -> None:
    x, y = linked(np.random.default_rng(21), 1, lag=2, effect=0.5, ar=0.4)
    x, y = x[0], y[0]
    base = lead_lag(x, y)
    rescaled = lead_lag(1000.0 * x - 7.0, 0.01 * y + 3.0)  # e.g. euros -> thousands, % -> share
    assert (rescaled.transform, rescaled.ar_order, rescaled.best_lag) == (base.transform, base.ar_order, base.best_lag)
    np.testing.assert_allclose(rescaled.ccf, base.ccf, rtol=1e-9, atol=1e-12)
    assert rescaled.f == pytest.approx(base.f, rel=1e-8)
    assert rescaled.p == pytest.approx(base.p, rel=1e-6)
    assert base.verdict == "supported at lag 2"
    flipped = lead_lag(x, -y)
    np.testing.assert_allclose(flipped.ccf, -np.asarray(base.ccf), rtol=1e-9, atol=1e-12)
    assert flipped.f == pytest.approx(base.f, rel=1e-8)
    assert flipped.verdict == "opposite sign"


# --------------------------------------------------------------------------- missing periods


def test_fewer_than_24_common_periods_is_not_enough_data() -> None:
    rng = np.random.default_rng(11)
    x, y = linked(rng, 1, periods=40)
    x, y = x[0], y[0]
    y[:16] = np.nan  # 24 common periods left
    assert lead_lag(x, y).n == 24
    assert lead_lag(x, y).verdict != "not enough data (n < 24)"
    x[30] = np.nan  # 23 common periods
    short = lead_lag(x, y)
    assert short.n == 23
    assert short.verdict == "not enough data (n < 24)"
    assert short.transform is None and short.best_lag is None and short.ccf == ()
    assert math.isnan(short.p) and math.isnan(short.f)
    empty = lead_lag([math.nan] * 30, [math.nan] * 30)
    assert empty.n == 0 and empty.verdict == "not enough data (n < 24)"


def test_a_lag_too_long_for_the_data_is_not_enough_data_for_that_lag() -> None:
    x, y = linked(np.random.default_rng(22), 1, periods=24)
    result = lead_lag(x[0], y[0], expected_lag=12)  # 23 changes, 11 rows for 25 coefficients
    assert result.n == 24 and math.isnan(result.p)
    assert result.verdict == "not enough data for lag 12"
    assert lead_lag(x[0], y[0], expected_lag=5).verdict != "not enough data for lag 5"


def test_leading_and_trailing_gaps_only_shorten_the_window() -> None:
    x, y = linked(np.random.default_rng(12), 1, periods=60)
    x, y = x[0], y[0]
    padded_x = np.r_[[np.nan] * 5, x, [1.0, 2.0]]
    padded_y = np.r_[[1.0, 2.0, 3.0, 4.0, 5.0], y, [np.nan] * 2]
    a, b = lead_lag(x, y), lead_lag(padded_x, padded_y)
    assert a.n == b.n == 60
    for name in LEAD_LAG_FIELDS:
        va, vb = getattr(a, name), getattr(b, name)
        if isinstance(va, float):
            assert vb == pytest.approx(va, rel=1e-9, abs=1e-12, nan_ok=True), name
        elif isinstance(va, tuple) and va and isinstance(va[0], float):
            np.testing.assert_allclose(vb, va, rtol=1e-9, atol=1e-12, err_msg=name)
        else:
            assert va == vb, name


def test_a_gap_inside_the_window_drops_the_rows_that_reach_it_and_is_not_interpolated() -> None:
    x, y = linked(np.random.default_rng(13), 1, periods=60, effect=0.4)
    x, y = x[0].copy(), y[0].copy()
    x[30] = np.nan  # missing in the driver only: the outcome's value there is unused too
    result = lead_lag(x, y, expected_lag=2)
    assert result.n == 59
    assert result.transform == "difference"

    y_masked = y.copy()
    y_masked[30] = np.nan
    same = lead_lag(x, y_masked, expected_lag=2)
    assert same.f == pytest.approx(result.f, rel=1e-12) and same.ccf == pytest.approx(result.ccf)

    # Granger by hand: differences across the gap are missing; a row is used only when the
    # outcome's change and every lagged change it needs exist.
    dx, dy = np.diff(x), np.diff(y_masked)
    rows, target = [], []
    for t in range(2, len(dy)):
        values = [dy[t], dy[t - 1], dy[t - 2], dx[t - 1], dx[t - 2]]
        if not np.isnan(values).any():
            rows.append([1.0, *values[1:]])
            target.append(values[0])
    full, restricted = np.array(rows), np.array(rows)[:, :3]
    ssr_u = np.sum((target - full @ np.linalg.lstsq(full, target, rcond=None)[0]) ** 2)
    ssr_r = np.sum((target - restricted @ np.linalg.lstsq(restricted, target, rcond=None)[0]) ** 2)
    df_den = len(target) - 5
    assert len(target) == 57 - 4  # the gap removes two changes, which 2 + 2 other rows needed
    assert result.df_den == df_den
    assert result.f == pytest.approx((ssr_r - ssr_u) / 2 / (ssr_u / df_den), rel=1e-9)

    filled = x.copy()
    filled[30] = (x[29] + x[31]) / 2
    assert lead_lag(filled, y, expected_lag=2).df_den == df_den + 4  # interpolation would add rows


def test_pandas_nullable_series_are_read_with_missing_values() -> None:
    x, y = linked(np.random.default_rng(14), 1, periods=40)
    driver = pd.Series(x[0]).astype("Float64")
    driver[3] = pd.NA
    result = lead_lag(driver, pd.Series(y[0]))
    assert result.n == 39


def test_a_constant_series_gives_no_evidence_without_warnings() -> None:
    x, _ = linked(np.random.default_rng(16), 1, periods=36)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flat_outcome = lead_lag(x[0], np.full(36, 7.0))
        flat_driver = lead_lag(np.full(36, 7.0), x[0])
    for result in (flat_outcome, flat_driver):
        assert result.verdict == "no evidence"
        assert math.isnan(result.p)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="aligned"):
        lead_lag(np.zeros(30), np.zeros(31))
    with pytest.raises(ValueError, match="inf"):
        lead_lag([math.inf] * 30, [1.0] * 30)
    with pytest.raises(ValueError, match="max_lag"):
        lead_lag(np.zeros(30), np.zeros(30), max_lag=0)
    with pytest.raises(ValueError, match="expected_sign"):
        lead_lag(np.zeros(30), np.zeros(30), expected_sign=0)
    with pytest.raises(ValueError, match="one value per link"):
        lead_lag_batch(np.zeros((3, 30)), np.zeros((3, 30)), expected_lag=[1, 2])


# --------------------------------------------------------------------------- batch


def test_the_batch_equals_one_call_per_link_and_decides_on_bh_across_the_links() -> None:
    rng = np.random.default_rng(17)
    x1, y1 = linked(rng, 12, lag=2, effect=0.5, ar=0.5)
    x2, y2 = random_walks(rng, 12)
    x3, y3 = trend_stationary(rng)
    x = np.vstack([x1, x2, x3[None, :], np.full((1, 60), 3.0)])
    y = np.vstack([y1, y2, y3[None, :], y1[:1]])
    x[5, 10] = np.nan  # other n: computed in its own group
    x[6, :40] = np.nan  # not enough data
    expected = [2, None, 1, np.nan] * 6 + [1, None]
    signs = [1, -1] * 13
    index = pd.Index([f"link {i}" for i in range(26)], name="link")
    frame = lead_lag_batch(pd.DataFrame(x, index=index), y, expected_lag=expected, expected_sign=signs)
    assert list(frame.index) == list(index)
    assert list(frame.columns) == [
        *LEAD_LAG_FIELDS[: LEAD_LAG_FIELDS.index("p") + 1],
        "q",
        *LEAD_LAG_FIELDS[LEAD_LAG_FIELDS.index("p") + 1 :],
    ]
    np.testing.assert_allclose(frame["q"], benjamini_hochberg(frame["p"].to_numpy()), equal_nan=True)
    assert set(frame["transform"].dropna()) == {"difference", "detrend"}
    assert frame.loc["link 6", "verdict"] == "not enough data (n < 24)"
    assert pd.isna(frame.loc["link 6", "best_lag"]) and frame["best_lag"].dtype == "Int64"
    assert frame.loc["link 25", "verdict"] == "no evidence"

    own = lead_lag_batch(x, y, expected_lag=expected, expected_sign=signs, fdr=False)
    for i in range(26):
        lag = expected[i]
        single = lead_lag(x[i], y[i], expected_lag=None if lag is None or lag != lag else lag, expected_sign=signs[i])
        assert single.verdict == own["verdict"].iloc[i]
        for name in ("n", "transform", "ar_order", "best_lag", "tested_lag", "lag_source", "sign", "lags"):
            ours = own[name].iloc[i]
            assert getattr(single, name) == (None if pd.isna(ours) else ours), name
        for name in ("f", "p", "p_granger", "adf_p_driver", "kpss_p_outcome"):
            assert getattr(single, name) == pytest.approx(own[name].iloc[i], rel=1e-9, nan_ok=True), name
        np.testing.assert_allclose(single.ccf, own["ccf"].iloc[i], rtol=1e-9)
        q_verdict = frame["verdict"].iloc[i]
        if frame["q"].iloc[i] < 0.05:
            assert q_verdict in ("opposite sign", f"supported at lag {single.tested_lag}")
        elif single.n >= 24:
            assert q_verdict == "no evidence"
