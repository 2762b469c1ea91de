"""The manager role: scoped to units (each with everything below it), set by service, admin and CLI.

Runs on SQLite and PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from argon2 import PasswordHasher
from sqlmodel import select

from kpialign import db
from kpialign.cli import main
from kpialign.core import security
from kpialign.models import Account, AccountRole, AuditEvent, Department, DepartmentEvent
from kpialign.services import accounts

PASSWORD = "correct horse battery"


@pytest.fixture
def org(engine, monkeypatch, db_factory):
    """Ops > (Ops North > Depot), Sales, a closed unit Legacy, an admin and an employee."""
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(security, "_hasher", fast)
    db_factory.restore(engine, _org)
    return engine


def _org(engine) -> None:
    with db.write_session(engine) as s:
        ops = Department(name="Ops")
        s.add(ops)
        s.flush()
        north = Department(name="Ops North", parent_id=ops.id)
        s.add(north)
        s.flush()
        s.add(Department(name="Depot", parent_id=north.id))
        s.add(Department(name="Sales"))
        legacy = Department(name="Legacy", active=False)
        s.add(legacy)
        s.flush()
        s.add(DepartmentEvent(department_id=legacy.id, kind="close", effective_on=date(2026, 6, 30)))
        accounts.create_user(session=s, email="admin@example.com", roles=["admin"], password=PASSWORD)
        accounts.create_user(session=s, email="emp@example.com", roles=["employee"], password=PASSWORD)


def _dept(engine, name: str) -> int:
    with db.read_session(engine) as s:
        return s.exec(select(Department.id).where(Department.name == name)).one()


def _account(engine, email: str) -> int:
    with db.read_session(engine) as s:
        return s.exec(select(Account.id).where(Account.email == email)).one()


def _context(engine, email: str) -> accounts.UserContext:
    with db.read_session(engine) as s:
        return accounts.user_context_by_id(session=s, account_id=_account(engine, email))


def test_a_manager_created_for_a_division_manages_it_and_everything_below(org):
    with db.write_session(org) as s:
        accounts.create_user(session=s, email="m@example.com", roles=["manager"], password=PASSWORD, units=["Ops"])
    ctx = _context(org, "m@example.com")
    assert ctx.has("manager")
    assert ctx.managed_departments == {_dept(org, "Ops"), _dept(org, "Ops North"), _dept(org, "Depot")}
    assert not ctx.manages(_dept(org, "Sales"))


def test_a_manager_without_a_unit_is_refused(org):
    with db.write_session(org) as s, pytest.raises(accounts.AccountError, match="at least one unit"):
        accounts.create_user(session=s, email="m@example.com", roles=["manager"], password=PASSWORD)


def test_an_unknown_unit_is_refused_with_its_reason(org):
    with db.write_session(org) as s, pytest.raises(accounts.AccountError, match="Unknown unit 'Nowhere'"):
        accounts.create_user(session=s, email="m@example.com", roles=["manager"], password=PASSWORD, units=["Nowhere"])
    with db.write_session(org) as s, pytest.raises(accounts.AccountError, match="No unit with id 999"):
        accounts.set_manager_units(
            session=s, account_id=_account(org, "emp@example.com"), department_ids=[999], actor="t"
        )


def test_a_closed_unit_is_refused_with_the_date_it_closed(org):
    with db.write_session(org) as s, pytest.raises(accounts.AccountError, match="'Legacy' was closed on 2026-06-30"):
        accounts.create_user(session=s, email="m@example.com", roles=["manager"], password=PASSWORD, units=["Legacy"])
    with db.write_session(org) as s, pytest.raises(accounts.AccountError, match="closed"):
        accounts.set_manager_units(
            session=s, account_id=_account(org, "emp@example.com"), department_ids=[_dept(org, "Legacy")], actor="t"
        )
    with db.read_session(org) as s:
        assert not s.exec(select(AccountRole).where(AccountRole.role == "manager")).all()


def test_set_manager_units_gives_changes_and_audits_the_scope(org):
    emp = _account(org, "emp@example.com")
    ops, sales = _dept(org, "Ops"), _dept(org, "Sales")
    with db.write_session(org) as s:
        assert accounts.set_manager_units(session=s, account_id=emp, department_ids=[ops, sales], actor="admin")
    assert _context(org, "emp@example.com").managed_departments >= {ops, sales}
    with db.write_session(org) as s:
        assert not accounts.set_manager_units(session=s, account_id=emp, department_ids={sales, ops}, actor="admin")
        assert accounts.set_manager_units(session=s, account_id=emp, department_ids=[sales], actor="admin")
    ctx = _context(org, "emp@example.com")
    assert ctx.managed_departments == {sales} and ctx.roles == {"employee", "manager"}
    with db.read_session(org) as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "set_manager_units")).all()
    assert len(events) == 2
    last = json.loads(events[-1].detail)
    assert last["before"]["manager_units"] == sorted([ops, sales])
    assert last["after"]["manager_units"] == [sales]


def test_an_empty_scope_takes_the_role_away_but_never_the_last_role(org):
    emp = _account(org, "emp@example.com")
    with db.write_session(org) as s:
        accounts.set_manager_units(session=s, account_id=emp, department_ids=[_dept(org, "Sales")], actor="t")
    with db.write_session(org) as s:
        assert accounts.set_manager_units(session=s, account_id=emp, department_ids=[], actor="t")
    assert _context(org, "emp@example.com").roles == {"employee"}
    with db.write_session(org) as s:
        accounts.create_user(session=s, email="m@example.com", roles=["manager"], password=PASSWORD, units=["Sales"])
    with db.write_session(org) as s, pytest.raises(accounts.AccountError, match="at least one role"):
        accounts.set_manager_units(session=s, account_id=_account(org, "m@example.com"), department_ids=[], actor="t")


def test_set_roles_keeps_manager_units_and_lists_them(org):
    emp = _account(org, "emp@example.com")
    with db.write_session(org) as s, pytest.raises(accounts.AccountError, match="at least one unit"):
        accounts.set_roles(session=s, account_id=emp, roles=["employee", "manager"], actor="t")
    with db.write_session(org) as s:
        accounts.set_roles(
            session=s, account_id=emp, roles=["employee", "manager"], manager_units=[_dept(org, "Ops North")], actor="t"
        )
    with db.read_session(org) as s:
        users = accounts.list_users(session=s).set_index("email")
    assert users.loc["emp@example.com", "manager_units"] == "Ops North"
    assert users.loc["emp@example.com", "roles"] == "employee, manager"
    with db.write_session(org) as s:
        accounts.set_roles(session=s, account_id=emp, roles=["employee"], actor="t")
    assert _context(org, "emp@example.com").managed_departments == frozenset()


# ------------------------------------------------------------------------------ command line


@pytest.fixture
def cli_org(org, monkeypatch):
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", org.url.render_as_string(hide_password=False))
    return org


def test_cli_creates_a_manager_of_a_unit_and_changes_the_units(cli_org, capsys):
    assert main(["create-user", "m@example.com", "--role", "manager", "--unit", "Ops North"]) == 0
    assert _context(cli_org, "m@example.com").managed_departments == {
        _dept(cli_org, "Ops North"),
        _dept(cli_org, "Depot"),
    }
    assert main(["manager-units", "m@example.com", "--unit", "Sales", "--unit", "Ops"]) == 0
    assert "now manages: Sales, Ops" in capsys.readouterr().out
    assert _context(cli_org, "m@example.com").manages(_dept(cli_org, "Depot"))
    assert main(["manager-units", "emp@example.com", "--unit", "Sales"]) == 0
    assert main(["manager-units", "emp@example.com", "--none"]) == 0
    assert _context(cli_org, "emp@example.com").roles == {"employee"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["create-user", "x@example.com", "--role", "manager"], "at least one unit"),
        (["create-user", "x@example.com", "--role", "manager", "--unit", "Nope"], "Unknown unit 'Nope'"),
        (["create-user", "x@example.com", "--role", "manager", "--unit", "Legacy"], "closed on 2026-06-30"),
        (["manager-units", "nobody@example.com", "--unit", "Ops"], "No account for nobody@example.com"),
        (["manager-units", "emp@example.com"], "--unit NAME, or --none"),
    ],
)
def test_cli_refuses_a_bad_manager_scope_on_stderr(cli_org, capsys, argv, message):
    assert main(argv) == 1
    assert message in capsys.readouterr().err
    with db.read_session(cli_org) as s:
        assert s.exec(select(AccountRole).where(AccountRole.role == "manager")).first() is None
