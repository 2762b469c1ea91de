"""Leaders (and managers for their units) read comments: per department and closed wave, only at the
comment threshold, in random order, no dates, no other answers; never for an open wave; every read audited."""

from __future__ import annotations

import dataclasses

import pytest
from sqlmodel import select

from kpialign import db
from kpialign.models import AuditEvent
from kpialign.services import surveys
from kpialign.services.accounts import UserContext
from tests.unit.survey_helpers import invite, make_wave, seed_org, submit

LEADER = UserContext(account_id=1, email="lena@example.org", name="Lena", roles=frozenset({"leader"}))


def _manager(*units: int) -> UserContext:
    return UserContext(
        account_id=2, email="max@example.org", name="Max", roles=frozenset({"manager"}),
        managed_departments=frozenset(units),
    )  # fmt: skip


@pytest.fixture
def wave(engine, db_factory):
    """Sales: 12 comments; Finance 4 and Tiny 7 (each below the threshold of 10, together above it,
    so that complementary suppression leaves Sales visible). Returns (wave id, dept ids)."""
    return db_factory.restore(engine, _commented_wave)


def _commented_wave(engine):
    depts = seed_org(engine)
    wid = make_wave(engine, depts)
    for i, token in enumerate(invite(engine, wid, "Sales", 14)):
        submit(engine, token, comment=f"Sales comment {i:02d}" if i < 12 else None)
    for i, token in enumerate(invite(engine, wid, "Finance", 6)):
        submit(engine, token, comment=f"Finance comment {i}" if i < 4 else None)
    for i, token in enumerate(invite(engine, wid, "Tiny", 7)):
        submit(engine, token, comment=f"Tiny comment {i}")
    return wid, depts


def _read(engine, wid, dept, user=LEADER):
    with db.write_session(engine) as s:
        return surveys.read_comments(session=s, wave_id=wid, department_id=dept, user=user)


def _close(engine, wid):
    with db.write_session(engine) as s:
        surveys.close_wave(session=s, wave_id=wid, actor="hr")


def test_an_open_waves_comments_are_never_listed_or_read(engine, wave) -> None:
    wid, depts = wave
    with db.read_session(engine) as s:
        assert surveys.comment_waves(session=s).empty
        with pytest.raises(surveys.SurveyError, match="once it is closed"):
            surveys.comment_departments(session=s, wave_id=wid)
    with pytest.raises(surveys.SurveyError, match="once it is closed"):
        _read(engine, wid, depts["Sales"])


def test_a_leader_reads_a_departments_comments_of_a_closed_wave_and_the_read_is_audited(engine, wave) -> None:
    wid, depts = wave
    _close(engine, wid)
    with db.read_session(engine) as s:
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "read_comments")).all() == []
        listed = surveys.comment_departments(session=s, wave_id=wid)
    assert listed[["department", "comments"]].values.tolist() == [["Sales", 12]]  # Finance, Tiny are not even named
    found = _read(engine, wid, depts["Sales"])
    assert sorted(found.texts) == [f"Sales comment {i:02d}" for i in range(12)]
    assert [f.name for f in dataclasses.fields(found)] == ["wave", "department", "texts"]  # no dates, no answers
    with db.read_session(engine) as s:
        [event] = s.exec(select(AuditEvent).where(AuditEvent.action == "read_comments")).all()
    assert event.actor == LEADER.email and "Sales" in event.detail and "12" in event.detail


def test_comments_come_in_a_fresh_random_order(engine, wave) -> None:
    wid, depts = wave
    _close(engine, wid)
    orders = {_read(engine, wid, depts["Sales"]).texts for _ in range(4)}
    assert len(orders) > 1  # 12! orders: four identical shuffles would be a 1 in 10^26 event
    assert all(sorted(o) == sorted(next(iter(orders))) for o in orders)


def test_a_department_below_the_comment_threshold_is_refused(engine, wave) -> None:
    wid, depts = wave
    _close(engine, wid)
    with pytest.raises(surveys.SurveyError, match="fewer than 10 comments"):
        _read(engine, wid, depts["Finance"])


def test_a_manager_reads_only_the_units_they_manage(engine, wave) -> None:
    wid, depts = wave
    _close(engine, wid)
    with pytest.raises(surveys.SurveyError, match="units you manage"):
        _read(engine, wid, depts["Sales"], user=_manager(depts["Finance"]))
    assert len(_read(engine, wid, depts["Sales"], user=_manager(depts["Sales"])).texts) == 12
    with db.read_session(engine) as s:
        assert surveys.comment_departments(session=s, wave_id=wid, department_ids={depts["Finance"]}).empty
    employee = UserContext(account_id=3, email="e@example.org", name="", roles=frozenset({"employee"}))
    with pytest.raises(surveys.SurveyError):
        _read(engine, wid, depts["Sales"], user=employee)
