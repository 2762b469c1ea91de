"""Actions: scope by role, due-date rules, status dates, audit, views and the department list."""

from __future__ import annotations

import json
from datetime import date

import pytest

from kpialign import audit, db
from kpialign.services import actions
from kpialign.services.actions import ActionError
from tests.unit.review_fixtures import build_people

TODAY = date(2026, 5, 20)


@pytest.fixture
def people(engine, db_factory):
    return db_factory.restore(engine, build_people)


def _create(engine, user, **kw):
    kw.setdefault("today", TODAY)
    with db.write_session(engine) as s:
        return actions.create_action(session=s, user=user, **kw).id


def test_a_manager_adds_an_action_for_their_unit_and_it_is_audited(engine, people):
    org = people.org
    aid = _create(
        engine,
        people.manager,
        title="Call back lost deals",
        department_id=org.sales,
        kpi_id=org.revenue,
        owner_id=people.owner.account_id,
        due_on=date(2026, 6, 30),
    )
    with db.read_session(engine) as s:
        events = audit.list_events(s, entity="action")
        frame = actions.list_actions(session=s, user=people.manager, today=TODAY)
    assert list(frame["title"]) == ["Call back lost deals"]
    assert frame.loc[0, "kpi"] == "Revenue" and frame.loc[0, "owner"] == "Olga Owner"
    assert events.loc[0, "actor"] == "manager@x.org" and events.loc[0, "entity_id"] == str(aid)
    assert json.loads(events.loc[0, "detail"])["after"]["title"] == "Call back lost deals"


def test_a_manager_cannot_add_actions_outside_their_units_nor_an_employee_anywhere(engine, people):
    with pytest.raises(ActionError, match="manager"):
        _create(engine, people.manager, title="x", department_id=people.org.ops)
    with pytest.raises(ActionError, match="manager"):
        _create(engine, people.employee, title="x", department_id=people.org.ops)
    _create(engine, people.leader, title="Leaders may", department_id=people.org.ops)


def test_a_past_due_date_is_refused_unless_the_action_is_recorded_as_done(engine, people):
    org = people.org
    with pytest.raises(ActionError, match="in the past"):
        _create(engine, people.manager, title="Late", department_id=org.sales, due_on=date(2026, 5, 1))
    aid = _create(
        engine, people.manager, title="Already done", department_id=org.sales, due_on=date(2026, 5, 1), status="done"
    )
    with db.read_session(engine) as s:
        done = actions.get_action(session=s, action_id=aid)
    assert done.closed_on == TODAY and done.started_on == TODAY


def test_the_owner_may_move_the_status_of_their_action_but_not_its_title(engine, people):
    aid = _create(
        engine, people.manager, title="Fix CRM", department_id=people.org.sales, owner_id=people.employee.account_id
    )
    with db.write_session(engine) as s:
        a = actions.update_action(session=s, user=people.employee, action_id=aid, status="in_progress", today=TODAY)
        assert a.started_on == TODAY and a.closed_on is None
    with pytest.raises(ActionError, match="only the status and outcome"), db.write_session(engine) as s:
        actions.update_action(session=s, user=people.employee, action_id=aid, title="Mine now", today=TODAY)
    with db.write_session(engine) as s:
        a = actions.update_action(session=s, user=people.employee, action_id=aid, status="done", outcome="ok")
        assert a.closed_on == date.today()
    with db.read_session(engine) as s:
        mine = actions.my_actions(session=s, user=people.employee, today=TODAY)
    assert list(mine["status"]) == ["done"] and mine.loc[0, "outcome"] == "ok"


def test_overdue_actions_are_flagged_and_counted(engine, people):
    org = people.org
    _create(engine, people.manager, title="Soon", department_id=org.sales, due_on=date(2026, 5, 25))
    _create(engine, people.manager, title="Later", department_id=org.sales, due_on=date(2026, 7, 1))
    with db.read_session(engine) as s:
        later = actions.list_actions(session=s, user=people.leader, today=date(2026, 6, 1))
    assert dict(zip(later["title"], later["overdue"], strict=True)) == {"Soon": True, "Later": False}
    assert actions.counts(frame=later) == actions.ActionCounts(open=2, overdue=1, done=0)


def test_actions_for_department_leaves_out_cancelled_ones_and_filters_by_wave(engine, people):
    org = people.org
    keep = _create(engine, people.manager, title="Keep", department_id=org.sales)
    drop = _create(engine, people.manager, title="Drop", department_id=org.sales)
    with db.write_session(engine) as s:
        actions.update_action(session=s, user=people.manager, action_id=drop, status="cancelled")
    with db.read_session(engine) as s:
        frame = actions.actions_for_department(session=s, department_id=org.sales)
        by_wave = actions.actions_for_department(session=s, department_id=org.sales, wave_id=999)
    assert list(frame["action_id"]) == [keep]
    assert by_wave.empty and list(by_wave.columns) == actions.ACTION_COLUMNS


def test_a_kpi_of_another_department_cannot_be_linked(engine, people):
    with pytest.raises(ActionError, match="another department"):
        _create(engine, people.leader, title="x", department_id=people.org.sales, kpi_id=people.org.otd)
