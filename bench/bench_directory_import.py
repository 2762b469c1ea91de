"""Benchmark: directory import of the enterprise demo directory (200 units, 50,000 people).

Into a fresh, migrated database (SQLite file; PostgreSQL too when KPIALIGN_TEST_DATABASE_URL is
set, e.g. through scripts/with_postgres.sh), times:

- plan (dry run): read + validate both files and work out every change (read-only);
- first import: 200 units, 50,000 accounts, ~50,400 role rows, headcounts, events, one audit row;
- re-import: the same files again (nothing to change, nothing written);
- changed: 5% of the people move unit, 1% leave (deactivated with --deactivate-missing),
  one division renamed and a department moved.

Wall and CPU seconds of one run each; target: first import under 60 s on SQLite.

    .venv/bin/python bench/bench_directory_import.py
    scripts/with_postgres.sh .venv/bin/python bench/bench_directory_import.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kpialign import db
from kpialign.demo.directory import demo_directory
from kpialign.models import Account, AccountRole
from kpialign.services import directory

AS_OF = date(2026, 11, 2)


def timed(label: str, fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"  {label:<16} {wall:7.2f} s wall  {cpu:7.2f} s CPU", flush=True)
    return result


def changed_files(units: bytes, people: bytes) -> tuple[bytes, bytes]:
    u = units.decode().split("\r\n")
    u = [line.replace(",Commercial,", ",Commercial & Sales,") for line in u]
    u = [line.replace("U0003,Marketing,U0001,", "U0003,Marketing,U0008,") for line in u]
    p = people.decode().split("\r\n")
    out = [p[0]]
    for i, line in enumerate(p[1:], start=1):
        if not line:
            continue
        if i % 100 == 50:
            continue  # 1% leave
        if i % 20 == 5 and ",manager" not in line and "kpi_owner" not in line:
            cells = line.split(",")
            cells[2] = "U0010"  # 5% move
            line = ",".join(cells)
        out.append(line)
    return "\r\n".join(u).encode(), ("\r\n".join(out) + "\r\n").encode()


def run(url: str, label: str) -> None:
    engine = db.make_engine(url)
    db.migrate(engine)
    units, people = demo_directory("enterprise", seed=7)
    print(f"{label}: {len(units) // 1024} KB units, {len(people) // 1024} KB people", flush=True)

    def plan():
        with db.read_session(engine) as s:
            return directory.plan_import(session=s, data=units, people=people, as_of=AS_OF)

    def load(u=units, p=people, missing=False):
        with db.write_session(engine) as s:
            return directory.import_directory(
                session=s, data=u, people=p, actor="bench", as_of=AS_OF, deactivate_missing=missing
            )

    p = timed("plan (dry run)", plan)
    assert p.ok, p.issues[:5]
    first = timed("first import", load)
    again = timed("re-import", load)
    u2, p2 = changed_files(units, people)
    changed = timed("changed", lambda: load(u2, p2, True))
    with db.read_session(engine) as s:
        n_acc = s.execute(select(func.count()).select_from(Account)).scalar_one()
        n_roles = s.execute(select(func.count()).select_from(AccountRole)).scalar_one()
    print(f"  first: {first.describe()}")
    print(f"  again: {again.describe()}")
    print(f"  changed: {changed.describe()}")
    print(f"  accounts {n_acc}, role rows {n_roles}")
    engine.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{Path(tmp) / 'dir.db'}", "SQLite")
    admin = os.environ.get("KPIALIGN_TEST_DATABASE_URL")
    if admin:
        name = f"bench_dir_{uuid.uuid4().hex[:8]}"
        a = create_engine(admin, isolation_level="AUTOCOMMIT")
        with a.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(make_url(admin).set(database=name).render_as_string(hide_password=False), "PostgreSQL")
        finally:
            with a.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            a.dispose()


if __name__ == "__main__":
    main()
