"""KPI links: "this KPI leads that one" (driver -> outcome), with the lag and sign the drawer expects.

Who may draw a link: an admin anywhere; a manager or a KPI owner for links *into* their own
KPIs (the outcome KPI's department is in their managed units or owner departments, or they own
the KPI). The driver may belong to any department: "your leads feed my conversions" is the
outcome owner's claim to make. Every change is validated first (a :class:`LinkError` says why
and nothing is written) and audited in the caller's transaction; nothing here commits.

Cycles (A leads B leads A) are allowed — feedback loops are real — but :func:`find_cycles`
finds them so that pages can show them.

CSV import (all or nothing, like the KPI import): columns ``driver_department, driver_kpi,
outcome_department, outcome_kpi, expected_lag, expected_sign`` and optional ``rationale``;
every problem is reported by row, column, value and reason. A row for an existing pair
updates its lag, sign and rationale.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from kpialign import audit
from kpialign.core.errors import ImportIssue, ImportRefused, Refused, issues_frame
from kpialign.models import Department, Kpi, KpiLink, Role
from kpialign.services import actions
from kpialign.services.accounts import UserContext
from kpialign.services.kpi_import import MAX_IMPORT_ROWS, _decode, _show

MIN_LAG = 0
MAX_LAG = 24  # the schema's check constraint; evidence looks at lags 0..max(6, expected)
MAX_RATIONALE = 2000
LINK_COLUMNS = (
    "driver_department",
    "driver_kpi",
    "outcome_department",
    "outcome_kpi",
    "expected_lag",
    "expected_sign",
    "rationale",
)
REQUIRED_LINK_COLUMNS = LINK_COLUMNS[:-1]
_SIGNS = {"+": 1, "1": 1, "+1": 1, "positive": 1, "-": -1, "-1": -1, "negative": -1}
_FIELDS = ("driver_kpi_id", "outcome_kpi_id", "expected_lag", "expected_sign", "rationale")


class LinkError(Refused):
    """A link change was refused; the message says why and is safe to show. Nothing was written."""


@dataclass(frozen=True)
class LinkInput:
    """What a user types for a link; :func:`validate_link` checks it."""

    driver_kpi_id: int
    outcome_kpi_id: int
    expected_lag: int = 1
    expected_sign: int = 1
    rationale: str = ""


# ------------------------------------------------------------------------------ permissions


def may_link_into(*, user: UserContext, department_id: int, owner_id: int | None = None) -> bool:
    """Whether ``user`` may draw, change or remove links whose outcome KPI sits in ``department_id``."""
    if user.has(Role.ADMIN.value):
        return True
    if user.has(Role.MANAGER.value) and user.manages(department_id):
        return True
    if user.has(Role.KPI_OWNER.value):
        if department_id in user.owner_departments:
            return True
        if owner_id is not None and user.account_id is not None and owner_id == user.account_id:
            return True
    return False


def may_draw_links(*, user: UserContext) -> bool:
    """Whether the user may draw any link at all (shows or hides the editing part of a page)."""
    return user.has(Role.ADMIN.value, Role.MANAGER.value, Role.KPI_OWNER.value)


def linkable_outcomes(*, session: Session, user: UserContext) -> list[int]:
    """Ids of the active KPIs ``user`` may draw links into."""
    rows = session.execute(
        select(col(Kpi.id), col(Kpi.department_id), col(Kpi.owner_id)).where(col(Kpi.active).is_(True))
    ).all()
    return sorted(int(i) for i, d, o in rows if may_link_into(user=user, department_id=int(d), owner_id=o))


def _kpi(session: Session, kpi_id: int, what: str) -> Kpi:
    kpi = session.get(Kpi, kpi_id)
    if kpi is None:
        raise LinkError(f"The {what} KPI #{kpi_id} does not exist.")
    return kpi


def _check_permission(session: Session, user: UserContext, outcome: Kpi) -> None:
    if not may_link_into(user=user, department_id=outcome.department_id, owner_id=outcome.owner_id):
        dept = session.get(Department, outcome.department_id)
        raise LinkError(
            f"You may draw links only into KPIs of your own units; {outcome.name!r} belongs to "
            f"{dept.name if dept else 'another department'!r}. Ask an admin or that unit's manager."
        )


# ------------------------------------------------------------------------------- validation


def validate_link(*, session: Session, link: LinkInput, link_id: int | None = None) -> LinkInput:
    """Check one link (not the permission); returns it with the rationale trimmed."""
    if link.driver_kpi_id == link.outcome_kpi_id:
        raise LinkError("A KPI cannot lead itself: choose two different KPIs.")
    driver = _kpi(session, link.driver_kpi_id, "driver")
    outcome = _kpi(session, link.outcome_kpi_id, "outcome")
    for kpi in (driver, outcome):
        if not kpi.active:
            raise LinkError(f"{kpi.name!r} is retired; links are drawn between active KPIs only.")
    if isinstance(link.expected_lag, bool) or not isinstance(link.expected_lag, int):
        raise LinkError("The expected lag is a whole number of periods.")
    if not MIN_LAG <= link.expected_lag <= MAX_LAG:
        raise LinkError(f"The expected lag must be between {MIN_LAG} and {MAX_LAG} periods (got {link.expected_lag}).")
    if link.expected_sign not in (-1, 1):
        raise LinkError("The expected sign is +1 (they move together) or -1 (they move in opposite directions).")
    rationale = (link.rationale or "").strip()
    if len(rationale) > MAX_RATIONALE:
        raise LinkError(f"The rationale is longer than {MAX_RATIONALE} characters.")
    existing = session.execute(
        select(col(KpiLink.id)).where(
            col(KpiLink.driver_kpi_id) == link.driver_kpi_id, col(KpiLink.outcome_kpi_id) == link.outcome_kpi_id
        )
    ).first()
    if existing is not None and (link_id is None or existing[0] != link_id):
        raise LinkError(f"{driver.name!r} -> {outcome.name!r} is already drawn; change that link instead.")
    return LinkInput(link.driver_kpi_id, link.outcome_kpi_id, link.expected_lag, link.expected_sign, rationale)


def _snapshot(row: KpiLink) -> dict:
    return {name: getattr(row, name) for name in _FIELDS}


# ---------------------------------------------------------------------------------- writes


def create_link(*, session: Session, user: UserContext, link: LinkInput) -> int:
    """Draw a link; returns its id. Refused (:class:`LinkError`) for a self-link, an unknown or
    retired KPI, a duplicate, a lag out of range, a bad sign or no permission."""
    link = validate_link(session=session, link=link)
    _check_permission(session, user, _kpi(session, link.outcome_kpi_id, "outcome"))
    row = KpiLink(**{name: getattr(link, name) for name in _FIELDS}, created_by=user.email)
    session.add(row)
    session.flush()
    audit.record(session, actor=user.email, action="create", entity="kpi_link", entity_id=row.id, after=_snapshot(row))
    return int(row.id or 0)


def _link(session: Session, link_id: int) -> KpiLink:
    row = session.get(KpiLink, link_id)
    if row is None:
        raise LinkError(f"Link #{link_id} does not exist (it may have just been removed).")
    return row


def update_link(*, session: Session, user: UserContext, link_id: int, link: LinkInput) -> bool:
    """Change a link; the user needs permission for the current and the new outcome KPI.
    Returns False if nothing changed."""
    row = _link(session, link_id)
    _check_permission(session, user, _kpi(session, row.outcome_kpi_id, "outcome"))
    link = validate_link(session=session, link=link, link_id=link_id)
    _check_permission(session, user, _kpi(session, link.outcome_kpi_id, "outcome"))
    before = _snapshot(row)
    after = {name: getattr(link, name) for name in _FIELDS}
    if before == after:
        return False
    row.sqlmodel_update(after)
    session.add(row)
    session.flush()
    audit.record(
        session, actor=user.email, action="update", entity="kpi_link", entity_id=link_id, before=before, after=after
    )
    return True


def remove_link(*, session: Session, user: UserContext, link_id: int) -> None:
    """Remove a link (links carry no history of their own; the audit row keeps what it was)."""
    row = _link(session, link_id)
    _check_permission(session, user, _kpi(session, row.outcome_kpi_id, "outcome"))
    before = _snapshot(row)
    session.delete(row)
    session.flush()
    audit.record(session, actor=user.email, action="delete", entity="kpi_link", entity_id=link_id, before=before)


# ----------------------------------------------------------------------------------- reads

LINKS_FRAME_COLUMNS = [
    "link_id",
    "driver_kpi_id",
    "driver",
    "driver_department_id",
    "driver_department",
    "outcome_kpi_id",
    "outcome",
    "outcome_department_id",
    "outcome_department",
    "expected_lag",
    "expected_sign",
    "rationale",
    "created_by",
    "in_cycle",
]


def links_frame(*, session: Session, active_only: bool = True) -> pd.DataFrame:
    """Every link with both KPIs and departments; ``in_cycle`` marks links on a cycle.

    ``active_only`` leaves out links with a retired KPI (they stay stored, but are not drawn).
    """
    drv = aliased(Kpi)
    out = aliased(Kpi)
    dd = aliased(Department)
    od = aliased(Department)
    stmt = (
        select(
            col(KpiLink.id),
            col(drv.id),
            col(drv.name),
            col(dd.id),
            col(dd.name),
            col(out.id),
            col(out.name),
            col(od.id),
            col(od.name),
            col(KpiLink.expected_lag),
            col(KpiLink.expected_sign),
            col(KpiLink.rationale),
            col(KpiLink.created_by),
        )
        .join(drv, col(drv.id) == col(KpiLink.driver_kpi_id))
        .join(out, col(out.id) == col(KpiLink.outcome_kpi_id))
        .join(dd, col(dd.id) == col(drv.department_id))
        .join(od, col(od.id) == col(out.department_id))
        .order_by(col(od.name), col(out.name), col(dd.name), col(drv.name))
    )
    if active_only:
        stmt = stmt.where(col(drv.active).is_(True), col(out.active).is_(True))
    df = pd.DataFrame(session.execute(stmt).all(), columns=LINKS_FRAME_COLUMNS[:-1])
    df = df.astype(
        {
            c: "int64"
            for c in (
                "link_id",
                "driver_kpi_id",
                "driver_department_id",
                "outcome_kpi_id",
                "outcome_department_id",
                "expected_lag",
                "expected_sign",
            )
        }
    )
    on_cycle = {
        n for cycle in find_cycles(edges=zip(df["driver_kpi_id"], df["outcome_kpi_id"], strict=True)) for n in cycle
    }
    df["in_cycle"] = df["driver_kpi_id"].isin(on_cycle) & df["outcome_kpi_id"].isin(on_cycle)
    return df


def find_cycles(*, edges: Iterable[tuple[int, int]]) -> list[list[int]]:
    """The groups of nodes that lie on a cycle (strongly connected components of 2+ nodes).

    Each group is sorted; groups are ordered by their smallest node. Tarjan's algorithm,
    iterative (no recursion limit at thousands of links).
    """
    graph: dict[int, list[int]] = {}
    for a, b in edges:
        graph.setdefault(int(a), []).append(int(b))
        graph.setdefault(int(b), [])
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    groups: list[list[int]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return sorted(groups, key=lambda g: g[0])


# ------------------------------------------------------------------------------ CSV import


@dataclass
class LinkImportValidation:
    """The rows of a links file as understood, or every problem found."""

    links: list[LinkInput] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # the spreadsheet row of each link
    issues: list[ImportIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues

    def issues_frame(self) -> pd.DataFrame:
        return issues_frame(self.issues, with_file=False)


class LinkImportError(LinkError, ImportRefused):
    """The file was refused; ``issues`` (also ``validation.issues``) lists every problem. Nothing was written."""

    def __init__(self, validation: LinkImportValidation):
        self.validation = validation
        n = len(validation.issues)
        super().__init__(validation.issues, f"The file has {n} problem{'s' if n != 1 else ''}; no link was imported.")


@dataclass(frozen=True)
class LinkImportSummary:
    rows: int
    created: int
    updated: int
    unchanged: int
    dry_run: bool = False

    def describe(self) -> str:
        what = f"{self.created} new, {self.updated} changed, {self.unchanged} unchanged"
        if self.dry_run:
            return f"Dry run, nothing written: of {self.rows} link(s), {what}."
        return f"Imported {self.rows} link(s): {what}."


def _links_header(text: str) -> tuple[str, list[str]]:
    best: tuple[str, list[str]] = (",", [])
    for delim in (",", ";"):
        try:
            names = next(csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True), [])
        except csv.Error:
            continue
        names = [n.strip().lower() for n in names]
        if all(c in names for c in REQUIRED_LINK_COLUMNS):
            return delim, names
        if len(names) > len(best[1]):
            best = (delim, names)
    return best


def validate_links_csv(*, session: Session, data: bytes | str, user: UserContext) -> LinkImportValidation:
    """Validate a whole links file without writing; never raises for bad content."""
    result = LinkImportValidation()
    try:
        text = _decode(data)
    except ValueError as exc:
        result.issues.append(ImportIssue(0, "", "", str(exc)))
        return result
    if not text.strip():
        result.issues.append(ImportIssue(0, "", "", "The file is empty."))
        return result
    delim, names = _links_header(text)
    missing = [c for c in REQUIRED_LINK_COLUMNS if c not in names]
    if missing:
        result.issues.append(
            ImportIssue(
                1, ", ".join(missing), "", f"Missing column(s); the header must name {', '.join(LINK_COLUMNS)}."
            )
        )
    for n in names:
        if n not in LINK_COLUMNS:
            result.issues.append(
                ImportIssue(1, n or "(empty)", n, f"Unknown column; allowed: {', '.join(LINK_COLUMNS)}.")
            )
    for n in sorted({n for n in names if names.count(n) > 1 and n}):
        result.issues.append(ImportIssue(1, n, n, "This column appears more than once."))
    if result.issues:
        return result
    column_index = {n: i for i, n in enumerate(names)}

    depts = {name.casefold(): did for did, name in session.execute(select(col(Department.id), col(Department.name)))}
    kpis: dict[tuple[int, str], Kpi] = {
        (k.department_id, k.name.casefold()): k for k in session.execute(select(Kpi)).scalars()
    }
    seen: dict[tuple[int, int], int] = {}
    row_no = 0
    try:
        for record in csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True):
            row_no += 1
            if row_no == 1 or not record or all(not f.strip() for f in record):
                continue
            if len(result.rows) + len({i.row for i in result.issues}) >= MAX_IMPORT_ROWS:
                result.issues.append(ImportIssue(row_no, "", "", f"The file has more than {MAX_IMPORT_ROWS} rows."))
                break
            _validate_link_row(session, result, row_no, record, column_index, depts, kpis, seen, user)
    except csv.Error as exc:
        result.issues.append(ImportIssue(row_no + 1, "", "", f"The CSV cannot be read here: {exc}."))
    if not result.rows and not result.issues:
        result.issues.append(ImportIssue(0, "", "", "The file has a header but no data rows."))
    if result.issues:
        result.links, result.rows = [], []
    return result


def _validate_link_row(
    session: Session,
    result: LinkImportValidation,
    row_no: int,
    record: list[str],
    column_index: dict[str, int],
    depts: dict[str, int],
    kpis: dict[tuple[int, str], Kpi],
    seen: dict[tuple[int, int], int],
    user: UserContext,
) -> None:
    def cell(name: str) -> str:
        i = column_index.get(name)
        return record[i].strip() if i is not None and i < len(record) else ""

    issues: list[ImportIssue] = []

    def kpi_of(side: str) -> Kpi | None:
        dname, kname = cell(f"{side}_department"), cell(f"{side}_kpi")
        did = depts.get(dname.casefold())
        if did is None:
            issues.append(ImportIssue(row_no, f"{side}_department", _show(dname), "No department has this name."))
            return None
        kpi = kpis.get((did, kname.casefold()))
        if kpi is None:
            issues.append(ImportIssue(row_no, f"{side}_kpi", _show(kname), f"{dname} has no KPI of this name."))
            return None
        if not kpi.active:
            issues.append(ImportIssue(row_no, f"{side}_kpi", _show(kname), "This KPI is retired."))
            return None
        return kpi

    driver, outcome = kpi_of("driver"), kpi_of("outcome")
    lag_text, sign_text = cell("expected_lag"), cell("expected_sign")
    lag: int | None = None
    try:
        lag = int(lag_text)
        if not MIN_LAG <= lag <= MAX_LAG:
            issues.append(
                ImportIssue(row_no, "expected_lag", _show(lag_text), f"Must be {MIN_LAG}..{MAX_LAG} periods.")
            )
    except ValueError:
        issues.append(ImportIssue(row_no, "expected_lag", _show(lag_text), "Not a whole number of periods."))
    sign = _SIGNS.get(sign_text.lower())
    if sign is None:
        issues.append(ImportIssue(row_no, "expected_sign", _show(sign_text), "Write + or - (or 1 / -1)."))
    rationale = cell("rationale")
    if len(rationale) > MAX_RATIONALE:
        issues.append(ImportIssue(row_no, "rationale", _show(rationale), f"Longer than {MAX_RATIONALE} characters."))
    if driver is not None and outcome is not None:
        if driver.id == outcome.id:
            issues.append(ImportIssue(row_no, "outcome_kpi", _show(cell("outcome_kpi")), "A KPI cannot lead itself."))
        pair = (int(driver.id or 0), int(outcome.id or 0))
        if pair in seen:
            issues.append(
                ImportIssue(row_no, "outcome_kpi", _show(cell("outcome_kpi")), f"The same link is on row {seen[pair]}.")
            )
        seen.setdefault(pair, row_no)
        if not may_link_into(user=user, department_id=outcome.department_id, owner_id=outcome.owner_id):
            issues.append(
                ImportIssue(
                    row_no,
                    "outcome_department",
                    _show(cell("outcome_department")),
                    "You may draw links only into KPIs of your own units.",
                )
            )
    if issues:
        result.issues.extend(issues)
        return
    assert driver is not None and outcome is not None and lag is not None and sign is not None
    result.links.append(LinkInput(int(driver.id or 0), int(outcome.id or 0), lag, sign, rationale))
    result.rows.append(row_no)


def import_links(
    *, session: Session, data: bytes | str, user: UserContext, dry_run: bool = False, filename: str = ""
) -> LinkImportSummary:
    """Validate and apply a links file in the caller's transaction; all or nothing."""
    validation = validate_links_csv(session=session, data=data, user=user)
    if not validation.ok:
        raise LinkImportError(validation)
    existing = {(r.driver_kpi_id, r.outcome_kpi_id): r for r in session.execute(select(KpiLink)).scalars()}
    created = updated = unchanged = 0
    for link in validation.links:
        row = existing.get((link.driver_kpi_id, link.outcome_kpi_id))
        if row is None:
            created += 1
            if not dry_run:
                create_link(session=session, user=user, link=link)
        elif _snapshot(row) == {name: getattr(link, name) for name in _FIELDS}:
            unchanged += 1
        else:
            updated += 1
            if not dry_run:
                update_link(session=session, user=user, link_id=int(row.id or 0), link=link)
    summary = LinkImportSummary(len(validation.links), created, updated, unchanged, dry_run)
    if not dry_run:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        audit.record(
            session,
            actor=user.email,
            action="import",
            entity="kpi_link",
            entity_id=filename[:100],
            after={"rows": summary.rows, "created": created, "updated": updated, "unchanged": unchanged},
            file=filename,
            sha256=hashlib.sha256(raw).hexdigest(),
        )
    return summary


# ------------------------------------------------------------------------ conflict decisions

DECISION_PREFIX = "Conflict decision: "


def record_conflict_decision(
    *,
    session: Session,
    user: UserContext,
    department_id: int,
    title: str,
    decision: str,
    objective_id: int | None = None,
    kpi_id: int | None = None,
    owner_id: int | None = None,
    due_on: date | None = None,
    today: date | None = None,
) -> int:
    """Record what was decided about a conflict as an action of one department involved
    (``services.actions``: admins, leaders and that department's managers; audited there)."""
    title = " ".join((title or "").split())
    if not title:
        raise LinkError("Give the decision a short title.")
    try:
        action = actions.create_action(
            session=session,
            user=user,
            title=DECISION_PREFIX + title,
            department_id=department_id,
            description=decision,
            objective_id=objective_id,
            kpi_id=kpi_id,
            owner_id=owner_id,
            due_on=due_on,
            today=today,
        )
    except actions.ActionError as exc:  # its message is written for the user too
        raise LinkError(str(exc)) from exc
    return int(action.id or 0)


def conflict_decisions(*, session: Session, user: UserContext, department_ids: list[int] | None = None) -> pd.DataFrame:
    """The conflict decisions ``user`` may see (actions whose title marks them as such)."""
    df = actions.list_actions(session=session, user=user, department_ids=department_ids)
    return df[df["title"].str.startswith(DECISION_PREFIX)].reset_index(drop=True)
