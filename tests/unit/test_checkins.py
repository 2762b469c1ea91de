"""Check-ins and period locks: scope, the off-track rule, periods without actuals, history, and
locks that refuse value writes, check-ins and CSV imports."""

from __future__ import annotations

import pytest

from kpialign import audit, db
from kpialign.core.csv_out import write_csv
from kpialign.services import checkins, kpi_import, measurements, period_locks
from kpialign.services.checkins import CheckinError
from kpialign.services.measurements import EditScope, Entry, LockedError
from kpialign.services.period_locks import LockError, PeriodLocked
from tests.unit.review_fixtures import build_people


@pytest.fixture
def people(engine, db_factory):
    return db_factory.restore(engine, build_people)


def _save(engine, user, kpi_id, period, status, analysis="", next_steps=""):
    with db.write_session(engine) as s:
        return checkins.save_checkin(
            session=s, user=user, kpi_id=kpi_id, period=period, status=status, analysis=analysis, next_steps=next_steps
        )


def test_an_owner_checks_in_and_a_second_save_updates_with_history(engine, people):
    org = people.org
    with db.write_session(engine) as s:
        measurements.apply_entries(
            session=s, scope=EditScope.everything("x"), entries=[Entry(org.revenue, "2026-03", 120)]
        )
    _save(engine, people.owner, org.revenue, "2026-03", "at_risk", "Two deals slipped", "Chase them")
    summary = _save(engine, people.owner, org.revenue, "2026-03", "on track", "Deals closed", "")
    assert summary.updated == 1 and summary.inserted == 0
    with db.read_session(engine) as s:
        frame = checkins.checkins_frame(session=s, department_ids=[org.sales])
        history = checkins.checkin_history(session=s, kpi_id=org.revenue, period="2026-03")
    assert frame.to_dict("records")[0] | {"updated_at": None} == {
        "kpi_id": org.revenue,
        "kpi": "Revenue",
        "department_id": org.sales,
        "department": "Sales",
        "period": "2026-03",
        "status": "on_track",
        "status_label": "On track",
        "analysis": "Deals closed",
        "next_steps": "",
        "author": "Olga Owner",
        "updated_at": None,
        "has_actual": True,
    }
    assert list(history["status"]) == ["on_track", "at_risk"]
    assert list(history["actor"]) == ["owner@x.org", "owner@x.org"]


def test_an_off_track_check_in_without_analysis_is_refused(engine, people):
    with pytest.raises(CheckinError, match="needs an analysis"):
        _save(engine, people.owner, people.org.revenue, "2026-03", "off_track", "   ")
    with db.read_session(engine) as s:
        assert checkins.checkins_frame(session=s).empty


def test_a_check_in_without_an_actual_is_allowed_and_marked(engine, people):
    summary = _save(engine, people.owner, people.org.cac, "2026-04", "at_risk", "No data from finance yet")
    assert summary.without_actual == 1
    with db.read_session(engine) as s:
        frame = checkins.checkins_frame(session=s)
    assert not frame.loc[0, "has_actual"]


def test_check_ins_are_scoped_to_the_owners_departments(engine, people):
    with pytest.raises(CheckinError, match="may not write check-ins"):
        _save(engine, people.owner, people.org.otd, "2026-Q1", "on_track")
    with pytest.raises(CheckinError, match="may not write check-ins"):
        _save(engine, people.employee, people.org.otd, "2026-Q1", "on_track")
    _save(engine, people.leader, people.org.otd, "2026-Q1", "on_track")
    _save(engine, people.manager, people.org.revenue, "2026-01", "on_track")


def test_a_locked_quarter_refuses_values_check_ins_and_imports_of_its_months(engine, people):
    org = people.org
    admin_scope = EditScope.everything("admin@x.org")
    with db.write_session(engine) as s:
        measurements.apply_entries(session=s, scope=admin_scope, entries=[Entry(org.revenue, "2026-02", 130)])
    with db.write_session(engine) as s:
        assert period_locks.lock_period(session=s, user=people.manager, department_id=org.sales, period="2026-Q1")
    with pytest.raises(LockedError, match="2026-02 is locked for Sales"), db.write_session(engine) as s:
        measurements.apply_entries(session=s, scope=admin_scope, entries=[Entry(org.revenue, "2026-02", 131)])
    with pytest.raises(LockedError), db.write_session(engine) as s:
        measurements.delete_value(session=s, scope=admin_scope, kpi_id=org.revenue, period="2026-02")
    with pytest.raises(PeriodLocked, match="locked"):
        _save(engine, people.owner, org.revenue, "2026-03", "on_track")
    # an unchanged value in a locked period is not an edit: re-importing the same file still works
    with db.write_session(engine) as s:
        unchanged = measurements.apply_entries(
            session=s, scope=admin_scope, entries=[Entry(org.revenue, "2026-02", 130)]
        )
    assert unchanged.unchanged == 1
    csv = "kpi,department,period,actual\nRevenue,Sales,2026-01,99\nRevenue,Sales,2026-04,99\n"
    with db.read_session(engine) as s:
        validation = kpi_import.validate_kpi_csv(session=s, data=csv, scope=admin_scope)
    assert [(i.row, i.column) for i in validation.issues] == [(2, "period")]
    assert "locked" in validation.issues[0].reason
    # April is outside the locked quarter; other departments are not locked
    _save(engine, people.owner, org.revenue, "2026-04", "on_track")
    with db.write_session(engine) as s:
        measurements.apply_entries(session=s, scope=admin_scope, entries=[Entry(org.cost, "2026-02", 1)])


def test_only_an_admin_or_the_departments_manager_locks_and_both_are_audited(engine, people):
    org = people.org
    with pytest.raises(LockError, match="Only an admin or a manager"), db.write_session(engine) as s:
        period_locks.lock_period(session=s, user=people.leader, department_id=org.sales, period="2026-Q1")
    with pytest.raises(LockError, match="Only an admin or a manager"), db.write_session(engine) as s:
        period_locks.lock_period(session=s, user=people.manager, department_id=org.ops, period="2026-Q1")
    with db.write_session(engine) as s:
        assert period_locks.lock_period(session=s, user=people.admin, department_id=org.ops, period="2026-q1")
        assert not period_locks.lock_period(session=s, user=people.admin, department_id=org.ops, period="2026-Q1")
    with db.write_session(engine) as s:
        assert period_locks.unlock_period(session=s, user=people.admin, department_id=org.ops, period="2026-Q1")
    with db.read_session(engine) as s:
        events = audit.list_events(s, entity="period_lock")
        locks = period_locks.locks_frame(session=s)
    assert list(events["action"]) == ["unlock", "lock"] and locks.empty


def test_check_in_columns_in_the_kpi_csv_are_validated_by_row_and_formula_text_is_kept_and_exported_safely(
    engine, people
):
    scope = EditScope.everything("admin@x.org")
    bad = (
        "kpi,department,period,actual,status,analysis,next_steps\n"
        "Revenue,Sales,2026-01,90,off_track,,\n"
        "Revenue,Sales,2026-02,95,sideways,,\n"
        "CAC,Sales,2026-01,70,,some text,\n"
    )
    with db.read_session(engine) as s:
        issues = kpi_import.validate_kpi_csv(session=s, data=bad, scope=scope).issues
    assert [(i.row, i.column) for i in issues] == [(2, "analysis"), (3, "status"), (4, "status")]
    good = (
        "kpi,department,period,actual,status,analysis,next_steps\n"
        'Revenue,Sales,2026-01,90,Off track,"=HYPERLINK(""http://x"")",Call\n'
        "CAC,Sales,2026-02,,at_risk,Waiting for finance,\n"
    )
    with db.write_session(engine) as s:
        summary = kpi_import.import_kpis(session=s, data=good, scope=scope)
    assert (summary.rows, summary.inserted, summary.checkins) == (2, 1, 2)
    with db.read_session(engine) as s:
        frame = checkins.checkins_frame(session=s).set_index("kpi")
    assert frame.loc["Revenue", "analysis"] == '=HYPERLINK("http://x")'
    assert not frame.loc["CAC", "has_actual"]
    exported = write_csv(frame.reset_index()[["kpi", "analysis"]]).decode("utf-8-sig")
    assert "'=HYPERLINK" in exported
