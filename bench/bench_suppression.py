"""Complementary suppression at enterprise size: the column-wise ``privacy.suppress_counts``
against the loop per sibling group it replaced, side by side in one run.

    .venv/bin/python bench/bench_suppression.py [--before REV] [--repeats 5]

The cells are those of ``privacy.question_suppression`` on an enterprise-sized organisation:
12 waves x 40 questions x 200 departments (96,000 cells, Poisson(12) answers, 12 divisions),
siblings = departments of one division for one question of one wave. *Before* is
``kpialign/core/privacy.py`` at git revision REV (default: the commit before the change); the
two must hide exactly the same cells, or the bench stops. Prints the median process CPU time.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from kpialign.core import privacy  # noqa: E402

BEFORE = "bda9741"  # main before the column-wise suppression


def _module_at(rev: str):
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:kpialign/core/privacy.py"], check=True, capture_output=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "privacy_before.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("privacy_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cells(waves: int = 12, questions: int = 40, departments: int = 200, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.MultiIndex.from_product(
        [range(waves), range(questions), range(departments)], names=["wave_id", "question_id", "department_id"]
    ).to_frame(index=False)
    df["count"] = rng.poisson(12, len(df))
    df["division_id"] = df["department_id"] % 12
    df["sib"] = df["wave_id"].astype(str) + ":" + df["question_id"].astype(str) + ":" + df["division_id"].astype(str)
    return df


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    before = _module_at(args.before)
    df = cells()
    key = ["wave_id", "question_id", "department_id"]
    times: dict[str, list[float]] = {"before": [], "after": []}
    results = {}
    for _ in range(args.repeats):  # alternate, so both see the same machine
        for name, module in (("before", before), ("after", privacy)):
            t = time.process_time()
            results[name] = module.suppress_counts(df, key, "count", 5, parent_col="sib")["suppressed"]
            times[name].append(time.process_time() - t)
    if not results["before"].equals(results["after"]):
        sys.exit("the two hide different cells")
    b, a = statistics.median(times["before"]), statistics.median(times["after"])
    print(f"{len(df):,} cells, {int(results['after'].sum()):,} hidden (the same in both), {args.repeats} runs")
    print("| code | median CPU s | ratio |")
    print("|---|---:|---:|")
    print(f"| before ({args.before}, a loop per sibling group) | {b:.3f} | 1 |")
    print(f"| after (column-wise) | {a:.3f} | {b / a:.0f}x faster |")


if __name__ == "__main__":
    main()
