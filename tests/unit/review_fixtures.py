"""People for the review, check-in and action tests: an owner of Sales, a manager of Sales,
a leader and an employee, on top of :func:`tests.unit.kpi_fixtures.build_org`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from kpialign import db
from kpialign.models import AccountRole
from kpialign.services import accounts
from kpialign.services.accounts import UserContext
from tests.unit.kpi_fixtures import Org, build_org


@dataclass(frozen=True)
class People:
    org: Org
    owner: UserContext  # KPI owner of Sales
    manager: UserContext  # manager of Sales
    leader: UserContext
    employee: UserContext  # in Operations
    admin: UserContext


def build_people(engine: Engine) -> People:
    org = build_org(engine)
    with db.write_session(engine) as s:
        owner = accounts.create_user(
            session=s,
            email="owner@x.org",
            name="Olga Owner",
            roles=["kpi_owner"],
            password=None,
            department_id=org.sales,
        )
        manager = accounts.create_user(
            session=s,
            email="manager@x.org",
            name="Max Manager",
            roles=["employee"],
            password=None,
            department_id=org.sales,
        )
        # here: a role row directly, so these tests do not depend on how accounts grants manager scope
        s.add(AccountRole(account_id=manager.id, role="manager", department_id=org.sales))
        leader = accounts.create_user(
            session=s, email="leader@x.org", name="Lea Leader", roles=["leader"], password=None
        )
        employee = accounts.create_user(
            session=s, email="emp@x.org", name="Emil Employee", roles=["employee"], password=None, department_id=org.ops
        )
        admin = accounts.create_user(session=s, email="admin@x.org", name="Ada Admin", roles=["admin"], password=None)
        s.flush()
        ids = [owner.id, manager.id, leader.id, employee.id, admin.id]
    with db.read_session(engine) as s:
        ctx = [accounts.user_context_by_id(session=s, account_id=i) for i in ids]
    return People(org, *ctx)
