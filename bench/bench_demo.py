"""Time demo generation: small and enterprise scale, on SQLite and (if configured) PostgreSQL.

    .venv/bin/python bench/bench_demo.py                  # SQLite; PostgreSQL too if KPIALIGN_TEST_DATABASE_URL is set
    scripts/with_postgres.sh .venv/bin/python bench/bench_demo.py
    .venv/bin/python bench/bench_demo.py --small-runs 5 --enterprise-runs 1 --scales small

Every run seeds a fresh, migrated database in a child process (so that its peak memory is
its own) and reports the wall time of ``seed_demo`` (migration excluded), the CPU time of
the seeding process (the PostgreSQL server's own CPU is not in it), the peak resident
memory of the child, the rows written and, on SQLite, the file size. Prints a table with the
median over the runs and the ratios enterprise/small and PostgreSQL/SQLite. Writes nothing
else; the test suite never looks at these numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _one(url: str, scale: str, seed: int) -> dict:
    """Seed one fresh database (in this process) and return the measurements."""
    from kpialign import db
    from kpialign.demo import seed as demo

    engine = db.make_engine(url)
    db.migrate(engine)
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    summary = demo.seed_demo(engine, scale=scale, seed=seed)
    engine.dispose()
    size = None
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rows = summary.kpi_values + summary.invitations + summary.responses + summary.answers + summary.comments
    return {
        "seconds": summary.seconds,
        "rows": rows,
        "answers": summary.answers,
        "cpu": usage.ru_utime + usage.ru_stime - cpu_before,
        "maxrss_mb": usage.ru_maxrss / 1024,
        "bytes": size,
    }


def _fresh_url(backend: str, workdir: Path) -> tuple[str, object]:
    if backend == "sqlite":
        return f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}", None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = os.environ["KPIALIGN_TEST_DATABASE_URL"]
    name = f"kpialign_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), (admin, name)


def _drop(handle: object) -> None:
    if handle is None:
        return
    from sqlalchemy import text

    admin, name = handle  # type: ignore[misc]
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _measure(backend: str, scale: str, seed: int, workdir: Path) -> dict:
    url, handle = _fresh_url(backend, workdir)
    env = dict(os.environ, KPIALIGN_SECRET_KEY=os.environ.get("KPIALIGN_SECRET_KEY", "bench-secret-key"))
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--one", url, scale, str(seed)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        _drop(handle)
        if backend == "sqlite":
            for p in workdir.glob("bench-*"):
                p.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--one", nargs=3, metavar=("URL", "SCALE", "SEED"), help=argparse.SUPPRESS)
    parser.add_argument("--small-runs", type=int, default=5)
    parser.add_argument("--enterprise-runs", type=int, default=1)
    parser.add_argument("--scales", default="small,enterprise")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.one:
        url, scale, seed = args.one
        print(json.dumps(_one(url, scale, int(seed))))
        return

    backends = ["sqlite"] + (["postgresql"] if os.environ.get("KPIALIGN_TEST_DATABASE_URL") else [])
    scales = [s for s in args.scales.split(",") if s]
    runs = {"small": args.small_runs, "enterprise": args.enterprise_runs}
    results: dict[tuple[str, str], dict] = {}
    with tempfile.TemporaryDirectory(prefix="kpialign-bench-") as tmp:
        for backend in backends:
            for scale in scales:
                samples = []
                for i in range(runs[scale]):
                    r = _measure(backend, scale, args.seed, Path(tmp))
                    samples.append(r)
                    print(f"  {backend:<10} {scale:<10} run {i + 1}: {r['seconds']:.2f} s", file=sys.stderr)
                secs = [s["seconds"] for s in samples]
                results[(backend, scale)] = {
                    "runs": len(samples),
                    "median": statistics.median(secs),
                    "min": min(secs),
                    "max": max(secs),
                    "rows": samples[0]["rows"],
                    "answers": samples[0]["answers"],
                    "rss": max(s["maxrss_mb"] for s in samples),
                    "cpu": statistics.median(s["cpu"] for s in samples),
                    "bytes": samples[0]["bytes"],
                }

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"Demo generation, seed {args.seed}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average {load}"
    )
    header = (
        f"{'backend':<11}{'scale':<11}{'runs':>5}{'median s':>10}{'min s':>8}{'max s':>8}{'client CPU s':>13}"
        f"{'rows':>11}{'rows/s':>10}{'peak MB':>9}{'file MB':>9}"
    )
    print(header)
    print("-" * len(header))
    for (backend, scale), r in results.items():
        size = f"{r['bytes'] / 2**20:.0f}" if r["bytes"] else "-"
        print(
            f"{backend:<11}{scale:<11}{r['runs']:>5}{r['median']:>10.2f}{r['min']:>8.2f}{r['max']:>8.2f}{r['cpu']:>13.2f}"
            f"{r['rows']:>11,}{r['rows'] / r['median']:>10,.0f}{r['rss']:>9.0f}{size:>9}"
        )
    print()
    for backend in backends:
        if (backend, "small") in results and (backend, "enterprise") in results:
            ratio = results[(backend, "enterprise")]["median"] / results[(backend, "small")]["median"]
            print(f"{backend}: enterprise / small time = {ratio:.0f}x")
    for scale in scales:
        if ("sqlite", scale) in results and ("postgresql", scale) in results:
            ratio = results[("postgresql", scale)]["median"] / results[("sqlite", scale)]["median"]
            print(f"{scale}: PostgreSQL / SQLite time = {ratio:.2f}x")


if __name__ == "__main__":
    main()
