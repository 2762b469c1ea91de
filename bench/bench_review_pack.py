"""Review-pack benchmark: the organisation pack of the enterprise demo (200 departments).

Usage::

    .venv/bin/python bench/bench_review_pack.py                   # seeds the enterprise demo into /tmp
    .venv/bin/python bench/bench_review_pack.py --url sqlite:///... --period 2026-Q3 --repeats 3

Times :func:`kpialign.reports.organisation_pack` end to end in a fresh process: the scorecard
(built once for the period), one review brief per department, one chart per department
rendered to PNG by vl-convert, and the PDF written by fpdf2. Also times one department's pack.
Prints the phases (brief, charts, PDF) from a profile of the same run, the page count and
the size, and the machine's load average (two cores shared with other work inflate every
figure). Target: under 60 s for the organisation pack. Not a test: nothing asserts on time.
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
period, what = sys.argv[1], sys.argv[2]
from kpialign import db, reports
eng = db.make_engine(os.environ["KPIALIGN_DATABASE_URL"])
spent = {"charts": 0.0}
render = reports.render_png
def timed(chart):
    t = time.perf_counter(); png = render(chart); spent["charts"] += time.perf_counter() - t; return png
reports.render_png = timed
marks = {}
def progress(done, total, dept):
    if done == total // 2: marks["briefs"] = time.perf_counter()
t0, c0 = time.perf_counter(), time.process_time()
with db.read_session(eng) as s:
    if what == "organisation":
        pdf = reports.organisation_pack(s, period=period, progress=progress)
    else:
        pdf = reports.department_pack(s, department_id=int(what), period=period)
wall = time.perf_counter() - t0
out = {"wall": wall, "cpu": time.process_time() - c0, "bytes": len(pdf), "pages": pdf.count(b"/Type /Page\n"),
       "charts": spent["charts"], "briefs": marks.get("briefs", t0) - t0}
print(json.dumps(out))
"""


def run(url: str, period: str, what: str) -> dict:
    env = {**os.environ, "KPIALIGN_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    env.setdefault("KPIALIGN_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
    res = subprocess.run(
        [sys.executable, "-c", CHILD, period, what], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def seed(workdir: Path) -> str:
    url = f"sqlite:///{workdir / 'enterprise.db'}"
    env = {**os.environ, "KPIALIGN_DATABASE_URL": url}
    env.setdefault("KPIALIGN_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
    print(f"seeding the enterprise demo into {url} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "kpialign", "seed-demo", "--scale", "enterprise"], env=env, check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="database URL of the enterprise demo (default: seed one)")
    parser.add_argument("--period", default="2026-Q3")
    parser.add_argument("--department", type=int, default=2, help="department id for the one-department pack")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    url = args.url or seed(Path(tempfile.mkdtemp(prefix="kpialign-bench-")))
    load = os.getloadavg()
    orgs = [run(url, args.period, "organisation") for _ in range(args.repeats)]
    dept = [run(url, args.period, str(args.department)) for _ in range(args.repeats)]
    load_after = os.getloadavg()
    org = sorted(orgs, key=lambda r: r["wall"])[len(orgs) // 2]
    one = sorted(dept, key=lambda r: r["wall"])[len(dept) // 2]
    print(f"load average (1 min) before/after: {load[0]:.1f} / {load_after[0]:.1f} on {os.cpu_count()} CPUs")
    print()
    print("| pack | wall (median) | CPU | of which: briefs | charts (vl-convert) | pages | size | target |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    print(
        f"| organisation | {statistics.median(r['wall'] for r in orgs):.1f} s | {org['cpu']:.1f} s | "
        f"{org['briefs']:.1f} s | {org['charts']:.1f} s | {org['pages']} | {org['bytes'] / 1e6:.1f} MB | < 60 s |"
    )
    print(f"| one department | {statistics.median(r['wall'] for r in dept):.1f} s | {one['cpu']:.1f} s | – | "
          f"{one['charts']:.1f} s | {one['pages']} | {one['bytes'] / 1e3:.0f} kB | |")  # fmt: skip


if __name__ == "__main__":
    main()
