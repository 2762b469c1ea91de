"""Admins set and change a user's home department (an account without one can answer no signed-in survey)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from kpialign import db
from kpialign.models import Account, AuditEvent, Department
from kpialign.services import accounts, surveys
from tests.unit.survey_helpers import TODAY, make_wave, seed_org


def _new_account(engine, email="sso.person@example.org") -> int:
    with db.write_session(engine) as s:  # as single sign-on with KPIALIGN_OIDC_UNKNOWN=employee creates it
        return int(accounts.create_user(session=s, email=email, roles=["employee"], password=None, actor="oidc").id)


def test_an_account_without_a_home_department_can_answer_once_an_admin_sets_one(engine) -> None:
    depts = seed_org(engine)
    wid = make_wave(engine, depts, names=["Sales"])
    account_id = _new_account(engine)
    with db.read_session(engine) as s:
        assert surveys.waves_for_account(session=s, account_id=account_id, today=TODAY).empty
    with db.write_session(engine) as s:
        assert accounts.set_home_department(
            session=s, account_id=account_id, department_id=depts["Sales"], actor="admin@example.org"
        )
    with db.read_session(engine) as s:
        assert surveys.waves_for_account(session=s, account_id=account_id, today=TODAY).wave_id.tolist() == [wid]
        assert accounts.user_context_by_id(session=s, account_id=account_id).department_id == depts["Sales"]
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "set_department")).one()
    assert (event.actor, event.entity_id) == ("admin@example.org", str(account_id))
    detail = event.detail if isinstance(event.detail, dict) else json.loads(event.detail)
    assert "Sales" in json.dumps(detail)


def test_changing_and_clearing_a_home_department_is_audited_each_time_and_a_no_op_is_not(engine) -> None:
    depts = seed_org(engine)
    account_id = _new_account(engine)
    with db.write_session(engine) as s:
        assert accounts.set_home_department(session=s, account_id=account_id, department_id=depts["Sales"], actor="a")
        assert accounts.set_home_department(session=s, account_id=account_id, department_id=depts["Finance"], actor="a")
        assert not accounts.set_home_department(
            session=s, account_id=account_id, department_id=depts["Finance"], actor="a"
        )
        assert accounts.set_home_department(session=s, account_id=account_id, department_id=None, actor="a")
    with db.read_session(engine) as s:
        assert s.get(Account, account_id).department_id is None
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "set_department")).all()
    assert len(events) == 3


def test_an_unknown_or_retired_department_is_refused_and_nothing_changes(engine) -> None:
    depts = seed_org(engine)
    account_id = _new_account(engine)
    with db.write_session(engine) as s:
        tiny = s.get(Department, depts["Tiny"])
        tiny.active = False
        s.add(tiny)
    for dept_id, message in ((depts["Tiny"], "retired"), (99_999, "No department")):
        with pytest.raises(accounts.AccountError, match=message), db.write_session(engine) as s:
            accounts.set_home_department(session=s, account_id=account_id, department_id=dept_id, actor="a")
    with db.read_session(engine) as s:
        assert s.get(Account, account_id).department_id is None


def test_the_cli_sets_and_clears_a_home_department(engine, monkeypatch, capsys) -> None:
    from kpialign.cli import main

    depts = seed_org(engine)
    account_id = _new_account(engine)
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    assert main(["set-department", "SSO.Person@example.org", "Finance"]) == 0
    assert "home department Finance" in capsys.readouterr().out
    with db.read_session(engine) as s:
        assert s.get(Account, account_id).department_id == depts["Finance"]
    assert main(["set-department", "sso.person@example.org", "Atlantis"]) == 1
    assert "Unknown department" in capsys.readouterr().err
    assert main(["set-department", "nobody@example.org", "Finance"]) == 1
    assert "No account" in capsys.readouterr().err
    assert main(["set-department", "sso.person@example.org"]) == 1
    assert main(["set-department", "sso.person@example.org", "--none"]) == 0
    with db.read_session(engine) as s:
        assert s.get(Account, account_id).department_id is None
