"""Statistics engine: Mann-Kendall family, Sen's slope, survey comparisons, reliability, FDR.

Pure numpy/scipy/pandas; no KPI notions, no database, no UI.  Every convention is stated
in the docstring of the function that applies it.  Shared conventions:

* A series is equally spaced in time; its periods are ``t = 0, 1, ..., T - 1``.  Missing
  values are ``NaN``: they are dropped from every statistic but the remaining values keep
  their original time positions (a gap stays a gap).  ``±inf`` is rejected.
* Two-sided tests throughout.  A test is significant (``h``) when its p-value is strictly
  below ``alpha``.
* Normal-approximation p-values are ``2 * norm.sf(|z|)``, floored at the smallest positive
  double (``5e-324``) so that a very strong trend never reads as exactly ``p = 0``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from functools import cache
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from scipy import special
from scipy.stats import f as f_dist
from scipy.stats import norm, rankdata

__all__ = [
    "TREND_FIELDS",
    "ChangePoint",
    "LikertComparison",
    "TrendResult",
    "benjamini_hochberg",
    "compare_likert",
    "cronbach_alpha",
    "mann_kendall",
    "mann_kendall_batch",
    "pettitt",
    "seasonal_mann_kendall",
    "wilson_interval",
]

#: Largest n for which the exact null distribution of S is used (series without ties).
EXACT_MAX_N = 10
#: Smallest n for which the Hamed-Rao correction is applied (it is unstable below).
HAMED_RAO_MIN_N = 24
#: Pair slopes held in memory at once (float64 elements); bounds memory to ~32 MiB per array.
_PAIR_BUDGET = 1 << 22
#: z for the 95 % Sen-slope interval, computed exactly as scipy.stats.theilslopes does.
_THEIL_Z = float(norm.ppf((1.0 - 0.95) / 2.0))
_P_FLOOR = float(np.finfo(float).smallest_subnormal)

TrendLabel = Literal["increasing", "decreasing", "no trend", "insufficient data"]


@dataclass(frozen=True, slots=True)
class TrendResult:
    """Result of a Mann-Kendall test; field names are a contract (see the issue).

    ``s``: Kendall's S = sum of sign(x_j - x_i) over pairs i < j of non-missing values.
    ``var_s``: variance of S under H0 with the tie correction (for ``method="hamed_rao"``
    the corrected variance, i.e. the uncorrected one times ``n_ratio``).
    ``z``: (S - sign(S)) / sqrt(var_s), i.e. with the continuity correction; 0 when S = 0.
    ``p``: two-sided normal p-value ``2 * norm.sf(|z|)`` (floored at 5e-324).
    ``p_exact``: two-sided exact p-value P(|S| >= |s|) for 3 <= n <= 10 without ties,
    otherwise NaN; where it exists ``h`` and ``trend`` use it instead of ``p``.
    ``tau``: tau-a = S / (n(n-1)/2).  ``tau_b``: tie-adjusted as scipy.stats.kendalltau of
    (time, value), NaN for a constant series.
    ``slope``: Sen's slope (median of pairwise slopes, per period).  ``intercept``:
    median(x) - slope * median(t) over non-missing values, t = 0..T-1 (value at t = 0).
    ``slope_low``/``slope_high``: 95 % interval as scipy.stats.theilslopes.
    ``n``: number of non-missing values.  ``method``: variance method actually applied.
    ``n_ratio``: n/n* variance inflation applied (1.0 when no correction was applied).
    """

    trend: TrendLabel
    h: bool
    p: float
    z: float
    s: float
    var_s: float
    tau: float
    tau_b: float
    slope: float
    intercept: float
    slope_low: float
    slope_high: float
    p_exact: float
    n: int
    method: str = "original"
    n_ratio: float = 1.0


class ChangePoint(NamedTuple):
    """Pettitt change point: ``x[:index]`` is before the change, ``x[index:]`` after.

    ``index`` equals R's ``trend::pettitt.test`` estimate K (1-based position of the last
    value before the change) for a series without NaN; None when there is no change at all.
    """

    index: int | None
    statistic: float
    p: float


@dataclass(frozen=True, slots=True)
class LikertComparison:
    """Two groups of answers on a 1..K scale, compared from their counts.

    ``u``: Mann-Whitney U of group a (scipy's U1).  ``p_mwu``: two-sided asymptotic p with
    tie and continuity corrections, as scipy.stats.mannwhitneyu(method="asymptotic") on the
    expanded answers (floored at 5e-324 where scipy would underflow to 0).
    ``rank_biserial``: (U_a - U_b) / (n_a n_b), positive when a tends to answer higher.
    ``fav_*``: share of favourable answers; ``fav_diff = fav_a - fav_b`` with its Newcombe
    hybrid score 95 % interval; ``p_fav``: pooled two-proportion z-test (no continuity
    correction, equal to the Pearson chi-square test of the 2x2 table).
    """

    n_a: int
    n_b: int
    u: float
    p_mwu: float
    rank_biserial: float
    fav_a: float
    fav_b: float
    fav_diff: float
    fav_diff_low: float
    fav_diff_high: float
    p_fav: float


TREND_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TrendResult))
_NUMERIC_FIELDS = tuple(name for name in TREND_FIELDS if name not in ("trend", "h", "n", "method", "n_ratio"))


# --------------------------------------------------------------------------- helpers


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return alpha


def _as_float_array(x: Any, ndim: int) -> np.ndarray:
    if isinstance(x, pd.Series | pd.DataFrame):  # nullable dtypes: pd.NA becomes NaN
        x = x.to_numpy(dtype=float, na_value=np.nan)
    arr = np.asarray(x, dtype=float)
    if arr.ndim != ndim:
        raise ValueError(f"expected a {ndim}-D array, got shape {arr.shape}")
    if np.isinf(arr).any():
        raise ValueError("values must be finite or NaN (got ±inf)")
    return arr


def _two_sided_p(z: np.ndarray) -> np.ndarray:
    """2 * norm.sf(|z|), floored so that it never underflows to 0.

    ``special.ndtr(-|z|)`` is what ``norm.sf`` evaluates, without its per-call overhead.
    """
    return np.maximum(2.0 * special.ndtr(-np.abs(z)), _P_FLOOR)


def _median_of_sorted(sorted_rows: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Row medians of rows sorted ascending whose first ``counts`` entries are valid."""
    width = sorted_rows.shape[1]
    lo = np.clip((counts - 1) // 2, 0, max(width - 1, 0))
    hi = np.clip(counts // 2, 0, max(width - 1, 0))
    if width == 0:
        return np.full(len(counts), np.nan)
    a = np.take_along_axis(sorted_rows, lo[:, None], axis=1)[:, 0]
    b = np.take_along_axis(sorted_rows, hi[:, None], axis=1)[:, 0]
    return np.where(counts > 0, (a + b) / 2.0, np.nan)


def _tie_terms(sorted_rows: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: sum of t(t-1)(2t+5) and sum of t(t-1)/2 over groups of tied values.

    Each element of a tie group of size t contributes (t-1)(2t+5) and (t-1), so summing
    over elements gives the per-group sums without a loop over groups.
    """
    m, width = sorted_rows.shape
    if width == 0:
        zeros = np.zeros(m, dtype=np.int64)
        return zeros, zeros
    cols = np.arange(width)
    same_prev = np.zeros((m, width), dtype=bool)
    same_prev[:, 1:] = sorted_rows[:, 1:] == sorted_rows[:, :-1]
    same_next = np.zeros((m, width), dtype=bool)
    same_next[:, :-1] = same_prev[:, 1:]
    start = np.maximum.accumulate(np.where(same_prev, 0, cols), axis=1)
    end = np.minimum.accumulate(np.where(same_next, width - 1, cols)[:, ::-1], axis=1)[:, ::-1]
    size = (end - start + 1).astype(np.int64)
    size = np.where(cols[None, :] < counts[:, None], size, 1)
    tie3 = ((size - 1) * (2 * size + 5)).sum(axis=1)
    tie_pairs = (size - 1).sum(axis=1) // 2
    return tie3, tie_pairs


@cache
def _exact_tail_table() -> np.ndarray:
    """table[n, a] = P(|S| >= a) under H0 for a series of n distinct values (n <= 10).

    The number of permutations with I inversions (Mahonian numbers) is the coefficient of
    q^I in prod_{k=1..n} (1 + q + ... + q^(k-1)); S = n(n-1)/2 - 2I.
    """
    max_pairs = EXACT_MAX_N * (EXACT_MAX_N - 1) // 2
    table = np.full((EXACT_MAX_N + 1, max_pairs + 1), np.nan)
    for n in range(2, EXACT_MAX_N + 1):
        counts = np.array([1], dtype=np.int64)
        for k in range(1, n + 1):
            counts = np.convolve(counts, np.ones(k, dtype=np.int64))
        pairs = n * (n - 1) // 2
        abs_s = np.abs(pairs - 2 * np.arange(pairs + 1))
        total = int(counts.sum())
        for a in range(pairs + 1):
            table[n, a] = int(counts[abs_s >= a].sum()) / total
    return table


def _fill_pair_slopes(block: np.ndarray, out: np.ndarray) -> None:
    """Write (x_j - x_i) / (j - i) for all pairs i < j of each row into ``out`` (lag-major)."""
    width = block.shape[1]
    offset = 0
    for lag in range(1, width):
        span = width - lag
        dest = out[:, offset : offset + span]
        np.subtract(block[:, lag:], block[:, :-lag], out=dest)
        dest /= float(lag)
        offset += span


def _count_sorted(rows: np.ndarray, valid: np.ndarray, *, inclusive: bool) -> np.ndarray:
    """Per row, how many of the first ``valid`` (sorted) entries are < 0 (or <= 0)."""
    lo = np.zeros(len(rows), dtype=np.int64)
    hi = valid.astype(np.int64).copy()
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) // 2
        value = np.take_along_axis(rows, np.minimum(mid, rows.shape[1] - 1)[:, None], axis=1)[:, 0]
        below = (value <= 0) if inclusive else (value < 0)
        lo = np.where(active & below, mid + 1, lo)
        hi = np.where(active & ~below, mid, hi)


def _theil_ranks(pairs: np.ndarray, sigsq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """0-based order-statistic indices of the 95 % interval, as scipy.stats.theilslopes."""
    with np.errstate(invalid="ignore"):
        sigma = np.sqrt(sigsq)
    upper = np.round((pairs - _THEIL_Z * sigma) / 2.0)
    lower = np.round((pairs + _THEIL_Z * sigma) / 2.0)
    ok = np.isfinite(upper) & np.isfinite(lower) & (pairs > 0)
    ru = np.minimum(np.where(ok, upper, 0), pairs - 1).astype(np.int64)
    rl = np.maximum(np.where(ok, lower, 1) - 1, 0).astype(np.int64)
    return rl, ru, ok


def _iter_pair_slopes(x: np.ndarray, positions: np.ndarray) -> Iterator[np.ndarray]:
    """All pair slopes (x_j - x_i) / (t_j - t_i), i < j, in blocks of whole lags."""
    n = len(x)
    lag = 1
    while lag < n:
        block: list[np.ndarray] = []
        used = 0
        while lag < n and (used == 0 or used + (n - lag) <= _PAIR_BUDGET):
            block.append((x[lag:] - x[:-lag]) / (positions[lag:] - positions[:-lag]))
            used += n - lag
            lag += 1
        yield np.concatenate(block)


def _select_large(x: np.ndarray, positions: np.ndarray, ranks: Sequence[int]) -> dict[int, float]:
    """Order statistics (0-based ``ranks``) of the pair slopes of one long series, bounded memory.

    A random sample of pair slopes gives a bracket [lo, hi] around each wanted rank.  One
    pass over all slopes counts, for the sorted bracket edges, the slopes equal to each edge
    and between consecutive edges, keeping only those strictly inside a bracket; ranks are
    then located in that ordered tally.  The sample only affects speed, never the result:
    a rank outside its bracket is retried with a wider one, finally with an unbounded one.
    """
    n = len(x)
    total = n * (n - 1) // 2
    rng = np.random.default_rng(20240607)
    a = rng.integers(0, n, size=200_000)
    b = rng.integers(0, n, size=200_000)
    keep = a != b
    lo_i, hi_i = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
    sample = np.sort((x[hi_i] - x[lo_i]) / (positions[hi_i] - positions[lo_i]))
    m = len(sample)
    pending = sorted({int(r) for r in ranks})
    found: dict[int, float] = {}
    for margin in (8.0, 64.0, None):
        brackets = []
        for r in pending:
            if margin is None or m == 0:
                brackets.append((-np.inf, np.inf))
                continue
            q = (r + 0.5) / total
            delta = margin * math.sqrt(max(q * (1 - q), 1.0 / m) / m) + 2.0 / m
            lo_k, hi_k = math.floor((q - delta) * m), math.ceil((q + delta) * m)
            brackets.append((sample[lo_k] if lo_k >= 0 else -np.inf, sample[hi_k] if hi_k < m else np.inf))
        merged: list[list[float]] = []  # overlapping brackets merged: fewer edges, fewer passes
        for lo, hi in sorted(brackets):
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        brackets = [(lo, hi) for lo, hi in merged]
        edges = np.unique([v for pair in brackets for v in pair if np.isfinite(v)])
        n_edges = len(edges)
        # Ordered cells: gap 0, edge 0, gap 1, edge 1, ..., gap E (gap k lies below edge k).
        collect = np.zeros(n_edges + 1, dtype=bool)
        for lo, hi in brackets:
            first = 0 if lo == -np.inf else int(np.searchsorted(edges, lo)) + 1
            last = n_edges if hi == np.inf else int(np.searchsorted(edges, hi))
            collect[first : last + 1] = True
        collect_cell = np.zeros(2 * n_edges + 1, dtype=bool)
        collect_cell[0::2] = collect
        cells = np.zeros(2 * n_edges + 1, dtype=np.int64)
        kept_cell: list[np.ndarray] = []
        kept_val: list[np.ndarray] = []
        for slopes in _iter_pair_slopes(x, positions):
            # cell 2k: strictly between edge k-1 and edge k; cell 2k+1: equal to edge k.
            cell = np.zeros(len(slopes), dtype=np.int8)
            for edge in edges:
                cell += slopes > edge
                cell += slopes >= edge
            cells += np.bincount(cell, minlength=2 * n_edges + 1)
            wanted = collect_cell[cell]
            kept_cell.append(cell[wanted])
            kept_val.append(slopes[wanted])
        ends = np.cumsum(cells)
        cells_all, vals_all = np.concatenate(kept_cell), np.concatenate(kept_val)
        still = []
        for r in pending:
            cell = int(np.searchsorted(ends, r, side="right"))
            before = int(ends[cell - 1]) if cell else 0
            if cell % 2 == 1:  # equal to an edge
                found[r] = float(edges[cell // 2])
            elif collect_cell[cell]:
                inside = np.sort(vals_all[cells_all == cell])
                found[r] = float(inside[r - before])
            else:
                still.append(r)
        pending = still
        if not pending:
            break
    return found


def _mk_large_row(x: np.ndarray) -> dict[str, float]:
    """S, Sen slope and its interval for one series too long to hold all pair slopes."""
    positions = np.flatnonzero(~np.isnan(x)).astype(float)
    xv = x[~np.isnan(x)]
    n = len(xv)
    s = 0
    for lag in range(1, n):
        d = xv[lag:] - xv[:-lag]
        s += int(np.count_nonzero(d > 0)) - int(np.count_nonzero(d < 0))
    xs = np.sort(xv)[None, :]
    counts = np.array([n])
    tie3, _ = _tie_terms(xs, counts)
    pairs = n * (n - 1) // 2
    sigsq = (1 / 18.0) * (n * (n - 1) * (2 * n + 5) - int(tie3[0]))
    rl, ru, ok = _theil_ranks(np.array([pairs]), np.array([sigsq]))
    wanted = [(pairs - 1) // 2, pairs // 2, int(rl[0]), int(ru[0])]
    got = _select_large(xv, positions, wanted)
    slope = (got[wanted[0]] + got[wanted[1]]) / 2.0
    low = got[wanted[2]] if ok[0] else math.nan
    high = got[wanted[3]] if ok[0] else math.nan
    return {"s": float(s), "slope": slope, "slope_low": low, "slope_high": high}


def _mk_rows(values: np.ndarray, alpha: float) -> dict[str, np.ndarray]:
    """Vectorised Mann-Kendall + Sen over the rows of a (series x periods) matrix."""
    m, width = values.shape
    valid = ~np.isnan(values)
    n = valid.sum(axis=1).astype(np.int64)
    pairs = n * (n - 1) // 2

    sorted_x = np.sort(values, axis=1)  # NaN last
    x_med = _median_of_sorted(sorted_x, n)
    tie3, tie_pairs = _tie_terms(sorted_x, n)
    positions = np.where(valid, np.arange(width, dtype=float)[None, :], np.inf)
    positions.sort(axis=1)
    t_med = _median_of_sorted(positions, n)

    var_num = n * (n - 1) * (2 * n + 5) - tie3
    var_s = var_num / 18.0
    sigsq = (1 / 18.0) * var_num  # the exact expression scipy.stats.theilslopes uses
    rl, ru, ok = _theil_ranks(pairs, sigsq)

    s = np.zeros(m)
    slope = np.full(m, np.nan)
    low = np.full(m, np.nan)
    high = np.full(m, np.nan)
    n_pairs = width * (width - 1) // 2
    if n_pairs > _PAIR_BUDGET:
        # One series at a time, memory-bounded (only for series of ~2,900+ periods).
        for r in range(m):
            if n[r] >= 2:
                big = _mk_large_row(values[r])
                s[r], slope[r] = big["s"], big["slope"]
                low[r], high[r] = big["slope_low"], big["slope_high"]
    elif n_pairs > 0:
        rows_per_block = max(1, _PAIR_BUDGET // n_pairs)
        buf = np.empty((min(rows_per_block, m), n_pairs))
        for start in range(0, m, rows_per_block):
            stop = min(start + rows_per_block, m)
            d = buf[: stop - start]
            _fill_pair_slopes(values[start:stop], d)
            d.sort(axis=1)  # NaN pairs last
            k = pairs[start:stop]
            # S = (#slopes > 0) - (#slopes < 0), read off the sorted rows by binary search.
            s[start:stop] = (k - _count_sorted(d, k, inclusive=True)) - _count_sorted(d, k, inclusive=False)
            idx = np.stack([(k - 1) // 2, k // 2, rl[start:stop], ru[start:stop]], axis=1).clip(0, n_pairs - 1)
            picked = np.take_along_axis(d, idx, axis=1)
            has = k > 0
            slope[start:stop] = np.where(has, (picked[:, 0] + picked[:, 1]) / 2.0, np.nan)
            good = has & ok[start:stop]
            low[start:stop] = np.where(good, picked[:, 2], np.nan)
            high[start:stop] = np.where(good, picked[:, 3], np.nan)

    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.sqrt(var_s)
        z = np.where(s > 0, (s - 1) / sd, np.where(s < 0, (s + 1) / sd, 0.0))
        tau = s / pairs
        tau_b = s / np.sqrt(pairs * (pairs - tie_pairs).astype(float))
    p = _two_sided_p(z)
    intercept = x_med - t_med * slope

    exact_ok = (n >= 3) & (n <= EXACT_MAX_N) & (tie_pairs == 0)
    table = _exact_tail_table()
    p_exact = np.where(
        exact_ok,
        table[np.clip(n, 0, EXACT_MAX_N), np.clip(np.abs(s), 0, table.shape[1] - 1).astype(int)],
        np.nan,
    )
    return _finish(
        {
            "p": p,
            "z": z,
            "s": s,
            "var_s": var_s,
            "tau": tau,
            "tau_b": tau_b,
            "slope": slope,
            "intercept": intercept,
            "slope_low": low,
            "slope_high": high,
            "p_exact": p_exact,
            "n": n,
        },
        alpha,
    )


def _finish(cols: dict[str, np.ndarray], alpha: float) -> dict[str, np.ndarray]:
    """Decide h and trend; blank out everything for series with fewer than 3 values."""
    n = cols["n"]
    enough = n >= 3
    for key in _NUMERIC_FIELDS:
        cols[key] = np.where(enough, cols[key], np.nan)
    decisive = np.where(np.isnan(cols["p_exact"]), cols["p"], cols["p_exact"])
    h = enough & (decisive < alpha)
    s = cols["s"]
    trend = np.where(
        ~enough,
        "insufficient data",
        np.where(h & (s > 0), "increasing", np.where(h & (s < 0), "decreasing", "no trend")),
    )
    cols["h"] = h
    cols["trend"] = trend.astype(object)
    return cols


def _insufficient(n: int, method: str) -> TrendResult:
    numbers = dict.fromkeys(_NUMERIC_FIELDS, math.nan)
    return TrendResult(trend="insufficient data", h=False, n=n, method=method, n_ratio=1.0, **numbers)


def _row_result(cols: dict[str, np.ndarray], row: int) -> TrendResult:
    """One row of the column arrays as a TrendResult of plain Python values."""
    return TrendResult(
        trend=str(cols["trend"][row]),
        h=bool(cols["h"][row]),
        n=int(cols["n"][row]),
        method="original",
        n_ratio=1.0,
        **{name: float(cols[name][row]) for name in _NUMERIC_FIELDS},
    )


# --------------------------------------------------------------------------- Mann-Kendall


def mann_kendall(x: Iterable[float], *, alpha: float = 0.05, method: str = "original") -> TrendResult:
    """Mann-Kendall trend test with Sen's slope (see TrendResult for every convention).

    ``x`` holds one value per period, NaN for a missing period.  Fewer than 3 values give
    ``trend="insufficient data"`` with NaN statistics; a constant series gives s = 0, p = 1.

    Where the exact p-value exists (3 <= n <= 10, no ties) ``h`` and ``trend`` use it.

    ``method="hamed_rao"`` applies the Hamed & Rao (1998) variance correction as R's
    ``modifiedmk::mmkh`` (and pymannkendall's hamed_rao_modification_test): the values are
    detrended with Sen's slope at their time positions, ranked, and the autocorrelations of
    the ranks (lags 1..n-1, over the non-missing values in order) that lie outside
    ±norm.ppf(1 - alpha/2)/sqrt(n) (mmkh's ``ci = 1 - alpha``) give n/n* = 1 +
    2/(n(n-1)(n-2)) * sum (n-i)(n-i-1)(n-i-2) r_i; var_s is multiplied by n/n* and z, p, h
    follow.  With gaps, mmkh numbers the remaining values 1..n while we keep their time
    positions.  Applied only for n >= 24 and when n/n* is positive and finite; otherwise
    the result says ``method="original"`` with ``n_ratio=1.0``.
    """
    alpha = _check_alpha(alpha)
    if method not in ("original", "hamed_rao"):
        raise ValueError(f"method must be 'original' or 'hamed_rao', got {method!r}")
    arr = _as_float_array(list(x) if not hasattr(x, "__array__") else x, 1)
    cols = _mk_rows(arr[None, :], alpha)
    result = _row_result(cols, 0)
    if method == "hamed_rao" and result.n >= HAMED_RAO_MIN_N:
        ratio = _hamed_rao_ratio(arr, result.slope, alpha)
        if math.isfinite(ratio) and ratio > 0:
            result = _apply_variance_ratio(result, ratio, alpha)
    return result


def _hamed_rao_ratio(x: np.ndarray, slope: float, alpha: float) -> float:
    """n/n* of Hamed & Rao (1998) from the significant rank autocorrelations."""
    t = np.flatnonzero(~np.isnan(x)) + 1.0  # t = 1..n as R's mmkh (ties after rounding)
    xv = x[~np.isnan(x)]
    n = len(xv)
    ranks = rankdata(xv - slope * t)
    y = ranks - ranks.mean()
    acov = np.correlate(y, y, mode="full")[n - 1 :]
    if acov[0] <= 0:
        return math.nan
    r = acov / acov[0]
    bound = float(special.ndtri(1 - alpha / 2)) / math.sqrt(n)
    lags = np.arange(1, n)
    significant = (r[1:] > bound) | (r[1:] < -bound)
    weights = (n - lags) * (n - lags - 1) * (n - lags - 2)
    total = float(np.sum(np.where(significant, weights * r[1:], 0.0)))
    return 1.0 + (2.0 / (n * (n - 1) * (n - 2))) * total


def _apply_variance_ratio(result: TrendResult, ratio: float, alpha: float) -> TrendResult:
    var_s = result.var_s * ratio
    s = result.s
    sd = math.sqrt(var_s)
    z = (s - 1) / sd if s > 0 else (s + 1) / sd if s < 0 else 0.0
    p = float(_two_sided_p(np.array(z)))
    h = p < alpha
    trend = "increasing" if h and s > 0 else "decreasing" if h and s < 0 else "no trend"
    return replace(result, trend=trend, h=h, p=p, z=z, var_s=var_s, p_exact=math.nan, method="hamed_rao", n_ratio=ratio)


def mann_kendall_batch(values: Any, *, alpha: float = 0.05) -> pd.DataFrame:
    """Mann-Kendall + Sen for many series at once, identical to ``mann_kendall`` per row.

    ``values`` is 2-D (series x periods, NaN for missing); a DataFrame keeps its index.
    Returns one row per series with the TrendResult fields as columns (``method`` is
    always "original", ``n_ratio`` 1.0).  Vectorised over series: the pair slopes of a
    block of series are built lag by lag and sorted row-wise, with blocks sized so that
    at most ~4M pair slopes (32 MiB) are held at once.  Series of more than ~2,900 periods
    are taken one at a time through the memory-bounded selection that ``mann_kendall``
    uses for them (same results).
    """
    alpha = _check_alpha(alpha)
    index = values.index if isinstance(values, pd.DataFrame) else None
    arr = _as_float_array(values, 2)
    cols = _mk_rows(arr, alpha)
    m = arr.shape[0]
    data = {name: cols[name] for name in TREND_FIELDS if name in cols}
    data["method"] = np.full(m, "original", dtype=object)
    data["n_ratio"] = np.ones(m)
    frame = pd.DataFrame({name: data[name] for name in TREND_FIELDS}, index=index)
    return frame.astype({"h": bool, "n": np.int64})


def seasonal_mann_kendall(x: Iterable[float], period: int, *, alpha: float = 0.05) -> TrendResult:
    """Seasonal Mann-Kendall test (Hirsch & Slack 1984) as pymannkendall's seasonal_test.

    Season j holds x[j], x[j + period], ...; S and var_s (tie-corrected per season) are
    summed over seasons; tau = S / sum n_j(n_j-1)/2; tau_b = S / sqrt(N0 (N0 - N1)) with
    N0 the within-season pairs and N1 the tied ones.  ``slope`` is per cycle (``period``
    periods): the median of all within-season pair slopes; ``intercept`` = median(x) -
    slope * median(t) / period (value at t = 0).  The 95 % slope interval uses the same
    order statistics as theilslopes with the seasonal var_s.  ``p_exact`` is always NaN.
    Insufficient data: fewer than 3 values, or no season with 2 values.
    """
    alpha = _check_alpha(alpha)
    if int(period) != period or period < 1:
        raise ValueError(f"period must be a positive integer, got {period}")
    period = int(period)
    arr = _as_float_array(list(x) if not hasattr(x, "__array__") else x, 1)
    length = len(arr)
    cycles = -(-length // period)
    padded = np.full(cycles * period, np.nan)
    padded[:length] = arr
    seasons = padded.reshape(cycles, period).T  # one row per season

    n_j = (~np.isnan(seasons)).sum(axis=1).astype(np.int64)
    tie3, tie_pairs = _tie_terms(np.sort(seasons, axis=1), n_j)
    n_pairs = cycles * (cycles - 1) // 2
    slopes = np.empty((period, n_pairs))
    _fill_pair_slopes(seasons, slopes)
    with np.errstate(invalid="ignore"):
        s_j = np.count_nonzero(slopes > 0, axis=1) - np.count_nonzero(slopes < 0, axis=1)
    s = float(s_j.sum())
    var_s = float(np.sum((n_j * (n_j - 1) * (2 * n_j + 5) - tie3) / 18.0))
    denom = int(np.sum(n_j * (n_j - 1) // 2))
    n_total = int(n_j.sum())
    if n_total < 3 or denom == 0:
        return _insufficient(n_total, "seasonal")

    pooled = np.sort(slopes[~np.isnan(slopes)])
    k = len(pooled)
    slope = float(np.median(pooled))
    rl, ru, ok = _theil_ranks(np.array([k]), np.array([var_s]))
    low = float(pooled[rl[0]]) if ok[0] else math.nan
    high = float(pooled[ru[0]]) if ok[0] else math.nan
    t_valid = np.flatnonzero(~np.isnan(arr))
    intercept = float(np.nanmedian(arr) - np.median(t_valid) / period * slope)

    sd = math.sqrt(var_s)
    z = (s - 1) / sd if s > 0 else (s + 1) / sd if s < 0 else 0.0
    p = float(_two_sided_p(np.array(z)))
    h = p < alpha
    tied = int(tie_pairs.sum())
    tau_b = s / math.sqrt(denom * (denom - tied)) if denom > tied else math.nan
    return TrendResult(
        trend="increasing" if h and s > 0 else "decreasing" if h and s < 0 else "no trend",
        h=h,
        p=p,
        z=z,
        s=s,
        var_s=var_s,
        tau=s / denom,
        tau_b=tau_b,
        slope=slope,
        intercept=intercept,
        slope_low=low,
        slope_high=high,
        p_exact=math.nan,
        n=n_total,
        method="seasonal",
        n_ratio=1.0,
    )


# --------------------------------------------------------------------------- change point


def pettitt(x: Iterable[float]) -> ChangePoint:
    """Pettitt (1979) change-point test, as R's ``trend::pettitt.test``.

    U_k = 2 * sum_{i<=k} r_i - k(n+1) with mid-ranks r; statistic U* = max |U_k| and
    p = min(1, 2 exp(-6 U*^2 / (n^3 + n^2))) (approximate, good for p <= 0.5).  The first
    k reaching the maximum is reported.  NaNs are dropped; ``index`` refers to the original
    array (one past the last value before the change).  Fewer than 2 values: NaN result.
    """
    arr = _as_float_array(list(x) if not hasattr(x, "__array__") else x, 1)
    where = np.flatnonzero(~np.isnan(arr))
    n = len(where)
    if n < 2:
        return ChangePoint(None, math.nan, math.nan)
    ranks = rankdata(arr[where])
    k = np.arange(1, n + 1)
    u = np.abs(2.0 * np.cumsum(ranks) - k * (n + 1.0))
    stat = float(u.max())
    p = min(1.0, 2.0 * math.exp(-6.0 * stat**2 / (float(n) ** 3 + float(n) ** 2)))
    if stat == 0:
        return ChangePoint(None, 0.0, p)
    first = int(np.argmax(u))  # 0-based position among the non-missing values
    return ChangePoint(int(where[first]) + 1, stat, p)


# --------------------------------------------------------------------------- surveys


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (no continuity correction).

    Same formulas as scipy.stats.binomtest(...).proportion_ci(method="wilson"); (NaN, NaN)
    when n = 0.  The bound at 0 successes is exactly 0, at n successes exactly 1.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return (math.nan, math.nan)
    z = float(special.ndtri(0.5 + 0.5 * confidence))
    p = successes / n
    denom = 2 * (n + z**2)
    center = (2 * n * p + z**2) / denom
    delta = z / denom * math.sqrt(4 * n * p * (1 - p) + z**2)
    low = 0.0 if successes == 0 else center - delta
    high = 1.0 if successes == n else center + delta
    return (low, high)


def _as_counts(counts: Sequence[float], name: str) -> list[float]:
    """Validated counts as Python floats (K is small: plain arithmetic beats numpy calls)."""
    try:
        values = [float(c) for c in counts]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D sequence of counts for answers 1..K") from None
    if len(values) < 2:
        raise ValueError(f"{name} must be a 1-D sequence of counts for answers 1..K (K >= 2)")
    for v in values:
        if not (0 <= v < math.inf and v.is_integer()):
            raise ValueError(f"{name} must hold non-negative whole counts, got {v}")
    return values


def compare_likert(
    counts_a: Sequence[float],
    counts_b: Sequence[float],
    *,
    favourable: Sequence[int] = (4, 5),
) -> LikertComparison:
    """Compare two groups' answers on a 1..K scale from their counts (see LikertComparison).

    ``counts_x[i]`` is the number of answers ``i + 1``; the data are never expanded to one
    element per respondent (mid-ranks per category give U, the tie term the variance).
    A group with no answers gives NaN for everything that needs both groups.
    """
    a = _as_counts(counts_a, "counts_a")
    b = _as_counts(counts_b, "counts_b")
    if len(a) != len(b):
        raise ValueError("counts_a and counts_b must cover the same answers")
    fav = sorted({int(v) for v in favourable})
    if not fav or fav[0] < 1 or fav[-1] > len(a):
        raise ValueError(f"favourable answers must lie in 1..{len(a)}")
    n_a, n_b = sum(a), sum(b)
    fa, fb = sum(a[v - 1] for v in fav), sum(b[v - 1] for v in fav)
    nan = math.nan
    fav_a = fa / n_a if n_a else nan
    fav_b = fb / n_b if n_b else nan
    if n_a == 0 or n_b == 0:
        return LikertComparison(
            n_a=int(n_a),
            n_b=int(n_b),
            u=nan,
            p_mwu=nan,
            rank_biserial=nan,
            fav_a=fav_a,
            fav_b=fav_b,
            fav_diff=nan,
            fav_diff_low=nan,
            fav_diff_high=nan,
            p_fav=nan,
        )

    total = n_a + n_b
    rank_sum_a = 0.0
    tie_term = 0.0
    below = 0.0
    for ca, cb in zip(a, b, strict=True):
        both = ca + cb
        rank_sum_a += ca * (below + (both + 1) / 2.0)  # mid-rank of this answer, times its count
        tie_term += both**3 - both
        below += both
    u1 = rank_sum_a - n_a * (n_a + 1) / 2
    u2 = n_a * n_b - u1
    var = n_a * n_b / 12 * ((total + 1) - tie_term / (total * (total - 1)))
    if var > 0:
        zu = (max(u1, u2) - n_a * n_b / 2 - 0.5) / math.sqrt(var)
        p_mwu = min(max(2.0 * float(special.ndtr(-zu)), _P_FLOOR), 1.0)
    else:  # every answer in one category: no evidence of a difference
        p_mwu = 1.0

    diff = fav_a - fav_b
    l1, h1 = wilson_interval(int(fa), int(n_a))
    l2, h2 = wilson_interval(int(fb), int(n_b))
    low = diff - math.sqrt((fav_a - l1) ** 2 + (h2 - fav_b) ** 2)
    high = diff + math.sqrt((h1 - fav_a) ** 2 + (fav_b - l2) ** 2)
    pooled = (fa + fb) / total
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    p_fav = max(2.0 * float(special.ndtr(-abs(diff / se))), _P_FLOOR) if se > 0 else 1.0
    return LikertComparison(
        n_a=int(n_a),
        n_b=int(n_b),
        u=u1,
        p_mwu=p_mwu,
        rank_biserial=(u1 - u2) / (n_a * n_b),
        fav_a=fav_a,
        fav_b=fav_b,
        fav_diff=diff,
        fav_diff_low=low,
        fav_diff_high=high,
        p_fav=p_fav,
    )


def cronbach_alpha(items: Any, *, ci: float = 0.95) -> tuple[float, tuple[float, float]]:
    """Cronbach's alpha of a (respondents x items) table with the Feldt interval.

    Listwise deletion (respondents with any missing item are dropped), then
    alpha = k/(k-1) * (1 - trace(C) / sum(C)) with C the item covariance matrix (ddof=1),
    and the Feldt (1987) interval 1 - (1 - alpha) * F.isf(...) with df1 = n - 1 and
    df2 = (n - 1)(k - 1), n = complete respondents.  Equal to
    ``pingouin.cronbach_alpha(items, nan_policy="listwise", ci=ci)`` except that pingouin
    rounds the interval to 3 decimals and, when rows are dropped, takes n before deletion.
    Fewer than 2 complete respondents or zero total variance: NaN.
    """
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    frame = items if isinstance(items, pd.DataFrame) else pd.DataFrame(items)
    k = frame.shape[1]
    if k < 2:
        raise ValueError("at least two items are required")
    data = frame.dropna(axis=0, how="any").to_numpy(dtype=float)
    n = data.shape[0]
    nan = (math.nan, (math.nan, math.nan))
    if n < 2:
        return nan
    cov = np.cov(data, rowvar=False, ddof=1)
    total = float(cov.sum())
    if not total > 0:
        return nan
    alpha = (k / (k - 1)) * (1 - float(np.trace(cov)) / total)
    tail = 1 - ci
    df1, df2 = n - 1, (n - 1) * (k - 1)
    low = 1 - (1 - alpha) * float(f_dist.isf(tail / 2, df1, df2))
    high = 1 - (1 - alpha) * float(f_dist.isf(1 - tail / 2, df1, df2))
    return alpha, (low, high)


def benjamini_hochberg(p: Any) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaN stay NaN and are not counted.

    Equal to ``scipy.stats.false_discovery_control(p[~isnan(p)], method="bh")`` placed
    back at the non-NaN positions; the input's shape is kept.
    """
    arr = np.asarray(p, dtype=float)
    out = np.full(arr.shape, np.nan)
    mask = ~np.isnan(arr)
    vals = arr[mask]
    if np.any((vals < 0) | (vals > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    m = vals.size
    if m <= 1:
        out[mask] = vals
        return out
    order = np.argsort(vals)
    adjusted = vals[order] * (m / np.arange(1, m + 1, dtype=float))
    np.minimum.accumulate(adjusted[::-1], out=adjusted[::-1])
    restored = np.empty(m)
    restored[order] = adjusted
    out[mask] = np.clip(restored, 0, 1)
    return out
