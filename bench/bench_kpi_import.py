"""Benchmark: KPI-values CSV import (validate + upsert in one transaction) at growing file sizes.

For each size it builds an organisation of 100 departments x 10 monthly KPIs, writes a CSV of
N rows (KPI x month), then times on SQLite (and on PostgreSQL when KPIALIGN_TEST_DATABASE_URL
is set, e.g. through scripts/with_postgres.sh):

- validate: ``csvio.validate_kpi_csv`` alone (read-only);
- first import: validate + insert every row + one audit event per value;
- re-import: the same file again (every row unchanged, nothing written but the import event);
- changed: every actual changed (bulk UPDATE by primary key + audit events).

CPU and wall time of one run each (the steps are long enough that one run is representative);
prints a table and writes nothing to the test suite.

    .venv/bin/python bench/bench_kpi_import.py
    scripts/with_postgres.sh .venv/bin/python bench/bench_kpi_import.py --sizes 1000 20000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kpialign import db
from kpialign.core.periods import periods_between
from kpialign.models import Department, Kpi
from kpialign.services import kpi_import as csvio
from kpialign.services.measurements import EditScope

DEPTS, KPIS_PER_DEPT = 100, 10


def build(engine) -> list[tuple[str, str]]:
    with db.write_session(engine) as s:
        s.execute(insert(Department), [{"name": f"Dept {d:03d}", "headcount": 10} for d in range(DEPTS)])
        ids = dict(s.execute(text("SELECT name, id FROM department")).all())
        rows = [
            {"department_id": ids[f"Dept {d:03d}"], "name": f"KPI {k}", "target": 100.0, "frequency": "monthly"}
            for d in range(DEPTS)
            for k in range(KPIS_PER_DEPT)
        ]
        s.execute(insert(Kpi), rows)
    return [(f"KPI {k}", f"Dept {d:03d}") for d in range(DEPTS) for k in range(KPIS_PER_DEPT)]


def csv_for(pairs: list[tuple[str, str]], n: int, bump: float = 0.0) -> bytes:
    months = periods_between("2000-01", "2099-12")
    lines = ["kpi,department,period,actual,target"]
    i = 0
    for period in months:
        for kpi, dept in pairs:
            if i >= n:
                return ("\n".join(lines) + "\n").encode()
            lines.append(f"{kpi},{dept},{period},{(i % 97) + 0.5 + bump},")
            i += 1
    return ("\n".join(lines) + "\n").encode()


def timed(fn):
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - w0


def measure(engine, n: int) -> tuple:
    pairs = build(engine)
    data, changed = csv_for(pairs, n), csv_for(pairs, n, bump=1.0)
    scope = EditScope.everything("bench")

    def validate():
        with db.read_session(engine) as s:
            v = csvio.validate_kpi_csv(session=s, data=data)
        assert v.ok, v.issues[:3]

    def do_import(payload: bytes):
        with db.write_session(engine) as s:
            return csvio.import_kpis(session=s, data=payload, scope=scope)

    _, vc, vw = timed(validate)
    first, fc, fw = timed(lambda: do_import(data))
    again, rc, rw = timed(lambda: do_import(data))
    upd, uc, uw = timed(lambda: do_import(changed))
    assert first.inserted == n and again.unchanged == n and upd.updated == n
    return n, vc, vw, fc, fw, rc, rw, uc, uw


def run_backend(name: str, pg_admin_url: str | None, sizes: list[int]) -> list[tuple]:
    results = []
    for n in sizes:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db" if pg_admin_url is None else fresh_pg(pg_admin_url)
        engine = db.make_engine(url)
        db.migrate(engine)
        results.append((name, *measure(engine, n)))
        engine.dispose()
    return results


def fresh_pg(admin_url: str) -> str:
    name = f"kpialign_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    args = parser.parse_args()
    rows = run_backend("sqlite", None, args.sizes)
    pg = os.environ.get("KPIALIGN_TEST_DATABASE_URL")
    if pg:
        rows += run_backend("postgresql", pg, args.sizes)
    print(
        "| backend | rows | validate CPU / wall s | first import CPU / wall s | re-import CPU / wall s | all changed CPU / wall s |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, n, vc, vw, fc, fw, rc, rw, uc, uw in rows:
        print(
            f"| {name} | {n:,} | {vc:.2f} / {vw:.2f} | {fc:.2f} / {fw:.2f} | {rc:.2f} / {rw:.2f} | {uc:.2f} / {uw:.2f} |"
        )


if __name__ == "__main__":
    main()
