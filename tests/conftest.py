"""Shared fixtures: fresh migrated databases on SQLite and PostgreSQL, and seeded demo databases.

- ``backend`` is parametrised over ``sqlite`` and ``postgresql``; a test that takes ``engine``
  (a fresh, migrated, empty database) or ``demo_engine`` (the small demo, seed 7, shared by
  the whole session: treat it as read-only) runs on both.
- PostgreSQL comes from ``KPIALIGN_TEST_DATABASE_URL`` (``make test`` starts a throwaway
  server). Without it the PostgreSQL cases are skipped, except with ``CI=true``, where that is
  an error.
- Fresh databases are cheap: SQLite copies a migrated template file; PostgreSQL creates the
  database from a migrated template database, except for ``engine``, which gets the worker's
  one migrated database emptied back to the template's contents (:class:`PgScratch`, ~5 ms
  instead of ~0.3 s for a new database).
"""

from __future__ import annotations

import copy
import graphlib
import itertools
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import select

from kpialign import db
from tests import apptest_wait

# Survey-token HMAC key for the whole test session (PostgreSQL requires one; copies of a
# SQLite demo database must share it with the database they were copied from).
os.environ.setdefault("KPIALIGN_SECRET_KEY", "test-secret-key-not-for-production-0123456789")

# Hypothesis profiles: the full number of examples in CI, fewer on a developer's machine
# (KPIALIGN_HYPOTHESIS=ci|dev overrides). Tests set no max_examples of their own.
settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.register_profile(
    "dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile(
    os.environ.get("KPIALIGN_HYPOTHESIS") or ("ci" if os.environ.get("CI", "").lower() == "true" else "dev")
)

# AppTest waits for each run by joining the script's thread instead of a 1 ms poll (tests/apptest_wait.py).
apptest_wait.install()

PG_ADMIN_URL = os.environ.get("KPIALIGN_TEST_DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ["sqlite", "postgresql"]
_PREFIX = f"kpialign_t{os.getpid()}_"


def require_postgres() -> None:
    if not PG_ADMIN_URL:
        if IN_CI:
            pytest.fail("KPIALIGN_TEST_DATABASE_URL is not set and CI=true: PostgreSQL tests must run in CI.")
        pytest.skip("no PostgreSQL server (set KPIALIGN_TEST_DATABASE_URL or run `make test`)")


def require_pdftotext() -> str:
    """The path of ``pdftotext`` (review-pack tests read the PDF with it); ``make test``
    installs it, and with ``CI=true`` its absence fails the test instead of skipping it."""
    path = shutil.which("pdftotext")
    if path is None:
        if IN_CI:
            pytest.fail("pdftotext is missing and CI=true: run scripts/ensure_chromium.sh (poppler-utils).")
        pytest.skip("pdftotext is not installed (run `make test`, which installs it)")
    return path


# Everything in the public schema a test could change besides rows: relations, columns, constraints,
# indexes (as relations), triggers, functions. One query, a few milliseconds.
_SCHEMA_FINGERPRINT = """
SELECT md5(concat_ws('|',
  (SELECT string_agg(c.relname || ':' || c.relkind::text, ',' ORDER BY c.relname, c.relkind)
     FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace),
  (SELECT string_agg(c.relname || '.' || a.attname || ':' || a.atttypid || ':' || a.attnotnull || ':' || a.atthasdef,
                     ',' ORDER BY c.relname, a.attnum)
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped),
  (SELECT string_agg(conname || ':' || contype::text || ':' || conrelid || ':' || confrelid || ':' || conkey::text,
                     ',' ORDER BY conname)
     FROM pg_constraint WHERE connamespace = 'public'::regnamespace),
  (SELECT string_agg(t.tgname, ',' ORDER BY t.tgname)
     FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal),
  (SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace)
))
"""


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pg_tables_parents_first(conn) -> list[str]:
    """The public tables, each after the tables its foreign keys point to (a cycle raises
    ``graphlib.CycleError``)."""
    tables = list(conn.exec_driver_sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").scalars())
    order = graphlib.TopologicalSorter({t: set() for t in tables})
    for child, parent in conn.exec_driver_sql(
        "SELECT c.relname, p.relname FROM pg_constraint k"
        " JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid"
        " WHERE k.contype = 'f' AND k.connamespace = 'public'::regnamespace"
    ):
        if child != parent:  # a self-reference is satisfied by deleting all rows at once
            order.add(child, parent)
    return list(order.static_order())


T = TypeVar("T")


class Snapshot:
    """What a builder (``build(engine) -> value``) wrote into a migrated, empty database, kept to
    be put into other fresh databases of the same backend, and the value it returned.

    Building a test's starting data through the services costs 30-180 ms a test (PostgreSQL pays a
    round trip per statement); putting it back costs a few milliseconds:
    - SQLite: the built file, copied into the test's database with SQLite's backup API;
    - PostgreSQL: each table's rows in COPY's text format (every column type round-trips) and
      each used sequence's last value.
    """

    def __init__(self, url: str, value: Any):
        self.value = value
        self.backend = make_url(url).get_backend_name()
        self._path = make_url(url).database or ""
        self._tables: list[tuple[str, bytes]] = []  # parents first
        self._sequences: list[tuple[str, int]] = []
        if self.backend == "postgresql":
            eng = create_engine(url)
            with eng.connect() as conn:
                cur = conn.connection.driver_connection.cursor()
                for table in _pg_tables_parents_first(conn):
                    with cur.copy(f"COPY {_quoted(table)} TO STDOUT") as stream:
                        data = b"".join(bytes(chunk) for chunk in stream)
                    self._tables.append((table, data))
                self._sequences = list(
                    conn.exec_driver_sql(
                        "SELECT sequencename, last_value FROM pg_sequences"
                        " WHERE schemaname = 'public' AND last_value IS NOT NULL"
                    ).all()
                )
            eng.dispose()

    def put_into(self, engine: Engine) -> None:
        """Replace the contents of ``engine``'s database (fresh, migrated) with the snapshot's."""
        if self.backend == "sqlite":
            engine.dispose()  # no pooled connection may hold the old pages
            src = sqlite3.connect(self._path)
            dst = sqlite3.connect(engine.url.database or "")
            try:
                src.backup(dst)
            finally:
                dst.close()
                src.close()
            return
        with engine.begin() as conn:
            cur = conn.connection.driver_connection.cursor()
            # one round trip: every table the snapshot fills, children first (the fresh database
            # holds only the migrated template's rows, which the snapshot holds too)
            cur.execute("; ".join(f"DELETE FROM {_quoted(t)}" for t, data in reversed(self._tables) if data))
            for table, data in self._tables:
                if data:  # here: no COPY for an empty table (a round trip each)
                    with cur.copy(f"COPY {_quoted(table)} FROM STDIN") as stream:
                        stream.write(data)
            if self._sequences:
                cur.execute(
                    "SELECT " + ", ".join("setval(%s, %s, true)" for _ in self._sequences),
                    [v for name, last in self._sequences for v in (_quoted(name), last)],
                )


class PgScratch:
    """One migrated PostgreSQL database per worker, reset to the template's contents for each test.

    Creating a database from a template costs ~0.3 s per test (files copied and WAL-logged, then
    dropped); emptying a small database costs a few milliseconds. A reset
    1. ends every other session on the database (a test's leftover connection can hold no lock),
    2. compares the schema with the template's; a test that changed it gets a new database,
    3. deletes every row (children before parents), puts back the template's rows
       (``alembic_version``, ``data_version``) and sets every sequence back to the template's value,
    all in one transaction. Each test gets its own URL (``application_name`` differs), so
    per-URL caches in the process (the portal's engine, ``st.cache_data`` entries keyed on the
    URL and the data version) never serve one test's data to the next.
    """

    def __init__(self, factory: DatabaseFactory, template: str):
        self.factory = factory
        self.template = template
        self.name = _PREFIX + "scratch"
        self._uses = itertools.count(1)
        self._keeper: Engine | None = None
        self._reset_sql = ""
        self._rows: dict[str, list[dict]] = {}
        self._fingerprint = ""
        self._recreate()
        self._learn_template()

    def _recreate(self) -> None:
        if self._keeper is not None:
            self._keeper.dispose()
        self.factory._create_pg(self.name, self.template)
        # one pooled connection that does the resets (never terminated by them)
        self._keeper = create_engine(self.factory._pg_url(self.name), pool_size=1, max_overflow=0)

    def _learn_template(self) -> None:
        assert self._keeper is not None
        with self._keeper.connect() as conn:
            self._fingerprint = conn.exec_driver_sql(_SCHEMA_FINGERPRINT).scalar_one()
            tables = list(conn.exec_driver_sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").scalars())
            try:
                delete_first = list(reversed(_pg_tables_parents_first(conn)))
                deletes = "; ".join(f"DELETE FROM {_quoted(t)}" for t in delete_first)
            except graphlib.CycleError:  # tables that reference each other: TRUNCATE empties them together
                deletes = "TRUNCATE " + ", ".join(_quoted(t) for t in tables)
            for table in tables:
                rows = [dict(r) for r in conn.exec_driver_sql(f"SELECT * FROM {_quoted(table)}").mappings()]
                if rows:
                    self._rows[table] = rows
            sequences = [
                f"setval('{_quoted(name)}', {start if last is None else last}, {last is not None})"
                for name, start, last in conn.exec_driver_sql(
                    "SELECT sequencename, start_value, last_value FROM pg_sequences WHERE schemaname = 'public'"
                )
            ]
        self._reset_sql = deletes + (f"; SELECT {', '.join(sequences)}" if sequences else "")

    def url(self) -> str:
        """The scratch database, emptied back to the template's contents, under a URL of its own."""
        use = next(self._uses)
        if use > 1:
            self._reset()
        return (
            make_url(self.factory._pg_url(self.name))
            .update_query_dict({"application_name": f"kpialign-test-{use}"})
            .render_as_string(hide_password=False)
        )

    def _reset(self) -> None:
        assert self._keeper is not None
        with self._keeper.connect() as conn:
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            conn.commit()
            same_schema = conn.exec_driver_sql(_SCHEMA_FINGERPRINT).scalar_one() == self._fingerprint
            conn.rollback()
        if not same_schema:
            self._recreate()
            return
        with self._keeper.begin() as conn:
            conn.exec_driver_sql(self._reset_sql)
            for table, rows in self._rows.items():
                columns = list(rows[0])
                names = ", ".join(_quoted(c) for c in columns)
                values = ", ".join(f":p{i}" for i in range(len(columns)))
                conn.execute(
                    text(f"INSERT INTO {_quoted(table)} ({names}) VALUES ({values})"),
                    [{f"p{i}": row[c] for i, c in enumerate(columns)} for row in rows],
                )

    def close(self) -> None:
        if self._keeper is not None:
            self._keeper.dispose()


class DatabaseFactory:
    """Creates fresh databases from a migrated template, and drops them at the end."""

    def __init__(self, backend: str, workdir: Path):
        self.backend = backend
        self.workdir = workdir
        self._created: list[str] = []
        self._template: str | None = None
        self._scratch: PgScratch | None = None
        self._snapshots: dict[str, Snapshot] = {}
        if backend == "postgresql":
            self._admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")

    # -- template ------------------------------------------------------------------------
    def _ensure_template(self) -> str:
        if self._template is None:
            if self.backend == "sqlite":
                path = self.workdir / "template.db"
                engine = db.make_engine(f"sqlite:///{path}")
                db.migrate(engine)
                with engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                engine.dispose()
                self._template = str(path)
            else:
                name = _PREFIX + "template"
                self._create_pg(name, None)
                engine = db.make_engine(self._pg_url(name))
                db.migrate(engine)
                engine.dispose()
                self._template = name
        return self._template

    def _pg_url(self, name: str) -> str:
        return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def _create_pg(self, name: str, template: str | None) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            suffix = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
        self._created.append(name)

    # -- public --------------------------------------------------------------------------
    def new_url(self, label: str = "db") -> str:
        """A fresh, migrated, empty database; returns its URL."""
        template = self._ensure_template()
        if self.backend == "sqlite":
            path = self.workdir / f"{label}-{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(template, path)
            return f"sqlite:///{path}"
        name = f"{_PREFIX}{label}_{uuid.uuid4().hex[:8]}"
        self._create_pg(name, template)
        return self._pg_url(name)

    def clean_url(self) -> str:
        """A migrated, empty database for one test: a new SQLite file, or the worker's PostgreSQL
        scratch database reset to the template's contents (never drop it; the next call resets it)."""
        if self.backend == "sqlite":
            return self.new_url()
        if self._scratch is None:
            self._scratch = PgScratch(self, self._ensure_template())
        return self._scratch.url()

    def restore(self, engine: Engine, build: Callable[[Engine], T]) -> T:
        """Put into ``engine``'s fresh, migrated database what ``build`` writes into an empty one,
        and a copy of what ``build`` returned. ``build`` runs once per worker and backend, in a
        database of its own (:class:`Snapshot`); each call copies that database's contents."""
        key = f"{build.__module__}.{build.__qualname__}"
        if key not in self._snapshots:
            url = self.new_url("snapshot")
            built = db.make_engine(url)
            value = build(built)
            if self.backend == "sqlite":
                with built.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            built.dispose()
            self._snapshots[key] = Snapshot(url, value)
        snapshot = self._snapshots[key]
        snapshot.put_into(engine)
        return copy.deepcopy(snapshot.value)  # here: a test that changes what it got changes no other test's

    def drop(self, url: str) -> None:
        if self.backend == "postgresql":
            name = make_url(url).database
            with self._admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        if self._scratch is not None:
            self._scratch.close()
        if self.backend == "postgresql":
            with self._admin.connect() as conn:
                for name in reversed(self._created):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            self._admin.dispose()


# Slow folders first: xdist hands out whole files in collection order, so the two workers start
# on the long browser and scale files and end on many short unit files, finishing together
# instead of one worker running the last browser walk alone.
SLOW_FIRST = {"browser": 0, "scale": 1, "db": 2, "app": 3}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests_dir = Path(__file__).parent

    def rank(item: pytest.Item) -> int:
        parts = Path(str(item.fspath)).relative_to(tests_dir).parts
        return SLOW_FIRST.get(parts[0], len(SLOW_FIRST)) if len(parts) > 1 else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: the order inside each folder and file is kept


@pytest.fixture(scope="session", autouse=True)
def _scan_streamlit_components_once() -> Iterator[None]:
    """Scan the installed packages for Streamlit components once per process, not once per AppTest.

    Every new ``AppTest`` discovers v2 components by reading the metadata of every installed
    distribution (about 0.3 s of CPU, more than most page runs). The installed packages do not
    change during a test run, so the first scan's result is reused.
    """
    from streamlit.components.v2 import manifest_scanner

    scan = manifest_scanner.scan_component_manifests
    found: list = []

    def scan_once(max_workers: int | None = None) -> list:
        if not found:
            found.append(scan(max_workers))
        return list(found[0])

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(manifest_scanner, "scan_component_manifests", scan_once)
        yield


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        require_postgres()
    return request.param


_factories: dict[str, DatabaseFactory] = {}


@pytest.fixture(scope="session")
def db_factory(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(backend, tmp_path_factory.mktemp(f"db-{backend}"))
    yield factory
    factory.close()


@pytest.fixture
def engine(db_factory: DatabaseFactory) -> Iterator[Engine]:
    """A fresh, migrated, empty database on the current backend."""
    eng = db.make_engine(db_factory.clean_url())
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def sqlite_factory(tmp_path_factory: pytest.TempPathFactory) -> DatabaseFactory:
    """A :class:`DatabaseFactory` for tests that run on SQLite only (AppTest pages on a file)."""
    return DatabaseFactory("sqlite", tmp_path_factory.mktemp("db-sqlite-only"))


@pytest.fixture
def sqlite_engine(sqlite_factory: DatabaseFactory) -> Iterator[Engine]:
    """A fresh, migrated SQLite database (for tests that need only one backend): a copy of a
    file migrated once per session."""
    eng = db.make_engine(sqlite_factory.new_url("unit"))
    yield eng
    eng.dispose()


def _seed_small_demo(url: str) -> None:
    from kpialign.demo import seed as demo

    eng = db.make_engine(url)
    demo.seed_demo(eng, scale="small", seed=7)
    eng.dispose()


@pytest.fixture(scope="session")
def demo_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The small demo (seed 7) in a SQLite file, seeded once per session (AppTest and browser tests)."""
    path = tmp_path_factory.mktemp("demo-sqlite") / "demo.db"
    url = f"sqlite:///{path}"
    eng = db.make_engine(url)
    db.migrate(eng)
    eng.dispose()
    _seed_small_demo(url)
    return url


def sqlite_copy(url: str, dst: Path) -> str:
    """A consistent copy of a SQLite database (online backup via VACUUM INTO)."""
    # Plain sqlite3 in autocommit: the engine's "begin" hook would wrap VACUUM in a transaction,
    # which SQLite refuses ("cannot VACUUM from within a transaction").
    src = sqlite3.connect(make_url(url).database or "", isolation_level=None)
    try:
        src.execute("VACUUM INTO ?", (str(dst),))
    finally:
        src.close()
    return f"sqlite:///{dst}"


def add_unit_manager(url: str, *, email: str, department: str) -> int:
    """Add an employee of ``department`` who manages it (through the service the admin page uses); returns the id."""
    from kpialign.demo.seed import DEMO_PASSWORD
    from kpialign.models import Department
    from kpialign.services import accounts

    eng = db.make_engine(url)
    with db.write_session(eng) as s:
        dept_id = s.exec(select(Department.id).where(Department.name == department)).one()
        a = accounts.create_user(
            session=s,
            email=email,
            name="Mia Manager",
            roles=["employee"],
            password=DEMO_PASSWORD,
            department_id=dept_id,
        )
        s.flush()
        accounts.set_manager_units(session=s, account_id=a.id, department_ids=[dept_id], actor="test")
        account_id = a.id
    eng.dispose()
    return account_id


@pytest.fixture(scope="session")
def demo_url(db_factory: DatabaseFactory, request: pytest.FixtureRequest) -> str:
    """The small demo organisation (seed 7) on the current backend, seeded once per session."""
    if db_factory.backend == "sqlite":
        return request.getfixturevalue("demo_sqlite_url")
    url = db_factory.new_url("demo")
    _seed_small_demo(url)
    return url


@pytest.fixture
def demo_engine(demo_url: str) -> Iterator[Engine]:
    """The shared demo database. Read-only by convention: tests that write use ``engine``."""
    eng = db.make_engine(demo_url)
    yield eng
    eng.dispose()


@pytest.fixture
def demo_copy_url(db_factory: DatabaseFactory, demo_url: str) -> Iterator[str]:
    """A private copy of the demo database that a test may change."""
    if db_factory.backend == "sqlite":
        src = Path(make_url(demo_url).database or "")
        yield sqlite_copy(demo_url, src.with_name(f"copy-{uuid.uuid4().hex[:8]}.db"))
    else:
        name = f"{_PREFIX}democopy_{uuid.uuid4().hex[:8]}"
        template = make_url(demo_url).database
        with db_factory._admin.connect() as conn:
            conn.execute(
                text(
                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{template}' AND pid <> pg_backend_pid()"
                )
            )
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        url = db_factory._pg_url(name)
        yield url
        db_factory.drop(url)


# ------------------------------------------------------------------------------- browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the whole session (one Playwright instance per process: a
    second sync_playwright() in the same thread fails)."""
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing and CI=true: browser tests must run in CI.")
        pytest.skip("Chromium not installed (run `make test`, which installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
