"""The migrations create exactly the tables and columns the models declare, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import kpialign.models  # noqa: F401
from kpialign import db

DESIGN_TABLES = {
    "department", "objective", "kpi", "kpi_objective", "kpi_target", "kpi_value", "survey_wave",
    "question", "wave_question", "invitation", "response", "answer", "comment", "account",
    "account_role", "audit_event", "setting",
}  # fmt: skip


def test_models_and_migrations_agree(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        diff = compare_metadata(ctx, SQLModel.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_every_design_table_exists(engine):
    tables = set(inspect(engine).get_table_names())
    assert tables >= DESIGN_TABLES, DESIGN_TABLES - tables


def test_migrate_is_idempotent_and_keeps_data(engine):
    with db.write_session(engine) as s:
        s.execute(text("INSERT INTO department (name, headcount, active) VALUES ('Kept', 4, true)"))
    db.migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT headcount FROM department WHERE name = 'Kept'")).scalar_one() == 4
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1


def test_data_version_starts_at_zero_and_writes_bump_it(engine):
    assert db.data_version(engine) == 0
    with db.write_session(engine) as s:
        s.execute(text("INSERT INTO setting (key, value) VALUES ('x', '1')"))
    assert db.data_version(engine) == 1
    with db.write_session(engine, bump=False) as s:
        s.execute(text("INSERT INTO setting (key, value) VALUES ('y', '1')"))
    assert db.data_version(engine) == 1


def test_failed_write_rolls_back_everything(engine):
    import pytest
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), db.write_session(engine) as s:
        s.execute(text("INSERT INTO setting (key, value) VALUES ('a', '1')"))
        s.execute(text("INSERT INTO setting (key, value) VALUES ('a', '2')"))  # duplicate key
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM setting")).scalar_one() == 0
    assert db.data_version(engine) == 0


def test_sqlite_pragmas(sqlite_engine):
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == db.SQLITE_BUSY_TIMEOUT_MS


def test_foreign_keys_are_enforced(engine):
    import pytest
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), db.write_session(engine) as s:
        s.execute(text("INSERT INTO kpi (department_id, name, description, unit, polarity, frequency, weight, active) "
                       "VALUES (9999, 'x', '', '', 'higher', 'monthly', 1, true)"))  # fmt: skip
