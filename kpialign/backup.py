"""Online backup and verified restore of the kpialign database (SQLite or PostgreSQL).

SQLite
    ``backup`` copies the live database with SQLite's online backup API
    (:meth:`sqlite3.Connection.backup`) in a single step, i.e. inside one read transaction:
    the copy is a consistent snapshot even while the portal is writing (WAL readers never block
    writers), never a file copy, which could catch a half-applied write. The copy is written to a
    temporary file next to the destination, checked, switched to a self-contained rollback
    journal and then renamed into place, so ``FILE`` is either the previous file or a complete
    backup.

    ``restore`` first checks the file (``PRAGMA integrity_check``, an ``alembic_version`` known
    to this code, the expected tables) on a private temporary copy. Only then is the copy written
    into the live database, again with the backup API: that is one write transaction on the live
    file, so a portal that is running keeps working and sees either the old or the restored data,
    never a mixture. (No ``os.replace`` of the live file: a running server would keep the old
    file open.)

PostgreSQL
    ``backup`` runs ``pg_dump --format=custom`` (a consistent snapshot: one repeatable-read
    transaction) into a temporary file that is renamed into place when ``pg_dump`` succeeded.
    ``restore`` first reads the whole archive (``pg_restore --list`` and ``pg_restore -f
    /dev/null``, which fails on a truncated or damaged archive) and checks that it holds the
    expected tables and a known ``alembic_version``. Then ``pg_restore`` writes the SQL script
    and ``psql --single-transaction -v ON_ERROR_STOP=1`` drops the current tables and runs it in
    one transaction: if anything fails, the live database is left as it was.

After a restore the data version is set above both the old and the restored value, so no
replica can mistake restored data for data it has cached, and the schema is upgraded to the
newest migration (a backup taken by an older release is brought up to date).

The PostgreSQL client programs are found through ``KPIALIGN_PG_BINDIR``, then ``PATH``, then
the newest ``/usr/lib/postgresql/*/bin``. The password is passed in the environment
(``PGPASSWORD``), never on a command line.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from kpialign import db
from kpialign.config import load_settings, resolve_sqlite_url
from kpialign.core.errors import KpialignError

# Tables every backup must contain (those of the first migration: a backup taken by an older
# release lacks tables added later, and the upgrade after the restore adds them).
REQUIRED_TABLES: tuple[str, ...] = (
    "alembic_version",
    "data_version",
    "department",
    "objective",
    "kpi",
    "kpi_objective",
    "kpi_value",
    "survey_wave",
    "question",
    "wave_question",
    "invitation",
    "response",
    "answer",
    "comment",
    "account",
    "account_role",
    "audit_event",
    "setting",
)
PG_TIMEOUT_S = 3600


class BackupError(KpialignError, RuntimeError):
    """A backup or restore was refused or failed; the message says why. The live data is unchanged."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    backend: str
    size_bytes: int
    revision: str

    def describe(self) -> str:
        return f"Backup written to {self.path} ({self.backend}, {self.size_bytes:,} bytes, schema revision {self.revision})."


@dataclass(frozen=True)
class RestoreResult:
    path: Path
    backend: str
    revision: str
    data_version: int

    def describe(self) -> str:
        return f"Restored {self.path} ({self.backend}, schema revision {self.revision}); the database is at the newest schema."


def _url(url: str | None) -> URL:
    return make_url(resolve_sqlite_url(url or load_settings().database_url))


def _is_sqlite(u: URL) -> bool:
    return u.get_backend_name() == "sqlite"


def _sqlite_path(u: URL) -> Path:
    if not u.database or u.database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up or restored.")
    return Path(u.database)


def known_revisions() -> set[str]:
    """Alembic revisions this release knows (a backup must be at one of them)."""
    script = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    return {rev.revision for rev in script.walk_revisions()}


def _check_revision(revision: str | None, path: Path) -> str:
    if not revision:
        raise BackupError(f"{path} has no schema revision (alembic_version is empty): it is not a kpialign backup.")
    if revision not in known_revisions():
        raise BackupError(
            f"{path} is at schema revision {revision}, which this release of kpialign does not know "
            "(was it taken by a newer release?). Restore it with that release."
        )
    return revision


def _check_tables(present: set[str], path: Path) -> None:
    missing = [t for t in REQUIRED_TABLES if t not in present]
    if missing:
        raise BackupError(f"{path} is not a kpialign backup: tables missing: {', '.join(missing)}.")


def _prepare_destination(dest: Path, *, force: bool) -> Path:
    dest = Path(dest).expanduser().resolve()
    if dest.is_dir():
        raise BackupError(f"{dest} is a directory; give a file name for the backup.")
    if dest.exists() and not force:
        raise BackupError(f"{dest} already exists; choose another name or pass --force to replace it.")
    if not dest.parent.is_dir():
        raise BackupError(f"The folder {dest.parent} does not exist.")
    return dest


@contextmanager
def _temp_path(folder: Path, suffix: str) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(prefix=".kpialign-", suffix=suffix, dir=folder)
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        for p in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
            with suppress(FileNotFoundError):
                p.unlink()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------ public API


def backup(dest: str | Path, *, url: str | None = None, force: bool = False) -> BackupResult:
    """Write a consistent backup of the database at ``url`` (default: configured) to ``dest``."""
    u = _url(url)
    dest = _prepare_destination(Path(dest), force=force)
    if _is_sqlite(u):
        return _sqlite_backup(u, dest)
    return _pg_backup(u, dest)


def verify(path: str | Path, *, url: str | None = None) -> str:
    """Check a backup file for the backend of ``url``; return its schema revision or raise BackupError."""
    u = _url(url)
    path = _existing(Path(path))
    if _is_sqlite(u):
        with _temp_path(path.parent if os.access(path.parent, os.W_OK) else Path(tempfile.gettempdir()), ".db") as tmp:
            return _sqlite_copy_checked(path, tmp)
    return _pg_verify(u, path)


def restore(src: str | Path, *, url: str | None = None) -> RestoreResult:
    """Replace the database at ``url`` by the backup ``src``, after checking the backup."""
    u = _url(url)
    src = _existing(Path(src))
    if _is_sqlite(u):
        return _sqlite_restore(u, src)
    return _pg_restore(u, src)


def _existing(path: Path) -> Path:
    path = path.expanduser().resolve()
    if not path.is_file():
        raise BackupError(f"{path} does not exist or is not a file.")
    if not os.access(path, os.R_OK):
        raise BackupError(f"{path} cannot be read (permissions).")
    return path


def _after_restore(u: URL, old_version: int | None, restored_version: int) -> int:
    """Upgrade the schema and move the data version past every value a cache may have seen."""
    engine = db.make_engine(u.render_as_string(hide_password=False))
    try:
        db.migrate(engine)
        new_version = max(old_version or 0, restored_version) + 1
        with db.write_session(engine, bump=False) as session:
            session.execute(text("UPDATE data_version SET version = :v WHERE id = 1"), {"v": new_version})
        return new_version
    finally:
        engine.dispose()


def _live_version(u: URL) -> int | None:
    """The live database's data version, or None when it has none yet (new or empty database)."""
    engine = db.make_engine(u.render_as_string(hide_password=False))
    try:
        if not db.has_schema(engine):
            return None
        return db.data_version(engine)
    except Exception:  # a damaged or foreign live database: the restore replaces it anyway
        return None
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------- SQLite


def _sqlite_connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=db.SQLITE_BUSY_TIMEOUT_MS / 1000)
    else:
        conn = sqlite3.connect(path, timeout=db.SQLITE_BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout={db.SQLITE_BUSY_TIMEOUT_MS}")
    return conn


def _sqlite_check(conn: sqlite3.Connection, path: Path, *, known: bool = True) -> str:
    """Integrity, tables and revision of an open SQLite database; returns the revision.

    ``known``: the revision must be one this release knows (needed to restore, not to back up).
    """
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        if [r[0] for r in rows] != ["ok"]:
            detail = "; ".join(str(r[0]) for r in rows[:3])
            raise BackupError(f"{path} is damaged (integrity check: {detail}). Nothing was changed.")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        _check_tables(tables, path)
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database ({exc}). Nothing was changed.") from exc
    if not known and row and row[0]:
        return str(row[0])
    return _check_revision(row[0] if row else None, path)


def _sqlite_copy_checked(src: Path, tmp: Path) -> str:
    """Copy ``src`` (opened read-only) into ``tmp`` with the backup API and check the copy."""
    try:
        with open(src, "rb") as fh:
            header = fh.read(16)
        if header != b"SQLite format 3\x00":
            raise BackupError(f"{src} is not a SQLite database file. Nothing was changed.")
        source = _sqlite_connect(src, readonly=True)
        target = _sqlite_connect(tmp)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")
            return _sqlite_check(target, src)
        finally:
            target.close()
            source.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{src} is not a readable SQLite database ({exc}). Nothing was changed.") from exc


def _sqlite_backup(u: URL, dest: Path) -> BackupResult:
    live = _sqlite_path(u)
    if not live.is_file():
        raise BackupError(f"The database file {live} does not exist.")
    if live.resolve() == dest:
        raise BackupError("The backup file cannot be the live database itself.")
    with _temp_path(dest.parent, ".db") as tmp:
        source = _sqlite_connect(live)
        target = _sqlite_connect(tmp)
        try:
            # pages=-1: the whole database in one step, i.e. one read snapshot of the WAL
            # database; concurrent writers carry on and are simply not part of this backup.
            source.backup(target, pages=-1)
            target.execute("PRAGMA journal_mode=DELETE")  # a self-contained single file
            revision = _sqlite_check(target, live, known=False)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"The backup failed: {db.friendly_error(exc)} ({exc})") from exc
        finally:
            target.close()
            source.close()
        _fsync(tmp)
        os.replace(tmp, dest)
    return BackupResult(dest, "sqlite", dest.stat().st_size, revision)


def _sqlite_restore(u: URL, src: Path) -> RestoreResult:
    live = _sqlite_path(u)
    if live.exists() and live.resolve() == src:
        raise BackupError("The backup file is the live database itself.")
    live.parent.mkdir(parents=True, exist_ok=True)
    old_version = _live_version(u) if live.exists() else None
    with _temp_path(live.parent, ".db") as tmp:
        revision = _sqlite_copy_checked(src, tmp)  # everything is checked before the live file is touched
        source = _sqlite_connect(tmp, readonly=True)
        target = _sqlite_connect(live)
        try:
            restored_version = int(source.execute("SELECT version FROM data_version WHERE id = 1").fetchone()[0])
            # One write transaction on the live file (it stays in WAL mode): running servers see
            # the old or the new database, never a mixture, and keep their open connections.
            source.backup(target, pages=-1)
            target.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            raise BackupError(
                f"The restore failed, the live database was not changed: {db.friendly_error(exc)}"
            ) from exc
        finally:
            target.close()
            source.close()
    version = _after_restore(u, old_version, restored_version)
    return RestoreResult(src, "sqlite", revision, version)


# ------------------------------------------------------------------------------ PostgreSQL


def pg_bindir() -> Path:
    """The folder holding pg_dump and pg_restore."""
    override = os.environ.get("KPIALIGN_PG_BINDIR")
    candidates: list[Path] = [Path(override)] if override else []
    on_path = shutil.which("pg_dump")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    versioned.sort(key=lambda d: [int(x) for x in re.findall(r"\d+", d)], reverse=True)
    candidates += [Path(d) for d in versioned]
    for folder in candidates:
        if (folder / "pg_dump").is_file() and (folder / "pg_restore").is_file():
            return folder
    raise BackupError(
        "pg_dump and pg_restore were not found (looked in KPIALIGN_PG_BINDIR, PATH and "
        "/usr/lib/postgresql/*/bin). Install the PostgreSQL client programs (Debian: postgresql-client)."
    )


def _pg_env(u: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and an environment holding the password."""
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    conninfo = u.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return conninfo, env


def _run(args: list[str], *, env: dict[str, str] | None = None, what: str) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=PG_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupError(f"{what} failed: {exc}") from exc
    return proc


def _stderr(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    return " | ".join(lines[-3:]) or f"exit code {proc.returncode}"


def _pg_backup(u: URL, dest: Path) -> BackupResult:
    bindir = pg_bindir()
    conninfo, env = _pg_env(u)
    with _temp_path(dest.parent, ".dump") as tmp:
        proc = _run(
            [str(bindir / "pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={tmp}", conninfo],
            env=env,
            what="pg_dump",
        )
        if proc.returncode != 0:
            raise BackupError(f"pg_dump failed: {_stderr(proc)}")
        revision = _pg_verify(u, tmp, known=False)
        _fsync(tmp)
        os.replace(tmp, dest)
    return BackupResult(dest, "postgresql", dest.stat().st_size, revision)


_TOC_TABLE = re.compile(r"^\d+;\s+\d+\s+\d+\s+TABLE\s+(\S+)\s+(\S+)\s")


def _pg_verify(u: URL, path: Path, *, known: bool = True) -> str:
    bindir = pg_bindir()
    pg_restore = str(bindir / "pg_restore")
    listing = _run([pg_restore, "--list", str(path)], what="pg_restore --list")
    if listing.returncode != 0:
        raise BackupError(f"{path} is not a readable pg_dump archive ({_stderr(listing)}). Nothing was changed.")
    tables = set()
    for line in listing.stdout.splitlines():
        m = _TOC_TABLE.match(line)
        if m:
            tables.add(m.group(2))
    _check_tables(tables, path)
    # Read every data block: a truncated or damaged archive fails here, before anything is replaced.
    full = _run([pg_restore, "--file=/dev/null", str(path)], what="pg_restore")
    if full.returncode != 0:
        raise BackupError(f"{path} is damaged or truncated ({_stderr(full)}). Nothing was changed.")
    data = _run(
        [pg_restore, "--data-only", "--table=alembic_version", "--file=-", str(path)], what="pg_restore alembic_version"
    )
    revision = None
    lines = data.stdout.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line and i + 1 < len(lines):
            value = lines[i + 1].strip()
            revision = None if value == "\\." else value
            break
    if not known and revision:
        return revision
    return _check_revision(revision, path)


def _pg_data_version(path: Path) -> int:
    data = _run(
        [str(pg_bindir() / "pg_restore"), "--data-only", "--table=data_version", "--file=-", str(path)],
        what="pg_restore data_version",
    )
    lines = data.stdout.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("COPY ") and "data_version" in line and i + 1 < len(lines):
            with suppress(ValueError, IndexError):
                return int(lines[i + 1].split("\t")[1])
    return 0


_DROP_ALL = """
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
    EXECUTE format('DROP TABLE IF EXISTS public.%I CASCADE', r.tablename);
  END LOOP;
  FOR r IN SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' LOOP
    EXECUTE format('DROP SEQUENCE IF EXISTS public.%I CASCADE', r.sequencename);
  END LOOP;
END $$;
"""


def _pg_restore(u: URL, src: Path) -> RestoreResult:
    revision = _pg_verify(u, src)
    restored_version = _pg_data_version(src)
    old_version = _live_version(u)
    bindir = pg_bindir()
    if not (bindir / "psql").is_file():
        raise BackupError(f"psql was not found next to pg_restore in {bindir}.")
    conninfo, env = _pg_env(u)
    # pg_restore writes the whole SQL script first (a failure there stops everything); psql then
    # runs it after dropping the current tables, all in one transaction (-1, ON_ERROR_STOP): on
    # any error the live database is left exactly as it was, and tables that a newer schema
    # added are not left behind.
    with _temp_path(Path(tempfile.gettempdir()), ".sql") as sql:
        script = _run(
            [str(bindir / "pg_restore"), "--no-owner", "--no-privileges", f"--file={sql}", str(src)],
            what="pg_restore",
        )
        if script.returncode != 0:
            raise BackupError(f"pg_restore failed; the live database was not changed: {_stderr(script)}")
        proc = _run(
            [
                str(bindir / "psql"), "-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1",
                "-c", _DROP_ALL, "-f", str(sql), f"--dbname={conninfo}",
            ],
            env=env,
            what="psql",
        )  # fmt: skip
    if proc.returncode != 0:
        raise BackupError(f"The restore failed; the live database was not changed: {_stderr(proc)}")
    version = _after_restore(u, old_version, restored_version)
    return RestoreResult(src, "postgresql", revision, version)
