"""Small builders shared by the survey tests: departments, objectives and a wave, on any engine."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import select

from kpialign import db
from kpialign.models import Department, Objective, Question
from kpialign.services import surveys

KEY = b"test-secret-key-for-hmac"
BASE = "https://portal.example.org"
TODAY = date(2026, 3, 10)


def seed_org(engine, departments=("Sales", "Finance", "Tiny")) -> dict[str, int]:
    """Departments and three top-level objectives; the bank synced. Returns name -> id."""
    with db.write_session(engine) as s:
        for name in departments:
            s.add(Department(name=name, headcount=20))
        for i, title in enumerate(["Grow recurring revenue", "Delight customers", "Run lean operations"]):
            s.add(Objective(code=f"O{i + 1}", title=title))
        s.flush()
        surveys.sync_question_bank(session=s, actor="test")
        return {d.name: int(d.id) for d in s.exec(select(Department)).all()}


def question_ids(engine, codes=None) -> list[int]:
    with db.read_session(engine) as s:
        qs = s.exec(select(Question).order_by(Question.id)).all()
        return [int(q.id) for q in qs if codes is None or q.code in codes]


def make_wave(
    engine, depts: dict[str, int], *, name="Spring 2026", open_it=True, min_group=5, names=None, around=TODAY
) -> int:
    """A wave over all bank questions, open from 3 days before ``around`` to 14 days after."""
    with db.write_session(engine) as s:
        wid = surveys.create_wave(
            session=s,
            name=name,
            opens_on=around - timedelta(days=3),
            closes_on=around + timedelta(days=14),
            question_ids=question_ids(engine),
            department_ids=[depts[n] for n in (names or depts)],
            min_group=min_group,
            actor="hr@example.org",
        )
        if open_it:
            surveys.open_wave(session=s, wave_id=wid, actor="hr@example.org")
    return wid


def tokens_of(links) -> list[str]:
    return [link.split("token=", 1)[1] for link in links["link"]]


def invite(engine, wid: int, dept: str, count: int) -> list[str]:
    with db.write_session(engine) as s:
        links = surveys.invite_department(
            session=s, wave_id=wid, department=dept, count=count, key=KEY, base_url=BASE, actor="hr@example.org"
        )
    return tokens_of(links)


def likert_answers(engine, value=4) -> dict[int, int]:
    with db.read_session(engine) as s:
        return {int(q.id): value for q in s.exec(select(Question).where(Question.kind == "likert5")).all()}


def submit(engine, token: str, *, value=4, comment=None, picks=None, today=TODAY):
    with db.write_session(engine) as s:
        return surveys.submit_response(
            session=s,
            token=token,
            key=KEY,
            answers=likert_answers(engine, value),
            comment=comment,
            objective_picks=picks,
            today=today,
        )
