"""Targets and actuals per period: validated upserts, series, missing periods (period rules: core.periods).

Periods are strings: ``YYYY-MM`` for monthly KPIs and ``YYYY-Qn`` for quarterly ones. They
sort correctly as text within one frequency.

Every write goes through :func:`apply_entries`, which checks the editor's scope (a KPI owner
may only write the departments they own; an admin or the command line may write all), compares
with what is stored (one query for the whole batch), writes only what changed and records one
audit event per changed value or target in the same transaction.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, SupportsFloat, cast

import pandas as pd
from sqlalchemy import Select, and_, delete, func, insert, literal, select, tuple_, update
from sqlmodel import Session, col

from kpialign import audit
from kpialign.core.errors import Refused
from kpialign.core.periods import (
    PeriodError,
    complete_periods,
    normalise_period,
    parse_period,
)
from kpialign.models import AuditEvent, Department, Frequency, Kpi, KpiTarget, KpiValue, Role, utcnow
from kpialign.services import period_locks
from kpialign.services.accounts import UserContext

# Large batches are written in chunks so that IN lists and executemany stay reasonable.
_CHUNK = 500


class MeasurementError(Refused):
    """A value, target or period was refused; the message says why. Nothing was written."""


class ScopeError(MeasurementError):
    """The editor may not change data of that department."""


class LockedError(MeasurementError):
    """The period is locked for that department after its review (see services.period_locks)."""


# --------------------------------------------------------------------------------- scope


@dataclass(frozen=True)
class EditScope:
    """Who writes, and which departments they may write (``None``: every department)."""

    actor: str
    departments: frozenset[int] | None

    @classmethod
    def for_user(cls, user: UserContext) -> EditScope:
        if Role.ADMIN.value in user.roles:
            return cls(actor=user.email, departments=None)
        if Role.KPI_OWNER.value in user.roles:
            return cls(actor=user.email, departments=frozenset(user.owner_departments))
        return cls(actor=user.email, departments=frozenset())

    @classmethod
    def everything(cls, actor: str) -> EditScope:
        """For the command line and system jobs, which run with the server's rights."""
        return cls(actor=actor, departments=None)

    def allows(self, department_id: int | None) -> bool:
        return self.departments is None or department_id in self.departments

    def check(self, department_id: int | None, department_name: str = "") -> None:
        if not self.allows(department_id):
            label = repr(department_name) if department_name else f"#{department_id}"
            raise ScopeError(f"{self.actor} may not change KPI data of department {label}.")


# -------------------------------------------------------------------------------- writes


def check_number(*, value: object, what: str = "value") -> float:
    """A finite float, or :class:`MeasurementError` (``nan``, infinities and text are refused)."""
    if isinstance(value, bool) or value is None:
        raise MeasurementError(f"The {what} must be a number.")
    try:
        number = float(cast("SupportsFloat | str", value))  # here: anything else raises TypeError
    except (TypeError, ValueError):
        raise MeasurementError(f"The {what} must be a number, not {value!r}.") from None
    if not math.isfinite(number):
        raise MeasurementError(f"The {what} must be a finite number.")
    if abs(number) > 1e15:
        raise MeasurementError(f"The {what} {number:g} is implausibly large.")
    return number


_KEEP = object()


@dataclass(frozen=True)
class Entry:
    """One cell set: the actual and/or the period target of a KPI in a period.

    ``actual=None`` leaves the actual alone; ``target=None`` leaves the period target alone;
    ``clear_target=True`` removes the period target (the KPI's default applies again).
    """

    kpi_id: int
    period: str
    actual: float | None = None
    target: float | None = None
    clear_target: bool = False


@dataclass
class WriteSummary:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    targets_set: int = 0
    targets_cleared: int = 0
    changes: list[dict] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.inserted + self.updated

    def describe(self) -> str:
        if self.changed == 0 and self.targets_set == 0 and self.targets_cleared == 0:
            return f"Nothing changed: all {self.unchanged} row(s) were already up to date."
        parts = [f"{self.inserted} inserted", f"{self.updated} updated", f"{self.unchanged} unchanged"]
        return ", ".join(parts) + "."


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterable[Sequence]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _kpi_info(session: Session, kpi_ids: set[int]) -> dict[int, tuple[int, str, str, bool, str]]:
    """kpi_id -> (department_id, frequency, name, active, department name) in one query per chunk."""
    info: dict[int, tuple[int, str, str, bool, str]] = {}
    ids = sorted(kpi_ids)
    for chunk in _chunks(ids):
        stmt = (
            select(
                col(Kpi.id),
                col(Kpi.department_id),
                col(Kpi.frequency),
                col(Kpi.name),
                col(Kpi.active),
                col(Department.name),
            )
            .join(Department, col(Department.id) == col(Kpi.department_id))
            .where(col(Kpi.id).in_(chunk))
        )
        for kid, dept, freq, name, active, dname in session.execute(stmt):
            info[kid] = (dept, freq, name, bool(active), dname)
    return info


def apply_entries(
    *,
    session: Session,
    scope: EditScope,
    entries: Sequence[Entry],
    source: str = "manual",
    allow_retired: bool = False,
    dry_run: bool = False,
) -> WriteSummary:
    """Validate and write ``entries`` in the caller's transaction; all or nothing.

    Raises :class:`MeasurementError` (or its subclasses) before writing anything if any entry is
    invalid or outside ``scope``. Counts: ``inserted`` (no actual stored before), ``updated``
    (actual or period target changed), ``unchanged``. With ``dry_run`` the counts are computed
    and nothing is written (no audit events either).
    """
    if not entries:
        return WriteSummary()
    info = _kpi_info(session, {e.kpi_id for e in entries})
    clean: list[Entry] = []
    seen: set[tuple[int, str]] = set()
    for e in entries:
        if e.kpi_id not in info:
            raise MeasurementError(f"There is no KPI #{e.kpi_id}.")
        dept, freq, name, active, dname = info[e.kpi_id]
        scope.check(dept, dname)
        if not active and not allow_retired:
            raise MeasurementError(f"KPI {name!r} is retired; its data can no longer be changed.")
        try:
            period = normalise_period(e.period, frequency=freq)
        except PeriodError as exc:
            raise PeriodError(f"KPI {name!r}: {exc}") from None
        if (e.kpi_id, period) in seen:
            raise MeasurementError(f"KPI {name!r} has two entries for {period}.")
        seen.add((e.kpi_id, period))
        actual = None if e.actual is None else check_number(value=e.actual, what=f"actual of {name!r} in {period}")
        target = None if e.target is None else check_number(value=e.target, what=f"target of {name!r} in {period}")
        if e.clear_target and target is not None:
            raise MeasurementError(f"KPI {name!r} in {period}: either set or clear the target, not both.")
        clean.append(Entry(e.kpi_id, period, actual, target, e.clear_target))

    keys = [(e.kpi_id, e.period) for e in clean]
    old_values: dict[tuple[int, str], float] = {}
    old_targets: dict[tuple[int, str], float] = {}
    for chunk in _chunks(keys):
        for kid, period, actual in session.execute(
            select(col(KpiValue.kpi_id), col(KpiValue.period), col(KpiValue.actual)).where(
                tuple_(col(KpiValue.kpi_id), col(KpiValue.period)).in_(chunk)
            )
        ):
            old_values[(kid, period)] = actual
        for kid, period, target in session.execute(
            select(col(KpiTarget.kpi_id), col(KpiTarget.period), col(KpiTarget.target)).where(
                tuple_(col(KpiTarget.kpi_id), col(KpiTarget.period)).in_(chunk)
            )
        ):
            old_targets[(kid, period)] = target

    now = utcnow()
    summary = WriteSummary()
    value_inserts: list[dict] = []
    value_updates: list[dict] = []
    target_inserts: list[dict] = []
    target_updates: list[dict] = []
    target_deletes: list[tuple[int, str]] = []
    events: list[dict] = []
    touched: list[tuple[int, str, str]] = []
    for e in clean:
        key = (e.kpi_id, e.period)
        changed = False
        inserted = False
        if e.actual is not None:
            before = old_values.get(key)
            if before is None:
                value_inserts.append(
                    {
                        "kpi_id": e.kpi_id,
                        "period": e.period,
                        "actual": e.actual,
                        "source": source,
                        "entered_by": scope.actor,
                        "entered_at": now,
                    }
                )
                inserted = True
            elif before != e.actual:
                value_updates.append(
                    {
                        "kpi_id": e.kpi_id,
                        "period": e.period,
                        "actual": e.actual,
                        "source": source,
                        "entered_by": scope.actor,
                        "entered_at": now,
                    }
                )
                changed = True
            if before != e.actual and not dry_run:
                events.append(_event(scope, "kpi_value", key, {"actual": before}, {"actual": e.actual}, source, now))
        if e.target is not None:
            before_t = old_targets.get(key)
            if before_t is None:
                target_inserts.append({"kpi_id": e.kpi_id, "period": e.period, "target": e.target})
            elif before_t != e.target:
                target_updates.append({"kpi_id": e.kpi_id, "period": e.period, "target": e.target})
            if before_t != e.target:
                changed = True
                summary.targets_set += 1
                if not dry_run:
                    events.append(
                        _event(scope, "kpi_target", key, {"target": before_t}, {"target": e.target}, source, now)
                    )
        elif e.clear_target and key in old_targets:
            target_deletes.append(key)
            changed = True
            summary.targets_cleared += 1
            if not dry_run:
                events.append(
                    _event(scope, "kpi_target", key, {"target": old_targets[key]}, {"target": None}, source, now)
                )
        if inserted:
            summary.inserted += 1
        elif changed:
            summary.updated += 1
        else:
            summary.unchanged += 1
        if inserted or changed:
            touched.append((info[e.kpi_id][0], e.period, info[e.kpi_id][4]))

    # here: only what would change is checked, so re-importing a file that spans a locked period
    # still succeeds when the locked rows are unchanged
    _refuse_locked(session, touched)
    if dry_run:
        return summary
    if value_inserts:
        session.execute(insert(KpiValue), value_inserts)
    if value_updates:
        session.execute(update(KpiValue), value_updates)  # ORM bulk UPDATE by primary key
    if target_inserts:
        session.execute(insert(KpiTarget), target_inserts)
    if target_updates:
        session.execute(update(KpiTarget), target_updates)
    for chunk in _chunks(target_deletes):
        session.execute(delete(KpiTarget).where(tuple_(KpiTarget.kpi_id, KpiTarget.period).in_(chunk)))
    if events:  # one audit event per changed value or target, inserted in bulk in the same transaction
        session.execute(insert(AuditEvent), events)
    session.flush()
    return summary


def _refuse_locked(session: Session, keys: Sequence[tuple[int, str, str]]) -> None:
    """Raise :class:`LockedError` naming the first locked (department, period) among ``keys``."""
    locked = period_locks.locked_keys(session=session, keys={(d, p) for d, p, _ in keys})
    for dept, period, dname in keys:
        if (dept, period) in locked:
            raise LockedError(period_locks.locked_message(department=dname, period=period))


def _event(
    scope: EditScope, entity: str, key: tuple[int, str], before: dict, after: dict, source: str, at: datetime
) -> dict:
    """An ``audit_event`` row in the format of :func:`kpialign.audit.record` (for bulk inserts)."""
    action = "create" if all(v is None for v in before.values()) else "update"
    if all(v is None for v in after.values()):
        action = "delete"
    return {
        "at": at,
        "actor": scope.actor,
        "action": action,
        "entity": entity,
        "entity_id": f"{key[0]}:{key[1]}",
        "detail": json.dumps({"source": source, "before": before, "after": after}, sort_keys=True),
    }


def delete_value(*, session: Session, scope: EditScope, kpi_id: int, period: str) -> bool:
    """Remove a stored actual (audited). Returns False if there was none."""
    info = _kpi_info(session, {kpi_id})
    if kpi_id not in info:
        raise MeasurementError(f"There is no KPI #{kpi_id}.")
    scope.check(info[kpi_id][0], info[kpi_id][4])
    period = normalise_period(period, frequency=info[kpi_id][1])
    _refuse_locked(session, [(info[kpi_id][0], period, info[kpi_id][4])])
    row = session.get(KpiValue, (kpi_id, period))
    if row is None:
        return False
    audit.record(
        session,
        actor=scope.actor,
        action="delete",
        entity="kpi_value",
        entity_id=f"{kpi_id}:{period}",
        before={"actual": row.actual},
        after={"actual": None},
        source="manual",
    )
    session.delete(row)
    session.flush()
    return True


# --------------------------------------------------------------------------------- reads


def values_frame(
    *,
    session: Session,
    kpi_ids: Iterable[int] | None = None,
    periods: Iterable[str] | None = None,
    active_only: bool = False,
) -> pd.DataFrame:
    """Actuals with the target that applies: ``kpi_id, period, actual, target, target_source``.

    ``target`` is the period target where one is set, else the KPI's default target (may be
    missing for range KPIs). One SQL query; periods sort as text within a frequency.
    """
    stmt: Select[*tuple[Any, ...]] = (
        select(
            col(KpiValue.kpi_id),
            col(KpiValue.period),
            col(KpiValue.actual),
            func.coalesce(col(KpiTarget.target), col(Kpi.target)).label("target"),
            col(KpiTarget.target).label("period_target"),
        )
        .join(Kpi, col(Kpi.id) == col(KpiValue.kpi_id))
        .outerjoin(
            KpiTarget,
            and_(col(KpiTarget.kpi_id) == col(KpiValue.kpi_id), col(KpiTarget.period) == col(KpiValue.period)),
        )
    )
    if kpi_ids is not None:
        stmt = stmt.where(col(KpiValue.kpi_id).in_(list(kpi_ids)))
    if periods is not None:
        stmt = stmt.where(col(KpiValue.period).in_(list(periods)))
    if active_only:
        stmt = stmt.where(col(Kpi.active) == literal(True))
    stmt = stmt.order_by(col(KpiValue.kpi_id), col(KpiValue.period))
    rows = [tuple(r) for r in session.execute(stmt).all()]  # plain tuples: pandas inspects Row objects one by one
    df = pd.DataFrame(rows, columns=["kpi_id", "period", "actual", "target", "period_target"])
    df["target_source"] = (
        df["period_target"].notna().map({True: "period", False: "default"}) if len(df) else pd.Series(dtype=object)
    )
    df = df.drop(columns="period_target")
    return df.astype({"kpi_id": "int64", "actual": "float64", "target": "float64"})


def targets_frame(*, session: Session, kpi_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Period-specific targets: ``kpi_id, period, target``."""
    stmt = select(col(KpiTarget.kpi_id), col(KpiTarget.period), col(KpiTarget.target))
    if kpi_ids is not None:
        stmt = stmt.where(col(KpiTarget.kpi_id).in_(list(kpi_ids)))
    rows = session.execute(stmt.order_by(col(KpiTarget.kpi_id), col(KpiTarget.period))).all()
    return pd.DataFrame(rows, columns=["kpi_id", "period", "target"]).astype({"kpi_id": "int64", "target": "float64"})


def series(*, session: Session, kpi_id: int) -> pd.DataFrame:
    """One KPI's history: ``period, actual, target, target_source`` in period order."""
    return values_frame(session=session, kpi_ids=[kpi_id]).drop(columns="kpi_id").reset_index(drop=True)


def latest_periods(*, session: Session) -> dict[str, str | None]:
    """The latest period with any actual, per frequency (for default selections)."""
    out: dict[str, str | None] = {Frequency.MONTHLY.value: None, Frequency.QUARTERLY.value: None}
    stmt = (
        select(col(Kpi.frequency), func.max(col(KpiValue.period)))
        .join(Kpi, col(Kpi.id) == col(KpiValue.kpi_id))
        .group_by(col(Kpi.frequency))
    )
    for freq, period in session.execute(stmt):
        out[freq] = period
    return out


def missing_periods(
    *,
    session: Session,
    start: date,
    end: date,
    department_ids: Iterable[int] | None = None,
) -> pd.DataFrame:
    """Active KPIs' periods ending between ``start`` and ``end`` (inclusive) that have no actual.

    Columns: ``kpi_id, kpi, department_id, department, frequency, period``. Two queries: the
    KPIs and the stored (kpi_id, period) pairs in range; the difference is taken in pandas.
    """
    cols = ["kpi_id", "kpi", "department_id", "department", "frequency", "period"]
    kstmt = (
        select(col(Kpi.id), col(Kpi.name), col(Kpi.department_id), col(Department.name), col(Kpi.frequency))
        .join(Department, col(Department.id) == col(Kpi.department_id))
        .where(col(Kpi.active) == literal(True))
    )
    if department_ids is not None:
        kstmt = kstmt.where(col(Kpi.department_id).in_(list(department_ids)))
    kpis = pd.DataFrame(session.execute(kstmt).all(), columns=cols[:-1])
    if kpis.empty or end < start:
        return pd.DataFrame(columns=cols)
    grids = []
    all_periods: list[str] = []
    for freq in (Frequency.MONTHLY.value, Frequency.QUARTERLY.value):
        periods = complete_periods(freq, start, end)
        all_periods += periods
        grids.append(pd.DataFrame({"frequency": freq, "period": periods}))
    expected = kpis.merge(pd.concat(grids), on="frequency")
    vstmt = select(col(KpiValue.kpi_id), col(KpiValue.period)).where(col(KpiValue.period).in_(all_periods))
    if department_ids is not None:
        vstmt = vstmt.join(Kpi, col(Kpi.id) == col(KpiValue.kpi_id)).where(
            col(Kpi.department_id).in_(list(department_ids))
        )
    have = pd.DataFrame(session.execute(vstmt).all(), columns=["kpi_id", "period"])
    merged = expected.merge(have.assign(_have=True), on=["kpi_id", "period"], how="left")
    missing = merged[merged["_have"].isna()][cols]
    return missing.sort_values(["department", "kpi", "period"]).reset_index(drop=True)


def entry_grid(*, session: Session, department_id: int, period: str) -> pd.DataFrame:
    """The data-entry grid of one department and period: its active KPIs of that frequency.

    Columns: ``kpi_id, kpi, unit, polarity, default_target, target, actual, entered_by``
    (``target`` is the period target, empty when the default applies).
    """
    p = parse_period(period)
    stmt = (
        select(
            col(Kpi.id),
            col(Kpi.name),
            col(Kpi.unit),
            col(Kpi.polarity),
            col(Kpi.target),
            col(KpiTarget.target),
            col(KpiValue.actual),
            col(KpiValue.entered_by),
        )
        .outerjoin(KpiValue, and_(col(KpiValue.kpi_id) == col(Kpi.id), col(KpiValue.period) == str(p)))
        .outerjoin(KpiTarget, and_(col(KpiTarget.kpi_id) == col(Kpi.id), col(KpiTarget.period) == str(p)))
        .where(
            col(Kpi.department_id) == department_id, col(Kpi.frequency) == p.frequency, col(Kpi.active) == literal(True)
        )
        .order_by(col(Kpi.name))
    )
    cols = ["kpi_id", "kpi", "unit", "polarity", "default_target", "target", "actual", "entered_by"]
    df = pd.DataFrame(session.execute(stmt).all(), columns=cols)
    return df.astype({"kpi_id": "int64", "default_target": "float64", "target": "float64", "actual": "float64"})


@dataclass
class CellProblem:
    kpi: str
    column: str
    value: object
    reason: str


def grid_entries(*, before: pd.DataFrame, after: pd.DataFrame, period: str) -> tuple[list[Entry], list[CellProblem]]:
    """Compare an edited :func:`entry_grid` with the original: the entries to write and per-cell problems.

    An emptied actual is a problem (delete a value explicitly instead); an emptied target means
    "use the default target again".
    """
    problems: list[CellProblem] = []
    entries: list[Entry] = []
    old = before.set_index("kpi_id")
    for _, row in after.iterrows():
        kid = int(row["kpi_id"])
        if kid not in old.index:
            problems.append(CellProblem(str(row.get("kpi", kid)), "kpi", kid, "Rows cannot be added here."))
            continue
        prev = old.loc[kid]
        name = str(prev["kpi"])
        actual, target, clear = None, None, False
        new_a, old_a = row["actual"], prev["actual"]
        if _blank(new_a):
            if not _blank(old_a):
                problems.append(CellProblem(name, "actual", "", "An actual cannot be emptied here; delete it instead."))
        else:
            try:
                value = check_number(value=new_a, what="actual")
                if _blank(old_a) or value != float(cast(float, old_a)):
                    actual = value
            except MeasurementError as exc:
                problems.append(CellProblem(name, "actual", new_a, str(exc)))
        new_t, old_t = row["target"], prev["target"]
        if _blank(new_t):
            clear = not _blank(old_t)
        else:
            try:
                value = check_number(value=new_t, what="target")
                if _blank(old_t) or value != float(cast(float, old_t)):
                    target = value
            except MeasurementError as exc:
                problems.append(CellProblem(name, "target", new_t, str(exc)))
        if actual is not None or target is not None or clear:
            entries.append(Entry(kid, period, actual, target, clear))
    return entries, problems


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(pd.isna(cast(Any, value)))  # here: pandas-stubs accept only array-likes and scalars
    except (TypeError, ValueError):
        return False
