"""Full-scorecard benchmark: cold and warm at small and enterprise scale, and their ratio.

Usage::

    .venv/bin/python bench/bench_scorecard.py                       # seeds both demos into /tmp (~1-2 min)
    .venv/bin/python bench/bench_scorecard.py --small URL --enterprise URL --repeats 5

"Full scorecard" is :func:`kpialign.scorecard.build.build_scorecard` with its defaults: every
department's P, U, C and A over the monthly panel, every KPI's trend test (BH across all),
every department's A/P/U trend tests, Monte Carlo rank bands, survey suppression, the
latest-wave comparisons against the previous wave, objectives and the correlation.

- **first use**: the very first scorecard after waves closed also stores the closed-wave
  aggregates in the database (once, ever); reported separately.
- **cold**: a fresh Python process (nothing cached in memory; imports not timed) builds the
  scorecard from the database.
- **warm**: the Overview page's cached path (``kpialign.ui.scorecard_ui`` with
  ``st.cache_data`` keyed on the data version, run in Streamlit's bare mode): one data-version
  query plus the cache hit.

Prints wall and CPU medians per scale and the enterprise/small ratios side by side. Not a
test: nothing asserts on these numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, time, logging
logging.disable(logging.WARNING)
mode = sys.argv[1]; repeats = int(sys.argv[2])
from kpialign import db
from kpialign.scorecard import build as scorecard
from kpialign.scorecard import queries as scorecard_data
eng = db.make_engine(os.environ["KPIALIGN_DATABASE_URL"])
out = {}
if mode == "cold":
    t0, c0 = time.perf_counter(), time.process_time()
    with db.read_session(eng) as s:
        sc = scorecard.build_scorecard(s)
    out = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
           "departments": len(sc.departments), "kpis": len(sc.kpis), "waves": len(sc.waves)}
elif mode == "warm":
    import streamlit  # noqa: F401  (bare mode: st.cache_data works without a server)
    from kpialign.ui import scorecard_ui
    scorecard_ui.get()  # fill the cache
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        scorecard_ui.get()
        walls.append(time.perf_counter() - t0); cpus.append(time.process_time() - c0)
    walls.sort(); cpus.sort()
    out = {"wall": walls[len(walls) // 2], "cpu": cpus[len(cpus) // 2]}
elif mode == "first":
    with eng.begin() as c:
        c.exec_driver_sql("DELETE FROM wave_answer_count"); c.exec_driver_sql("DELETE FROM wave_response_count")
    t0, c0 = time.perf_counter(), time.process_time()
    with db.read_session(eng) as s:
        scorecard.build_scorecard(s)
    out = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}
print(json.dumps(out))
"""


def run(url: str, mode: str, repeats: int = 1) -> dict:
    env = {**os.environ, "KPIALIGN_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    env.setdefault("KPIALIGN_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
    res = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(repeats)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def seed(scale: str, workdir: Path) -> str:
    url = f"sqlite:///{workdir / (scale + '.db')}"
    env = {**os.environ, "KPIALIGN_DATABASE_URL": url}
    env.setdefault("KPIALIGN_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
    print(f"seeding the {scale} demo into {url} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "kpialign", "seed-demo", "--scale", scale], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", help="database URL of the small demo (default: seed one)")
    parser.add_argument("--enterprise", help="database URL of the enterprise demo (default: seed one)")
    parser.add_argument("--repeats", type=int, default=5, help="cold runs (fresh processes) and warm calls")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kpialign-bench-"))
    urls = {"small": args.small or seed("small", work), "enterprise": args.enterprise or seed("enterprise", work)}

    results: dict[str, dict] = {}
    for scale, url in urls.items():
        first = run(url, "first")
        colds = [run(url, "cold") for _ in range(args.repeats)]
        warm = run(url, "warm", repeats=max(args.repeats, 5))
        results[scale] = {
            "first": first,
            "cold_wall": statistics.median(c["wall"] for c in colds),
            "cold_cpu": statistics.median(c["cpu"] for c in colds),
            "warm_wall": warm["wall"],
            "warm_cpu": warm["cpu"],
            "size": colds[0],
        }
    s, e = results["small"], results["enterprise"]
    print()
    for scale in ("small", "enterprise"):
        z = results[scale]["size"]
        print(f"{scale}: {z['departments']} departments scored, {z['kpis']} KPIs, {z['waves']} waves")
    print()
    print("| measure (median) | small | enterprise | enterprise / small | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    rows = [
        ("cold, wall", "cold_wall", "<= 3 s at enterprise"),
        ("cold, CPU", "cold_cpu", "ratio <= 5x"),
        ("warm (cached), wall", "warm_wall", "<= 0.2 s at enterprise"),
        ("warm (cached), CPU", "warm_cpu", ""),
    ]
    for label, key, target in rows:
        print(f"| {label} | {s[key]:.3f} s | {e[key]:.3f} s | {e[key] / s[key]:.1f}x | {target} |")
    print(f"| first use (stores closed-wave aggregates once), wall | {s['first']['wall']:.3f} s | "
          f"{e['first']['wall']:.3f} s | {e['first']['wall'] / s['first']['wall']:.1f}x | once per wave |")  # fmt: skip


if __name__ == "__main__":
    main()
