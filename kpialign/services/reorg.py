"""Reorganisations with history: rename, move, merge, split and close a unit, each with an effective date.

Every step is one ``department_event`` row (two for a merge or a split: one on each unit) and
one audit row, written in the caller's transaction. Units keep their ids, so trends and the
scorecard read across a rename or a move without a break.

- **merge** ``source`` into ``target``: the source is closed; its sub-units, people, manager and
  KPI-owner scopes, expected objectives and active KPIs move to the target, and the target's
  headcount grows by the source's. The moved KPIs' ids and the date are kept in the event, so a
  history view shows the predecessor's series before the merge (labelled) and the combined unit
  after it. Survey responses stay with the unit they were given in (never recombined here).
- **split**: a new unit is created beside the old one (same parent) and takes the listed KPIs and
  people; the old unit carries on.
- **close**: only a unit with no active sub-unit and no active KPI (merge it instead).

Refused with a reason (:class:`ReorgError`): a merge into a closed unit, an effective date before
the unit existed (its ``create`` event) or before its latest recorded step, a date in the future,
a move that makes a cycle, a name already taken, a merge or split while a survey wave is open for
the unit, and a merge whose KPI names clash with the target's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from kpialign import audit
from kpialign.core.errors import Refused
from kpialign.models import (
    Account,
    AccountRole,
    Department,
    DepartmentEvent,
    DepartmentEventKind,
    DepartmentHeadcount,
    DepartmentObjective,
    Kpi,
    SurveyWave,
    WaveDepartment,
    WaveStatus,
    pk,
)

KINDS = tuple(k.value for k in DepartmentEventKind)


class ReorgError(Refused):
    """A reorganisation step was refused; the message says why and nothing was written."""


@dataclass(frozen=True)
class Predecessor:
    """A unit whose history flows into another: its KPIs ``kpi_ids`` count for it before ``until``."""

    department_id: int
    name: str
    kind: str  # merge | split
    until: date
    kpi_ids: tuple[int, ...]


# ------------------------------------------------------------------------------ checks


def _unit(session: Session, department_id: int, what: str = "unit") -> Department:
    dept = session.get(Department, department_id)
    if dept is None:
        raise ReorgError(f"There is no {what} #{department_id}.")
    return dept


def _period(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def unit_started(*, session: Session, department_id: int) -> date | None:
    """The date a unit came into existence (its ``create`` event), or None if it predates the records."""
    return session.execute(
        select(func.min(col(DepartmentEvent.effective_on))).where(
            col(DepartmentEvent.department_id) == department_id,
            col(DepartmentEvent.kind) == DepartmentEventKind.CREATE.value,
        )
    ).scalar_one_or_none()


def _check_date(session: Session, dept: Department, effective_on: date, *, today: date | None = None) -> None:
    today = today or date.today()
    if effective_on > today:
        raise ReorgError(f"The effective date {effective_on} is in the future; record the change on or after that day.")
    started = unit_started(session=session, department_id=pk(dept))
    if started is not None and effective_on < started:
        raise ReorgError(f"{dept.name!r} did not exist on {effective_on}: it was created on {started}.")
    latest = session.execute(
        select(func.max(col(DepartmentEvent.effective_on))).where(col(DepartmentEvent.department_id) == dept.id)
    ).scalar_one_or_none()
    if latest is not None and effective_on < latest:
        raise ReorgError(
            f"{dept.name!r} already has a change recorded on {latest}; a later step cannot take effect before it."
        )


def _check_active(dept: Department, verb: str) -> None:
    if not dept.active:
        raise ReorgError(f"{dept.name!r} is closed; a closed unit cannot be {verb}.")


def _check_name(session: Session, name: str, *, except_id: int | None = None) -> str:
    name = " ".join(str(name or "").split())
    if not name:
        raise ReorgError("The unit name cannot be empty.")
    if len(name) > 200:
        raise ReorgError("The unit name is longer than 200 characters.")
    clash = session.execute(
        select(col(Department.id)).where(
            func.lower(col(Department.name)) == name.lower(), col(Department.id) != (except_id or -1)
        )
    ).first()
    if clash is not None:
        raise ReorgError(f"A unit named {name!r} already exists.")
    return name


def _parents(session: Session) -> dict[int, int | None]:
    return dict(session.execute(select(col(Department.id), col(Department.parent_id))).all())


def _below(parents: dict[int, int | None], root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for d, p in parents.items():
        if p is not None:
            children.setdefault(p, []).append(d)
    seen, stack = set(), [root]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(children.get(node, ()))
    return seen


def _open_wave(session: Session, department_id: int) -> str | None:
    return session.execute(
        select(col(SurveyWave.name))
        .join(WaveDepartment, col(WaveDepartment.wave_id) == col(SurveyWave.id))
        .where(col(WaveDepartment.department_id) == department_id, col(SurveyWave.status) == WaveStatus.OPEN.value)
    ).scalar()


def _event(
    session: Session,
    dept_id: int,
    kind: str,
    effective_on: date,
    actor: str,
    related: int | None = None,
    **detail: object,
) -> DepartmentEvent:
    event = DepartmentEvent(
        department_id=dept_id,
        kind=kind,
        effective_on=effective_on,
        related_department_id=related,
        detail=json.dumps(detail, sort_keys=True, default=str),
        created_by=actor,
    )
    session.add(event)
    audit.record(
        session,
        actor=actor,
        action=kind,
        entity="department",
        entity_id=dept_id,
        after={"effective_on": effective_on, "related": related, **detail},
    )
    return event


def _record_headcount(session: Session, dept_id: int, period: str, headcount: int) -> None:
    session.execute(
        delete(DepartmentHeadcount).where(
            col(DepartmentHeadcount.department_id) == dept_id, col(DepartmentHeadcount.period) == period
        )
    )
    session.add(DepartmentHeadcount(department_id=dept_id, period=period, headcount=headcount))


# ------------------------------------------------------------------------------- steps


def rename_unit(*, session: Session, department_id: int, name: str, effective_on: date, actor: str) -> DepartmentEvent:
    dept = _unit(session, department_id)
    _check_active(dept, "renamed")
    name = _check_name(session, name, except_id=dept.id)
    if name == dept.name:
        raise ReorgError(f"The unit is already called {name!r}.")
    _check_date(session, dept, effective_on)
    old = dept.name
    dept.name = name
    session.add(dept)
    event = _event(session, pk(dept), "rename", effective_on, actor, None, **{"from": old, "to": name})
    session.flush()
    return event


def move_unit(
    *, session: Session, department_id: int, parent_id: int | None, effective_on: date, actor: str
) -> DepartmentEvent:
    dept = _unit(session, department_id)
    _check_active(dept, "moved")
    if parent_id == dept.parent_id:
        raise ReorgError(f"{dept.name!r} is already there.")
    if parent_id is not None:
        parent = _unit(session, parent_id, "parent unit")
        if not parent.active:
            raise ReorgError(f"{parent.name!r} is closed; a unit cannot move under a closed unit.")
        if parent_id in _below(_parents(session), pk(dept)):
            raise ReorgError(
                f"Moving {dept.name!r} under {parent.name!r} would make a cycle: it is inside {dept.name!r}."
            )
    _check_date(session, dept, effective_on)
    old = dept.parent_id
    dept.parent_id = parent_id
    session.add(dept)
    event = _event(session, pk(dept), "move", effective_on, actor, from_parent=old, to_parent=parent_id)
    session.flush()
    return event


def merge_units(*, session: Session, source_id: int, into_id: int, effective_on: date, actor: str) -> DepartmentEvent:
    """Merge ``source`` into ``into`` (which carries on); returns the event on ``into``."""
    if source_id == into_id:
        raise ReorgError("A unit cannot be merged into itself.")
    source, target = _unit(session, source_id), _unit(session, into_id)
    if not target.active:
        raise ReorgError(f"{target.name!r} is closed; nothing can be merged into a closed unit.")
    _check_active(source, "merged")
    if into_id in _below(_parents(session), source_id):
        raise ReorgError(f"{target.name!r} is inside {source.name!r}; move it out before merging.")
    _check_date(session, source, effective_on)
    _check_date(session, target, effective_on)
    for unit in (source, target):
        if wave := _open_wave(session, pk(unit)):
            raise ReorgError(f"The survey wave {wave!r} is open for {unit.name!r}; merge after it closes.")
    kpis = session.execute(
        select(col(Kpi.id), col(Kpi.name)).where(col(Kpi.department_id) == source_id, col(Kpi.active))
    ).all()
    taken = {
        n.casefold() for n in session.execute(select(col(Kpi.name)).where(col(Kpi.department_id) == into_id)).scalars()
    }
    clash = sorted(n for _, n in kpis if n.casefold() in taken)
    if clash:
        raise ReorgError(f"{target.name!r} already has KPI(s) named {', '.join(map(repr, clash))}; rename them first.")
    kpi_ids = [k for k, _ in kpis]
    if kpi_ids:
        session.execute(update(Kpi).where(col(Kpi.id).in_(kpi_ids)).values(department_id=into_id))
    session.execute(update(Department).where(col(Department.parent_id) == source_id).values(parent_id=into_id))
    n_people = session.exec(
        update(Account).where(col(Account.department_id) == source_id).values(department_id=into_id)
    ).rowcount
    _move_scopes(session, source_id, into_id)
    have = set(
        session.execute(
            select(col(DepartmentObjective.objective_id)).where(col(DepartmentObjective.department_id) == into_id)
        ).scalars()
    )
    for obj in session.execute(
        select(col(DepartmentObjective.objective_id)).where(col(DepartmentObjective.department_id) == source_id)
    ).scalars():
        if obj not in have:
            session.add(DepartmentObjective(department_id=into_id, objective_id=obj))
    period = _period(effective_on)
    combined = int(target.headcount) + int(source.headcount)
    target.headcount, source.headcount, source.active = combined, 0, False
    session.add_all([target, source])
    session.flush()
    _record_headcount(session, into_id, period, combined)
    _record_headcount(session, source_id, period, 0)
    _event(session, source_id, "merge", effective_on, actor, related=into_id, role="merged_into", into=target.name)
    event = _event(
        session,
        into_id,
        "merge",
        effective_on,
        actor,
        related=source_id,
        role="absorbed",
        predecessor=source.name,
        kpi_ids=kpi_ids,
        people=n_people,
    )
    session.flush()
    return event


def _move_scopes(session: Session, from_id: int, to_id: int) -> None:
    rows = session.execute(select(AccountRole).where(col(AccountRole.department_id) == from_id)).scalars().all()
    for r in rows:
        exists = session.execute(
            select(col(AccountRole.id)).where(
                col(AccountRole.account_id) == r.account_id,
                col(AccountRole.role) == r.role,
                col(AccountRole.department_id) == to_id,
            )
        ).first()
        if exists:
            session.delete(r)
        else:
            r.department_id = to_id
            session.add(r)
    session.flush()


def split_unit(
    *,
    session: Session,
    department_id: int,
    new_name: str,
    effective_on: date,
    actor: str,
    kpi_ids: list[int] | tuple[int, ...] = (),
    account_ids: list[int] | tuple[int, ...] = (),
    headcount: int | None = None,
) -> int:
    """Split a unit in two: a new unit beside it takes ``kpi_ids`` and ``account_ids``. Returns the new id."""
    dept = _unit(session, department_id)
    _check_active(dept, "split")
    name = _check_name(session, new_name)
    _check_date(session, dept, effective_on)
    if wave := _open_wave(session, pk(dept)):
        raise ReorgError(f"The survey wave {wave!r} is open for {dept.name!r}; split after it closes.")
    own_kpis = set(session.execute(select(col(Kpi.id)).where(col(Kpi.department_id) == dept.id)).scalars())
    stray = sorted(set(kpi_ids) - own_kpis)
    if stray:
        raise ReorgError(f"KPI(s) {stray} do not belong to {dept.name!r}.")
    own_people = set(session.execute(select(col(Account.id)).where(col(Account.department_id) == dept.id)).scalars())
    stray = sorted(set(account_ids) - own_people)
    if stray:
        raise ReorgError(f"Account(s) {stray} are not in {dept.name!r}.")
    moved_people = len(set(account_ids))
    size = moved_people if headcount is None else int(headcount)
    if size < 0 or (headcount is not None and size > dept.headcount):
        raise ReorgError(f"The new unit's headcount must be between 0 and {dept.headcount}.")
    new = Department(name=name, parent_id=dept.parent_id, headcount=size, active=True)
    session.add(new)
    session.flush()
    assert new.id is not None
    if kpi_ids:
        session.execute(update(Kpi).where(col(Kpi.id).in_(list(kpi_ids))).values(department_id=new.id))
    if account_ids:
        session.execute(update(Account).where(col(Account.id).in_(list(account_ids))).values(department_id=new.id))
    dept.headcount = max(0, int(dept.headcount) - size)
    session.add(dept)
    for obj in session.execute(
        select(col(DepartmentObjective.objective_id)).where(col(DepartmentObjective.department_id) == dept.id)
    ).scalars():
        session.add(DepartmentObjective(department_id=new.id, objective_id=obj))
    session.flush()
    period = _period(effective_on)
    _record_headcount(session, pk(dept), period, dept.headcount)
    _record_headcount(session, new.id, period, size)
    _event(session, pk(dept), "split", effective_on, actor, related=new.id, role="split_into", new=name)
    _event(
        session,
        new.id,
        "create",
        effective_on,
        actor,
        related=dept.id,
        role="split_from",
        predecessor=dept.name,
        kpi_ids=sorted(kpi_ids),
        people=moved_people,
    )
    session.flush()
    return new.id


def close_unit(*, session: Session, department_id: int, effective_on: date, actor: str) -> DepartmentEvent:
    dept = _unit(session, department_id)
    _check_active(dept, "closed again")
    subs = (
        session.execute(
            select(col(Department.name)).where(col(Department.parent_id) == dept.id, col(Department.active))
        )
        .scalars()
        .all()
    )
    if subs:
        raise ReorgError(f"{dept.name!r} still has active sub-unit(s): {', '.join(subs)}; move or close them first.")
    n_kpis = session.execute(
        select(func.count()).select_from(Kpi).where(col(Kpi.department_id) == dept.id, col(Kpi.active))
    ).scalar_one()
    if n_kpis:
        raise ReorgError(f"{dept.name!r} still has {n_kpis} active KPI(s); merge the unit into another one instead.")
    _check_date(session, dept, effective_on)
    if wave := _open_wave(session, pk(dept)):
        raise ReorgError(f"The survey wave {wave!r} is open for {dept.name!r}; close the unit after it closes.")
    dept.active = False
    session.add(dept)
    _record_headcount(session, pk(dept), _period(effective_on), 0)
    event = _event(session, pk(dept), "close", effective_on, actor, name=dept.name)
    session.flush()
    return event


# ------------------------------------------------------------------------------ reading


def predecessors(*, session: Session, department_id: int) -> list[Predecessor]:
    """The units whose KPI history flowed into this one (merged into it, or split from), oldest first."""
    rows = session.execute(
        select(
            col(DepartmentEvent.related_department_id),
            col(DepartmentEvent.kind),
            col(DepartmentEvent.effective_on),
            col(DepartmentEvent.detail),
        )
        .where(
            col(DepartmentEvent.department_id) == department_id,
            col(DepartmentEvent.related_department_id).is_not(None),
            col(DepartmentEvent.kind).in_(["merge", "create"]),
        )
        .order_by(col(DepartmentEvent.effective_on), col(DepartmentEvent.id))
    ).all()
    out = []
    for related, kind, on, raw in rows:
        detail = json.loads(raw or "{}")
        if detail.get("role") not in ("absorbed", "split_from"):
            continue
        out.append(
            Predecessor(
                department_id=int(related),
                name=str(detail.get("predecessor", f"#{related}")),
                kind="merge" if kind == "merge" else "split",
                until=on,
                kpi_ids=tuple(int(k) for k in detail.get("kpi_ids", [])),
            )
        )
    return out


def history_frame(*, session: Session, department_id: int | None = None) -> pd.DataFrame:
    """Reorganisation events, newest first: ``effective_on, unit, kind, what, by`` (``what`` in words)."""
    names = dict(session.execute(select(col(Department.id), col(Department.name))).all())
    stmt = select(DepartmentEvent).order_by(col(DepartmentEvent.effective_on).desc(), col(DepartmentEvent.id).desc())
    if department_id is not None:
        stmt = stmt.where(col(DepartmentEvent.department_id) == department_id)
    rows = []
    for e in session.execute(stmt).scalars():
        d = json.loads(e.detail or "{}")
        rel = names.get(e.related_department_id, "") if e.related_department_id else ""
        if e.kind == "rename":
            what = f"renamed from {d.get('from')} to {d.get('to')}"
        elif e.kind == "move":
            what = f"moved from {names.get(d.get('from_parent'), 'top level')} to {names.get(d.get('to_parent'), 'top level')}"
        elif e.kind == "merge":
            what = (
                f"merged into {rel}"
                if d.get("role") == "merged_into"
                else f"absorbed {rel} ({len(d.get('kpi_ids', []))} KPI(s))"
            )
        elif e.kind == "split":
            what = f"split: {rel} created from it"
        elif e.kind == "create":
            what = f"split from {rel}" if d.get("role") == "split_from" else "created"
        else:
            what = "closed"
        rows.append((e.effective_on, names.get(e.department_id, f"#{e.department_id}"), e.kind, what, e.created_by))
    return pd.DataFrame(rows, columns=["effective_on", "unit", "kind", "what", "by"])
