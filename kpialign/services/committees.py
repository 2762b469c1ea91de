"""Cross-functional committees: a named group of departments around one or more objectives.

Admins set committees up (name, objectives, departments, member accounts); a committee's page
is visible to its members and to leaders and admins. Every change is validated (a
:class:`CommitteeError` says why, nothing is written) and audited in the caller's transaction.
A committee is retired (``active = False``) rather than deleted, so its audit trail keeps meaning.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import delete, select
from sqlmodel import Session, col

from kpialign import audit
from kpialign.core.errors import Refused
from kpialign.models import (
    Account,
    Committee,
    CommitteeDepartment,
    CommitteeMember,
    CommitteeObjective,
    Department,
    Objective,
    Role,
)
from kpialign.services.accounts import UserContext

# The three tables that list a committee's objectives, departments and members.
_MemberModel = type[CommitteeObjective] | type[CommitteeDepartment] | type[CommitteeMember]

MAX_NAME = 200
MAX_DESCRIPTION = 4000


class CommitteeError(Refused):
    """A committee change or view was refused; the message is safe to show. Nothing was written."""


@dataclass(frozen=True)
class CommitteeInput:
    name: str
    description: str = ""
    objective_ids: tuple[int, ...] = ()
    department_ids: tuple[int, ...] = ()
    member_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class CommitteeInfo:
    """One committee as its page shows it (names resolved)."""

    committee_id: int
    name: str
    description: str
    active: bool
    objectives: pd.DataFrame  # objective_id, code, title
    departments: pd.DataFrame  # department_id, department
    members: pd.DataFrame  # account_id, name, email


def _require_admin(user: UserContext) -> None:
    if not user.has(Role.ADMIN.value):
        raise CommitteeError("Only an admin can set up committees.")


def _ids(
    session: Session, model: type[Objective] | type[Department] | type[Account], ids: Iterable[int], what: str
) -> tuple[int, ...]:
    wanted = tuple(dict.fromkeys(int(i) for i in ids))
    if not wanted:
        return ()
    found = set(session.execute(select(col(model.id)).where(col(model.id).in_(wanted))).scalars())
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise CommitteeError(f"Unknown {what}: {', '.join(f'#{i}' for i in unknown)}.")
    return tuple(sorted(wanted))


def _validate(session: Session, data: CommitteeInput, *, committee_id: int | None) -> CommitteeInput:
    name = " ".join((data.name or "").split())
    if not name:
        raise CommitteeError("A committee needs a name.")
    if len(name) > MAX_NAME:
        raise CommitteeError(f"The name is longer than {MAX_NAME} characters.")
    description = (data.description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise CommitteeError(f"The description is longer than {MAX_DESCRIPTION} characters.")
    clash = session.execute(select(col(Committee.id)).where(col(Committee.name) == name)).scalar()
    if clash is not None and clash != committee_id:
        raise CommitteeError(f"A committee named {name!r} already exists.")
    objectives = _ids(session, Objective, data.objective_ids, "objective")
    departments = _ids(session, Department, data.department_ids, "department")
    if not objectives:
        raise CommitteeError("A committee gathers around at least one objective.")
    if len(departments) < 2:
        raise CommitteeError("A cross-functional committee brings together at least two departments.")
    members = _ids(session, Account, data.member_ids, "account")
    return CommitteeInput(name, description, objectives, departments, members)


def _snapshot(session: Session, committee_id: int) -> dict:
    c = session.get(Committee, committee_id)
    assert c is not None

    def ids(model: _MemberModel, column: str) -> list[int]:
        return sorted(
            session.execute(select(getattr(model, column)).where(col(model.committee_id) == committee_id)).scalars()
        )

    return {
        "name": c.name,
        "description": c.description,
        "active": c.active,
        "objective_ids": ids(CommitteeObjective, "objective_id"),
        "department_ids": ids(CommitteeDepartment, "department_id"),
        "member_ids": ids(CommitteeMember, "account_id"),
    }


def _write_sets(session: Session, committee_id: int, data: CommitteeInput) -> None:
    for model in (CommitteeObjective, CommitteeDepartment, CommitteeMember):
        session.execute(delete(model).where(col(model.committee_id) == committee_id))
    session.add_all(CommitteeObjective(committee_id=committee_id, objective_id=i) for i in data.objective_ids)
    session.add_all(CommitteeDepartment(committee_id=committee_id, department_id=i) for i in data.department_ids)
    session.add_all(CommitteeMember(committee_id=committee_id, account_id=i) for i in data.member_ids)
    session.flush()


def create_committee(*, session: Session, user: UserContext, committee: CommitteeInput) -> int:
    """Create a committee with its objectives, departments and members; returns its id."""
    _require_admin(user)
    data = _validate(session, committee, committee_id=None)
    row = Committee(name=data.name, description=data.description)
    session.add(row)
    session.flush()
    cid = int(row.id or 0)
    _write_sets(session, cid, data)
    audit.record(
        session, actor=user.email, action="create", entity="committee", entity_id=cid, after=_snapshot(session, cid)
    )
    return cid


def update_committee(*, session: Session, user: UserContext, committee_id: int, committee: CommitteeInput) -> bool:
    """Replace a committee's name, description, objectives, departments and members."""
    _require_admin(user)
    row = session.get(Committee, committee_id)
    if row is None:
        raise CommitteeError(f"Committee #{committee_id} does not exist.")
    before = _snapshot(session, committee_id)
    data = _validate(session, committee, committee_id=committee_id)
    row.name, row.description = data.name, data.description
    session.add(row)
    _write_sets(session, committee_id, data)
    after = _snapshot(session, committee_id)
    if after == before:
        return False
    audit.record(
        session,
        actor=user.email,
        action="update",
        entity="committee",
        entity_id=committee_id,
        before=before,
        after=after,
    )
    return True


def set_committee_active(*, session: Session, user: UserContext, committee_id: int, active: bool) -> bool:
    """Retire (or bring back) a committee; returns False if it already was so."""
    _require_admin(user)
    row = session.get(Committee, committee_id)
    if row is None:
        raise CommitteeError(f"Committee #{committee_id} does not exist.")
    if row.active == active:
        return False
    row.active = active
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=user.email,
        action="update",
        entity="committee",
        entity_id=committee_id,
        before={"active": not active},
        after={"active": active},
    )
    return True


# ----------------------------------------------------------------------------------- reads


def sees_every_committee(*, user: UserContext) -> bool:
    return user.has(Role.LEADER.value, Role.ADMIN.value)


def committees_frame(*, session: Session, user: UserContext, include_retired: bool = False) -> pd.DataFrame:
    """The committees ``user`` may see: all for leaders and admins, else those they sit on.

    Columns: ``committee_id, name, active, objectives, departments, members`` (counts).
    """
    stmt = select(col(Committee.id), col(Committee.name), col(Committee.active)).order_by(col(Committee.name))
    if not include_retired:
        stmt = stmt.where(col(Committee.active).is_(True))
    if not sees_every_committee(user=user):
        mine = select(col(CommitteeMember.committee_id)).where(col(CommitteeMember.account_id) == user.account_id)
        stmt = stmt.where(col(Committee.id).in_(mine))
    df = pd.DataFrame(session.execute(stmt).all(), columns=["committee_id", "name", "active"])
    for model, column in (
        (CommitteeObjective, "objectives"),
        (CommitteeDepartment, "departments"),
        (CommitteeMember, "members"),
    ):
        counts = pd.Series(
            session.execute(select(col(model.committee_id))).scalars().all(), dtype="int64"
        ).value_counts()
        df[column] = df["committee_id"].map(counts).fillna(0).astype("int64")
    return df.astype({"committee_id": "int64", "active": "bool"})


def committee_info(*, session: Session, user: UserContext, committee_id: int) -> CommitteeInfo:
    """One committee, if ``user`` may see it (a member, a leader or an admin)."""
    row = session.get(Committee, committee_id)
    if row is None:
        raise CommitteeError("This committee does not exist.")
    member_ids = set(
        session.execute(
            select(col(CommitteeMember.account_id)).where(col(CommitteeMember.committee_id) == committee_id)
        ).scalars()
    )
    if not sees_every_committee(user=user) and user.account_id not in member_ids:
        raise CommitteeError("Only the committee's members, leaders and admins can open this committee.")
    objectives = pd.DataFrame(
        session.execute(
            select(col(Objective.id), col(Objective.code), col(Objective.title))
            .join(CommitteeObjective, col(CommitteeObjective.objective_id) == col(Objective.id))
            .where(col(CommitteeObjective.committee_id) == committee_id)
            .order_by(col(Objective.code))
        ).all(),
        columns=["objective_id", "code", "title"],
    )
    departments = pd.DataFrame(
        session.execute(
            select(col(Department.id), col(Department.name))
            .join(CommitteeDepartment, col(CommitteeDepartment.department_id) == col(Department.id))
            .where(col(CommitteeDepartment.committee_id) == committee_id)
            .order_by(col(Department.name))
        ).all(),
        columns=["department_id", "department"],
    )
    members = pd.DataFrame(
        session.execute(
            select(col(Account.id), col(Account.name), col(Account.email))
            .join(CommitteeMember, col(CommitteeMember.account_id) == col(Account.id))
            .where(col(CommitteeMember.committee_id) == committee_id)
            .order_by(col(Account.name), col(Account.email))
        ).all(),
        columns=["account_id", "name", "email"],
    )
    return CommitteeInfo(int(row.id or 0), row.name, row.description, row.active, objectives, departments, members)
