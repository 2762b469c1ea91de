"""Backup and restore on SQLite and PostgreSQL: online backup under writers, verified restore."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from kpialign import backup, cli, db
from kpialign.models import AuditEvent, Department
from tests.conftest import DatabaseFactory

WRITERS = 4
PER_WRITER = 40


def _counts(url: str) -> tuple[int, int, int]:
    """(departments, test audit events, data version) of the database at ``url``."""
    eng = db.make_engine(url)
    try:
        with eng.connect() as conn:
            depts = conn.execute(select(func.count()).select_from(Department)).scalar_one()
            events = conn.execute(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "scale.test")
            ).scalar_one()
        return int(depts), int(events), db.data_version(eng)
    finally:
        eng.dispose()


def _write_one(engine, name: str) -> None:
    """One transaction that writes two rows: a consistent snapshot has both or neither."""
    with db.write_session(engine) as session:
        session.add(Department(name=name, headcount=1))
        session.add(AuditEvent(actor="test", action="scale.test", entity="department", entity_id=name))


def _seeded(db_factory: DatabaseFactory, n: int) -> str:
    url = db_factory.new_url("live")
    eng = db.make_engine(url)
    for i in range(n):
        _write_one(eng, f"seed-{i}")
    eng.dispose()
    return url


def test_backup_while_four_writers_insert_then_restore(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    url = db_factory.new_url("live")
    engine = db.make_engine(url)
    committed = threading.Semaphore(0)
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(PER_WRITER):
                _write_one(engine, f"w{w}-{i}")
                committed.release()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for _ in range(20):  # the backup starts once writes are flowing
        assert committed.acquire(timeout=30)
    result = backup.backup(tmp_path / "during.bak", url=url)
    for t in threads:
        t.join(timeout=60)
    assert not errors
    total = WRITERS * PER_WRITER
    assert _counts(url)[:2] == (total, total)
    assert result.path.is_file() and result.revision in backup.known_revisions()

    # The backup taken under load restores to a consistent snapshot: every transaction whole.
    scratch = db_factory.new_url("scratch")
    backup.restore(result.path, url=scratch)
    depts, events, _ = _counts(scratch)
    assert depts == events
    assert 20 <= depts <= total

    # Restore into the live database while its engine (a running portal) stays connected.
    before = _counts(url)[2]
    restored = backup.restore(result.path, url=url)
    assert _counts(url)[:2] == (depts, events)
    assert restored.data_version > before  # caches keyed by the old version can never match again
    with db.read_session(engine) as session:  # the old engine sees the restored data
        assert session.execute(select(func.count()).select_from(Department)).scalar_one() == depts
    _write_one(engine, "after-restore")  # and can write again
    assert _counts(url)[0] == depts + 1
    engine.dispose()


def _damaged_copies(src: Path, tmp_path: Path) -> list[Path]:
    data = src.read_bytes()
    truncated = tmp_path / "truncated.bak"
    truncated.write_bytes(data[: int(len(data) * 0.9)])
    cut_early = tmp_path / "cut-early.bak"
    cut_early.write_bytes(data[:3000])
    corrupted = bytearray(data)
    for i in range(len(data) // 3, len(data), 61):
        corrupted[i] ^= 0x5A
    damaged = tmp_path / "corrupted.bak"
    damaged.write_bytes(bytes(corrupted))
    garbage = tmp_path / "garbage.bak"
    garbage.write_bytes(b"this is not a backup\n" * 100)
    empty = tmp_path / "empty.bak"
    empty.write_bytes(b"")
    return [truncated, cut_early, damaged, garbage, empty]


def test_damaged_backup_is_refused_and_live_database_untouched(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    url = _seeded(db_factory, 30)
    good = backup.backup(tmp_path / "good.bak", url=url).path
    eng = db.make_engine(url)
    for i in range(5):  # the live database moves on after the backup
        _write_one(eng, f"later-{i}")
    eng.dispose()
    live_before = _counts(url)
    assert live_before[:2] == (35, 35)

    for bad in _damaged_copies(good, tmp_path):
        with pytest.raises(backup.BackupError) as info:
            backup.restore(bad, url=url)
        assert "Nothing was changed" in str(info.value) or "not changed" in str(info.value)
        assert _counts(url) == live_before, bad.name

    assert backup.verify(good, url=url) in backup.known_revisions()
    backup.restore(good, url=url)
    assert _counts(url)[:2] == (30, 30)


def test_backup_from_an_unknown_release_is_refused(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    url = _seeded(db_factory, 3)
    eng = db.make_engine(url)
    with db.write_session(eng) as session:
        session.execute(text("UPDATE alembic_version SET version_num = 'from_the_future'"))
    eng.dispose()
    result = backup.backup(tmp_path / "future.bak", url=url)  # backing up still works
    assert result.revision == "from_the_future"
    target = _seeded(db_factory, 2)
    before = _counts(target)
    with pytest.raises(backup.BackupError, match="does not know"):
        backup.restore(result.path, url=target)
    assert _counts(target) == before


def test_backup_of_the_other_backend_is_refused(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    """A SQLite file given to a PostgreSQL restore (and a pg_dump to SQLite) is refused."""
    url = _seeded(db_factory, 2)
    other = tmp_path / "other.bak"
    if db_factory.backend == "sqlite":
        other.write_bytes(b"PGDMP" + b"\x01" * 2000)
    else:
        sqlite_url = f"sqlite:///{tmp_path / 'src.db'}"
        db.migrate(sqlite_url)
        backup.backup(other, url=sqlite_url, force=True)
    before = _counts(url)
    with pytest.raises(backup.BackupError):
        backup.restore(other, url=url)
    assert _counts(url) == before


def test_cli_backup_and_restore(
    db_factory: DatabaseFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _seeded(db_factory, 4)
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", url)
    dest = tmp_path / "cli.bak"
    assert cli.main(["backup", str(dest)]) == 0
    assert "Backup written" in capsys.readouterr().out

    assert cli.main(["backup", str(dest)]) == 1  # never overwrites without --force
    assert "--force" in capsys.readouterr().err
    assert cli.main(["backup", str(dest), "--force"]) == 0

    eng = db.make_engine(url)
    _write_one(eng, "extra")
    eng.dispose()
    assert cli.main(["restore", "--check-only", str(dest)]) == 0
    assert _counts(url)[0] == 5

    bad = tmp_path / "bad.bak"
    bad.write_bytes(dest.read_bytes()[:1000])
    assert cli.main(["restore", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
    assert _counts(url)[0] == 5

    assert cli.main(["restore", str(tmp_path / "missing.bak")]) == 1
    assert "does not exist" in capsys.readouterr().err

    assert cli.main(["restore", str(dest)]) == 0
    assert _counts(url)[0] == 4


def test_backup_from_an_older_release_is_upgraded_after_restore(tmp_path: Path) -> None:
    """A backup at the first schema revision restores, and the database ends at the newest one."""
    from alembic import command
    from alembic.script import ScriptDirectory

    old_url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(db.alembic_config(old_url), "0001")
    old = backup.backup(tmp_path / "old.bak", url=old_url)
    assert old.revision == "0001"
    live_url = f"sqlite:///{tmp_path / 'live.db'}"
    db.migrate(live_url)
    restored = backup.restore(old.path, url=live_url)
    assert restored.revision == "0001"
    head = ScriptDirectory.from_config(db.alembic_config(live_url)).get_current_head()
    eng = db.make_engine(live_url)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head
    eng.dispose()
