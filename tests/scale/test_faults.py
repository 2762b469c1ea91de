"""Faults: database down at start and mid-session, read-only and full database, a server killed mid-burst.

Everything runs on loopback and is bounded: a database "outage" is a TCP forwarder in front of
the test PostgreSQL server that refuses and resets connections (tests/scale/proxy.py); a full
disk is SQLite's ``PRAGMA max_page_count`` (SQLITE_FULL); a read-only database is SQLite opened
read-only, which is what SQLite falls back to for a file it may not write (the tests run as
root, for whom ``chmod 444`` changes nothing).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from streamlit.testing.v1 import AppTest

from kpialign import db
from kpialign.core.security import hash_token
from kpialign.models import Answer, Department, Invitation, Objective, Question, Response
from kpialign.services import surveys
from tests.conftest import DatabaseFactory, require_postgres
from tests.scale.proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
KEY = b"fault-test-key"
UNREACHABLE = "The database is not reachable at the moment"


# --------------------------------------------------------------------- full / read-only


def _limited_engine(url: str, pragma: str):
    """An engine whose every connection runs ``pragma`` (max_page_count / query_only)."""
    eng = db.make_engine(url)

    @event.listens_for(eng, "connect")
    def _limit(dbapi_conn, _record) -> None:
        if "{page_count}" in pragma:
            pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
            dbapi_conn.execute(pragma.format(page_count=pages + 1))
        else:
            dbapi_conn.execute(pragma)

    return eng


def _big_write(session) -> None:
    session.add(Department(name="Before the big row", headcount=1))
    session.flush()
    session.execute(text("INSERT INTO setting(key, value) VALUES ('big', :v)"), {"v": "x" * 400_000})


def _sqlite_url(tmp_path: Path, name: str) -> str:
    url = f"sqlite:///{tmp_path / name}"
    db.migrate(url)
    return url


def test_full_disk_gives_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    """SQLite only: SQLITE_FULL through max_page_count (PostgreSQL's disk is the server's)."""
    url = _sqlite_url(tmp_path, "full.db")
    version = db.data_version(db.make_engine(url))
    eng = _limited_engine(url, "PRAGMA max_page_count={page_count}")
    with pytest.raises(OperationalError) as info, db.write_session(eng) as session:
        _big_write(session)
    eng.dispose()
    message = db.friendly_error(info.value)
    assert "disk is full" in message and "nothing could be saved" in message
    assert "INSERT" not in message and "/" not in message  # no SQL, no paths
    fresh = db.make_engine(url)
    with fresh.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
        assert conn.execute(select(func.count()).select_from(Department)).scalar_one() == 0  # rolled back whole
    assert db.data_version(fresh) == version
    with db.write_session(fresh) as session:  # with space again, writing works
        _big_write(session)
    fresh.dispose()


def test_read_only_database_gives_a_clear_error(tmp_path: Path) -> None:
    url = _sqlite_url(tmp_path, "ro.db")
    path = make_url(url).database
    ro = db._sqlite_engine(f"sqlite:///file:{path}?mode=ro&uri=true", echo=False)
    assert db.data_version(ro) == 0  # reading still works
    with pytest.raises(OperationalError) as info, db.write_session(ro) as session:
        _big_write(session)
    ro.dispose()
    assert "read-only" in db.friendly_error(info.value)


def _page_that_writes() -> None:  # run by AppTest as a page script
    import os as _os

    import streamlit as st
    from sqlalchemy import event as _event
    from sqlalchemy import text as _text

    from kpialign.ui import data

    eng = data.engine()
    pragma = _os.environ["FAULT_PRAGMA"]

    @_event.listens_for(eng, "connect")
    def _limit(dbapi_conn, _record) -> None:
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(pragma.format(page_count=pages + 1))

    eng.dispose()  # new connections get the pragma
    with data.writing() as session:
        session.execute(_text("INSERT INTO setting(key, value) VALUES ('big', :v)"), {"v": "x" * 400_000})
    st.success("saved")


@pytest.mark.parametrize(
    ("pragma", "expected"),
    [("PRAGMA max_page_count={page_count}", "disk is full"), ("PRAGMA query_only=1", "read-only")],
)
def test_portal_shows_full_or_read_only_database_as_a_message(
    pragma: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _sqlite_url(tmp_path, "page.db")
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", url)
    monkeypatch.setenv("FAULT_PRAGMA", pragma)
    at = AppTest.from_function(_page_that_writes, default_timeout=60).run()
    assert not at.exception
    assert [e.value for e in at.error] and expected in at.error[0].value
    assert not at.success
    with db.make_engine(url).connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM setting WHERE key = 'big'").scalar_one() == 0


def test_replicas_with_sqlite_are_refused_on_the_portal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    monkeypatch.setenv("KPIALIGN_REPLICAS", "2")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert "PostgreSQL" in at.error[0].value and "KPIALIGN_REPLICAS" in at.error[0].value
    assert not (tmp_path / "r.db").exists()  # nothing was created or migrated


# ------------------------------------------------------------------- outage (PostgreSQL)


@pytest.mark.browser
@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_database_down_at_start_and_mid_session_then_recovers(
    backend: str, demo_copy_url: str, browser, tmp_path: Path
) -> None:
    """The real portal behind a TCP forwarder: refused at start, reset mid-session, back again."""
    from tests.browser.conftest import screenshot, start_portal, stop_portal, wait_for_app
    from tests.scale.conftest import NO_WATCHER, rerun, sign_in

    require_postgres()
    real = make_url(demo_copy_url)
    proxy = TcpProxy(real.host or "127.0.0.1", int(real.port or 5432))
    via_proxy = real.set(port=proxy.port).render_as_string(hide_password=False)
    base, proc = start_portal(via_proxy, tmp_path, env_extra=NO_WATCHER)  # the database is down from the start
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(base)
        wait_for_app(page)
        page.get_by_text(UNREACHABLE).wait_for()
        assert page.locator("[data-testid='stException']").count() == 0
        assert "Traceback" not in page.content()
        screenshot(page, "fault-db-down-at-start")

        proxy.up()  # the database comes back: the next run works without restarting the portal
        sign_in(page, base, "leader")
        page.get_by_role("heading", name="Organisation at a glance").wait_for()

        proxy.down()  # mid-session: every connection is reset and new ones are refused
        rerun(page)
        page.get_by_text(UNREACHABLE).wait_for()
        assert page.locator("[data-testid='stException']").count() == 0
        screenshot(page, "fault-db-down-mid-session")

        proxy.up()
        rerun(page)
        page.get_by_role("heading", name="Organisation at a glance").wait_for()
        assert page.get_by_text(UNREACHABLE).count() == 0
        page.get_by_role("button", name="Sign out").wait_for()  # still signed in: same session
    finally:
        context.close()
        stop_portal(proc)
        proxy.down()


# ------------------------------------------------------------ server killed mid-burst

_BURST = textwrap.dedent(
    """
    import sys, threading
    from datetime import date
    sys.path.insert(0, {root!r})
    from kpialign import db
    from kpialign.services import surveys
    url, key, tokens_file, answers = sys.argv[1], sys.argv[2].encode(), sys.argv[3], eval(sys.argv[4])
    tokens = open(tokens_file).read().split()
    engine = db.make_engine(url)
    lock = threading.Lock()

    def worker(part):
        for token in part:
            with db.write_session(engine) as session:
                surveys.submit_response(session=session, token=token, key=key, answers=answers, today=date.fromisoformat({today!r}))
            with lock:  # printed only after the commit returned
                print(token, flush=True)

    threads = [threading.Thread(target=worker, args=(tokens[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    """
)


def _survey_setup(url: str, n_links: int) -> tuple[int, list[str], dict[int, int]]:
    today = date.today()
    eng = db.make_engine(url)
    with db.write_session(eng) as s:
        s.add(Department(name="Operations", headcount=n_links))
        s.add(Objective(code="O1", title="Grow recurring revenue"))
        s.flush()
        surveys.sync_question_bank(session=s, actor="test")
    with db.read_session(eng) as s:
        dept = s.execute(select(Department.id)).scalar_one()
        questions = s.execute(select(Question.id, Question.kind).order_by(Question.id)).all()
    with db.write_session(eng) as s:
        wave = surveys.create_wave(
            session=s,
            name="Kill test",
            opens_on=today - timedelta(days=1),
            closes_on=today + timedelta(days=14),
            question_ids=[q.id for q in questions],
            department_ids=[dept],
            actor="test",
        )
        surveys.open_wave(session=s, wave_id=wave, actor="test")
        links = surveys.invite_department(
            session=s, wave_id=wave, department=dept, count=n_links, key=KEY, base_url="http://x", actor="test"
        )
    eng.dispose()
    tokens = [link.split("token=", 1)[1] for link in links["link"]]
    answers = {int(q.id): 4 for q in questions if q.kind == "likert5"}
    return wave, tokens, answers


def test_killing_the_writer_mid_burst_leaves_only_whole_responses(db_factory: DatabaseFactory, tmp_path: Path) -> None:
    url = db_factory.new_url("kill")
    wave, tokens, answers = _survey_setup(url, 600)
    tokens_file = tmp_path / "tokens.txt"
    tokens_file.write_text("\n".join(tokens))
    script = _BURST.format(root=str(ROOT), today=date.today().isoformat())
    proc = subprocess.Popen(
        [sys.executable, "-c", script, url, KEY.decode(), str(tokens_file), repr(answers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert proc.stdout is not None
    committed: list[str] = []
    for line in proc.stdout:  # kill as soon as the burst is well under way
        committed.append(line.strip())
        if len(committed) >= 40:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=30)
    err = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == -signal.SIGKILL, err
    assert 40 <= len(committed) < len(tokens)

    eng = db.make_engine(url)
    with db.read_session(eng) as s:
        responses = s.execute(select(func.count()).select_from(Response).where(Response.wave_id == wave)).scalar_one()
        used = s.execute(
            select(func.count()).select_from(Invitation).where(Invitation.wave_id == wave, Invitation.used)
        ).scalar_one()
        per_response = s.execute(
            select(Response.id, func.count(Answer.question_id))
            .join(Answer, Answer.response_id == Response.id, isouter=True)
            .group_by(Response.id)
        ).all()
        used_hmacs = set(s.execute(select(Invitation.token_hmac).where(Invitation.used)).scalars())
    with eng.connect() as conn:
        if db.is_sqlite(eng):
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
    eng.dispose()

    assert used == responses  # one claimed link per stored response, none claimed without one
    assert len(committed) <= responses < len(tokens)  # every acknowledged submission survived
    assert {n for _, n in per_response} == {len(answers)}  # every response whole, none half-written
    assert {hash_token(t, KEY) for t in committed} <= used_hmacs
