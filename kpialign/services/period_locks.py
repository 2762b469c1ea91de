"""Period locks: a department's period closed after its review refuses edits to its actuals,
targets and check-ins.

A lock is kept per department and period. Locking a quarter (``2026-Q1``) also locks the
months in it (``2026-01`` .. ``2026-03``) for monthly KPIs, since a quarterly review discusses
them; locking a month locks that month only. Only an admin or a manager of the department
may lock or unlock; both are audited. This module sits below measurements and check-ins, which
call :func:`locked_keys` / :func:`check_unlocked` before writing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from kpialign import audit
from kpialign.core.errors import Refused
from kpialign.models import Department, PeriodLock, Role
from kpialign.services.accounts import UserContext

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


class PeriodLocked(Refused):
    """A write touched a locked period; the message says which and who can unlock it."""


class LockError(Refused):
    """A lock or unlock was refused; the message is safe to show."""


def covering_periods(*, period: str) -> tuple[str, ...]:
    """The lock keys that cover ``period``: itself and, for a month, its quarter."""
    m = _MONTH.match(period)
    if m:
        return (period, f"{m.group(1)}-Q{(int(m.group(2)) - 1) // 3 + 1}")
    return (period,)


def _check_period(period: str) -> str:
    p = (period or "").strip().upper()
    if not (_MONTH.match(p) or _QUARTER.match(p)):
        raise LockError(f"{period!r} is not a period: write YYYY-MM (e.g. 2026-03) or YYYY-Qn (e.g. 2026-Q1).")
    return p


def all_locks(*, session: Session, department_ids: Iterable[int] | None = None) -> set[tuple[int, str]]:
    stmt = select(col(PeriodLock.department_id), col(PeriodLock.period))
    if department_ids is not None:
        stmt = stmt.where(col(PeriodLock.department_id).in_(sorted(set(department_ids))))
    return {(int(d), str(p)) for d, p in session.execute(stmt)}


def locked_keys(*, session: Session, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
    """Those (department_id, period) pairs of ``keys`` that a lock covers (one query)."""
    keys = set(keys)
    if not keys:
        return set()
    locks = all_locks(session=session, department_ids={d for d, _ in keys})
    return {(d, p) for d, p in keys if any((d, c) in locks for c in covering_periods(period=p))}


def locked_message(*, department: str, period: str) -> str:
    return (
        f"{period} is locked for {department} after its review, so its values and check-ins can no longer "
        "be changed. An admin or the department's manager can unlock it."
    )


def check_unlocked(*, session: Session, department_id: int, period: str, department: str = "") -> None:
    """Raise :class:`PeriodLocked` if ``period`` is locked for the department."""
    if locked_keys(session=session, keys=[(department_id, period)]):
        if not department:
            dept = session.get(Department, department_id)
            department = dept.name if dept else f"#{department_id}"
        raise PeriodLocked(locked_message(department=department, period=period))


def may_lock(*, user: UserContext, department_id: int) -> bool:
    return user.has(Role.ADMIN.value) or user.manages(department_id)


def lock_period(*, session: Session, user: UserContext, department_id: int, period: str) -> bool:
    """Lock a department's period (audited). Returns False if it was locked already."""
    period = _check_period(period)
    dept = session.get(Department, department_id)
    if dept is None:
        raise LockError(f"There is no department #{department_id}.")
    if not may_lock(user=user, department_id=department_id):
        raise LockError(f"Only an admin or a manager of {dept.name} can lock its periods.")
    if session.get(PeriodLock, (department_id, period)) is not None:
        return False
    session.add(PeriodLock(department_id=department_id, period=period, locked_by=user.email))
    session.flush()
    audit.record(
        session, actor=user.email, action="lock", entity="period_lock", entity_id=f"{department_id}:{period}",
        after={"department": dept.name, "period": period},
    )  # fmt: skip
    return True


def unlock_period(*, session: Session, user: UserContext, department_id: int, period: str) -> bool:
    """Unlock a department's period (audited). Returns False if it was not locked."""
    period = _check_period(period)
    dept = session.get(Department, department_id)
    if dept is None:
        raise LockError(f"There is no department #{department_id}.")
    if not may_lock(user=user, department_id=department_id):
        raise LockError(f"Only an admin or a manager of {dept.name} can unlock its periods.")
    row = session.get(PeriodLock, (department_id, period))
    if row is None:
        return False
    audit.record(
        session, actor=user.email, action="unlock", entity="period_lock", entity_id=f"{department_id}:{period}",
        before={"department": dept.name, "period": period, "locked_by": row.locked_by},
    )  # fmt: skip
    session.delete(row)
    session.flush()
    return True


def locks_frame(*, session: Session, department_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Locks as a table: department_id, department, period, locked_by, locked_at."""
    stmt = (
        select(
            col(PeriodLock.department_id),
            col(Department.name),
            col(PeriodLock.period),
            col(PeriodLock.locked_by),
            col(PeriodLock.locked_at),
        )
        .join(Department, col(Department.id) == col(PeriodLock.department_id))
        .order_by(col(Department.name), col(PeriodLock.period))
    )
    if department_ids is not None:
        stmt = stmt.where(col(PeriodLock.department_id).in_(sorted(set(department_ids))))
    return pd.DataFrame(
        [tuple(r) for r in session.execute(stmt)],
        columns=["department_id", "department", "period", "locked_by", "locked_at"],
    )
