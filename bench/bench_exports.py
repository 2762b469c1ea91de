"""Time every export kind on a seeded database, each in a fresh process (issue 18 item 3).

    .venv/bin/python -m kpialign seed-demo --scale enterprise   # with KPIALIGN_DATABASE_URL set
    .venv/bin/python bench/bench_exports.py --url sqlite:////tmp/enterprise.db
    .venv/bin/python bench/bench_exports.py --url URL --kinds responses scorecard --repeats 3

For every kind (default: all, the latest wave and all periods) a child process imports the
package, opens the database and calls ``exports.build_export`` as the Exports page and the CLI
do (prepare in a read transaction, record the audit row in a write transaction), once cold and
then ``--repeats`` times warm.  It prints wall and CPU seconds (cold; median warm), rows, CSV
size and the child's peak resident memory above its baseline after imports.  The first
scorecard export on a fresh database also stores the closed waves' aggregates (once ever), so
run the scorecard kind twice to see the steady state.  Prints only; writes audit rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KINDS = ("results", "participation", "responses", "comments", "scorecard", "kpis", "audit")


def child(url: str, kind: str, repeats: int) -> None:
    from kpialign import db, exports

    engine = db.make_engine(url)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    runs = []
    export = None
    for _ in range(1 + repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        export = exports.build_export(engine, kind=kind, actor="bench@example.com", roles={"admin", "hr"})
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert export is not None
    print(
        json.dumps(
            {
                "kind": kind,
                "cold_wall": runs[0][0],
                "cold_cpu": runs[0][1],
                "warm_wall": statistics.median(r[0] for r in runs[1:]) if repeats else float("nan"),
                "warm_cpu": statistics.median(r[1] for r in runs[1:]) if repeats else float("nan"),
                "rows": export.rows,
                "mib": len(export.data) / 2**20,
                "peak_mib": (peak - base) / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--kinds", nargs="*", default=list(KINDS))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.url, args.child, args.repeats)
        return
    results = []
    for kind in args.kinds:
        out = subprocess.run(
            [sys.executable, __file__, "--url", args.url, "--child", kind, "--repeats", str(args.repeats)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "KPIALIGN_DATABASE_URL": args.url},
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    load = os.getloadavg()[0]
    print(f"bench_exports  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  python {platform.python_version()}")
    print(f"database: {args.url.split('@')[-1]}  cores: {os.cpu_count()}  load average (1 min): {load:.1f}")
    print()
    print(
        f"{'kind':<14} {'cold wall':>10} {'cold CPU':>9} {'warm wall':>10} {'warm CPU':>9} {'rows':>10} {'CSV MiB':>8}"
        f" {'peak MiB':>9} {'<= 3 s':>7}"
    )
    for r in results:
        ok = "ok" if r["cold_wall"] <= 3 else "ABOVE"
        print(
            f"{r['kind']:<14} {r['cold_wall']:9.2f}s {r['cold_cpu']:8.2f}s {r['warm_wall']:9.2f}s {r['warm_cpu']:8.2f}s"
            f" {r['rows']:>10,} {r['mib']:8.1f} {r['peak_mib']:9.0f} {ok:>7}"
        )


if __name__ == "__main__":
    main()
