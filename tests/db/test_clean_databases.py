"""The ``engine`` fixture's databases start clean: what one test wrote, another never sees; and
a snapshot put back by ``db_factory.restore`` is what building it writes.

On PostgreSQL every test of a worker gets the same database emptied back to the template's
contents (tests/conftest.py ``PgScratch``), so these checks guard the suite's isolation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from kpialign import db
from kpialign.models import Department
from tests.unit.review_fixtures import build_people


def _write_a_department(url: str, name: str) -> None:
    eng = db.make_engine(url)
    with db.write_session(eng) as session:
        session.add(Department(name=name, headcount=3))
    eng.dispose()


def _state(url: str) -> tuple[int, int, int, str]:
    eng = db.make_engine(url)
    with eng.connect() as conn:
        departments = conn.execute(text("SELECT count(*) FROM department")).scalar_one()
        version = db.data_version(eng)
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    with db.write_session(eng) as session:  # the next id shows whether the sequence was reset too
        department = Department(name="First", headcount=1)
        session.add(department)
        session.flush()
        first_id = int(department.id)  # type: ignore[arg-type]
    eng.dispose()
    return departments, version, first_id, revision


def test_a_clean_database_has_none_of_the_previous_tests_rows_and_restarts_its_ids(db_factory, backend):
    fresh = _state(db_factory.clean_url())
    written = db_factory.clean_url()
    _write_a_department(written, "Left behind")
    _write_a_department(written, "Also left behind")
    again = db_factory.clean_url()
    assert _state(again) == fresh
    assert fresh[:3] == (0, 0, 1)
    if backend == "postgresql":  # one database per worker, under a URL of its own per test
        assert make_url(again).database == make_url(written).database and again != written


def test_a_clean_database_is_reset_even_with_a_session_left_open_in_a_transaction(db_factory, backend):
    url = db_factory.clean_url()
    eng = db.make_engine(url)
    conn = eng.connect()
    conn.execute(text("INSERT INTO department(name, headcount, active) VALUES ('Locked', 2, true)"))  # not committed
    try:
        assert _state(db_factory.clean_url())[0] == 0
    finally:
        conn.invalidate()  # the reset ended this session on PostgreSQL: nothing to roll back
        eng.dispose()


def test_a_test_that_changed_the_schema_leaves_the_next_one_the_template_schema(db_factory, backend):
    url = db_factory.clean_url()
    eng = db.make_engine(url)
    with eng.begin() as conn:
        conn.execute(text("ALTER TABLE department ADD COLUMN left_behind integer"))
    eng.dispose()
    eng = db.make_engine(db_factory.clean_url())
    with eng.connect() as conn:
        columns = list(conn.exec_driver_sql("SELECT * FROM department LIMIT 0").keys())
    eng.dispose()
    assert "left_behind" not in columns and "name" in columns


def _contents(eng) -> dict[str, list[tuple]]:
    """Every table's rows in id order, without the times a build stamps (audit events, sign-ups)."""
    out: dict[str, list[tuple]] = {}
    with eng.connect() as conn:
        for table in sorted(SQLModel.metadata.tables.values(), key=lambda t: t.name):
            order = list(table.primary_key.columns) or list(table.columns)
            out[table.name] = [
                tuple("<time>" if isinstance(v, datetime) else v for v in row)
                for row in conn.execute(select(*table.columns).order_by(*order))
            ]
    return out


def _next_department_id(eng) -> int:
    with db.write_session(eng) as session:
        department = Department(name="Next", headcount=1)
        session.add(department)
        session.flush()
        return int(department.id)  # type: ignore[arg-type]


def test_a_restored_snapshot_holds_what_building_writes_and_continues_its_ids(db_factory, backend):
    """``db_factory.restore`` (used by fixtures that build the same organisation for every test)
    gives a test the rows, ids and sequences a fresh build would, and the builder's value."""
    built = db.make_engine(db_factory.clean_url())
    people = build_people(built)
    expected = _contents(built)
    next_id = _next_department_id(built)
    built.dispose()
    assert sum(len(rows) for rows in expected.values()) > 30  # the build really wrote an organisation

    for _ in range(2):  # the first call builds the snapshot, the second only copies it
        restored = db.make_engine(db_factory.clean_url())
        assert db_factory.restore(restored, build_people) == people
        assert _contents(restored) == expected
        assert _next_department_id(restored) == next_id  # the ids go on from the build's
        restored.dispose()
