"""Engine, sessions and migrations.

SQLite is the embedded default. It is configured for a multi-threaded web server:
WAL (readers never block the writer), ``busy_timeout`` (a writer waits for the lock instead
of failing), ``foreign_keys=ON``, and write transactions that start with
``BEGIN IMMEDIATE``: a deferred ``BEGIN`` that reads and then writes fails with
``SQLITE_BUSY`` when another writer got in between, and the work is lost.

PostgreSQL is used through ``KPIALIGN_DATABASE_URL=postgresql+psycopg://...``.

Every write transaction opened with :func:`write_session` bumps the data version stored in
the database; per-process caches key their entries by it, so several replicas see each
other's writes on their next rerun.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

from kpialign.config import PROJECT_ROOT, load_settings, resolve_sqlite_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
_IMMEDIATE = "kpialign_immediate"
_MIGRATION_LOCK = 7_253_101  # PostgreSQL advisory lock key held while migrating


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    """Create an engine for ``url`` (default: the configured database)."""
    url = resolve_sqlite_url(url or load_settings().database_url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo=echo)
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    memory = url in {"sqlite://", "sqlite:///:memory:"}
    kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    if memory:
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, echo=echo, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # pragma: no cover - exercised via every test
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # pragma: no cover - exercised via every test
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reading; nothing it does is committed."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@contextmanager
def write_session(engine: Engine, *, bump: bool = True) -> Iterator[Session]:
    """One write transaction: commits on success, rolls back on any exception.

    On SQLite it starts with ``BEGIN IMMEDIATE``, so a read-then-write transaction holds the
    write lock from its first statement. ``bump`` increments the data version (caches in every
    replica become stale); pass ``bump=False`` for writes no page shows (sign-in throttling).
    """
    bind = engine.execution_options(**{_IMMEDIATE: True}) if is_sqlite(engine) else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            if bump:
                bump_data_version(session)
            session.commit()
        except BaseException:
            session.rollback()
            raise


def bump_data_version(session: Session) -> None:
    """Increment the single data version row (created by the first migration)."""
    session.execute(text("UPDATE data_version SET version = version + 1 WHERE id = 1"))


def data_version(engine: Engine) -> int:
    """The current data version; cache keys include it so that writes invalidate caches."""
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT version FROM data_version WHERE id = 1")).scalar_one())


# ---------------------------------------------------------------------------- migrations


def alembic_config(url: str) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def migrate(engine_or_url: Engine | str) -> None:
    """Upgrade the database to the newest migration (idempotent)."""
    engine = engine_or_url if isinstance(engine_or_url, Engine) else make_engine(engine_or_url)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    # Replicas starting together: one applies the migrations, the others wait, then find nothing
    # to do. SQLite: BEGIN IMMEDIATE takes the write lock first; PostgreSQL: an advisory lock.
    bind = engine.execution_options(**{_IMMEDIATE: True}) if is_sqlite(engine) else engine
    with bind.begin() as conn:
        if not is_sqlite(engine):
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    if engine is not engine_or_url:
        engine.dispose()


def is_empty(engine: Engine) -> bool:
    """True when the database has no department yet (the demo may be seeded)."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM department")).scalar_one() == 0


def has_schema(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")


def friendly_error(exc: BaseException) -> str:
    """A message for users that reveals no SQL, paths or credentials."""
    msg = str(getattr(exc, "orig", exc)).lower()
    if "readonly" in msg or "read-only" in msg or "read only" in msg:
        return "The database is read-only at the moment, so nothing could be saved. Please tell your administrator."
    if "disk" in msg and ("full" in msg or "space" in msg):
        return "The server's disk is full, so nothing could be saved. Please tell your administrator."
    if "locked" in msg or "busy" in msg:
        return "The database is busy. Please try again in a moment."
    return "The database is not reachable at the moment. Please try again in a minute; nothing was saved."
