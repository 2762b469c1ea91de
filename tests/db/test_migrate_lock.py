"""Several replicas starting at once on one fresh database migrate it exactly once, without errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import kpialign.models  # noqa: F401
from kpialign import db

ROOT = Path(__file__).resolve().parents[2]


def test_replicas_starting_together_migrate_once(db_factory, backend):
    url = db_factory.new_url("race")
    eng = db.make_engine(url)
    with eng.begin() as conn:  # back to an empty database: drop what the template created
        for table in reversed(SQLModel.metadata.sorted_tables):
            conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}"'))
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    assert not db.has_schema(eng)

    env = {**os.environ, "KPIALIGN_DATABASE_URL": url}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "kpialign", "init-db"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0, 0, 0, 0], [err for _, err in results]
    assert "department" in inspect(eng).get_table_names()
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM data_version")).scalar_one() == 1
    eng.dispose()
