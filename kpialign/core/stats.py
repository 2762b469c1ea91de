"""Statistics engine: Mann-Kendall family, Sen's slope, survey comparisons, reliability, FDR, lead-lag.

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
from typing import Any, Literal, NamedTuple, cast

import numpy as np
import pandas as pd
from scipy import special
from scipy.stats import f as f_dist
from scipy.stats import norm, rankdata

__all__ = [
    "LEAD_LAG_FIELDS",
    "TREND_FIELDS",
    "ChangePoint",
    "LeadLagResult",
    "LikertComparison",
    "TrendResult",
    "benjamini_hochberg",
    "compare_likert",
    "cronbach_alpha",
    "lead_lag",
    "lead_lag_batch",
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
#: Pair slopes per block of rows in the batch (float64): 256 KiB, so a block stays in L2 cache.
_CACHE_PAIRS = 1 << 15
#: z for the 95 % Sen-slope interval, computed exactly as scipy.stats.theilslopes does.
_THEIL_Z = float(norm.ppf((1.0 - 0.95) / 2.0))
_P_FLOOR = float(np.finfo(float).smallest_subnormal)
_ZERO_AND_NEXT = np.array([0.0, _P_FLOOR])

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

    index: int | None  # type: ignore[assignment]  # shadows tuple.index on purpose (public name)
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
    same_prev = np.zeros((m, width), dtype=bool)
    same_prev[:, 1:] = sorted_rows[:, 1:] == sorted_rows[:, :-1]
    tied = same_prev.any(axis=1)
    if not tied.all():  # continuous data has no ties: only rows with ties need the group sizes
        tie3 = np.zeros(m, dtype=np.int64)
        tie_pairs = np.zeros(m, dtype=np.int64)
        if tied.any():
            tie3[tied], tie_pairs[tied] = _tie_terms(sorted_rows[tied], counts[tied])
        return tie3, tie_pairs
    cols = np.arange(width)
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


@cache
def _pair_index(width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, j - i) for all pairs i < j of ``width`` periods, lag-major like _fill_pair_slopes."""
    first = np.concatenate([np.arange(width - lag) for lag in range(1, width)]).astype(np.intp)
    lags = np.concatenate([np.full(width - lag, lag) for lag in range(1, width)]).astype(np.intp)
    second = first + lags
    out = (first, second, lags.astype(float))
    for array in out:
        array.setflags(write=False)  # cached: shared by every call
    return out


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
            at = int(np.searchsorted(ends, r, side="right"))
            before = int(ends[at - 1]) if at else 0
            if at % 2 == 1:  # equal to an edge
                found[r] = float(edges[at // 2])
            elif collect_cell[at]:
                inside = np.sort(vals_all[cells_all == at])
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
        # Blocks of rows whose pair slopes fit in the core's L2 cache: building, counting and
        # sorting them there is ~2x faster than one pass over all rows through main memory.
        # A full SIMD sort (numpy's AVX-512 sort) beats np.partition with the four ranks
        # needed here by 2-4x on this hardware (bench/README.md), so the rows are sorted.
        first, second, lag = _pair_index(width)
        rows_per_block = max(1, _CACHE_PAIRS // n_pairs)
        wanted = np.stack([(pairs - 1) // 2, pairs // 2, rl, ru], axis=1).clip(0, n_pairs - 1)
        picked = np.empty((m, 4))
        block_rows = np.arange(rows_per_block)[:, None]
        for start in range(0, m, rows_per_block):
            stop = min(start + rows_per_block, m)
            block = values[start:stop]
            d = np.take(block, second, axis=1)
            d -= np.take(block, first, axis=1)
            d /= lag
            d.sort(axis=1)  # NaN pairs last
            # S = (#slopes > 0) - (#slopes < 0), read off each sorted row: no double lies
            # strictly between 0 and the smallest subnormal, so "< 5e-324" means "<= 0".
            for i, row in enumerate(d, start=start):
                below, upto = row.searchsorted(_ZERO_AND_NEXT)
                s[i] = (pairs[i] - upto) - below
            picked[start:stop] = d[block_rows[: stop - start], wanted[start:stop]]
        has = pairs > 0
        slope = np.where(has, (picked[:, 0] + picked[:, 1]) / 2.0, np.nan)
        low = np.where(has & ok, picked[:, 2], np.nan)
        high = np.where(has & ok, picked[:, 3], np.nan)

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
        trend=cast(TrendLabel, str(cols["trend"][row])),
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
    trend: TrendLabel = "increasing" if h and s > 0 else "decreasing" if h and s < 0 else "no trend"
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
    # the dtypes set on the arrays: a DataFrame.astype afterwards copied every column
    data["h"] = np.asarray(data["h"]).astype(bool)
    data["n"] = np.asarray(data["n"]).astype(np.int64)
    return pd.DataFrame({name: data[name] for name in TREND_FIELDS}, index=index)


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


# --------------------------------------------------------------------------- lead-lag

#: Fewest common periods for a lead-lag verdict (DESIGN, Scoring 13).
LEAD_LAG_MIN_N = 24
#: Level of the stationarity pre-tests (ADF, KPSS) that choose the transformation.
STATIONARITY_ALPHA = 0.05
#: Highest AR order tried for the prewhitening filter (also capped at n // 10).
PREWHITEN_MAX_ORDER = 6
#: KPSS critical values for the trend-stationary null, as statsmodels (Kwiatkowski et al. 1992).
_KPSS_CT_CRIT = np.array([0.119, 0.146, 0.176, 0.216])
_KPSS_PVALS = np.array([0.10, 0.05, 0.025, 0.01])

Transform = Literal["difference", "detrend"]


@dataclass(frozen=True, slots=True)
class LeadLagResult:
    """Does the driver's past predict the outcome? (``lead_lag``; predictive, never causal).

    Conventions, in the order they are applied:

    * ``n``: common periods, where both series have a value.  A period missing in either
      series is missing in both; nothing is interpolated.  Leading and trailing gaps only
      shorten the window.  A gap inside the window stays a gap: every difference, lag or
      cross-product that would reach into it is left out, so one missing period costs the
      regressions that need it (up to ``lag + 1`` rows each) instead of being filled in.
      Fewer than 24 common periods: ``verdict = "not enough data (n < 24)"``, and every other
      figure is empty (NaN, None or ``()``).
    * ``transform``: ``"detrend"`` (residuals of an OLS line on time, per series) only when
      *both* series look trend-stationary to *both* pre-tests at the 5 % level: the ADF test
      with constant and trend rejects a unit root (``adf_p_* < 0.05``; fixed augmentation
      ``floor((n - 1) ** (1/3))`` lags, p-value from MacKinnon's tables, as statsmodels'
      ``adfuller(regression="ct", autolag=None)``) and KPSS with trend does not reject
      stationarity (``kpss_p_* >= 0.05``; ``nlags="legacy"``; statsmodels' p-value table,
      so it is clipped to 0.01..0.10).  Otherwise ``"difference"`` (x_t - x_{t-1}): the safe
      default, since detrending a random walk leaves the spurious correlation in place while
      differencing a trend-stationary series only adds some negative autocorrelation.  Both
      series always get the same transformation.
    * ``ar_order``, ``ar_coefficients``: AR(p) with a constant fitted by OLS to the
      transformed driver, p = 0..P with P = min(6, n // 10), chosen by AIC on a common sample (the
      first P transformed values held back, as statsmodels' ``ar_select_order(maxlag=P, trend="c")``), then
      refitted on every row it can use.  The filter e_t = z_t - sum phi_i z_{t-i} is applied
      to *both* transformed series (prewhitening: the driver becomes close to white noise,
      so its own persistence no longer inflates the cross-correlations).
    * ``ccf``: r_k for k = 0..``max_lag`` (and the expected lag if higher) = correlation of
      the prewhitened driver at t with the prewhitened outcome at t + k (driver first):
      cross-products over the pairs present divided by n times both standard deviations
      (ddof 0), i.e. statsmodels' ``ccf(outcome, driver, adjusted=False)[k]`` for a series
      without gaps.  ``ccf_low``/``ccf_high``: 95 % Fisher-z interval with the number of pairs
      at that lag.
    * ``best_lag``: the k in 1..``max_lag`` with the largest |r_k| (lag 0 is shown but is no lead).
    * ``tested_lag``: ``expected_lag`` if given, else ``best_lag`` (``lag_source`` says which).
      At lag k >= 1 the Granger F-test on the transformed (not prewhitened) series: OLS of
      outcome_t on a constant, outcome_{t-1..t-k} and driver_{t-1..t-k} against the same
      without the driver's lags; ``f``, ``df_num = k``, ``df_den = rows - 2k - 1`` and
      ``p_granger`` equal statsmodels' ``grangercausalitytests`` ssr F-test on
      ``[outcome, driver]``.  At lag 0 (a same-period link) the test is the F-test of r_0
      on the prewhitened series (``f = r^2 (n' - 2) / (1 - r^2)``, df 1 and n' - 2).
    * ``p``: the decisive p-value: ``p_granger`` when the lag was expected, Bonferroni
      ``min(1, max_lag * p_granger)`` when the lag was picked from the data (picking the best
      of ``max_lag`` lags and then testing it would otherwise flag far more than alpha).
    * ``sign``: sign of r at the tested lag (+1, -1, 0).  ``verdict``: ``p < alpha`` and the
      sign equals ``expected_sign``: ``"supported at lag k"``; ``p < alpha`` with the other
      sign: ``"opposite sign"``; otherwise ``"no evidence"`` (also for a constant series).
      A lag so long that the Granger regression has no residual degree of freedom left
      (rows - 2k - 1 < 1) gives ``"not enough data for lag k"``.
      ``lead_lag_batch`` decides on the Benjamini-Hochberg q across the links instead.
    """

    n: int
    verdict: str
    transform: Transform | None
    ar_order: int | None
    ar_coefficients: tuple[float, ...]
    lags: tuple[int, ...]
    ccf: tuple[float, ...]
    ccf_low: tuple[float, ...]
    ccf_high: tuple[float, ...]
    best_lag: int | None
    tested_lag: int | None
    lag_source: Literal["expected", "best"]
    f: float
    df_num: float
    df_den: float
    p_granger: float
    p: float
    sign: int
    adf_p_driver: float
    adf_p_outcome: float
    kpss_p_driver: float
    kpss_p_outcome: float


LEAD_LAG_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(LeadLagResult))
_NOT_ENOUGH = f"not enough data (n < {LEAD_LAG_MIN_N})"


def _shift(a: np.ndarray, k: int) -> np.ndarray:
    """``out[:, t] = a[:, t - k]`` (NaN where t < k)."""
    if k == 0:
        return a
    out = np.full(a.shape, np.nan)
    out[:, k:] = a[:, :-k]
    return out


def _stack_inverse(mats: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(mats)
    except np.linalg.LinAlgError:  # a constant series: solve what can be solved
        return np.linalg.pinv(mats)


class _Ols(NamedTuple):
    beta: np.ndarray  # (m, p)
    ssr: np.ndarray  # (m,)
    nobs: np.ndarray  # (m,)
    inv: np.ndarray  # (m, p, p): (X'X)^-1


def _masked_ols(y: np.ndarray, cols: list[np.ndarray]) -> _Ols:
    """Row-wise OLS of ``y`` (m, T) on ``cols`` (each (m, T)); a t with any NaN is left out."""
    ok = ~np.isnan(y)
    for col in cols:
        ok &= ~np.isnan(col)
    x = np.stack([np.where(ok, col, 0.0) for col in cols], axis=1)  # (m, p, T): T contiguous
    yz = np.where(ok, y, 0.0)
    inv = _stack_inverse(x @ x.transpose(0, 2, 1))
    beta = (inv @ (x @ yz[:, :, None]))[:, :, 0]
    resid = yz - (beta[:, None, :] @ x)[:, 0, :]
    return _Ols(beta, np.einsum("mt,mt->m", resid, resid), ok.sum(axis=1), inv)


#: MacKinnon (1994) ADF p-value polynomials, constant + trend, one series (statsmodels' tables).
_TAU_CT_SMALL = np.array([3.2512, 1.6047, 0.049588])
_TAU_CT_LARGE = np.array([2.5261, 0.6165400000000001, -0.37956, -0.060285000000000005])
_TAU_CT_STAR, _TAU_CT_MAX, _TAU_CT_MIN = -2.89, 0.7, -16.18


def _mackinnon_p_ct(stat: np.ndarray) -> np.ndarray:
    """statsmodels' ``mackinnonp(stat, regression="ct", N=1)`` for an array (NaN stays NaN)."""
    with np.errstate(invalid="ignore"):
        poly = np.where(
            stat <= _TAU_CT_STAR, np.polyval(_TAU_CT_SMALL[::-1], stat), np.polyval(_TAU_CT_LARGE[::-1], stat)
        )
        p = special.ndtr(poly)
        p = np.where(stat > _TAU_CT_MAX, 1.0, np.where(stat < _TAU_CT_MIN, 0.0, p))
    return np.where(np.isnan(stat), np.nan, p)


def _adf_ct_p(x: np.ndarray, lags: int) -> np.ndarray:
    """ADF test with constant and trend and ``lags`` augmentation lags: p-value per row."""
    dx = x - _shift(x, 1)
    ones = np.ones_like(x)
    trend = np.broadcast_to(np.arange(x.shape[1], dtype=float), x.shape)
    cols = [_shift(x, 1), *(_shift(dx, j) for j in range(1, lags + 1)), ones, trend]
    fit = _masked_ols(dx, cols)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(fit.ssr / (fit.nobs - len(cols)) * fit.inv[:, 0, 0])
        stat = fit.beta[:, 0] / se
    return _mackinnon_p_ct(np.where(np.isfinite(stat), stat, np.nan))


def _detrend(x: np.ndarray) -> np.ndarray:
    """Residuals of an OLS line on time, per row, over its non-missing values."""
    ones = np.ones_like(x)
    trend = np.broadcast_to(np.arange(x.shape[1], dtype=float), x.shape)
    fit = _masked_ols(x, [ones, trend])
    return x - (fit.beta[:, :1] + fit.beta[:, 1:] * trend)


def _kpss_ct_p(x: np.ndarray, lags: int) -> np.ndarray:
    """KPSS test of trend stationarity with ``lags`` Bartlett lags: p-value per row (0.01..0.10)."""
    ok = ~np.isnan(x)
    n = ok.sum(axis=1)
    e = np.where(ok, _detrend(x), 0.0)
    eta = np.where(ok, np.cumsum(e, axis=1), 0.0)
    eta = np.einsum("mt,mt->m", eta, eta) / n.astype(float) ** 2
    s_hat = np.einsum("mt,mt->m", e, e)
    for i in range(1, lags + 1):
        s_hat += 2.0 * (1.0 - i / (lags + 1.0)) * np.einsum("mt,mt->m", e[:, i:], e[:, :-i])
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = eta / (s_hat / n)
    return np.where(np.isfinite(stat), np.interp(stat, _KPSS_CT_CRIT, _KPSS_PVALS), np.nan)


def _cube_root_floor(v: int) -> int:
    r = round(v ** (1.0 / 3.0))
    while r**3 > v:
        r -= 1
    while (r + 1) ** 3 <= v:
        r += 1
    return r


def _ar_fit(z: np.ndarray, max_order: int) -> tuple[np.ndarray, np.ndarray]:
    """AR order by AIC on a common sample (first ``max_order`` values held back), then refit.

    Returns (order per row, coefficients (m, max_order) with zeros beyond each order).
    """
    m = z.shape[0]
    ones = np.ones_like(z)
    lagged = [_shift(z, i) for i in range(1, max_order + 1)]
    common = ~np.isnan(z)
    for lag in lagged:
        common &= ~np.isnan(lag)
    z_common = np.where(common, z, np.nan)
    aic = np.empty((m, max_order + 1))
    for p in range(max_order + 1):
        fit = _masked_ols(z_common, [ones, *lagged[:p]])
        with np.errstate(divide="ignore"):
            aic[:, p] = fit.nobs * np.log(fit.ssr / fit.nobs) + 2.0 * p
    order = np.argmin(np.nan_to_num(aic, nan=np.inf), axis=1)
    coef = np.zeros((m, max_order))
    for p in range(1, max_order + 1):
        rows = order == p
        if rows.any():
            fit = _masked_ols(z[rows], [ones[rows], *(lag[rows] for lag in lagged[:p])])
            coef[rows, :p] = fit.beta[:, 1:]
    return order, coef


def _prewhiten(z: np.ndarray, order: np.ndarray, coef: np.ndarray) -> np.ndarray:
    out = z.copy()
    for i in range(1, coef.shape[1] + 1):
        use = (order >= i)[:, None]
        out = np.where(use, out - coef[:, i - 1 : i] * _shift(z, i), out)
    return out


def _granger(zy: np.ndarray, zx: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Granger ssr F-test at lag k >= 1 per row: (F, df_den, p)."""
    ones = np.ones_like(zy)
    ylags = [_shift(zy, j) for j in range(1, k + 1)]
    xlags = [_shift(zx, j) for j in range(1, k + 1)]
    full = _masked_ols(zy, [ones, *ylags, *xlags])
    ok = ~np.isnan(zy)
    for lag in (*ylags, *xlags):
        ok &= ~np.isnan(lag)
    restricted = _masked_ols(np.where(ok, zy, np.nan), [ones, *ylags])
    df_den = (full.nobs - 2 * k - 1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (restricted.ssr - full.ssr) / k / (full.ssr / df_den)
    f = np.where((df_den > 0) & np.isfinite(f), f, np.nan)
    return f, df_den, special.fdtrc(k, df_den, f)


def _lead_lag_rows(x: np.ndarray, y: np.ndarray, n: int, expected: np.ndarray, max_lag: int) -> dict[str, Any]:
    """Every LeadLagResult figure but the verdict for rows that share n common periods."""
    m = x.shape[0]
    both = np.concatenate([x, y])
    adf = _adf_ct_p(both, _cube_root_floor(n - 1))
    kpss_lags = min(int(np.ceil(12.0 * np.power(n / 100.0, 1 / 4.0))), n - 1)
    kpss = _kpss_ct_p(both, kpss_lags)
    trend_stationary = (adf < STATIONARITY_ALPHA) & (kpss >= STATIONARITY_ALPHA)
    detrend = trend_stationary[:m] & trend_stationary[m:]
    both_t = np.where(np.concatenate([detrend, detrend])[:, None], _detrend(both), both - _shift(both, 1))
    zx, zy = both_t[:m], both_t[m:]

    max_order = min(PREWHITEN_MAX_ORDER, n // 10)
    order, coef = _ar_fit(zx, max_order)
    fx, fy = _prewhiten(zx, order, coef), _prewhiten(zy, order, coef)
    valid = ~np.isnan(fx)
    n_w = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fxc = np.where(valid, fx - np.nanmean(np.where(valid, fx, np.nan), axis=1, keepdims=True), 0.0)
        fyc = np.where(valid, fy - np.nanmean(np.where(valid, fy, np.nan), axis=1, keepdims=True), 0.0)
        denom = np.sqrt(np.einsum("mt,mt->m", fxc, fxc) * np.einsum("mt,mt->m", fyc, fyc))
    degenerate = ~(denom > 0) | ~(np.abs(fxc).max(axis=1, initial=0) > 0)
    top = max(max_lag, int(expected.max(initial=-1)))
    width = x.shape[1]
    r = np.full((m, top + 1), np.nan)
    pairs = np.zeros((m, top + 1), dtype=np.int64)
    for k in range(min(top, width - 1) + 1):
        num = np.einsum("mt,mt->m", fxc[:, : width - k], fyc[:, k:])
        with np.errstate(invalid="ignore", divide="ignore"):
            r[:, k] = np.where(degenerate, np.nan, num / denom)
        pairs[:, k] = (valid[:, : width - k] & valid[:, k:]).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = float(special.ndtri(0.975)) / np.sqrt(pairs - 3.0)
        zr = np.arctanh(np.clip(r, -1.0, 1.0))
        low = np.where(pairs > 3, np.tanh(zr - half), np.nan)
        high = np.where(pairs > 3, np.tanh(zr + half), np.nan)
    best = 1 + np.argmax(np.nan_to_num(np.abs(r[:, 1 : max_lag + 1]), nan=-1.0), axis=1)
    tested = np.where(expected >= 0, expected, best)

    f = np.full(m, np.nan)
    df_num = tested.astype(float)
    df_den = np.full(m, np.nan)
    p_g = np.full(m, np.nan)
    for k in np.unique(tested):
        rows = tested == k
        if k == 0:
            r0 = r[rows, 0]
            dfd = n_w[rows] - 2.0
            with np.errstate(invalid="ignore", divide="ignore"):
                fk = r0**2 * dfd / (1.0 - r0**2)
            f[rows], df_den[rows], p_g[rows] = fk, dfd, special.fdtrc(1, dfd, fk)
            df_num[rows] = 1.0
        else:
            f[rows], df_den[rows], p_g[rows] = _granger(zy[rows], zx[rows], int(k))
    p_g = np.where(degenerate, np.nan, p_g)
    f = np.where(degenerate, np.nan, f)
    p = np.where(expected >= 0, p_g, np.minimum(1.0, max_lag * p_g))
    at = np.take_along_axis(np.nan_to_num(r), np.minimum(tested, top)[:, None], axis=1)[:, 0]
    return {
        "transform": np.where(detrend, "detrend", "difference"),
        "ar_order": order,
        "ar_coefficients": [tuple(float(c) for c in coef[i, : order[i]]) for i in range(m)],
        "r": r,
        "low": low,
        "high": high,
        "best_lag": best,
        "tested_lag": tested,
        "f": f,
        "df_num": df_num,
        "df_den": df_den,
        "p_granger": p_g,
        "p": p,
        "sign": np.sign(at).astype(int),
        "adf_p_driver": adf[:m],
        "adf_p_outcome": adf[m:],
        "kpss_p_driver": kpss[:m],
        "kpss_p_outcome": kpss[m:],
    }


def _verdicts(
    p: np.ndarray, sign: np.ndarray, expected_sign: np.ndarray, tested: np.ndarray, alpha: float
) -> list[str]:
    out = []
    for pi, si, ei, ki in zip(p, sign, expected_sign, tested, strict=True):
        if not pi < alpha:
            out.append("no evidence")
        elif si == ei:
            out.append(f"supported at lag {int(ki)}")
        else:
            out.append("opposite sign")
    return out


def _lead_lag_columns(
    drivers: np.ndarray,
    outcomes: np.ndarray,
    expected_lag: np.ndarray,
    max_lag: int,
) -> dict[str, Any]:
    """Column arrays for all links; rows with n < 24 stay empty."""
    m = drivers.shape[0]
    common = ~np.isnan(drivers) & ~np.isnan(outcomes)
    x = np.where(common, drivers, np.nan)
    y = np.where(common, outcomes, np.nan)
    n = common.sum(axis=1)
    cols: dict[str, Any] = {
        "n": n,
        "transform": np.full(m, None, dtype=object),
        "ar_order": np.full(m, None, dtype=object),
        "ar_coefficients": [()] * m,
        "lags": [()] * m,
        "ccf": [()] * m,
        "ccf_low": [()] * m,
        "ccf_high": [()] * m,
        "best_lag": np.full(m, None, dtype=object),
        "tested_lag": np.full(m, None, dtype=object),
        "lag_source": np.where(expected_lag >= 0, "expected", "best").astype(object),
        "sign": np.zeros(m, dtype=int),
    }
    for name in (
        "f",
        "df_num",
        "df_den",
        "p_granger",
        "p",
        "adf_p_driver",
        "adf_p_outcome",
        "kpss_p_driver",
        "kpss_p_outcome",
    ):
        cols[name] = np.full(m, np.nan)
    for size in np.unique(n[n >= LEAD_LAG_MIN_N]):
        rows = np.flatnonzero(n == size)
        got = _lead_lag_rows(x[rows], y[rows], int(size), expected_lag[rows], max_lag)
        r, low, high = got["r"].tolist(), got["low"].tolist(), got["high"].tolist()
        transform = got["transform"].tolist()
        ints = {name: got[name].tolist() for name in ("ar_order", "best_lag", "tested_lag")}
        for j, row in enumerate(rows.tolist()):
            top = max(max_lag, int(expected_lag[row])) + 1
            cols["lags"][row] = tuple(range(top))
            cols["ccf"][row] = tuple(r[j][:top])
            cols["ccf_low"][row] = tuple(low[j][:top])
            cols["ccf_high"][row] = tuple(high[j][:top])
            cols["ar_coefficients"][row] = got["ar_coefficients"][j]
            cols["transform"][row] = transform[j]
            for name, values in ints.items():
                cols[name][row] = values[j]
        for name in (
            "f",
            "df_num",
            "df_den",
            "p_granger",
            "p",
            "sign",
            "adf_p_driver",
            "adf_p_outcome",
            "kpss_p_driver",
            "kpss_p_outcome",
        ):
            cols[name][rows] = got[name]
    return cols


def _check_lags(max_lag: int, expected: np.ndarray) -> int:
    if int(max_lag) != max_lag or max_lag < 1:
        raise ValueError(f"max_lag must be a positive integer, got {max_lag}")
    if np.any(expected < -1):
        raise ValueError("expected_lag must be None or a non-negative integer")
    return int(max_lag)


def _expected_signs(expected_sign: Any, m: int) -> np.ndarray:
    signs = np.broadcast_to(np.asarray(expected_sign, dtype=int), (m,)).copy()
    if not np.isin(signs, (-1, 1)).all():
        raise ValueError("expected_sign must be +1 or -1")
    return signs


def lead_lag(
    driver: Any,
    outcome: Any,
    *,
    max_lag: int = 6,
    expected_lag: int | None = None,
    expected_sign: int = 1,
    alpha: float = 0.05,
) -> LeadLagResult:
    """Lead-lag evidence for a drawn link driver -> outcome (see LeadLagResult for every rule).

    ``driver`` and ``outcome`` hold one value per period, aligned (same length, same
    periods), NaN where a period is missing.  The verdict speaks of predictive association
    ("the driver's past helps predict the outcome"), never of cause.
    """
    alpha = _check_alpha(alpha)
    x = _as_float_array(driver, 1)
    y = _as_float_array(outcome, 1)
    if x.shape != y.shape:
        raise ValueError(f"driver and outcome must be aligned on the same periods, got {x.shape} and {y.shape}")
    expected = np.array([-1 if expected_lag is None else int(expected_lag)])
    max_lag = _check_lags(max_lag, expected)
    signs = _expected_signs(expected_sign, 1)
    cols = _lead_lag_columns(x[None, :], y[None, :], expected, max_lag)
    return _result_row(cols, 0, _row_verdicts(cols, signs, alpha)[0])


def _row_verdicts(cols: dict[str, Any], signs: np.ndarray, alpha: float, p: np.ndarray | None = None) -> list[str]:
    decisive = cols["p"] if p is None else p
    tested = np.array([-1 if v is None else v for v in cols["tested_lag"]])
    verdicts = _verdicts(decisive, cols["sign"], signs, tested, alpha)
    out = []
    for n, k, df_den, verdict in zip(cols["n"], tested, cols["df_den"], verdicts, strict=True):
        if n < LEAD_LAG_MIN_N:
            verdict = _NOT_ENOUGH
        elif not df_den >= 1:  # the lag asked for leaves no residual degree of freedom
            verdict = f"not enough data for lag {k}"
        out.append(verdict)
    return out


def _result_row(cols: dict[str, Any], i: int, verdict: str) -> LeadLagResult:
    def num(name: str) -> float:
        return float(cols[name][i])

    return LeadLagResult(
        n=int(cols["n"][i]),
        verdict=verdict,
        transform=cols["transform"][i],
        ar_order=cols["ar_order"][i],
        ar_coefficients=cols["ar_coefficients"][i],
        lags=cols["lags"][i],
        ccf=cols["ccf"][i],
        ccf_low=cols["ccf_low"][i],
        ccf_high=cols["ccf_high"][i],
        best_lag=cols["best_lag"][i],
        tested_lag=cols["tested_lag"][i],
        lag_source=str(cols["lag_source"][i]),  # type: ignore[arg-type]
        f=num("f"),
        df_num=num("df_num"),
        df_den=num("df_den"),
        p_granger=num("p_granger"),
        p=num("p"),
        sign=int(cols["sign"][i]),
        adf_p_driver=num("adf_p_driver"),
        adf_p_outcome=num("adf_p_outcome"),
        kpss_p_driver=num("kpss_p_driver"),
        kpss_p_outcome=num("kpss_p_outcome"),
    )


def lead_lag_batch(
    drivers: Any,
    outcomes: Any,
    *,
    max_lag: int = 6,
    expected_lag: Any = None,
    expected_sign: Any = 1,
    alpha: float = 0.05,
    fdr: bool = True,
) -> pd.DataFrame:
    """``lead_lag`` for many links at once: one row per link, LeadLagResult fields as columns.

    ``drivers`` and ``outcomes`` are 2-D (links x periods, aligned, NaN for missing); a
    DataFrame ``drivers`` keeps its index.  ``expected_lag`` is None (pick the best lag for
    every link) or one value per link (None or NaN where a link has none);
    ``expected_sign`` is +1/-1 for all or per link.  ``ar_order``, ``best_lag`` and
    ``tested_lag`` are nullable integers (``pd.NA`` where there is not enough data), the
    tuples stay tuples (object columns).  Adds ``q``: Benjamini-Hochberg
    adjusted ``p`` across the links that have one.  With ``fdr=True`` (default) the verdict
    uses q < alpha — the family shown together is every link in the call; ``fdr=False``
    gives each link's own verdict (as ``lead_lag``).  Vectorised over links: links with the
    same number of common periods are computed together.
    """
    alpha = _check_alpha(alpha)
    index = drivers.index if isinstance(drivers, pd.DataFrame) else None
    x = _as_float_array(drivers, 2)
    y = _as_float_array(outcomes, 2)
    if x.shape != y.shape:
        raise ValueError(f"drivers and outcomes must have the same shape, got {x.shape} and {y.shape}")
    m = x.shape[0]
    if expected_lag is None:
        expected = np.full(m, -1)
    else:
        values = [expected_lag] * m if np.ndim(expected_lag) == 0 else list(expected_lag)
        raw = pd.array(values, dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
        if raw.shape != (m,):
            raise ValueError("expected_lag needs one value per link")
        if np.any(raw[~np.isnan(raw)] % 1 != 0):
            raise ValueError("expected_lag must hold whole numbers")
        expected = np.where(np.isnan(raw), -1, raw).astype(int)
    max_lag = _check_lags(max_lag, expected)
    signs = _expected_signs(expected_sign, m)
    cols = _lead_lag_columns(x, y, expected, max_lag)
    q = benjamini_hochberg(cols["p"])
    cols["verdict"] = _row_verdicts(cols, signs, alpha, q if fdr else None)
    frame = pd.DataFrame({name: cols[name] for name in LEAD_LAG_FIELDS}, index=index)
    frame.insert(LEAD_LAG_FIELDS.index("p") + 1, "q", q)
    return frame.astype({"n": np.int64, "ar_order": "Int64", "best_lag": "Int64", "tested_lag": "Int64"})
