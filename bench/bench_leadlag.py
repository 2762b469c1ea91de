"""Time ``lead_lag_batch`` against a straightforward statsmodels loop, side by side (issue 15).

    .venv/bin/python bench/bench_leadlag.py               # 5 interleaved repeats
    .venv/bin/python bench/bench_leadlag.py --repeats 3 --links 500 --periods 60

The data: 500 KPI links x 60 monthly periods, half of them with a real effect at lag 2, half
independent random walks, no gaps (the loop cannot take gaps).  The reference does for every
link what ``lead_lag`` does, with statsmodels' own functions: ``adfuller`` and ``kpss`` on both
series, the transformation, ``ar_select_order`` + ``AutoReg.fit`` on the driver, the filter
on both (scipy ``lfilter``), ``ccf`` at lags 0..6 and ``grangercausalitytests`` at the best
lag; then BH across the links.  Before timing, both sides must agree on every link's
transformation, AR order, best lag and p-value.

The two sides alternate within each repeat; the table shows the median CPU and wall time per
run and their ratio (CPU is the steadier figure on a shared machine; see bench_stats.py).
Prints only; the test suite never looks at these numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy import signal
from statsmodels.tsa.ar_model import ar_select_order
from statsmodels.tsa.stattools import adfuller, ccf, grangercausalitytests, kpss

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_stats import fmt, peak_mib, seconds, side_by_side  # noqa: E402

from kpialign.core.stats import benjamini_hochberg, lead_lag_batch  # noqa: E402


def links(rng: np.random.Generator, count: int, periods: int) -> tuple[np.ndarray, np.ndarray]:
    """Half linked at lag 2 (driver an integrated AR(1)), half independent random walks."""
    shocks = rng.normal(size=(count, periods + 50))
    dx = signal.lfilter([1.0], [1.0, -0.5], shocks, axis=1)[:, 50:]
    dy = rng.normal(size=dx.shape)
    half = count // 2
    dy[:half, 2:] += 0.5 * dx[:half, :-2]
    return 100 + np.cumsum(dx, axis=1), 50 + np.cumsum(dy, axis=1)


def reference_one(x: np.ndarray, y: np.ndarray, max_lag: int = 6) -> tuple[str, int, int, float]:
    """One link the plain way: statsmodels functions called one after another."""
    n = len(x)
    lags = int(round((n - 1) ** (1 / 3), 9))
    kpss_lags = "legacy"
    stationary = []
    for series in (x, y):
        adf_p = adfuller(series, maxlag=lags, regression="ct", autolag=None, result_object=False)[1]
        kpss_p = kpss(series, regression="ct", nlags=kpss_lags, result_object=False)[1]
        stationary.append(adf_p < 0.05 and kpss_p >= 0.05)
    if all(stationary):
        t = np.arange(n)
        zx = x - np.polyval(np.polyfit(t, x, 1), t)
        zy = y - np.polyval(np.polyfit(t, y, 1), t)
        transform = "detrend"
    else:
        zx, zy, transform = np.diff(x), np.diff(y), "difference"
    selection = ar_select_order(zx, maxlag=min(6, n // 10), ic="aic", trend="c")
    order = 0 if selection.ar_lags is None else max(selection.ar_lags)
    phi = selection.model.fit().params[1:]
    a = np.r_[1.0, -phi]
    fx, fy = signal.lfilter(a, [1.0], zx)[order:], signal.lfilter(a, [1.0], zy)[order:]
    r = ccf(fy, fx, adjusted=False)[: max_lag + 1]
    best = 1 + int(np.argmax(np.abs(r[1:])))
    granger = grangercausalitytests(np.column_stack([zy, zx]), maxlag=[best])
    p = min(1.0, max_lag * float(granger[best][0]["ssr_ftest"][1]))
    return transform, order, best, p


def reference(x: np.ndarray, y: np.ndarray) -> list[tuple[str, int, int, float]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' FutureWarnings and KPSS table warnings
        rows = [reference_one(a, b) for a, b in zip(x, y, strict=True)]
    benjamini_hochberg(np.array([row[3] for row in rows]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--links", type=int, default=500)
    parser.add_argument("--periods", type=int, default=60)
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    x, y = links(rng, args.links, args.periods)

    ours = lead_lag_batch(x, y)
    ref = reference(x, y)
    assert list(ours["transform"]) == [row[0] for row in ref]
    assert list(ours["ar_order"]) == [row[1] for row in ref]
    assert list(ours["best_lag"]) == [row[2] for row in ref]
    assert np.allclose(ours["p"], [row[3] for row in ref], rtol=1e-6, atol=1e-300)

    res = side_by_side(lambda: lead_lag_batch(x, y), lambda: reference(x, y), args.repeats, calls=1)

    gappy = x.copy()
    gappy[rng.random(gappy.shape) < 0.03] = np.nan  # ~3 % missing periods: many different n
    gap_runs = [seconds(lambda: lead_lag_batch(gappy, y)) for _ in range(3)]
    gap_cpu = sorted(run[1] for run in gap_runs)[1]
    mib = peak_mib(lambda: lead_lag_batch(x, y))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"bench_leadlag  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  python {platform.python_version()}")
    print(
        f"machine: {platform.machine()}  cores: {os.cpu_count()}  load average (1 min): {load:.1f}  repeats: {args.repeats}"
    )
    print()
    print(
        f"{'comparison (median per run)':<52} {'ours CPU':>11} {'ref CPU':>11} {'ours wall':>11} {'ref wall':>11} {'ratio':>7} {'wall ratio':>10}"
    )
    name = f"lead_lag_batch {args.links} links x {args.periods} vs statsmodels loop"
    print(
        f"{name:<52} {fmt(res['ours_cpu']):>11} {fmt(res['ref_cpu']):>11} {fmt(res['ours_wall']):>11}"
        f" {fmt(res['ref_wall']):>11} {res['ref_cpu'] / res['ours_cpu']:6.0f}x {res['ref_wall'] / res['ours_wall']:9.0f}x"
    )
    print()
    verdict = "ok" if res["ours_wall"] < 5.0 else "ABOVE"
    print(f"target: {args.links} links x {args.periods} periods under 5 s wall: {res['ours_wall']:.3f} s {verdict}")
    distinct = len(np.unique((~np.isnan(gappy)).sum(axis=1)))
    print(f"with ~3 % missing periods ({distinct} different n): CPU {fmt(gap_cpu).strip()} (median of 3)")
    print(f"peak memory of one call: {mib:.0f} MiB")


if __name__ == "__main__":
    main()
