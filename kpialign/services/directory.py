"""Directory import: the organisation's units and people from one CSV file (or two).

Files
-----
- **units**: ``unit_id`` (the directory's own id, stored as ``department.external_id``),
  ``unit_name``, ``parent_unit_id`` (empty for a top-level unit), ``headcount`` (optional;
  empty = the number of people in the file whose home unit it is).
- **people**: ``email``, ``name``, ``unit_id`` (home unit), ``roles`` (``employee``,
  ``kpi_owner``, ``leader``, ``hr``, ``admin``, ``manager``; several separated by ``|``, ``;``
  or ``,`` inside the cell; empty = employee), ``manages`` (unit ids a manager or KPI owner is
  scoped to; empty = the home unit).
- **one file**: the union of both headers; a row with an e-mail is a person, a row without one
  is a unit.

Rules
-----
- The whole input is validated first; every problem is reported with the file, spreadsheet row
  (header = 1), column, value and reason. Any problem: nothing is written.
- Refused: a cycle in the unit tree, a parent or home unit that is neither in the file nor in
  the database, an unknown role, a duplicate e-mail or unit id, two units with one name, a unit
  name taken by a unit the file does not describe, an import that leaves no active admin.
- A unit typed by hand (no ``external_id``) whose name matches a file unit is adopted: it keeps
  its id and history and gets the directory's id.
- The directory is the source of truth for the people it lists: name, home unit, roles and
  scopes are set to what the file says, and a listed inactive account is reactivated. People
  (and directory units) missing from the file are listed in the preview and deactivated only
  with ``deactivate_missing=True`` (the explicit confirmation); the importer's own account is
  never deactivated.
- Idempotent: importing the same file again changes nothing (and writes nothing, not even an
  audit row). A real import writes one audit row with the counts and the file's SHA-256.
- Headcount is recorded for the period of ``as_of`` in ``department_headcount``; the unit's
  current headcount follows it unless a later period is already recorded. Renames, moves and new
  units are recorded in ``department_event`` with ``as_of`` as effective date.
- Written with bulk statements (executemany), so 50,000 people import in seconds.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy import bindparam, delete, insert, select, update
from sqlmodel import Session, col

from kpialign import audit
from kpialign.core.errors import ImportIssue, ImportRefused, issues_frame
from kpialign.models import (
    Account,
    AccountRole,
    Department,
    DepartmentEvent,
    DepartmentHeadcount,
    Role,
    WebSession,
    table_of,
)

UNIT_COLUMNS = ("unit_id", "unit_name", "parent_unit_id", "headcount")
PEOPLE_COLUMNS = ("email", "name", "unit_id", "roles", "manages")
COMBINED_COLUMNS = ("unit_id", "unit_name", "parent_unit_id", "headcount", "email", "name", "roles", "manages")
SCOPED_ROLES = frozenset({Role.KPI_OWNER.value, Role.MANAGER.value})
ROLES = tuple(r.value for r in Role)
EXAMPLE_UNITS = "unit_id,unit_name,parent_unit_id,headcount\nORG,Acme,,\nCOM,Commercial,ORG,\nSAL,Sales,COM,48\n"
EXAMPLE_PEOPLE = (
    "email,name,unit_id,roles,manages\n"
    "ada@acme.example,Ada Lovelace,ORG,admin|leader,\n"
    "max@acme.example,Max Weber,COM,manager,COM\n"
    "kim@acme.example,Kim Park,SAL,kpi_owner,SAL\n"
    "sam@acme.example,Sam Reyes,SAL,,\n"
)
MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 500_000
CHUNK = 5000
_SPLIT = re.compile(r"[|;,]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_MAX_SHOWN = 80

Progress = Callable[[float, str], None]


class DirectoryImportError(ImportRefused):
    """The input was refused; ``issues`` (also ``plan.issues``) lists every problem. Nothing was written."""

    def __init__(self, plan: DirectoryPlan):
        self.plan = plan
        n = len(plan.issues)
        super().__init__(plan.issues, f"The directory has {n} problem{'s' if n != 1 else ''}; nothing was imported.")


def file_issue(*, file: str, row: int, column: str, value: str, reason: str) -> ImportIssue:
    """One problem in the file labelled ``file``: ``row`` is the spreadsheet row (header = 1), 0 for the input as a whole."""
    return ImportIssue(row, column, value, reason, file=file)


@dataclass(frozen=True)
class UnitRow:
    row: int
    ext: str
    name: str
    parent: str | None
    headcount: int | None


@dataclass(frozen=True)
class PersonRow:
    row: int
    email: str
    name: str
    unit: str
    roles: tuple[str, ...]
    manages: tuple[str, ...]


@dataclass
class DirectoryPlan:
    """What an import would do (or did): the changes by kind, or the problems found."""

    as_of: date
    issues: list[ImportIssue] = field(default_factory=list)
    units: list[UnitRow] = field(default_factory=list)
    people: list[PersonRow] = field(default_factory=list)
    unit_creates: list[dict] = field(default_factory=list)
    unit_updates: list[dict] = field(default_factory=list)
    unit_missing: list[dict] = field(default_factory=list)
    people_creates: list[dict] = field(default_factory=list)
    people_updates: list[dict] = field(default_factory=list)
    people_missing: list[dict] = field(default_factory=list)
    headcounts: list[dict] = field(default_factory=list)  # changed (department key, headcount) of the period
    role_rows: dict[str, set[tuple[str, str | None]]] = field(default_factory=dict)  # email -> wanted roles
    deactivate_missing: bool = False
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def period(self) -> str:
        return f"{self.as_of.year:04d}-{self.as_of.month:02d}"

    def counts(self) -> dict[str, int]:
        gone = self.deactivate_missing
        return {
            "units_created": len(self.unit_creates),
            "units_changed": len(self.unit_updates),
            "units_deactivated": len(self.unit_missing) if gone else 0,
            "units_missing": len(self.unit_missing),
            "people_created": len(self.people_creates),
            "people_changed": len(self.people_updates),
            "people_deactivated": len(self.people_missing) if gone else 0,
            "people_missing": len(self.people_missing),
            "headcounts_recorded": len(self.headcounts),
        }

    @property
    def changes(self) -> int:
        c = self.counts()
        return sum(c[k] for k in c if not k.endswith("_missing"))

    def describe(self) -> str:
        c = self.counts()
        missing = ""
        if not self.deactivate_missing and (c["people_missing"] or c["units_missing"]):
            missing = (
                f" {c['people_missing']} person(s) and {c['units_missing']} unit(s) are not in the file; "
                "they stay active unless you confirm their deactivation."
            )
        if self.changes == 0:
            return ("Dry run: " if self.dry_run else "") + "Nothing to change: the directory is up to date." + missing
        text = (
            f"units: {c['units_created']} new, {c['units_changed']} changed, {c['units_deactivated']} deactivated; "
            f"people: {c['people_created']} new, {c['people_changed']} changed, {c['people_deactivated']} deactivated; "
            f"{c['headcounts_recorded']} headcount(s) recorded for {self.period}."
        )
        return ("Dry run, nothing written — would change " if self.dry_run else "Imported — ") + text + missing

    def issues_frame(self) -> pd.DataFrame:
        return issues_frame(self.issues, with_file=True)

    def units_frame(self) -> pd.DataFrame:
        """Every unit that changes: ``change, unit_id, unit_name, what``."""
        rows = [("new", u["ext"], u["name"], _describe_unit_new(u)) for u in self.unit_creates]
        rows += [("changed", u["ext"], u["name"], "; ".join(u["what"])) for u in self.unit_updates]
        label = "deactivated" if self.deactivate_missing else "not in file"
        rows += [(label, u["ext"], u["name"], "") for u in self.unit_missing]
        return pd.DataFrame(rows, columns=["change", "unit_id", "unit_name", "what"])

    def people_frame(self) -> pd.DataFrame:
        """Every person who changes: ``change, email, name, unit_id, what``."""
        rows = [("new", p["email"], p["name"], p["unit"], ", ".join(p["roles"])) for p in self.people_creates]
        rows += [("changed", p["email"], p["name"], p["unit"], "; ".join(p["what"])) for p in self.people_updates]
        label = "deactivated" if self.deactivate_missing else "not in file"
        rows += [(label, p["email"], p["name"], "", "") for p in self.people_missing]
        return pd.DataFrame(rows, columns=["change", "email", "name", "unit_id", "what"])


def _describe_unit_new(u: dict) -> str:
    parent = f"under {u['parent']}" if u["parent"] else "top level"
    return f"{parent}; headcount {u['headcount']}" if u["headcount"] is not None else parent


# ------------------------------------------------------------------------------ reading


def decode_csv(*, data: bytes | str) -> str:
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise ValueError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it.")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"The file is not UTF-8 (byte {exc.start + 1}); save it as 'CSV UTF-8'.") from None
    else:
        text = data.removeprefix("\ufeff")
        if len(text) > MAX_BYTES:
            raise ValueError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it.")
    if "\x00" in text:
        raise ValueError("The file contains NUL bytes; it is not a text CSV file.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("The file contains characters that are not valid text.") from None
    return text


def _show(value: str) -> str:
    return value if len(value) <= _MAX_SHOWN else value[: _MAX_SHOWN - 1] + "…"


def csv_records(*, text: str, label: str, allowed: Sequence[str], required: Sequence[str], issues: list[ImportIssue]):
    """Header check (comma or semicolon separated, names case-insensitive), then ``(row number, {column: cell})`` for each non-blank data row."""
    best: tuple[str, list[str]] = (",", [])
    for delim in (",", ";"):
        try:
            names = next(csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True), [])
        except csv.Error:
            continue
        names = [n.strip().lower() for n in names]
        if all(c in names for c in required):
            best = (delim, names)
            break
        if len(names) > len(best[1]):
            best = (delim, names)
    delim, names = best
    missing = [c for c in required if c not in names]
    if missing:
        issues.append(
            file_issue(
                file=label,
                row=1,
                column=", ".join(missing),
                value="",
                reason=f"Missing column(s) {', '.join(missing)}; allowed: {', '.join(allowed)}.",
            )
        )
    for n in names:
        if n not in allowed:
            issues.append(
                file_issue(
                    file=label,
                    row=1,
                    column=n or "(empty)",
                    value=_show(n),
                    reason=f"Unknown column; allowed: {', '.join(allowed)}.",
                )
            )
    for n in sorted({n for n in names if names.count(n) > 1 and n}):
        issues.append(file_issue(file=label, row=1, column=n, value=n, reason="This column appears more than once."))
    if issues:
        return []
    out: list[tuple[int, dict[str, str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True)
    row_no = 0
    try:
        for record in reader:
            row_no += 1
            if row_no == 1 or not record or all(not f.strip() for f in record):
                continue
            if len(out) >= MAX_ROWS:
                issues.append(
                    file_issue(
                        file=label,
                        row=row_no,
                        column="",
                        value="",
                        reason=f"The file has more than {MAX_ROWS} rows; split it.",
                    )
                )
                break
            if len(record) != len(names):
                issues.append(
                    file_issue(
                        file=label,
                        row=row_no,
                        column="",
                        value=_show(delim.join(record)),
                        reason=f"The row has {len(record)} fields but the header has {len(names)}.",
                    )
                )
                continue
            out.append((row_no, {n: " ".join(record[i].split()) for i, n in enumerate(names)}))
    except csv.Error as exc:
        issues.append(
            file_issue(file=label, row=row_no + 1, column="", value="", reason=f"The CSV cannot be read here: {exc}.")
        )
    return out


def _parse_unit(label: str, row: int, cell: dict[str, str], issues: list[ImportIssue]) -> UnitRow | None:
    ok = True
    ext, name = cell.get("unit_id", ""), cell.get("unit_name", "")
    if not ext:
        issues.append(file_issue(file=label, row=row, column="unit_id", value="", reason="The unit id is required."))
        ok = False
    elif len(ext) > 100:
        issues.append(
            file_issue(
                file=label,
                row=row,
                column="unit_id",
                value=_show(ext),
                reason="The unit id is longer than 100 characters.",
            )
        )
        ok = False
    if not name:
        issues.append(
            file_issue(file=label, row=row, column="unit_name", value="", reason="The unit name is required.")
        )
        ok = False
    elif len(name) > 200:
        issues.append(
            file_issue(
                file=label,
                row=row,
                column="unit_name",
                value=_show(name),
                reason="The unit name is longer than 200 characters.",
            )
        )
        ok = False
    headcount: int | None = None
    raw = cell.get("headcount", "")
    if raw:
        if re.fullmatch(r"\d{1,7}", raw):
            headcount = int(raw)
        else:
            issues.append(
                file_issue(
                    file=label,
                    row=row,
                    column="headcount",
                    value=_show(raw),
                    reason="The headcount must be a whole number, 0 or more.",
                )
            )
            ok = False
    parent = cell.get("parent_unit_id", "") or None
    if ok and parent == ext:
        issues.append(
            file_issue(
                file=label,
                row=row,
                column="parent_unit_id",
                value=_show(parent),
                reason="A unit cannot be its own parent.",
            )
        )
        ok = False
    return UnitRow(row, ext, name, parent, headcount) if ok else None


def _parse_person(label: str, row: int, cell: dict[str, str], issues: list[ImportIssue]) -> PersonRow | None:
    ok = True
    email = cell.get("email", "").lower()
    if not _EMAIL.match(email) or len(email) > 320:
        issues.append(
            file_issue(
                file=label,
                row=row,
                column="email",
                value=_show(cell.get("email", "")),
                reason="Not a valid e-mail address.",
            )
        )
        ok = False
    name = cell.get("name", "")
    if len(name) > 200:
        issues.append(
            file_issue(
                file=label, row=row, column="name", value=_show(name), reason="The name is longer than 200 characters."
            )
        )
        ok = False
    unit = cell.get("unit_id", "")
    if not unit:
        issues.append(file_issue(file=label, row=row, column="unit_id", value="", reason="The home unit is required."))
        ok = False
    roles: list[str] = []
    for part in _SPLIT.split(cell.get("roles", "")):
        role = part.strip().lower().replace(" ", "_").replace("-", "_")
        if not role:
            continue
        if role not in ROLES:
            issues.append(
                file_issue(
                    file=label,
                    row=row,
                    column="roles",
                    value=_show(part.strip()),
                    reason=f"Unknown role; allowed: {', '.join(ROLES)}.",
                )
            )
            ok = False
        elif role not in roles:
            roles.append(role)
    manages = tuple(dict.fromkeys(p.strip() for p in _SPLIT.split(cell.get("manages", "")) if p.strip()))
    if manages and not SCOPED_ROLES.intersection(roles) and ok:
        issues.append(
            file_issue(
                file=label,
                row=row,
                column="manages",
                value=_show(cell["manages"]),
                reason="Only a manager or a KPI owner manages units.",
            )
        )
        ok = False
    if not ok:
        return None
    return PersonRow(row, email, name, unit, tuple(roles) or (Role.EMPLOYEE.value,), manages)


def read_directory(
    *, data: bytes | str | None, people: bytes | str | None = None, issues: list[ImportIssue] | None = None
) -> tuple[list[UnitRow], list[PersonRow], list[ImportIssue]]:
    """Parse the file(s) without the database: the unit rows, the person rows and the problems."""
    issues = [] if issues is None else issues
    units: list[UnitRow] = []
    persons: list[PersonRow] = []
    sources: list[tuple[str, bytes | str, str]] = []
    if data is not None:
        sources.append(
            ("units" if people is not None else "directory", data, "units" if people is not None else "both")
        )
    if people is not None:
        sources.append(("people", people, "people"))
    if not sources:
        issues.append(file_issue(file="", row=0, column="", value="", reason="No file was given."))
    for label, raw, kind in sources:
        try:
            text = decode_csv(data=raw)
        except ValueError as exc:
            issues.append(file_issue(file=label, row=0, column="", value="", reason=str(exc)))
            continue
        if not text.strip():
            issues.append(file_issue(file=label, row=0, column="", value="", reason="The file is empty."))
            continue
        before = len(issues)
        if kind == "units":
            recs = csv_records(
                text=text, label=label, allowed=UNIT_COLUMNS, required=("unit_id", "unit_name"), issues=issues
            )
        elif kind == "people":
            recs = csv_records(
                text=text, label=label, allowed=PEOPLE_COLUMNS, required=("email", "unit_id"), issues=issues
            )
        else:
            recs = csv_records(text=text, label=label, allowed=COMBINED_COLUMNS, required=("unit_id",), issues=issues)
        for row, cell in recs:
            if kind == "people" or (kind == "both" and cell.get("email")):
                p = _parse_person(label, row, cell, issues)
                if p:
                    persons.append(p)
            else:
                u = _parse_unit(label, row, cell, issues)
                if u:
                    units.append(u)
        if not recs and len(issues) == before:
            issues.append(
                file_issue(file=label, row=0, column="", value="", reason="The file has a header but no data rows.")
            )
    return units, persons, issues


# ----------------------------------------------------------------------------- planning


def _wanted_roles(p: PersonRow) -> set[tuple[str, str | None]]:
    out: set[tuple[str, str | None]] = set()
    for role in p.roles:
        if role in SCOPED_ROLES:
            out.update((role, u) for u in (p.manages or (p.unit,)))
        else:
            out.add((role, None))
    return out


def plan_import(
    *,
    session: Session,
    data: bytes | str | None,
    people: bytes | str | None = None,
    as_of: date | None = None,
    actor: str = "",
    deactivate_missing: bool = False,
) -> DirectoryPlan:
    """Validate the input against the database and work out every change; writes nothing."""
    plan = DirectoryPlan(as_of=as_of or date.today(), deactivate_missing=deactivate_missing)
    units, persons, issues = read_directory(data=data, people=people)
    plan.units, plan.people, plan.issues = units, persons, issues
    if any(i.row <= 1 for i in issues):  # a file-level problem: row checks against the database say little
        return plan
    label_u = "units" if people is not None else "directory"
    label_p = "people" if people is not None else "directory"

    # Reference data: a handful of queries, whatever the size of the file.
    db_units = session.execute(
        select(
            col(Department.id),
            col(Department.name),
            col(Department.parent_id),
            col(Department.headcount),
            col(Department.active),
            col(Department.external_id),
        )
    ).all()
    by_ext = {u.external_id: u for u in db_units if u.external_id is not None}
    by_name = {u.name.casefold(): u for u in db_units}
    key_of = {u.id: (u.external_id if u.external_id is not None else f"#{u.id}") for u in db_units}

    # Duplicates in the file.
    first_ext: dict[str, int] = {}
    first_name: dict[str, UnitRow] = {}
    for u in units:
        if u.ext in first_ext:
            issues.append(
                file_issue(
                    file=label_u,
                    row=u.row,
                    column="unit_id",
                    value=_show(u.ext),
                    reason=f"Duplicate unit id: also on row {first_ext[u.ext]}.",
                )
            )
        else:
            first_ext[u.ext] = u.row
        other = first_name.get(u.name.casefold())
        if other is not None and other.ext != u.ext:
            issues.append(
                file_issue(
                    file=label_u,
                    row=u.row,
                    column="unit_name",
                    value=_show(u.name),
                    reason=f"Two units have this name (also row {other.row}).",
                )
            )
        first_name.setdefault(u.name.casefold(), u)
    file_units = {u.ext: u for u in units}

    # Match file units to database units: by external id, else adopt a hand-typed unit of that name.
    matched: dict[str, int] = {}
    for u in units:
        hit = by_ext.get(u.ext)
        if hit is None:
            same = by_name.get(u.name.casefold())
            if same is not None and same.external_id is None:
                hit = same
        if hit is not None:
            matched.setdefault(u.ext, hit.id)
    matched_ids = set(matched.values())
    for ext, did in matched.items():
        key_of[did] = ext  # a matched unit is known by the file's id from now on
    for u in units:
        same = by_name.get(u.name.casefold())
        if same is not None and same.id not in matched_ids:
            issues.append(
                file_issue(
                    file=label_u,
                    row=u.row,
                    column="unit_name",
                    value=_show(u.name),
                    reason=f"This name belongs to the existing unit {same.external_id or '#' + str(same.id)}, "
                    "which the file does not describe; rename that unit in the file or choose another name.",
                )
            )

    # Parents and cycles, over the file's units plus the database's other units.
    known = set(file_units) | {k for i, k in key_of.items() if i not in matched_ids}
    parent_of: dict[str, str | None] = {
        k: (key_of.get(u.parent_id) if u.parent_id is not None else None)
        for u in db_units
        if u.id not in matched_ids
        for k in [key_of[u.id]]
    }
    for u in units:
        if u.parent is not None and u.parent not in known:
            issues.append(
                file_issue(
                    file=label_u,
                    row=u.row,
                    column="parent_unit_id",
                    value=_show(u.parent),
                    reason="Unknown parent unit id.",
                )
            )
        parent_of[u.ext] = u.parent if u.parent in known else None
    in_cycle: set[str] = set()
    for start in file_units:
        path: list[str] = []
        seen: set[str] = set()
        node: str | None = start
        while node is not None and node not in seen and node not in in_cycle:
            seen.add(node)
            path.append(node)
            node = parent_of.get(node)
        if node is not None and node in seen:
            cycle = path[path.index(node) :]
            in_cycle.update(cycle)
            for ext in cycle:
                if ext in file_units:
                    shown = " > ".join([*cycle[cycle.index(ext) :], *cycle[: cycle.index(ext)], ext])
                    issues.append(
                        file_issue(
                            file=label_u,
                            row=file_units[ext].row,
                            column="parent_unit_id",
                            value=_show(file_units[ext].parent or ""),
                            reason=f"The unit tree has a cycle: {shown}.",
                        )
                    )

    # People.
    seen_email: dict[str, int] = {}
    for p in persons:
        if p.email in seen_email:
            issues.append(
                file_issue(
                    file=label_p,
                    row=p.row,
                    column="email",
                    value=_show(p.email),
                    reason=f"Duplicate e-mail: also on row {seen_email[p.email]}.",
                )
            )
        else:
            seen_email[p.email] = p.row
        if p.unit not in known:
            issues.append(
                file_issue(file=label_p, row=p.row, column="unit_id", value=_show(p.unit), reason="Unknown unit id.")
            )
        for m in p.manages:
            if m not in known:
                issues.append(
                    file_issue(file=label_p, row=p.row, column="manages", value=_show(m), reason="Unknown unit id.")
                )
    if issues:
        return plan

    _plan_units(session, plan, units, persons, db_units, matched, key_of)
    _plan_people(session, plan, persons, key_of, actor)
    return plan


def _plan_units(session, plan, units, persons, db_units, matched, key_of) -> None:
    row_of = {u.id: u for u in db_units}
    at_home = Counter(p.unit for p in persons)
    recorded = {
        (d, p): h
        for d, p, h in session.execute(
            select(
                col(DepartmentHeadcount.department_id),
                col(DepartmentHeadcount.period),
                col(DepartmentHeadcount.headcount),
            )
        )
    }
    latest: dict[int, str] = {}
    for d, p in recorded:
        latest[d] = max(latest.get(d, p), p)
    for u in units:
        headcount = u.headcount if u.headcount is not None else (at_home.get(u.ext, 0) if persons else None)
        did = matched.get(u.ext)
        if did is None:
            plan.unit_creates.append({"ext": u.ext, "name": u.name, "parent": u.parent, "headcount": headcount})
            if headcount is not None:
                plan.headcounts.append({"ext": u.ext, "id": None, "headcount": headcount})
            continue
        old = row_of[did]
        what: list[str] = []
        change: dict = {"id": did, "ext": u.ext, "name": u.name, "what": what}
        if old.external_id != u.ext:
            what.append(f"gets unit id {u.ext}")
        if old.name != u.name:
            what.append(f"renamed from {old.name}")
            change["old_name"] = old.name
        old_parent = key_of.get(old.parent_id) if old.parent_id is not None else None
        if old_parent != u.parent:
            what.append(f"moved from {old_parent or 'top level'} to {u.parent or 'top level'}")
            change["old_parent"] = old_parent
        if not old.active:
            what.append("reactivated")
        new_count = old.headcount
        if headcount is not None:
            if (did, plan.period) not in recorded or recorded[(did, plan.period)] != headcount:
                plan.headcounts.append({"ext": u.ext, "id": did, "headcount": headcount})
            if plan.period >= latest.get(did, plan.period):
                new_count = headcount
        if new_count != old.headcount:
            what.append(f"headcount {old.headcount} -> {new_count}")
        change.update(parent=u.parent, headcount=new_count)
        if what:
            plan.unit_updates.append(change)
    file_exts = {u.ext for u in units}
    for u in db_units:
        if u.external_id is not None and u.external_id not in file_exts and u.active:
            plan.unit_missing.append({"id": u.id, "ext": u.external_id, "name": u.name})


def _plan_people(session: Session, plan: DirectoryPlan, persons: list[PersonRow], key_of: dict, actor: str) -> None:
    accounts = {
        a.email: a
        for a in session.execute(
            select(
                col(Account.id), col(Account.email), col(Account.name), col(Account.department_id), col(Account.active)
            )
        )
    }
    held: dict[int, set[tuple[str, str | None]]] = {}
    for aid, role, dept in session.execute(
        select(col(AccountRole.account_id), col(AccountRole.role), col(AccountRole.department_id))
    ):
        held.setdefault(aid, set()).add((role, key_of.get(dept) if dept is not None else None))
    admins_after = 0
    listed = set()
    for p in persons:
        wanted = _wanted_roles(p)
        plan.role_rows[p.email] = wanted
        listed.add(p.email)
        if Role.ADMIN.value in p.roles:
            admins_after += 1
        a = accounts.get(p.email)
        if a is None:
            plan.people_creates.append(
                {"email": p.email, "name": p.name, "unit": p.unit, "roles": sorted(r for r, _ in wanted)}
            )
            continue
        what = []
        if a.name != p.name:
            what.append(f"name {a.name!r} -> {p.name!r}")
        home = key_of.get(a.department_id) if a.department_id is not None else None
        if home != p.unit:
            what.append(f"home unit {home or 'none'} -> {p.unit}")
        if not a.active:
            what.append("reactivated")
        old_roles = held.get(a.id, set())
        if old_roles != wanted:
            what.append("roles " + _roles_text(old_roles) + " -> " + _roles_text(wanted))
        if what:
            plan.people_updates.append(
                {
                    "id": a.id,
                    "email": p.email,
                    "name": p.name,
                    "unit": p.unit,
                    "what": what,
                    "roles_changed": old_roles != wanted,
                }
            )
    actor_missing = False
    for email, a in accounts.items():
        if email in listed or not a.active:
            continue
        if email == actor:
            actor_missing = True
            continue
        plan.people_missing.append({"id": a.id, "email": email, "name": a.name})
        if not plan.deactivate_missing and (Role.ADMIN.value, None) in held.get(a.id, set()):
            admins_after += 1
    if actor_missing and Role.ADMIN.value in {r for r, _ in held.get(accounts[actor].id, set())}:
        admins_after += 1
    admins_before = sum(1 for a in accounts.values() if a.active and (Role.ADMIN.value, None) in held.get(a.id, set()))
    if admins_before and not admins_after:
        plan.issues.append(
            file_issue(
                file="directory",
                row=0,
                column="roles",
                value="",
                reason="After this import no active account would be an admin; "
                "give someone the admin role in the file.",
            )
        )


def _roles_text(roles: Iterable[tuple[str, str | None]]) -> str:
    return ", ".join(sorted(f"{r}@{d}" if d else r for r, d in roles)) or "none"


# ------------------------------------------------------------------------------ writing


def import_directory(
    *,
    session: Session,
    data: bytes | str | None,
    people: bytes | str | None = None,
    actor: str,
    as_of: date | None = None,
    deactivate_missing: bool = False,
    dry_run: bool = False,
    filename: str = "",
    progress: Progress | None = None,
) -> DirectoryPlan:
    """Validate, then apply the whole directory in the caller's write transaction (never commits).

    Raises :class:`DirectoryImportError` (with every problem) before writing anything if the
    input is not valid. With ``dry_run`` nothing is written and the plan says what would change.
    """
    report: Progress = progress or (lambda _f, _m: None)
    report(0.0, "checking the file")
    plan = plan_import(
        session=session, data=data, people=people, as_of=as_of, actor=actor, deactivate_missing=deactivate_missing
    )
    plan.dry_run = dry_run
    if not plan.ok:
        raise DirectoryImportError(plan)
    if dry_run or plan.changes == 0:
        report(1.0, "nothing written")
        return plan
    now = datetime.now(UTC)
    report(0.2, "units")
    ids = _write_units(session, plan, actor, now)
    report(0.4, "people")
    _write_people(session, plan, ids, now, report)
    raw = b"".join(x.encode("utf-8") if isinstance(x, str) else x for x in (data or b"", people or b""))
    audit.record(
        session,
        actor=actor,
        action="import",
        entity="directory",
        entity_id=filename[:100],
        after=plan.counts(),
        as_of=plan.as_of,
        file=filename,
        sha256=hashlib.sha256(raw).hexdigest(),
    )
    session.flush()
    report(1.0, "done")
    return plan


def _chunks(items: Sequence, n: int = CHUNK) -> Iterable[Sequence]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _write_units(session: Session, plan: DirectoryPlan, actor: str, now: datetime) -> dict[str, int]:
    t = table_of(Department)
    # Names are unique: park renamed units under temporary names first, so swaps cannot collide.
    renamed = [u for u in plan.unit_updates if "old_name" in u]
    if renamed:
        session.execute(
            update(t).where(t.c.id == bindparam("b_id")).values(name=bindparam("b_name")),
            [{"b_id": u["id"], "b_name": f"~renaming~{u['id']}"} for u in renamed],
        )
    if plan.unit_creates:
        session.execute(
            insert(t),
            [
                {
                    "name": u["name"],
                    "parent_id": None,
                    "headcount": u["headcount"] or 0,
                    "active": True,
                    "external_id": u["ext"],
                }
                for u in plan.unit_creates
            ],
        )
    ids = {ext: did for did, ext in session.execute(select(t.c.id, t.c.external_id)) if ext is not None}
    for (did,) in session.execute(select(t.c.id).where(t.c.external_id.is_(None))):
        ids[f"#{did}"] = did
    for u in plan.unit_updates:
        ids[u["ext"]] = u["id"]
    rows = [
        {"b_id": ids[u["ext"]], "b_parent": ids[u["parent"]] if u["parent"] else None, "b_name": u["name"],
         "b_ext": u["ext"], "b_hc": u["headcount"] if u["headcount"] is not None else 0}
        for u in plan.unit_creates
    ]  # fmt: skip
    rows += [
        {"b_id": u["id"], "b_parent": ids[u["parent"]] if u["parent"] else None, "b_name": u["name"],
         "b_ext": u["ext"], "b_hc": u["headcount"]}
        for u in plan.unit_updates
    ]  # fmt: skip
    if rows:
        session.execute(
            update(t)
            .where(t.c.id == bindparam("b_id"))
            .values(
                parent_id=bindparam("b_parent"),
                name=bindparam("b_name"),
                external_id=bindparam("b_ext"),
                headcount=bindparam("b_hc"),
                active=True,
            ),
            rows,
        )
    if plan.deactivate_missing and plan.unit_missing:
        for chunk in _chunks([u["id"] for u in plan.unit_missing]):
            session.execute(update(t).where(t.c.id.in_(chunk)).values(active=False))
    # History: events with the import's date, and the headcount of the period.
    events = [
        {"department_id": ids[u["ext"]], "kind": "create", "effective_on": plan.as_of, "related_department_id": None,
         "detail": json.dumps({"name": u["name"], "source": "directory"}), "created_by": actor, "created_at": now}
        for u in plan.unit_creates
    ]  # fmt: skip
    for u in plan.unit_updates:
        if "old_name" in u:
            events.append(
                _event(ids[u["ext"]], "rename", plan.as_of, {"from": u["old_name"], "to": u["name"]}, actor, now)
            )
        if "old_parent" in u:
            old = ids.get(u["old_parent"]) if u["old_parent"] else None
            new = ids[u["parent"]] if u["parent"] else None
            events.append(_event(ids[u["ext"]], "move", plan.as_of, {"from_parent": old, "to_parent": new}, actor, now))
    if plan.deactivate_missing:
        events += [_event(u["id"], "close", plan.as_of, {"source": "directory"}, actor, now) for u in plan.unit_missing]
    if events:
        session.execute(insert(table_of(DepartmentEvent)), events)
    if plan.headcounts:
        h = table_of(DepartmentHeadcount)
        dept_ids = [ids[x["ext"]] for x in plan.headcounts]
        for chunk in _chunks(dept_ids):
            session.execute(delete(h).where(h.c.period == plan.period, h.c.department_id.in_(chunk)))
        session.execute(
            insert(h),
            [
                {"department_id": d, "period": plan.period, "headcount": x["headcount"]}
                for d, x in zip(dept_ids, plan.headcounts, strict=True)
            ],
        )
    return ids


def _event(dept_id: int, kind: str, on: date, detail: dict, actor: str, now: datetime) -> dict:
    return {
        "department_id": dept_id,
        "kind": kind,
        "effective_on": on,
        "related_department_id": None,
        "detail": json.dumps({**detail, "source": "directory"}, sort_keys=True),
        "created_by": actor,
        "created_at": now,
    }


def _write_people(session: Session, plan: DirectoryPlan, ids: dict[str, int], now: datetime, report: Progress) -> None:
    a = table_of(Account)
    r = table_of(AccountRole)
    if plan.people_creates:
        for i, chunk in enumerate(_chunks(plan.people_creates, 10_000)):
            session.execute(
                insert(a),
                [
                    {"email": p["email"], "name": p["name"], "department_id": ids[p["unit"]], "password_hash": None,
                     "oidc_subject": None, "active": True, "created_at": now, "language": None}
                    for p in chunk
                ],
            )  # fmt: skip
            report(0.4 + 0.3 * min(1.0, (i + 1) * 10_000 / len(plan.people_creates)), "people")
    if plan.people_updates:
        session.execute(
            update(a)
            .where(a.c.id == bindparam("b_id"))
            .values(name=bindparam("b_name"), department_id=bindparam("b_dept"), active=True),
            [{"b_id": p["id"], "b_name": p["name"], "b_dept": ids[p["unit"]]} for p in plan.people_updates],
        )
    report(0.75, "roles")
    new_emails = {p["email"] for p in plan.people_creates}
    touched = [p["email"] for p in plan.people_updates if p["roles_changed"]]
    id_of: dict[str, int] = {}
    if new_emails or touched:
        wanted = new_emails | set(touched)
        for aid, email in session.execute(select(a.c.id, a.c.email)):
            if email in wanted:
                id_of[email] = aid
    old_ids = [id_of[e] for e in touched]
    for chunk in _chunks(old_ids):
        session.execute(delete(r).where(r.c.account_id.in_(chunk)))
    role_rows = [
        {"account_id": id_of[email], "role": role, "department_id": ids[scope] if scope else None}
        for email in [*sorted(new_emails), *touched]
        for role, scope in sorted(plan.role_rows[email], key=lambda x: (x[0], x[1] or ""))
    ]
    for chunk in _chunks(role_rows, 20_000):
        session.execute(insert(r), list(chunk))
    if plan.deactivate_missing and plan.people_missing:
        report(0.9, "deactivating")
        w = table_of(WebSession)
        for chunk in _chunks([p["id"] for p in plan.people_missing]):
            session.execute(update(a).where(a.c.id.in_(chunk)).values(active=False))
            session.execute(update(w).where(w.c.account_id.in_(chunk), w.c.revoked_at.is_(None)).values(revoked_at=now))


# ------------------------------------------------------------------------------ export


def export_frames(*, session: Session, include_inactive: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The directory as the import reads it: ``(units, people)`` frames (a unit without a
    directory id is written as ``D<id>``, so that the export imports into an empty database)."""
    depts = session.execute(
        select(
            col(Department.id),
            col(Department.name),
            col(Department.parent_id),
            col(Department.headcount),
            col(Department.active),
            col(Department.external_id),
        )
    ).all()
    key = {d.id: d.external_id or f"D{d.id}" for d in depts}
    units = pd.DataFrame(
        [
            (key[d.id], d.name, key[d.parent_id] if d.parent_id is not None else "", d.headcount)
            for d in sorted(depts, key=lambda d: d.id)
            if d.active or include_inactive
        ],
        columns=list(UNIT_COLUMNS),
    )
    roles: dict[int, list[tuple[str, str]]] = {}
    for aid, role, dept in session.execute(
        select(col(AccountRole.account_id), col(AccountRole.role), col(AccountRole.department_id))
    ):
        roles.setdefault(aid, []).append((role, key[dept] if dept is not None else ""))
    rows = []
    for a in session.execute(
        select(
            col(Account.id), col(Account.email), col(Account.name), col(Account.department_id), col(Account.active)
        ).order_by(col(Account.id))
    ):
        if a.department_id is None or not (a.active or include_inactive):
            continue  # the directory describes people with a home unit
        held = roles.get(a.id, [])
        names = sorted({r for r, _ in held}, key=ROLES.index)
        scoped = {d for r, d in held if r in SCOPED_ROLES and d}
        manages = "" if scoped <= {key[a.department_id]} else "|".join(sorted(scoped))
        rows.append((a.email, a.name, key[a.department_id], "|".join(names), manages))
    return units, pd.DataFrame(rows, columns=list(PEOPLE_COLUMNS))
