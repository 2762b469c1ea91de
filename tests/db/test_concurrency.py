"""16 threads x 50 read-then-write transactions: 800 rows, 0 errors, no lost update, on both backends."""

from __future__ import annotations

import threading

from sqlalchemy import text

from kpialign import db

THREADS, PER_THREAD = 16, 50


def test_read_then_write_transactions_lose_nothing(engine):
    with db.write_session(engine) as s:
        s.execute(text("INSERT INTO setting (key, value) VALUES ('counter', '0')"))
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def worker(n: int) -> None:
        barrier.wait()
        for i in range(PER_THREAD):
            try:
                with db.write_session(engine) as s:
                    # Read, then write based on what was read: the pattern deferred BEGIN breaks on SQLite.
                    # FOR UPDATE locks the row on PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the lock.
                    row = s.execute(text("SELECT value FROM setting WHERE key = 'counter'" + (
                        "" if db.is_sqlite(engine) else " FOR UPDATE"))).scalar_one()  # fmt: skip
                    s.execute(text("UPDATE setting SET value = :v WHERE key = 'counter'"), {"v": str(int(row) + 1)})
                    s.execute(
                        text("INSERT INTO audit_event (at, actor, action, entity, entity_id, detail) "
                             "VALUES (:at, :actor, 'test', 'thread', :eid, '{}')"),
                        {"at": "2026-01-01 00:00:00", "actor": f"t{n}", "eid": str(i)},
                    )  # fmt: skip
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_event WHERE action = 'test'")).scalar_one() == 800
        assert conn.execute(text("SELECT value FROM setting WHERE key = 'counter'")).scalar_one() == "800"
    assert db.data_version(engine) == 1 + THREADS * PER_THREAD


def test_deferred_begin_would_have_failed(sqlite_engine):
    """Guard that the test above is meaningful: without BEGIN IMMEDIATE, SQLite raises 'database is locked'.

    Two connections both read in a deferred transaction, then both try to write: the second
    writer cannot upgrade its snapshot and fails at once (busy_timeout does not help).
    """
    import pytest
    from sqlalchemy.exc import OperationalError

    with db.write_session(sqlite_engine) as s:
        s.execute(text("INSERT INTO setting (key, value) VALUES ('c', '0')"))
    c1 = sqlite_engine.connect()
    c2 = sqlite_engine.connect()
    try:
        c1.begin()
        c2.begin()
        c1.execute(text("SELECT value FROM setting")).all()
        c2.execute(text("SELECT value FROM setting")).all()
        c1.execute(text("UPDATE setting SET value = '1'"))
        with pytest.raises(OperationalError):
            c2.execute(text("UPDATE setting SET value = '2'"))
    finally:
        c1.close()
        c2.close()
