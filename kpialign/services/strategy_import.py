"""Strategy import and export: objectives, KPI definitions and KPI->objective links by CSV.

Files (any of the three; header names case-insensitive, comma or semicolon separated):

- **objectives**: ``code, title, description, parent, weight, active, serving_departments``
  (``parent`` is a code; ``serving_departments`` the units expected to serve it, separated by ``|``).
- **kpis**: ``department, name, description, unit, polarity, baseline, target, range_low,
  range_high, frequency, weight, owner_email, active`` — every field of the KPI form.
- **links**: ``department, kpi, objective, contribution`` (-1..1, not 0). For every KPI the file
  mentions, its links become exactly the file's (a link left out is removed).

The same rules as the other imports: the whole input is checked (file, row, column, value,
reason); any problem and nothing is written; importing the same files again changes nothing.
Every change goes through :mod:`kpialign.services.strategy` (same validation, one audit row per
change) inside a savepoint, so a dry run applies the files, counts, and rolls the savepoint back.
:func:`export_strategy` writes the same three files, so a configuration round-trips.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, overload

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from kpialign import audit
from kpialign.core.csv_out import FORMULA_PREFIXES, write_csv
from kpialign.core.errors import ImportIssue, ImportRefused, issues_frame
from kpialign.models import Account, Department, DepartmentObjective, Frequency, Kpi, KpiObjective, Objective, Polarity
from kpialign.services import strategy
from kpialign.services.directory import csv_records, decode_csv, file_issue
from kpialign.services.kpi_import import parse_number
from kpialign.services.strategy import KpiInput, StrategyError

OBJECTIVE_COLUMNS = ("code", "title", "description", "parent", "weight", "active", "serving_departments")
KPI_COLUMNS = (
    "department",
    "name",
    "description",
    "unit",
    "polarity",
    "baseline",
    "target",
    "range_low",
    "range_high",
    "frequency",
    "weight",
    "owner_email",
    "active",
)
LINK_COLUMNS = ("department", "kpi", "objective", "contribution")
FILES = {"objectives": OBJECTIVE_COLUMNS, "kpis": KPI_COLUMNS, "links": LINK_COLUMNS}
_TRUE, _FALSE = {"", "true", "yes", "1", "y"}, {"false", "no", "0", "n"}


class StrategyImportError(ImportRefused):
    """The input was refused; ``issues`` (also ``plan.issues``) lists every problem. Nothing was written."""

    def __init__(self, plan: StrategyPlan):
        self.plan = plan
        n = len(plan.issues)
        super().__init__(
            plan.issues, f"The strategy files have {n} problem{'s' if n != 1 else ''}; nothing was imported."
        )


@dataclass
class StrategyPlan:
    issues: list[ImportIssue] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    retire_objectives: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def changes(self) -> int:
        return sum(self.counts.values())

    def bump(self, key: str, changed: bool = True) -> None:
        if changed:
            self.counts[key] = self.counts.get(key, 0) + 1

    def describe(self) -> str:
        if self.changes == 0:
            return ("Dry run: " if self.dry_run else "") + "Nothing to change: the strategy is up to date."
        parts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(self.counts.items()) if n)
        return ("Dry run, nothing written — would change: " if self.dry_run else "Imported: ") + parts + "."

    def issues_frame(self) -> pd.DataFrame:
        return issues_frame(self.issues, with_file=True)


def _flag(text: str) -> bool:
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise ValueError("must be true or false")


@overload
def _number(text: str, *, required: Literal[True]) -> float: ...
@overload
def _number(text: str, *, required: bool = False) -> float | None: ...
def _number(text: str, *, required: bool = False) -> float | None:
    if not text.strip():
        if required:
            raise ValueError("is empty")
        return None
    return parse_number(text=text)


def _read(label: str, raw: bytes | str | None, issues: list[ImportIssue], required: tuple[str, ...]):
    if raw is None:
        return []
    try:
        text = decode_csv(data=raw)
    except ValueError as exc:
        issues.append(file_issue(file=label, row=0, column="", value="", reason=str(exc)))
        return []
    if not text.strip():
        issues.append(file_issue(file=label, row=0, column="", value="", reason="The file is empty."))
        return []
    rows = csv_records(text=text, label=label, allowed=FILES[label], required=required, issues=issues)
    # A cell the safe CSV writer protected against formula injection ('=...) reads back as written.
    return [(row, {k: _unquote(v) for k, v in cells.items()}) for row, cells in rows]


def _unquote(text: str) -> str:
    return text[1:] if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_PREFIXES else text


def import_strategy(
    *,
    session: Session,
    actor: str,
    objectives: bytes | str | None = None,
    kpis: bytes | str | None = None,
    links: bytes | str | None = None,
    dry_run: bool = False,
    filename: str = "",
    progress: Callable[[float, str], None] | None = None,
) -> StrategyPlan:
    """Apply the files in the caller's transaction (inside a savepoint); raise on any problem.

    With ``dry_run`` the savepoint is rolled back and the plan says what would change.
    """
    report = progress or (lambda _f, _m: None)
    plan = StrategyPlan(dry_run=dry_run)
    issues = plan.issues
    obj_rows = _read("objectives", objectives, issues, ("code", "title"))
    kpi_rows = _read("kpis", kpis, issues, ("department", "name"))
    link_rows = _read("links", links, issues, ("department", "kpi", "objective"))
    if objectives is None and kpis is None and links is None:
        issues.append(file_issue(file="", row=0, column="", value="", reason="No file was given."))
    plan.rows = {"objectives": len(obj_rows), "kpis": len(kpi_rows), "links": len(link_rows)}
    if issues:
        raise StrategyImportError(plan)
    savepoint = session.begin_nested()
    try:
        report(0.1, "objectives")
        _objectives(session, plan, obj_rows, actor)
        report(0.4, "KPIs")
        retire = _kpis(session, plan, kpi_rows, actor)
        report(0.7, "links")
        _links(session, plan, link_rows, actor)
        _retire(
            session, plan, retire + [("objectives", 0, o) for o in plan.retire_objectives], actor
        )  # last: retired KPIs and objectives keep their links
        if issues:
            raise StrategyImportError(plan)
        if plan.changes and not dry_run:
            raw = b"".join(x.encode() if isinstance(x, str) else x for x in (objectives, kpis, links) if x is not None)
            audit.record(
                session,
                actor=actor,
                action="import",
                entity="strategy",
                entity_id=filename[:100],
                after=dict(plan.counts),
                file=filename,
                sha256=hashlib.sha256(raw).hexdigest(),
            )
        session.flush()
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    report(1.0, "done")
    return plan


def _objectives(session: Session, plan: StrategyPlan, rows, actor: str) -> None:
    if not rows:
        return
    issues = plan.issues
    by_code = {o.code.casefold(): o for o in session.execute(select(Objective)).scalars()}
    depts = {n.casefold(): i for i, n in session.execute(select(col(Department.id), col(Department.name)))}
    seen: dict[str, int] = {}
    parsed = []
    for row, c in rows:
        code = c.get("code", "")
        key = code.casefold()
        if key in seen:
            issues.append(
                file_issue(
                    file="objectives",
                    row=row,
                    column="code",
                    value=code,
                    reason=f"Duplicate objective: also on row {seen[key]}.",
                )
            )
            continue
        seen[key] = row
        try:
            weight = _number(c.get("weight", "")) if c.get("weight") else 1.0
        except ValueError as exc:
            issues.append(
                file_issue(file="objectives", row=row, column="weight", value=c["weight"], reason=f"The weight {exc}.")
            )
            continue
        if weight is None:  # here: a weight of spaces only
            issues.append(
                file_issue(
                    file="objectives",
                    row=row,
                    column="weight",
                    value=c["weight"],
                    reason="The weight must be a number, 0 or more.",
                )
            )
            continue
        try:
            active = _flag(c.get("active", ""))
        except ValueError as exc:
            issues.append(
                file_issue(file="objectives", row=row, column="active", value=c["active"], reason=f"The value {exc}.")
            )
            continue
        serving = []
        for name in filter(None, (p.strip() for p in c.get("serving_departments", "").split("|"))):
            if name.casefold() not in depts:
                issues.append(
                    file_issue(
                        file="objectives",
                        row=row,
                        column="serving_departments",
                        value=name,
                        reason="Unknown department.",
                    )
                )
            else:
                serving.append(depts[name.casefold()])
        parsed.append((row, c, code, weight, active, serving))
    codes = set(seen)
    for row, c, *_ in parsed:
        parent = c.get("parent", "")
        if parent and parent.casefold() not in codes and parent.casefold() not in by_code:
            issues.append(
                file_issue(
                    file="objectives", row=row, column="parent", value=parent, reason="Unknown parent objective code."
                )
            )
    if issues:
        return
    ids: dict[str, int] = {}
    for row, c, code, weight, _active, _serving in parsed:
        old = by_code.get(code.casefold())
        try:
            if old is None:
                ids[code.casefold()] = strategy.create_objective(
                    session=session, actor=actor, code=code, title=c.get("title", ""),
                    description=c.get("description", ""), weight=weight,
                )  # fmt: skip
                plan.bump("objectives_created")
            else:
                ids[code.casefold()] = old.id
                changed = strategy.update_objective(
                    session=session, actor=actor, objective_id=old.id, title=c.get("title", ""),
                    description=c.get("description", ""), weight=weight,
                )  # fmt: skip
                plan.bump("objectives_changed", changed)
        except StrategyError as exc:
            issues.append(file_issue(file="objectives", row=row, column="", value=code, reason=str(exc)))
    if issues:
        return
    all_ids = {o.code.casefold(): o.id for o in session.execute(select(Objective)).scalars()}
    for row, c, code, _w, active, _s in parsed:
        parent = c.get("parent", "")
        try:
            changed = strategy.update_objective(
                session=session,
                actor=actor,
                objective_id=ids[code.casefold()],
                parent_id=all_ids[parent.casefold()] if parent else None,
                **({"active": True} if active else {}),
            )
            if not active:
                plan.retire_objectives.append(ids[code.casefold()])
            if changed and code.casefold() in by_code:
                plan.bump("objectives_changed")
        except StrategyError as exc:
            issues.append(file_issue(file="objectives", row=row, column="parent", value=parent, reason=str(exc)))
    # Expected serving departments: exactly the file's, for the objectives in the file.
    listed = {ids[code.casefold()]: set(serving) for _r, _c, code, _w, _a, serving in parsed}
    current: dict[int, set[int]] = {}
    for d, o in session.execute(select(col(DepartmentObjective.department_id), col(DepartmentObjective.objective_id))):
        current.setdefault(d, set()).add(o)
    touched = set(current) | {d for s in listed.values() for d in s}
    for d in sorted(touched):
        have = current.get(d, set())
        want = (have - set(listed)) | {o for o, s in listed.items() if d in s}
        if want != have:
            strategy.set_expectations(session=session, actor=actor, department_id=d, objective_ids=want)
            plan.bump("expectations_changed", True)


def _kpis(session: Session, plan: StrategyPlan, rows, actor: str) -> list[tuple[str, int, int]]:
    retire: list[tuple[str, int, int]] = []
    if not rows:
        return retire
    issues = plan.issues
    depts = {n.casefold(): i for i, n in session.execute(select(col(Department.id), col(Department.name)))}
    emails = dict(session.execute(select(col(Account.email), col(Account.id))).all())
    existing = {
        (d, n.casefold()): i for i, d, n in session.execute(select(col(Kpi.id), col(Kpi.department_id), col(Kpi.name)))
    }
    seen: dict[tuple[int, str], int] = {}
    for row, c in rows:
        problems: list[tuple[str, str, str]] = []
        dept = depts.get(c.get("department", "").casefold())
        if dept is None:
            problems.append(("department", c.get("department", ""), "Unknown department."))
        values: dict = {}
        for number_field in ("baseline", "target", "range_low", "range_high", "weight"):
            try:
                values[number_field] = _number(c.get(number_field, ""))
            except ValueError as exc:
                problems.append((number_field, c.get(number_field, ""), f"The {number_field.replace('_', ' ')} {exc}."))
        polarity = (c.get("polarity") or Polarity.HIGHER.value).lower()
        frequency = (c.get("frequency") or Frequency.MONTHLY.value).lower()
        owner = c.get("owner_email", "").lower()
        if owner and owner not in emails:
            problems.append(("owner_email", owner, "No account has this e-mail."))
        try:
            active = _flag(c.get("active", ""))
        except ValueError as exc:
            problems.append(("active", c.get("active", ""), f"The value {exc}."))
            active = True
        key = (dept or -1, c.get("name", "").casefold())
        if dept is not None and key in seen:
            problems.append(("name", c.get("name", ""), f"Duplicate KPI: also on row {seen[key]}."))
        seen.setdefault(key, row)
        if problems or dept is None:
            issues.extend(
                file_issue(file="kpis", row=row, column=column, value=val, reason=why) for column, val, why in problems
            )
            continue
        kpi = KpiInput(
            department_id=dept,
            name=c.get("name", ""),
            unit=c.get("unit", ""),
            polarity=polarity,
            baseline=values["baseline"],
            target=values["target"],
            range_low=values["range_low"],
            range_high=values["range_high"],
            frequency=frequency,
            weight=1.0 if values["weight"] is None else values["weight"],
            owner_id=emails.get(owner) if owner else None,
            description=c.get("description", ""),
        )
        kpi_id = existing.get(key)
        try:
            if kpi_id is None:
                kpi_id = strategy.create_kpi(session=session, actor=actor, kpi=kpi)
                plan.bump("kpis_created")
            else:
                plan.bump("kpis_changed", strategy.update_kpi(session=session, actor=actor, kpi_id=kpi_id, kpi=kpi))
            if active:
                plan.bump(
                    "kpis_changed", strategy.set_kpi_active(session=session, actor=actor, kpi_id=kpi_id, active=True)
                )
            else:
                retire.append(("kpis", row, kpi_id))
        except StrategyError as exc:
            issues.append(file_issue(file="kpis", row=row, column="", value=c.get("name", ""), reason=str(exc)))
    return retire


def _retire(session: Session, plan: StrategyPlan, retire: list[tuple[str, int, int]], actor: str) -> None:
    for what, _row, row_id in retire:
        if what == "kpis":
            plan.bump(
                "kpis_changed", strategy.set_kpi_active(session=session, actor=actor, kpi_id=row_id, active=False)
            )
        else:
            plan.bump(
                "objectives_changed",
                strategy.update_objective(session=session, actor=actor, objective_id=row_id, active=False),
            )


def _links(session: Session, plan: StrategyPlan, rows, actor: str) -> None:
    if not rows:
        return
    issues = plan.issues
    depts = {n.casefold(): i for i, n in session.execute(select(col(Department.id), col(Department.name)))}
    kpis = {
        (d, n.casefold()): i for i, d, n in session.execute(select(col(Kpi.id), col(Kpi.department_id), col(Kpi.name)))
    }
    objs = {c.casefold(): i for i, c in session.execute(select(col(Objective.id), col(Objective.code)))}
    wanted: dict[int, dict[int, float]] = {}
    seen: dict[tuple[int, int], int] = {}
    for row, c in rows:
        dept = depts.get(c.get("department", "").casefold())
        if dept is None:
            issues.append(
                file_issue(
                    file="links",
                    row=row,
                    column="department",
                    value=c.get("department", ""),
                    reason="Unknown department.",
                )
            )
            continue
        kpi = kpis.get((dept, c.get("kpi", "").casefold()))
        if kpi is None:
            issues.append(
                file_issue(
                    file="links",
                    row=row,
                    column="kpi",
                    value=c.get("kpi", ""),
                    reason="This department has no KPI of this name.",
                )
            )
        obj = objs.get(c.get("objective", "").casefold())
        if obj is None:
            issues.append(
                file_issue(
                    file="links",
                    row=row,
                    column="objective",
                    value=c.get("objective", ""),
                    reason="Unknown objective code.",
                )
            )
        try:
            contribution = _number(c.get("contribution", "") or "1", required=True)
        except ValueError as exc:
            issues.append(
                file_issue(
                    file="links",
                    row=row,
                    column="contribution",
                    value=c.get("contribution", ""),
                    reason=f"The contribution {exc}.",
                )
            )
            continue
        if kpi is None or obj is None:
            continue
        if (kpi, obj) in seen:
            issues.append(
                file_issue(
                    file="links",
                    row=row,
                    column="objective",
                    value=c["objective"],
                    reason=f"Duplicate link: also on row {seen[(kpi, obj)]}.",
                )
            )
            continue
        seen[(kpi, obj)] = row
        wanted.setdefault(kpi, {})[obj] = float(contribution)
        try:
            plan.bump(
                "links_changed",
                strategy.set_link(
                    session=session, actor=actor, kpi_id=kpi, objective_id=obj, contribution=contribution
                ),
            )
        except StrategyError as exc:
            issues.append(
                file_issue(
                    file="links", row=row, column="contribution", value=c.get("contribution", ""), reason=str(exc)
                )
            )
    if issues:
        return
    for kpi_id, obj_id in session.execute(
        select(col(KpiObjective.kpi_id), col(KpiObjective.objective_id)).where(
            col(KpiObjective.kpi_id).in_(list(wanted))
        )
    ).all():
        if obj_id not in wanted[kpi_id]:
            plan.bump(
                "links_removed", strategy.remove_link(session=session, actor=actor, kpi_id=kpi_id, objective_id=obj_id)
            )


# ------------------------------------------------------------------------------ export


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


def export_frames(*, session: Session) -> dict[str, pd.DataFrame]:
    """The three strategy files as DataFrames with the import's columns (retired rows included)."""
    names = dict(session.execute(select(col(Department.id), col(Department.name))).all())
    emails = dict(session.execute(select(col(Account.id), col(Account.email))).all())
    codes = dict(session.execute(select(col(Objective.id), col(Objective.code))).all())
    serving: dict[int, list[str]] = {}
    for d, o in session.execute(select(col(DepartmentObjective.department_id), col(DepartmentObjective.objective_id))):
        serving.setdefault(o, []).append(names[d])
    objectives = [
        (o.code, o.title, o.description, codes.get(o.parent_id, "") if o.parent_id else "", o.weight,
         "true" if o.active else "false", "|".join(sorted(serving.get(o.id, []))))
        for o in session.execute(select(Objective).order_by(col(Objective.id))).scalars()
    ]  # fmt: skip
    kpis = [
        (names[k.department_id], k.name, k.description, k.unit, k.polarity, _cell(k.baseline), _cell(k.target),
         _cell(k.range_low), _cell(k.range_high), k.frequency, k.weight, emails.get(k.owner_id, "") if k.owner_id else "",
         "true" if k.active else "false")
        for k in session.execute(select(Kpi).order_by(col(Kpi.department_id), col(Kpi.id))).scalars()
    ]  # fmt: skip
    links = [
        (names[d], kname, codes[o], c)
        for d, kname, o, c in session.execute(
            select(
                col(Kpi.department_id), col(Kpi.name), col(KpiObjective.objective_id), col(KpiObjective.contribution)
            )
            .join(Kpi, col(Kpi.id) == col(KpiObjective.kpi_id))
            .order_by(col(Kpi.department_id), col(Kpi.id), col(KpiObjective.objective_id))
        )
    ]
    return {
        "objectives": pd.DataFrame(objectives, columns=list(OBJECTIVE_COLUMNS)),
        "kpis": pd.DataFrame(kpis, columns=list(KPI_COLUMNS)),
        "links": pd.DataFrame(links, columns=list(LINK_COLUMNS)),
    }


def export_strategy(*, session: Session) -> dict[str, bytes]:
    """``{"objectives": csv, "kpis": csv, "links": csv}`` through the safe CSV writer."""
    return {name: write_csv(frame) for name, frame in export_frames(session=session).items()}
