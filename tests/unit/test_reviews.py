"""Reviews (record, sign off, lock) and "did it work?" for KPI and survey-item actions, with
the statistics checked against independent references (scipy, pymannkendall)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pymannkendall
import pytest
from scipy import stats as sps

from kpialign import audit, db
from kpialign.core.periods import periods_between
from kpialign.models import Question
from kpialign.services import actions, measurements, period_locks, reviews, surveys
from kpialign.services.accounts import UserContext
from kpialign.services.measurements import EditScope, Entry
from kpialign.services.reviews import ReviewError
from tests.unit import survey_helpers as sh
from tests.unit.review_fixtures import build_people

TODAY = date(2026, 5, 20)
ADMIN = UserContext(None, "admin@x.org", "Admin", frozenset({"admin"}))


@pytest.fixture
def people(engine, db_factory):
    return db_factory.restore(engine, build_people)


def test_a_manager_records_holds_and_signs_off_a_review_which_then_refuses_changes(engine, people):
    org = people.org
    with db.write_session(engine) as s:
        r = reviews.save_review(
            session=s, user=people.manager, department_id=org.sales, period="2026-q1", summary="Draft", today=TODAY
        )
        assert (r.period, r.status) == ("2026-Q1", "draft")
    with db.write_session(engine) as s:
        r = reviews.save_review(
            session=s,
            user=people.manager,
            department_id=org.sales,
            period="2026-Q1",
            held_on=date(2026, 4, 10),
            attendees="Max, Olga",
            summary="Revenue behind",
            decisions="Call back lost deals",
            today=TODAY,
        )
        assert r.status == "held"
    with db.write_session(engine) as s:
        reviews.sign_off(session=s, user=people.manager, review_id=r.id, lock_period=True)
    with pytest.raises(ReviewError, match="signed off"), db.write_session(engine) as s:
        reviews.save_review(session=s, user=people.manager, department_id=org.sales, period="2026-Q1", today=TODAY)
    with db.read_session(engine) as s:
        frame = reviews.reviews_frame(session=s)
        events = audit.list_events(s, entity="review")
        locked = period_locks.locked_keys(session=s, keys=[(org.sales, "2026-02")])
    assert frame.loc[0, "status_label"] == "Signed off" and frame.loc[0, "signed_off_by"] == "manager@x.org"
    assert list(events["action"]) == ["sign_off", "update", "create"]
    assert locked == {(org.sales, "2026-02")}


def test_reviews_are_run_only_by_the_units_manager_a_leader_or_an_admin(engine, people):
    org = people.org
    for user, dept in ((people.owner, org.sales), (people.employee, org.ops), (people.manager, org.ops)):
        with pytest.raises(ReviewError, match="Only a manager"), db.write_session(engine) as s:
            reviews.save_review(session=s, user=user, department_id=dept, period="2026-Q1", today=TODAY)
    with db.write_session(engine) as s:
        reviews.save_review(session=s, user=people.leader, department_id=org.ops, period="2026-Q1", today=TODAY)


def test_a_review_cannot_be_signed_off_before_it_was_held_nor_held_in_the_future(engine, people):
    org = people.org
    with pytest.raises(ReviewError, match="future"), db.write_session(engine) as s:
        reviews.save_review(
            session=s,
            user=people.admin,
            department_id=org.sales,
            period="2026-Q2",
            held_on=TODAY + timedelta(1),
            today=TODAY,
        )
    with db.write_session(engine) as s:
        rid = reviews.save_review(session=s, user=people.admin, department_id=org.sales, period="2026-Q2").id
    with pytest.raises(ReviewError, match="held"), db.write_session(engine) as s:
        reviews.sign_off(session=s, user=people.admin, review_id=rid)


def test_did_it_work_for_a_kpi_compares_trends_before_and_since_the_start_against_references(engine, people):
    org = people.org
    before = [100, 102, 99, 101, 100, 98, 101, 100]
    since = [104, 109, 113, 118, 121, 127]
    periods = periods_between("2025-01", "2026-02")
    with db.write_session(engine) as s:
        measurements.apply_entries(
            session=s,
            scope=EditScope.everything("x"),
            entries=[Entry(org.revenue, p, v) for p, v in zip(periods, before + since, strict=True)],
        )
        aid = actions.create_action(
            session=s,
            user=ADMIN,
            title="New pricing",
            department_id=org.sales,
            kpi_id=org.revenue,
            status="in_progress",
            started_on=date(2025, 9, 3),
            today=TODAY,
        ).id
    with db.read_session(engine) as s:
        effect = reviews.action_effect(session=s, action_id=aid)
    assert effect.kind == "kpi" and effect.before.n == 8 and effect.after.n == 6
    assert effect.before.periods[-1] == "2025-08" and effect.after.periods[0] == "2025-09"
    assert effect.after.slope == pytest.approx(sps.theilslopes(since).slope)
    assert effect.before.slope == pytest.approx(sps.theilslopes(before).slope)
    assert effect.before.p == pytest.approx(pymannkendall.original_test(before).p)  # ties: normal approximation
    assert effect.after.p < 0.05
    assert (effect.before.direction, effect.after.direction) == ("no clear trend", "improving")
    assert effect.change_point == "2025-09"
    assert effect.headline == (
        "Before the action started in 2025-09, Revenue showed no clear trend; since then it is improving."
    )
    assert any("does not show that the action caused it" in d for d in effect.details)
    assert not any("because of" in d or "caused by" in d for d in [effect.headline, *effect.details])


def test_did_it_work_with_too_little_data_says_it_is_too_early(engine, people):
    org = people.org
    with db.write_session(engine) as s:
        measurements.apply_entries(
            session=s, scope=EditScope.everything("x"), entries=[Entry(org.revenue, "2026-04", 1)]
        )
        aid = actions.create_action(
            session=s, user=ADMIN, title="x", department_id=org.sales, kpi_id=org.revenue, today=TODAY
        ).id
    with db.read_session(engine) as s:
        effect = reviews.action_effect(session=s, action_id=aid)
    assert effect.headline.startswith("Too early to tell") and effect.change_point is None


def _survey_round(engine, depts, *, name, around, value, count):
    wid = sh.make_wave(engine, depts, name=name, around=around, names=["Sales"])
    for token in sh.invite(engine, wid, "Sales", count):
        sh.submit(engine, token, value=value, today=around)
    with db.write_session(engine) as s:
        surveys.close_wave(session=s, wave_id=wid, actor="hr")
    return wid


@pytest.mark.parametrize(("count", "shown"), [(6, True), (4, False)])
def test_did_it_work_for_a_survey_item_compares_the_next_closed_wave_above_k_only(engine, count, shown):
    depts = sh.seed_org(engine)
    first = _survey_round(engine, depts, name="Spring", around=sh.TODAY, value=2, count=count)
    with db.read_session(engine) as s:
        qid = s.exec(surveys_select_likert()).first()
    with db.write_session(engine) as s:
        aid = actions.create_action(
            session=s, user=ADMIN, title="Explain the goals", department_id=depts["Sales"], question_id=qid,
            wave_id=first, today=sh.TODAY,
        ).id  # fmt: skip
    with db.read_session(engine) as s:
        pending = reviews.action_effect(session=s, action_id=aid)
    assert pending.headline.startswith("Not yet measurable")
    _survey_round(engine, depts, name="Autumn", around=sh.TODAY + timedelta(days=60), value=4, count=count)
    with db.read_session(engine) as s:
        effect = reviews.action_effect(session=s, action_id=aid)
    if not shown:
        assert effect.headline.startswith("Not shown") and effect.survey is None
        return
    ref = sps.mannwhitneyu([4] * count, [2] * count, method="asymptotic")
    assert effect.survey.p_mwu == pytest.approx(ref.pvalue)
    assert (effect.survey.fav_b, effect.survey.fav_a) == (0.0, 1.0)
    assert "rose from 0% in Spring to 100% in Autumn (+100 points)" in effect.headline


def surveys_select_likert():
    from sqlmodel import select

    return select(Question.id).where(Question.kind == "likert5", Question.reverse == np.False_.item())
