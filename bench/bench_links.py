"""Evidence for the strategy map end to end: aligning 500 links' series, then lead_lag_batch.

What a page pays besides the statistics themselves: ``scorecard.links.link_evidence`` aligns each
link's two KPIs on their common periods (a pandas reindex per link) and pads them into one
matrix for ``core.stats.lead_lag_batch``. Printed side by side: the whole call, and the batch
alone on the already-aligned matrix. Synthetic data: 1,000 monthly KPIs x 60 months (random walks,
~3 % missing), 500 random links with lags 0..6. CPU time (process_time) is the figure to read on
a shared machine; wall time is printed next to it.

    .venv/bin/python bench/bench_links.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from kpialign.core import stats
from kpialign.scorecard import links as links_read


def _data(seed: int = 1, kpis: int = 1000, months: int = 60, links: int = 500):
    rng = np.random.default_rng(seed)
    periods = [f"{2021 + i // 12}-{i % 12 + 1:02d}" for i in range(months)]
    values = rng.normal(0, 1, (kpis, months)).cumsum(axis=1)
    values[rng.random(values.shape) < 0.03] = np.nan
    frame = pd.DataFrame(
        {
            "kpi_id": np.repeat(np.arange(kpis), months),
            "period": periods * kpis,
            "actual": values.ravel(),
        }
    ).dropna()
    pairs = rng.choice(kpis, size=(links * 2, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]][:links]
    link_frame = pd.DataFrame(
        {
            "link_id": np.arange(links),
            "driver_kpi_id": pairs[:, 0],
            "outcome_kpi_id": pairs[:, 1],
            "expected_lag": rng.integers(0, 7, links),
            "expected_sign": rng.choice([-1, 1], links),
        }
    )
    kpi_frame = pd.DataFrame({"kpi_id": np.arange(kpis), "frequency": "monthly"})
    return frame, link_frame, kpi_frame


def _time(fn, repeats: int) -> tuple[float, float]:
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    values, links, kpis = _data()
    by_kpi = {k: g.set_index("period")["actual"] for k, g in values.groupby("kpi_id")}
    aligned = [
        links_read.align_pair(by_kpi[d], by_kpi[o], driver_frequency="monthly", outcome_frequency="monthly")
        for d, o in zip(links["driver_kpi_id"], links["outcome_kpi_id"], strict=True)
    ]
    width = max(len(p.periods) for p in aligned)
    drivers = np.full((len(aligned), width), np.nan)
    outcomes = np.full((len(aligned), width), np.nan)
    for i, p in enumerate(aligned):
        drivers[i, : len(p.periods)] = p.driver
        outcomes[i, : len(p.periods)] = p.outcome
    lags = links["expected_lag"].to_numpy()

    whole = _time(lambda: links_read.link_evidence(links, values, kpis), args.repeats)
    batch = _time(
        lambda: stats.lead_lag_batch(drivers, outcomes, max_lag=6, expected_lag=lags, expected_sign=1), args.repeats
    )
    print(f"500 links x 60 months, median of {args.repeats}")
    print(f"{'':40} {'CPU s':>8} {'wall s':>8}")
    print(f"{'link_evidence (align + batch)':40} {whole[0]:8.2f} {whole[1]:8.2f}")
    print(f"{'lead_lag_batch alone':40} {batch[0]:8.2f} {batch[1]:8.2f}")
    print(f"{'alignment overhead (CPU)':40} {whole[0] - batch[0]:8.2f}")


if __name__ == "__main__":
    main()
