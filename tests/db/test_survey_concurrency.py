"""Concurrent survey submissions: one token, one response — on SQLite and PostgreSQL.

Each thread uses its own session (write_session); a barrier releases them together.
"""

from __future__ import annotations

import threading

from sqlalchemy import text

from kpialign import db
from kpialign.services import surveys
from tests.unit.survey_helpers import KEY, TODAY, invite, likert_answers, make_wave, seed_org


def _run_concurrently(engine, tokens: list[str]) -> tuple[int, list[str]]:
    answers = likert_answers(engine)
    barrier = threading.Barrier(len(tokens))
    ok: list[int] = []
    refused: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(token: str) -> None:
        barrier.wait()
        try:
            with db.write_session(engine) as s:
                surveys.submit_response(session=s, token=token, key=KEY, answers=answers, today=TODAY)
            with lock:
                ok.append(1)
        except surveys.LinkProblem as exc:
            with lock:
                refused.append(exc.reason)
        except BaseException as exc:  # pragma: no cover - reported by the assertion below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [], errors
    return len(ok), refused


def _counts(engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(text("SELECT count(*) FROM response")).scalar_one(),
            conn.execute(text("SELECT count(DISTINCT response_id) FROM answer")).scalar_one(),
            conn.execute(text("SELECT count(*) FROM invitation WHERE used = true")).scalar_one(),
        )


def test_50_different_tokens_give_exactly_50_responses(engine):
    depts = seed_org(engine, departments=("Sales",))
    wid = make_wave(engine, depts)
    tokens = invite(engine, wid, "Sales", 50)
    ok, refused = _run_concurrently(engine, tokens)
    assert (ok, refused) == (50, [])
    assert _counts(engine) == (50, 50, 50)


def test_the_same_token_10_times_gives_exactly_1_response(engine):
    depts = seed_org(engine, departments=("Sales",))
    wid = make_wave(engine, depts)
    token = invite(engine, wid, "Sales", 1)[0]
    ok, refused = _run_concurrently(engine, [token] * 10)
    assert ok == 1
    assert refused == ["used"] * 9
    assert _counts(engine) == (1, 1, 1)
