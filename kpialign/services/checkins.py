"""KPI check-ins: the owner's per-period update (status, analysis, next steps) beside the
fixed KPI definition.

- One check-in per KPI and period; saving again updates it, and every change is audited with
  before and after (the history, see :func:`checkin_history`).
- An off-track check-in must say why: an empty analysis is refused.
- A check-in for a period without an actual is allowed; the read side marks it
  (``has_actual`` is False).
- A period locked after its review (:mod:`kpialign.services.period_locks`) refuses check-ins.
- Scope: admins and leaders write every department, KPI owners the departments they own,
  managers their units.
- Text is stored exactly as typed (a formula-like ``=...`` stays text); the CSV writer
  neutralises it on export.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import and_, insert, literal, select, tuple_, update
from sqlmodel import Session, col

from kpialign.core.errors import Refused
from kpialign.core.periods import PeriodError, normalise_period
from kpialign.models import (
    Account,
    AuditEvent,
    CheckinStatus,
    Department,
    Kpi,
    KpiCheckin,
    KpiValue,
    Role,
    utcnow,
)
from kpialign.services import period_locks
from kpialign.services.accounts import UserContext
from kpialign.services.measurements import EditScope

STATUS_LABELS = {
    CheckinStatus.ON_TRACK.value: "On track",
    CheckinStatus.AT_RISK.value: "At risk",
    CheckinStatus.OFF_TRACK.value: "Off track",
}
TEXT_MAX = 5000
CHECKIN_COLUMNS = [
    "kpi_id",
    "kpi",
    "department_id",
    "department",
    "period",
    "status",
    "status_label",
    "analysis",
    "next_steps",
    "author",
    "updated_at",
    "has_actual",
]


class CheckinError(Refused):
    """A check-in was refused; the message is safe to show. Nothing was written."""


@dataclass(frozen=True, slots=True)
class CheckinEntry:
    """One check-in to write: a KPI, a period and the update."""

    kpi_id: int
    period: str
    status: str
    analysis: str = ""
    next_steps: str = ""


@dataclass(frozen=True, slots=True)
class CheckinSummary:
    inserted: int
    updated: int
    unchanged: int
    without_actual: int  # check-ins saved for a period that has no actual yet

    @property
    def changed(self) -> int:
        return self.inserted + self.updated


def scope_for(*, user: UserContext) -> EditScope:
    """The departments whose check-ins ``user`` may write."""
    if user.has(Role.ADMIN.value, Role.LEADER.value):
        return EditScope(actor=user.email, departments=None)
    return EditScope(actor=user.email, departments=frozenset(user.owner_departments | user.managed_departments))


def parse_status(*, value: object) -> str:
    """``on_track`` / ``at_risk`` / ``off_track``; also accepts "On track", "off-track" and the like."""
    text = str(value or "").strip().lower().replace("-", "_").replace(" ", "_")
    if text in STATUS_LABELS:
        return text
    raise CheckinError(f"Unknown status {value!r}: use on_track, at_risk or off_track.")


def check_text(*, status: str, analysis: object, next_steps: object) -> tuple[str, str]:
    """Validated analysis and next steps (the off-track rule and the length limit)."""
    a = "" if analysis is None else str(analysis).strip()
    n = "" if next_steps is None else str(next_steps).strip()
    if status == CheckinStatus.OFF_TRACK.value and not a:
        raise CheckinError("An off-track check-in needs an analysis: say why the KPI is off track.")
    for what, text in (("analysis", a), ("next steps", n)):
        if len(text) > TEXT_MAX:
            raise CheckinError(f"The {what} is too long (at most {TEXT_MAX} characters).")
    return a, n


def _kpis(session: Session, kpi_ids: set[int]) -> dict[int, tuple[int, str, str, str]]:
    """kpi_id -> (department_id, frequency, name, department name)."""
    stmt = (
        select(col(Kpi.id), col(Kpi.department_id), col(Kpi.frequency), col(Kpi.name), col(Department.name))
        .join(Department, col(Department.id) == col(Kpi.department_id))
        .where(col(Kpi.id).in_(sorted(kpi_ids)))
    )
    return {int(k): (int(d), f, n, dn) for k, d, f, n, dn in session.execute(stmt)}


def apply_checkins(
    *,
    session: Session,
    scope: EditScope,
    entries: Sequence[CheckinEntry],
    author_id: int | None = None,
    source: str = "manual",
    dry_run: bool = False,
) -> CheckinSummary:
    """Validate and write check-ins in the caller's transaction; all or nothing.

    Raises :class:`CheckinError` (or :class:`period_locks.PeriodLocked`) before writing anything
    if any entry is invalid, outside ``scope`` or in a locked period.
    """
    if not entries:
        return CheckinSummary(0, 0, 0, 0)
    info = _kpis(session, {e.kpi_id for e in entries})
    clean: list[CheckinEntry] = []
    seen: set[tuple[int, str]] = set()
    for e in entries:
        if e.kpi_id not in info:
            raise CheckinError(f"There is no KPI #{e.kpi_id}.")
        dept, freq, name, dname = info[e.kpi_id]
        if not scope.allows(dept):
            raise CheckinError(f"{scope.actor} may not write check-ins for department {dname!r}.")
        try:
            period = normalise_period(e.period, frequency=freq)
        except PeriodError as exc:
            raise CheckinError(f"KPI {name!r}: {exc}") from None
        if (e.kpi_id, period) in seen:
            raise CheckinError(f"KPI {name!r} has two check-ins for {period}.")
        seen.add((e.kpi_id, period))
        status = parse_status(value=e.status)
        try:
            analysis, next_steps = check_text(status=status, analysis=e.analysis, next_steps=e.next_steps)
        except CheckinError as exc:
            raise CheckinError(f"KPI {name!r} in {period}: {exc}") from None
        clean.append(CheckinEntry(e.kpi_id, period, status, analysis, next_steps))

    keys = [(e.kpi_id, e.period) for e in clean]
    old: dict[tuple[int, str], dict] = {}
    have_actual: set[tuple[int, str]] = set()
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        for row in session.execute(
            select(
                col(KpiCheckin.kpi_id),
                col(KpiCheckin.period),
                col(KpiCheckin.status),
                col(KpiCheckin.analysis),
                col(KpiCheckin.next_steps),
            ).where(tuple_(col(KpiCheckin.kpi_id), col(KpiCheckin.period)).in_(chunk))
        ):
            old[(row[0], row[1])] = {"status": row[2], "analysis": row[3], "next_steps": row[4]}
        for kid, period in session.execute(
            select(col(KpiValue.kpi_id), col(KpiValue.period)).where(
                tuple_(col(KpiValue.kpi_id), col(KpiValue.period)).in_(chunk)
            )
        ):
            have_actual.add((kid, period))

    now = utcnow()
    inserts: list[dict] = []
    updates: list[dict] = []
    events: list[dict] = []
    touched: list[tuple[int, str, str]] = []
    unchanged = 0
    for e in clean:
        key = (e.kpi_id, e.period)
        new = {"status": e.status, "analysis": e.analysis, "next_steps": e.next_steps}
        before = old.get(key)
        if before == new:
            unchanged += 1
            continue
        touched.append((info[e.kpi_id][0], e.period, info[e.kpi_id][3]))
        record = {"kpi_id": e.kpi_id, "period": e.period, **new, "author_id": author_id, "updated_at": now}
        (inserts if before is None else updates).append(record)
        detail = {"source": source, "before": before, "after": new, "has_actual": key in have_actual}
        events.append(
            {
                "at": now,
                "actor": scope.actor,
                "action": "create" if before is None else "update",
                "entity": "kpi_checkin",
                "entity_id": f"{e.kpi_id}:{e.period}",
                "detail": json.dumps(detail, sort_keys=True),
            }
        )
    locked = period_locks.locked_keys(session=session, keys={(d, p) for d, p, _ in touched})
    for dept, period, dname in touched:
        if (dept, period) in locked:
            raise period_locks.PeriodLocked(period_locks.locked_message(department=dname, period=period))
    summary = CheckinSummary(
        inserted=len(inserts),
        updated=len(updates),
        unchanged=unchanged,
        without_actual=sum(1 for e in clean if (e.kpi_id, e.period) not in have_actual),
    )
    if dry_run:
        return summary
    if inserts:
        session.execute(insert(KpiCheckin), inserts)
    for record in updates:  # here: no primary key on (kpi_id, period), so one UPDATE per changed check-in
        session.execute(
            update(KpiCheckin)
            .where(col(KpiCheckin.kpi_id) == record["kpi_id"], col(KpiCheckin.period) == record["period"])
            .values(
                status=record["status"],
                analysis=record["analysis"],
                next_steps=record["next_steps"],
                author_id=record["author_id"],
                updated_at=record["updated_at"],
            )
        )
    if events:
        session.execute(insert(AuditEvent), events)
    session.flush()
    return summary


def save_checkin(
    *,
    session: Session,
    user: UserContext,
    kpi_id: int,
    period: str,
    status: str,
    analysis: str = "",
    next_steps: str = "",
) -> CheckinSummary:
    """Record or update one check-in as ``user`` (scope, lock and off-track rules apply)."""
    return apply_checkins(
        session=session,
        scope=scope_for(user=user),
        entries=[CheckinEntry(kpi_id, period, status, analysis, next_steps)],
        author_id=user.account_id,
    )


# ---------------------------------------------------------------------------------- reads


def checkins_frame(
    *,
    session: Session,
    department_ids: Iterable[int] | None = None,
    kpi_ids: Iterable[int] | None = None,
    periods: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Check-ins with their KPI, department, author and whether the period has an actual."""
    stmt = (
        select(
            col(KpiCheckin.kpi_id),
            col(Kpi.name),
            col(Kpi.department_id),
            col(Department.name),
            col(KpiCheckin.period),
            col(KpiCheckin.status),
            col(KpiCheckin.analysis),
            col(KpiCheckin.next_steps),
            col(Account.name),
            col(Account.email),
            col(KpiCheckin.updated_at),
            col(KpiValue.actual),
        )
        .join(Kpi, col(Kpi.id) == col(KpiCheckin.kpi_id))
        .join(Department, col(Department.id) == col(Kpi.department_id))
        .outerjoin(Account, col(Account.id) == col(KpiCheckin.author_id))
        .outerjoin(
            KpiValue,
            and_(col(KpiValue.kpi_id) == col(KpiCheckin.kpi_id), col(KpiValue.period) == col(KpiCheckin.period)),
        )
        .where(literal(True))
        .order_by(col(Department.name), col(Kpi.name), col(KpiCheckin.period).desc())
    )
    if department_ids is not None:
        stmt = stmt.where(col(Kpi.department_id).in_(sorted(set(department_ids))))
    if kpi_ids is not None:
        stmt = stmt.where(col(KpiCheckin.kpi_id).in_(sorted(set(kpi_ids))))
    if periods is not None:
        stmt = stmt.where(col(KpiCheckin.period).in_(sorted(set(periods))))
    rows = [
        (k, kn, d, dn, p, st, STATUS_LABELS.get(st, st), a, n, an or ae or "", u, actual is not None)
        for k, kn, d, dn, p, st, a, n, an, ae, u, actual in session.execute(stmt)
    ]
    return pd.DataFrame(rows, columns=CHECKIN_COLUMNS)


def get_checkin(*, session: Session, kpi_id: int, period: str) -> KpiCheckin | None:
    stmt = select(KpiCheckin).where(col(KpiCheckin.kpi_id) == kpi_id, col(KpiCheckin.period) == period)
    return session.execute(stmt).scalars().first()


def checkin_history(*, session: Session, kpi_id: int, period: str) -> pd.DataFrame:
    """Every saved version of one check-in, newest first: at, actor, status, analysis, next_steps."""
    stmt = (
        select(col(AuditEvent.at), col(AuditEvent.actor), col(AuditEvent.detail))
        .where(col(AuditEvent.entity) == "kpi_checkin", col(AuditEvent.entity_id) == f"{kpi_id}:{period}")
        .order_by(col(AuditEvent.id).desc())
    )
    rows = []
    for at, actor, detail in session.execute(stmt):
        after = json.loads(detail).get("after") or {}
        rows.append((at, actor, after.get("status"), after.get("analysis", ""), after.get("next_steps", "")))
    return pd.DataFrame(rows, columns=["at", "actor", "status", "analysis", "next_steps"])
