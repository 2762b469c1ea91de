"""A wave closed while someone submits: the response is committed only while its wave is open.

The race is staged with two real transactions on the same database: the submit has checked its
link (or account) and written its response but not committed yet, when HR closes the wave from
another connection. The close must wait for the submit (so the response belongs to a wave that
was open when it was committed); a submit that starts while a close is in flight must wait for
it and then be refused. On SQLite ``BEGIN IMMEDIATE`` serialises the two; on PostgreSQL the
submit's share lock on the wave row does.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import func, select

from kpialign import db
from kpialign.models import Account, Response, SurveyWave
from kpialign.services import surveys
from tests.unit.survey_helpers import KEY, TODAY, invite, likert_answers, make_wave, seed_org


def _wait_until_blocked_or_done(engine, thread: threading.Thread) -> None:
    """Return once ``thread`` has finished or (PostgreSQL) waits on a row lock; never asserts on time."""
    deadline = time.monotonic() + 15
    while thread.is_alive() and time.monotonic() < deadline:
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                waiting = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                ).scalar_one()
            if waiting:
                return
        thread.join(0.05)


def _close_in_thread(engine, wave_id: int, log: list[str]) -> threading.Thread:
    def close() -> None:
        with db.write_session(engine) as s:
            surveys.close_wave(session=s, wave_id=wave_id, actor="hr@example.org")
        log.append("closed")

    thread = threading.Thread(target=close, daemon=True)
    thread.start()
    return thread


def _responses(engine, wave_id: int) -> int:
    with db.read_session(engine) as s:
        return int(s.exec(select(func.count()).select_from(Response).where(Response.wave_id == wave_id)).one())


@pytest.mark.parametrize("how", ["link", "account"])
def test_a_close_that_arrives_during_a_submit_waits_until_the_response_is_committed(engine, how) -> None:
    depts = seed_org(engine)
    wid = make_wave(engine, depts, names=["Sales", "Finance"])
    token = invite(engine, wid, "Sales", 5)[0]
    with db.write_session(engine) as s:
        s.add(Account(email="emma@example.org", name="Emma", department_id=depts["Finance"]))
    with db.read_session(engine) as s:
        account_id = int(s.exec(select(Account.id)).one())
    log: list[str] = []
    with db.write_session(engine) as s:
        who = {"token": token, "key": KEY} if how == "link" else {"account_id": account_id, "wave_id": wid}
        surveys.submit_response(session=s, answers=likert_answers(engine), today=TODAY, **who)
        if engine.dialect.name == "postgresql":
            thread = _close_in_thread(engine, wid, log)
            _wait_until_blocked_or_done(engine, thread)
        else:  # the close cannot even begin while this transaction holds SQLite's write lock
            thread = _close_in_thread(engine, wid, log)
            thread.join(0.3)
    log.append("submitted")
    thread.join(30)
    assert log == ["submitted", "closed"]
    assert _responses(engine, wid) == 1
    with db.read_session(engine) as s:
        assert s.get(SurveyWave, wid).status == "closed"


def test_a_submit_that_arrives_during_a_close_waits_for_it_and_is_refused(engine) -> None:
    depts = seed_org(engine)
    wid = make_wave(engine, depts, names=["Sales"])
    token = invite(engine, wid, "Sales", 5)[0]
    outcome: list[str] = []

    def submit() -> None:
        try:
            with db.write_session(engine) as s:
                surveys.submit_response(session=s, token=token, key=KEY, answers=likert_answers(engine), today=TODAY)
            outcome.append("stored")
        except surveys.LinkProblem as exc:
            outcome.append(exc.reason)

    with db.write_session(engine) as s:
        surveys.close_wave(session=s, wave_id=wid, actor="hr@example.org")
        s.flush()
        thread = threading.Thread(target=submit, daemon=True)
        thread.start()
        _wait_until_blocked_or_done(engine, thread) if engine.dialect.name == "postgresql" else thread.join(0.3)
    thread.join(30)
    assert outcome == ["closed"]
    assert _responses(engine, wid) == 0


def test_a_submit_after_the_closing_day_is_refused_even_when_the_wave_is_still_open(engine) -> None:
    depts = seed_org(engine)
    wid = make_wave(engine, depts, names=["Sales"])
    token = invite(engine, wid, "Sales", 5)[0]
    with pytest.raises(surveys.LinkProblem), db.write_session(engine) as s:
        surveys.submit_response(
            session=s, token=token, key=KEY, answers=likert_answers(engine), today=TODAY + timedelta(days=30)
        )
    assert _responses(engine, wid) == 0
