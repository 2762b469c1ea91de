"""The ``engine`` fixture's databases start clean: what one test wrote, another never sees.

On PostgreSQL every test of a worker gets the same database emptied back to the template's
contents (tests/conftest.py ``PgScratch``), so these checks guard the suite's isolation.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import make_url

from kpialign import db
from kpialign.models import Department


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
