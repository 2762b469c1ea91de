"""Time the statistics engine against its references, side by side in one run (issue 3).

    .venv/bin/python bench/bench_stats.py               # 7 interleaved repeats
    .venv/bin/python bench/bench_stats.py --repeats 3

1. ``mann_kendall_batch`` on 2,000 series x 60 periods vs a Python loop of pymannkendall
   ``original_test`` + ``sens_slope`` on the same data (target: >= 100x faster, issue 18), on
   two kinds of data: continuous random walks (no ties, no gaps) and KPI-like values with one
   decimal (ties) and ~3 % missing periods.  Each is also put against the pair-comparison
   floor: the CPU time per pair of one pass that only forms every pair difference and counts
   its signs (the O(n^2) work no Mann-Kendall S can avoid), in ns per pair.
2. ``compare_likert`` on answer counts vs ``scipy.stats.mannwhitneyu`` on the expanded
   answers, 50,000 answers per side (target: >= 100x faster; expansion not timed).

The two sides of each comparison alternate within every repeat, so both see the same machine
state; the table shows the median CPU time per call over the repeats, the ratio of the CPU
medians and that of the wall-time medians.  The verdict uses CPU time: on an idle machine the
two agree for this single-threaded code, and on a shared one wall time mostly measures the
waits for a free core.  Each timed block lasts at least ~10 ms to smooth out scheduling.
It also reports the CPU and wall time and the peak memory (tracemalloc) of one batch call at
2,000 x 60 and 2,000 x 200.
Prints only; the test suite never looks at these numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pymannkendall as pmk
from scipy import stats as sps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kpialign.core.stats import compare_likert, mann_kendall_batch  # noqa: E402


def kpi_panel(rng: np.random.Generator, series: int, periods: int) -> np.ndarray:
    """KPI-like monthly series: level, some trend, noise, one decimal (ties), ~3 % missing."""
    t = np.arange(periods)
    level = rng.normal(100, 20, size=(series, 1))
    drift = rng.normal(0, 0.3, size=(series, 1)) * (rng.random((series, 1)) < 0.4)
    values = np.round(level + drift * t + rng.normal(0, 5, size=(series, periods)), 1)
    values[rng.random(values.shape) < 0.03] = np.nan
    return values


def random_walks(rng: np.random.Generator, series: int, periods: int) -> np.ndarray:
    """Continuous KPI-like series: a level plus a random walk (no ties, no gaps)."""
    return rng.normal(100, 20, size=(series, 1)) + np.cumsum(rng.normal(0, 2, size=(series, periods)), axis=1)


def pair_floor(values: np.ndarray) -> None:
    """Only the pair comparisons: every x_j - x_i, i < j, and the count of its signs."""
    first, second = np.triu_indices(values.shape[1], 1)
    block_rows = max(1, (1 << 15) // len(first))  # same cache-sized blocks as the batch
    for start in range(0, len(values), block_rows):
        block = values[start : start + block_rows]
        d = np.take(block, second, axis=1)
        d -= np.take(block, first, axis=1)
        np.count_nonzero(d > 0, axis=1) - np.count_nonzero(d < 0, axis=1)


def seconds(fn: Callable[[], object], calls: int = 1) -> tuple[float, float]:
    """(wall, CPU) seconds of one call, averaged over ``calls`` back-to-back calls.

    CPU time (``process_time``) is what this process itself spent; on a shared machine it
    is the steadier measure, since wall time also counts the waits for a free core.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls


def side_by_side(
    ours: Callable[[], object], ref: Callable[[], object], repeats: int, calls: int, ref_calls: int = 1
) -> dict[str, float]:
    """Medians of wall and CPU seconds per call of ``ours`` and ``ref``, alternating in each repeat."""
    ours(), ref(), ours()  # warm-up (imports, caches)
    samples: dict[str, list[float]] = {"ours_wall": [], "ours_cpu": [], "ref_wall": [], "ref_cpu": []}
    for _ in range(repeats):
        for side, fn, n in (("ours", ours, calls), ("ref", ref, ref_calls)):
            wall, cpu = seconds(fn, n)
            samples[f"{side}_wall"].append(wall)
            samples[f"{side}_cpu"].append(cpu)
    return {key: statistics.median(values) for key, values in samples.items()}


def peak_mib(fn: Callable[[], object]) -> float:
    """Peak memory allocated during one call (tracemalloc sees numpy's buffers), in MiB."""
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def fmt(sec: float) -> str:
    return f"{sec * 1e3:9.2f} ms" if sec >= 1e-3 else f"{sec * 1e6:9.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(2024)

    panel = kpi_panel(rng, 2000, 60)
    walks = random_walks(rng, 2000, 60)
    mk_rows = []
    for label, data in (("continuous random walks", walks), ("one decimal (ties), ~3 % NaN", panel)):

        def loop(data: np.ndarray = data) -> None:
            for row in data:
                pmk.original_test(row)
                pmk.sens_slope(row)

        # Same numbers on both sides (sanity check, not timed).
        frame = mann_kendall_batch(data)
        for r in range(0, 2000, 97):
            ref = pmk.original_test(data[r])
            assert frame["s"].iloc[r] == ref.s and np.isclose(frame["z"].iloc[r], ref.z, rtol=1e-9, atol=0)
            assert np.isclose(frame["slope"].iloc[r], pmk.sens_slope(data[r]).slope, rtol=1e-12, atol=0)
        res = side_by_side(lambda d=data: mann_kendall_batch(d), loop, args.repeats, calls=5)
        floor = statistics.median(seconds(lambda d=data: pair_floor(d), 5)[1] for _ in range(args.repeats))
        valid = (~np.isnan(data)).sum(axis=1)
        res["pairs"] = float(np.sum(valid * (valid - 1) // 2))
        res["floor_cpu"] = floor
        mk_rows.append((f"mann_kendall_batch 2000x60 {label}", res))

    answers = 50_000
    probs_a = np.array([0.05, 0.10, 0.25, 0.35, 0.25])
    probs_b = np.array([0.06, 0.12, 0.24, 0.34, 0.24])
    counts_a, counts_b = rng.multinomial(answers, probs_a), rng.multinomial(answers, probs_b)
    expanded_a = np.repeat(np.arange(1.0, 6.0), counts_a)
    expanded_b = np.repeat(np.arange(1.0, 6.0), counts_b)
    ours_l = compare_likert(counts_a, counts_b)
    ref_l = sps.mannwhitneyu(expanded_a, expanded_b, method="asymptotic")
    assert ours_l.u == ref_l.statistic and np.isclose(ours_l.p_mwu, ref_l.pvalue, rtol=1e-12)
    lk = side_by_side(
        lambda: compare_likert(counts_a, counts_b),
        lambda: sps.mannwhitneyu(expanded_a, expanded_b, method="asymptotic"),
        args.repeats,
        calls=2000,
        ref_calls=10,
    )

    wide = kpi_panel(rng, 2000, 200)
    sizes = []
    for label, data in (("2000x60", panel), ("2000x200", wide)):
        runs = [seconds(lambda d=data: mann_kendall_batch(d)) for _ in range(3)]
        wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        sizes.append((label, wall, cpu, peak_mib(lambda d=data: mann_kendall_batch(d))))

    print(f"bench_stats  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  python {platform.python_version()}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: {platform.machine()}  cores: {os.cpu_count()}  load average (1 min): {load:.1f}  repeats: {args.repeats}"
    )
    print()
    header = f"{'comparison (median per call)':<57} {'ours CPU':>11} {'ref CPU':>11} {'ratio':>7} {'wall ratio':>10} {'target':>7}"
    print(header)
    rows = [(name, res, 100) for name, res in mk_rows]
    rows.append(("compare_likert counts vs mannwhitneyu, 50k answers/side", lk, 100))
    for name, res, target in rows:
        ratio = res["ref_cpu"] / res["ours_cpu"]
        wall_ratio = res["ref_wall"] / res["ours_wall"]
        verdict = "ok" if ratio >= target else "BELOW"  # on CPU time: see the module docstring
        print(
            f"{name:<57} {fmt(res['ours_cpu']):>11} {fmt(res['ref_cpu']):>11} {ratio:6.0f}x {wall_ratio:9.0f}x"
            f" {target:>5}x {verdict}"
        )
    print()
    print(f"{'against the pair-comparison floor (CPU per pair)':<57} {'ours':>11} {'floor':>11} {'ours/floor':>10}")
    for name, res in mk_rows:
        ours_ns, floor_ns = res["ours_cpu"] / res["pairs"] * 1e9, res["floor_cpu"] / res["pairs"] * 1e9
        print(f"{name:<57} {ours_ns:8.1f} ns {floor_ns:8.1f} ns {ours_ns / floor_ns:9.1f}x")
    print()
    for label, wall, cpu, mib in sizes:
        print(
            f"one mann_kendall_batch call, {label:<8}: CPU {fmt(cpu).strip():>10}, wall {fmt(wall).strip():>10}"
            f" (medians of 3), peak {mib:.0f} MiB"
        )


if __name__ == "__main__":
    main()
