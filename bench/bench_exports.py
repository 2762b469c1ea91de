"""Every export kind on the enterprise demo, before and after, side by side (issue 18 item 3).

    .venv/bin/python bench/bench_exports.py                                   # SQLite
    scripts/with_postgres.sh .venv/bin/python bench/bench_exports.py          # SQLite and PostgreSQL
    .venv/bin/python bench/bench_exports.py --kinds responses kpis --repeats 5 --backends sqlite
    scripts/with_postgres.sh .venv/bin/python bench/bench_exports.py --backends postgresql --sides before --no-migrate

The enterprise demo (200 units, 50,000 people, 12 waves; seed 7, laid out around 2026-11-30) is
built once and cached under ``.cache/bench/``: ``enterprise.db`` for SQLite (each run works on a
copy: exports write audit rows) and ``enterprise-pg.dump`` (``pg_dump -Fc``) for PostgreSQL,
restored into a database ``kpialign_bench_exports`` of the server that
``KPIALIGN_TEST_DATABASE_URL`` names. Delete the files to rebuild them.

Both databases are migrated to the newest schema after the copy or restore (as the portal does
when it starts), and PostgreSQL's tables are vacuumed and analysed (as autovacuum keeps them on a
live server: planner statistics, and the visibility map that index-only scans need).

*Before* is the package as of ``--before`` (default: main before this round's export work),
unpacked from git into a temporary folder; *after* is this working tree (``--sides after``: only
this working tree; ``--no-migrate`` keeps the cached schema, for the code before on the schema
before). For every kind and each side a fresh child process imports the package, opens the database and calls
``exports.build_export`` as the Exports page and the CLI do (prepare in a read transaction,
record the audit row in a write transaction): once cold, then ``--repeats`` times warm (the
median is shown). Both stream to a file, as the CLI does (``out=``). Peak memory is the child's
peak resident set (``ru_maxrss``) above its level after imports and a first query. When the
PostgreSQL server runs on this machine (the throwaway cluster), its CPU over each export is read
from ``/proc`` (the postmaster, its live children and the children it has reaped): the client's
CPU alone hides the server's share. Prints only; nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
KINDS = ("results", "participation", "responses", "comments", "scorecard", "kpis", "audit")
BEFORE = "8bba41b"  # main before this round's export work (issue 18 items 3 and 5)
SEED = ["--scale", "enterprise", "--seed", "7", "--today", "2026-11-30"]
PG_DB = "kpialign_bench_exports"


def _proc_stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()  # [1] ppid, [11:15] utime stime cutime cstime


def postmaster_pid(url: str) -> int | None:
    """The local PostgreSQL server listening on the URL's port, if it runs on this machine."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if not u.drivername.startswith("postgresql") or u.host not in ("127.0.0.1", "localhost", None):
        return None
    port = str(u.port or 5432).encode()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"/postgres") and port in cmd:
            return int(d.name)
    return None


def server_cpu(pid: int | None) -> float:
    """CPU seconds of the server: the postmaster, its live children (backends, parallel workers)
    and the children it has reaped."""
    if pid is None:
        return float("nan")
    ticks = sum(int(x) for x in _proc_stat(pid)[11:15])
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                st = _proc_stat(int(d.name))
            except (OSError, ValueError):
                continue
            if int(st[1]) == pid:
                ticks += int(st[11]) + int(st[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def child(url: str, kind: str, repeats: int, code: str, stream: bool) -> None:
    sys.path.insert(0, code)
    from kpialign import db, exports

    engine = db.make_engine(url)
    with engine.connect() as conn:  # here: the baseline includes the driver and a first connection
        conn.exec_driver_sql("SELECT 1")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    server = postmaster_pid(url)
    runs = []
    export = None
    for _ in range(1 + repeats):
        wall, cpu, scpu = time.perf_counter(), time.process_time(), server_cpu(server)
        kwargs = {"kind": kind, "actor": "bench@example.com", "roles": {"admin", "hr"}}
        if stream:
            with tempfile.TemporaryFile() as out:
                export = exports.build_export(engine, out=out, **kwargs)
        else:
            export = exports.build_export(engine, **kwargs)
        runs.append((time.perf_counter() - wall, time.process_time() - cpu, server_cpu(server) - scpu))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert export is not None
    size = getattr(export, "size", 0) or len(export.data)
    print(
        json.dumps(
            {
                "cold_wall": runs[0][0],
                "cold_cpu": runs[0][1],
                "warm_wall": statistics.median(r[0] for r in runs[1:]) if repeats else runs[0][0],
                "warm_cpu": statistics.median(r[1] for r in runs[1:]) if repeats else runs[0][1],
                "cold_server": runs[0][2],
                "warm_server": statistics.median(r[2] for r in runs[1:]) if repeats else runs[0][2],
                "rows": export.rows,
                "mib": size / 2**20,
                "peak_mib": (peak - base) / 1024,
            }
        )
    )


def _run(args: list[str], env: dict | None = None) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, env=env).stdout


def sqlite_url(work: Path, *, migrate: bool = True) -> str:
    """A private copy of the cached SQLite enterprise demo (seeded on first use)."""
    cached = CACHE / "enterprise.db"
    if not cached.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"seeding the enterprise demo into {cached} (a few minutes, once)...", file=sys.stderr)
        tmp = cached.with_suffix(".tmp.db")
        env = {**os.environ, "KPIALIGN_DATABASE_URL": f"sqlite:///{tmp}"}
        _run([sys.executable, "-m", "kpialign", "seed-demo", *SEED], env=env)
        os.replace(tmp, cached)
    copy = work / "enterprise.db"
    shutil.copyfile(cached, copy)
    if migrate:
        _migrate(f"sqlite:///{copy}")
    return f"sqlite:///{copy}"


def _migrate(url: str) -> None:
    """Upgrade to the newest schema, as the portal does when it starts (the cache may be older)."""
    _run([sys.executable, "-c", "import sys; from kpialign import db; db.migrate(db.make_engine(sys.argv[1]))", url])


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(found[-1]) if found else name


def postgres_url(admin_url: str, *, migrate: bool = True) -> str:
    """A fresh database restored from the cached dump (seeded and dumped on first use)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {PG_DB}")
    admin.dispose()
    url = make_url(admin_url).set(database=PG_DB)
    sa_url = url.render_as_string(hide_password=False)
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = CACHE / "enterprise-pg.dump"
    if dump.exists():
        print(f"restoring {dump} into {PG_DB}...", file=sys.stderr)
        _run([_pg_bin("pg_restore"), "--no-owner", "-j", "2", "-d", libpq, str(dump)])
    else:
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"seeding the enterprise demo into {PG_DB} (a few minutes, once)...", file=sys.stderr)
        _run(
            [sys.executable, "-m", "kpialign", "seed-demo", *SEED], env={**os.environ, "KPIALIGN_DATABASE_URL": sa_url}
        )
        _run([_pg_bin("pg_dump"), "-Fc", "-f", str(dump.with_suffix(".tmp")), libpq])
        os.replace(dump.with_suffix(".tmp"), dump)
    if migrate:
        _migrate(sa_url)
    # here: planner statistics and the visibility map, as autovacuum keeps them on a live server
    # (a restore has neither; index-only scans need the map)
    engine = create_engine(sa_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE)")
    engine.dispose()
    return sa_url


def measure(
    url: str, kinds: list[str], repeats: int, before_code: Path, sides: list[str]
) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    env = {**os.environ, "KPIALIGN_DATABASE_URL": url}
    for kind in kinds:
        out[kind] = {}
        for side, code, stream in (("before", before_code, True), ("after", ROOT, True)):
            if side not in sides:
                continue
            cmd = [sys.executable, __file__, "--url", url, "--child", kind, "--repeats", str(repeats)]
            cmd += ["--code", str(code)] + (["--stream"] if stream else [])
            out[kind][side] = json.loads(_run(cmd, env=env).strip().splitlines()[-1])
    return out


def report(name: str, url: str, results: dict[str, dict[str, dict]], repeats: int) -> None:
    load = os.getloadavg()
    print(f"\n{name}: {url.split('@')[-1]}  cores: {os.cpu_count()}  load average: {load[0]:.1f} {load[1]:.1f}")
    print(
        f"(cold = first export in a fresh process; warm = median of {repeats}; "
        "wall s / client CPU s / server CPU s (PostgreSQL on this machine); peak MiB)"
    )
    print(f"{'kind':<14}{'side':<8}{'cold':>20}{'warm':>20}{'rows':>9}{'MiB':>6}{'peak':>6}{'<= 3 s':>8}")
    for kind, sides in results.items():
        for side, r in sides.items():
            ok = "ok" if r["cold_wall"] <= 3 and r["warm_wall"] <= 3 else "ABOVE"
            cold = f"{r['cold_wall']:.2f}/{r['cold_cpu']:.2f}/{r.get('cold_server', float('nan')):.2f}"
            warm = f"{r['warm_wall']:.2f}/{r['warm_cpu']:.2f}/{r.get('warm_server', float('nan')):.2f}"
            print(f"{kind:<14}{side:<8}{cold:>20}{warm:>20}{r['rows']:>9,}{r['mib']:6.1f}{r['peak_mib']:6.0f}{ok:>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", nargs="*", default=list(KINDS))
    parser.add_argument("--repeats", type=int, default=3, help="warm runs per process (median shown)")
    parser.add_argument("--before", default=BEFORE, help="git revision of the 'before' code")
    parser.add_argument("--backends", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument("--sides", nargs="*", default=["before", "after"], choices=["before", "after"])
    parser.add_argument(
        "--no-migrate", action="store_true", help="keep the cached database's schema (the 'before' indexes)"
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--stream", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.url, args.child, args.repeats, args.code, args.stream)
        return
    print(f"bench_exports  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  python {platform.python_version()}")
    print(f"before: {args.before} (git)  after: this working tree  sides: {' '.join(args.sides)}")
    print("schema: " + ("as cached (not migrated)" if args.no_migrate else "migrated to the newest revision"))
    with tempfile.TemporaryDirectory(prefix="bench-exports-") as tmp:
        work = Path(tmp)
        before = work / "before"
        before.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.before, "kpialign"], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        if "sqlite" in args.backends:
            url = sqlite_url(work, migrate=not args.no_migrate)
            report("SQLite", url, measure(url, args.kinds, args.repeats, before, args.sides), args.repeats)
        admin = os.environ.get("KPIALIGN_TEST_DATABASE_URL")
        if "postgresql" in args.backends and admin:
            url = postgres_url(admin, migrate=not args.no_migrate)
            report("PostgreSQL", url, measure(url, args.kinds, args.repeats, before, args.sides), args.repeats)
        elif "postgresql" in args.backends:
            print("\nPostgreSQL: skipped (run under scripts/with_postgres.sh or set KPIALIGN_TEST_DATABASE_URL)")


if __name__ == "__main__":
    main()
