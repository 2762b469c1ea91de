"""Review-pack benchmark: the organisation pack of the enterprise demo (200 departments).

Usage::

    .venv/bin/python bench/bench_review_pack.py                   # seeds the enterprise demo into /tmp
    .venv/bin/python bench/bench_review_pack.py --url sqlite:///... --period 2026-Q3 --repeats 3
    .venv/bin/python bench/bench_review_pack.py --url ... --compare main   # before/after in one run

Times :func:`kpialign.reports.organisation_pack` end to end, each run in a fresh process: the
scorecard (built once for the period), the review briefs of every department, one chart per
department rendered to PNG by vl-convert (in worker processes since issue 14 item 5), and the
PDF written by fpdf2. Also times one department's pack. With ``--compare REF`` the package as it
is at git revision REF (extracted with ``git archive``) runs in alternation with the working
tree's, on the same database, so both sides see the same machine load.

Reported per side, median of the repeats: wall time; CPU time of the main process and of its
worker processes (their sum is the work done; on an idle 2-core machine wall time is about the
larger of the main process's CPU and the workers' CPU per core); "prepared" is the wall time
until every brief is ready (scorecard and briefs, plus submitting the charts); pages and size.
The 1-minute load average is printed before and after: two cores shared with other work
inflate every wall time. Target: under 60 s for the organisation pack. Not a test: nothing
asserts on time.
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
import inspect, json, os, sys, time, logging
logging.disable(logging.WARNING)
period, what, workers = sys.argv[1], sys.argv[2], sys.argv[3]
from kpialign import db, reports
eng = db.make_engine(os.environ["KPIALIGN_DATABASE_URL"])
marks = {}
def progress(done, total, dept):
    if done == total // 2: marks["prepared"] = time.perf_counter()
kwargs = {}
if workers != "auto" and "workers" in inspect.signature(reports.organisation_pack).parameters:
    kwargs["workers"] = int(workers)
t0, c0, k0 = time.perf_counter(), time.process_time(), os.times()
with db.read_session(eng) as s:
    if what == "organisation":
        pdf = reports.organisation_pack(s, period=period, progress=progress, **kwargs)
    else:
        pdf = reports.department_pack(s, department_id=int(what), period=period)
wall = time.perf_counter() - t0
k1 = os.times()
out = {"wall": wall, "cpu": time.process_time() - c0,
       "workers_cpu": (k1.children_user + k1.children_system) - (k0.children_user + k0.children_system),
       "bytes": len(pdf), "pages": pdf.count(b"/Type /Page\n"), "prepared": marks.get("prepared", t0) - t0}
print(json.dumps(out))
"""


def run(url: str, period: str, what: str, *, code: Path, workers: str) -> dict:
    env = {**os.environ, "KPIALIGN_DATABASE_URL": url, "PYTHONPATH": str(code)}
    env.setdefault("KPIALIGN_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
    res = subprocess.run(
        [sys.executable, "-c", CHILD, period, what, workers], env=env, capture_output=True, text=True, check=True,
        cwd=code,
    )  # fmt: skip
    return json.loads(res.stdout.strip().splitlines()[-1])


def extract(ref: str) -> Path:
    """The ``kpialign`` package as it is at git revision ``ref``, in a temporary directory."""
    out = Path(tempfile.mkdtemp(prefix="kpialign-bench-ref-"))
    archive = subprocess.run(["git", "archive", ref, "kpialign"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


def seed(workdir: Path) -> str:
    url = f"sqlite:///{workdir / 'enterprise.db'}"
    env = {**os.environ, "KPIALIGN_DATABASE_URL": url}
    env.setdefault("KPIALIGN_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
    print(f"seeding the enterprise demo into {url} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "kpialign", "seed-demo", "--scale", "enterprise"], env=env, check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
    return url


def _row(label: str, runs: list[dict], *, target: str = "") -> str:
    med = {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu", "workers_cpu", "prepared")}
    last = runs[-1]
    size = f"{last['bytes'] / 1e6:.1f} MB" if last["bytes"] > 1e6 else f"{last['bytes'] / 1e3:.0f} kB"
    walls = " / ".join(f"{r['wall']:.0f}" for r in runs)
    return (
        f"| {label} | **{med['wall']:.1f} s** ({walls}) | {med['cpu']:.1f} s | {med['workers_cpu']:.1f} s | "
        f"{med['cpu'] + med['workers_cpu']:.1f} s | {med['prepared']:.1f} s | {last['pages']} | {size} | {target} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="database URL of the enterprise demo (default: seed one)")
    parser.add_argument("--period", default="2026-Q3")
    parser.add_argument("--department", type=int, default=2, help="department id for the one-department pack")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare", metavar="REF", help="also time the package at this git revision (e.g. main)")
    parser.add_argument("--workers", default="auto", help="chart worker processes (default: the pack's own choice)")
    args = parser.parse_args()
    url = args.url or seed(Path(tempfile.mkdtemp(prefix="kpialign-bench-")))
    sides = {"this tree": ROOT}
    if args.compare:
        sides = {f"before ({args.compare})": extract(args.compare), **sides}
    load = os.getloadavg()
    orgs: dict[str, list[dict]] = {name: [] for name in sides}
    for i in range(args.repeats):  # here: the sides alternate, so a change in load hits both
        for name, code in sides.items():
            orgs[name].append(run(url, args.period, "organisation", code=code, workers=args.workers))
            print(f"  run {i + 1}/{args.repeats} {name}: {orgs[name][-1]['wall']:.1f} s wall", file=sys.stderr)
    dept = [run(url, args.period, str(args.department), code=ROOT, workers="auto") for _ in range(args.repeats)]
    load_after = os.getloadavg()
    print(f"load average (1 min) before/after: {load[0]:.1f} / {load_after[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"median of {args.repeats} runs per row (single wall times in brackets)")
    print()
    print("| pack | wall | CPU main | CPU workers | CPU total | prepared (wall) | pages | size | target |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name in sides:
        print(_row(f"organisation, {name}", orgs[name], target="< 60 s"))
    print(_row("one department, this tree", dept))


if __name__ == "__main__":
    main()
