"""Demo managers (issue 19): a manager of a division and one of a department, and objective owners.

Called once from :func:`kpialign.demo.seed._seed_accounts` inside the seeding transaction; it
draws nothing at random, so the demo stays deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, select

from kpialign.models import Account, Department, Objective
from kpialign.services import accounts


@dataclass(frozen=True)
class DemoManager:
    email: str
    name: str
    unit: str  # the unit they lead (with everything below it); also their home department


# Objective code -> the demo account (by DEMO_ACCOUNTS key) that owns it.
OBJECTIVE_OWNERS = {
    "OBJ1": "manager",
    "OBJ2": "manager",
    "OBJ3": "department_manager",
    "OBJ3.1": "department_manager",
    "OBJ4": "hr",
    "OBJ5": "leader",
}


def seed_managers(
    session: Session,
    *,
    managers: dict[str, DemoManager],
    emails: dict[str, str],
    password_hash: str,
) -> int:
    """Create the demo managers (scoped through the accounts service) and set objective owners.

    ``managers`` maps a DEMO_ACCOUNTS key to the manager to create; ``emails`` is DEMO_ACCOUNTS
    itself (for the objective owners). Returns how many accounts were created.
    """
    for manager in managers.values():
        unit_id = session.exec(select(Department.id).where(Department.name == manager.unit)).one()
        account = accounts.create_user(
            session=session,
            email=manager.email,
            roles=["manager"],
            password=None,
            name=manager.name,
            department_id=unit_id,
            unit_ids=[unit_id],
            actor="seed-demo",
        )
        account.password_hash = password_hash
    session.flush()
    by_email = dict(session.exec(select(Account.email, Account.id)).all())  # type: ignore[arg-type]
    for code, who in OBJECTIVE_OWNERS.items():
        owner = by_email.get(emails.get(who, ""))
        if owner is not None:
            session.execute(update(Objective).where(Objective.code == code).values(owner_id=owner))  # type: ignore[arg-type]
    return len(managers)
