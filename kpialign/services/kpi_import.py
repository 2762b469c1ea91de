"""KPI import: validation of a CSV file of values and targets, then one upsert (CSV writing: core.csv_out).

KPI import
----------
Columns ``kpi``, ``department``, ``period`` (``YYYY-MM`` or ``YYYY-Qn``, matching the KPI's
frequency), ``actual`` and optional ``target``; header names are case-insensitive. Optional
check-in columns ``status`` (on_track, at_risk, off_track), ``analysis`` and ``next_steps`` record
the owner's update for the period with the actual (a row with a status may leave ``actual``
empty: a check-in for a period without data). Check-in text is stored exactly as written; a
formula-like cell stays text and the CSV writer neutralises it on export. A row that would
change a period locked after its review is refused.

- The whole file is validated first; every problem is reported with the spreadsheet row
  (the header is row 1), the column, the value and the reason. Any problem: nothing is written.
- UTF-8 with or without a byte-order mark; comma or semicolon separators (detected from the
  header).
- Numbers: ``12.5``, ``-3``, ``1e3``; a decimal comma (``12,5``) is read as 12.5. A value that
  could be either a decimal comma or a thousands separator (``1,234``) is refused, as are
  grouped numbers (``1.234,5``, ``1 234``), percent signs and currency symbols — never misread.
- A valid file is upserted in one transaction (the caller's write session); importing the same
  file again changes nothing and says so.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from kpialign import audit
from kpialign.core.errors import ImportIssue, ImportRefused, issues_frame
from kpialign.core.periods import PeriodError, parse_period
from kpialign.models import Department, Kpi, KpiCheckin, KpiValue
from kpialign.services import checkins as checkin_service
from kpialign.services import period_locks
from kpialign.services.checkins import CheckinEntry, CheckinError
from kpialign.services.measurements import EditScope, Entry, MeasurementError, WriteSummary, apply_entries, check_number

IMPORT_COLUMNS = ("kpi", "department", "period", "actual", "target", "status", "analysis", "next_steps")
CHECKIN_COLUMNS = ("status", "analysis", "next_steps")
REQUIRED_COLUMNS = ("kpi", "department", "period", "actual")
MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_IMPORT_ROWS = 200_000
_MAX_SHOWN_VALUE = 80

_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_AMBIGUOUS_COMMA = re.compile(r"^[+-]?[1-9]\d{0,2},\d{3}$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}([.,' \u00a0\u202f]\d{3})+([.,]\d+)?$")


class KpiImportError(ImportRefused):
    """The file was refused; ``issues`` (also ``validation.issues``) lists every problem. Nothing was written."""

    def __init__(self, validation: ImportValidation):
        self.validation = validation
        super().__init__(validation.issues)


@dataclass
class ImportValidation:
    """The result of validating a file: the parsed rows, or the problems found."""

    entries: list[Entry] = field(default_factory=list)
    checkins: list[CheckinEntry] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)
    preview: list[dict] = field(default_factory=list)
    delimiter: str = ","
    data_rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.issues

    def issues_frame(self) -> pd.DataFrame:
        """Problems as a table: ``row, column, value, reason``."""
        return issues_frame(self.issues, with_file=False)

    def preview_frame(self) -> pd.DataFrame:
        """The rows as understood: ``row, department, kpi, period, actual, target, status``."""
        return pd.DataFrame(self.preview, columns=["row", "department", "kpi", "period", "actual", "target", "status"])


@dataclass
class ImportSummary:
    rows: int
    inserted: int
    updated: int
    unchanged: int
    dry_run: bool = False
    checkins: int = 0  # check-ins inserted or updated

    @property
    def changed(self) -> int:
        return self.inserted + self.updated

    def describe(self) -> str:
        if self.changed == 0 and self.checkins == 0:
            text = f"Nothing to change: all {self.rows} row(s) are already up to date."
            return f"Dry run: {text}" if self.dry_run else text
        if self.dry_run:
            return (
                f"Dry run, nothing written: of {self.rows} row(s), {self.inserted} would be inserted, "
                f"{self.updated} updated and {self.unchanged} are unchanged."
            )
        text = f"Imported {self.rows} row(s): {self.inserted} inserted, {self.updated} updated, {self.unchanged} unchanged."
        return text + (f" {self.checkins} check-in(s) saved." if self.checkins else "")


def parse_number(*, text: str) -> float:
    """Read one numeric cell; :class:`ValueError` with a reason a user can act on."""
    s = text.strip()
    if not s:
        raise ValueError("is empty")
    if "%" in s:
        raise ValueError("has a % sign; write the number only (12.5 for 12.5%)")
    if _PLAIN_NUMBER.match(s):
        return check_number(value=float(s))
    if _AMBIGUOUS_COMMA.match(s):
        raise ValueError(
            "is ambiguous: the comma could be a decimal comma or a thousands separator; "
            f"write {s.replace(',', '.')} or {s.replace(',', '')}"
        )
    if _DECIMAL_COMMA.match(s):
        return check_number(value=float(s.replace(",", ".")))
    if _GROUPED.match(s):
        raise ValueError("uses a thousands separator; write the number without grouping (e.g. 1234.5)")
    if re.search(r"[€$£¥]", s):
        raise ValueError("has a currency symbol; write the number only")
    raise ValueError("is not a number")


def _decode(data: bytes | str) -> str:
    if isinstance(data, bytes):
        if len(data) > MAX_IMPORT_BYTES:
            raise ValueError(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB; split it.")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"The file is not UTF-8 (byte {exc.start + 1}); save it as 'CSV UTF-8' and try again."
            ) from None
    else:
        text = data.removeprefix("\ufeff")
        if len(text) > MAX_IMPORT_BYTES:
            raise ValueError(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB; split it.")
    if "\x00" in text:
        raise ValueError("The file contains NUL bytes; it is not a text CSV file.")
    return text


def _header(text: str) -> tuple[str, list[str]]:
    """Pick the separator whose split of the first record yields the required columns."""
    best: tuple[str, list[str]] = (",", [])
    for delim in (",", ";"):
        try:
            names = next(csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True), [])
        except csv.Error:
            continue
        names = [n.strip().lower() for n in names]
        if all(c in names for c in REQUIRED_COLUMNS):
            return delim, names
        if len(names) > len(best[1]):
            best = (delim, names)
    return best


def _show(value: str) -> str:
    value = value if len(value) <= _MAX_SHOWN_VALUE else value[: _MAX_SHOWN_VALUE - 1] + "…"
    return value


def validate_kpi_csv(*, session: Session, data: bytes | str, scope: EditScope | None = None) -> ImportValidation:
    """Validate a whole KPI-values CSV without writing anything.

    ``scope`` (optional) adds a problem for every row of a department the importer may not edit.
    Never raises for bad file content: every problem is an :class:`ImportIssue`.
    """
    result = ImportValidation()
    try:
        text = _decode(data)
    except ValueError as exc:
        result.issues.append(ImportIssue(0, "", "", str(exc)))
        return result
    if not text.strip():
        result.issues.append(ImportIssue(0, "", "", "The file is empty."))
        return result

    delim, names = _header(text)
    result.delimiter = delim
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    unknown = [n for n in names if n not in IMPORT_COLUMNS]
    dupes = sorted({n for n in names if names.count(n) > 1 and n})
    if missing:
        result.issues.append(
            ImportIssue(
                1,
                ", ".join(missing),
                "",
                f"Missing column(s) {', '.join(missing)}. The header must name kpi, department, period, actual "
                "(and optionally target, status, analysis, next_steps), separated by commas or semicolons.",
            )
        )
    for n in unknown:
        result.issues.append(
            ImportIssue(1, n or "(empty)", n, f"Unknown column; allowed: {', '.join(IMPORT_COLUMNS)}.")
        )
    for n in dupes:
        result.issues.append(ImportIssue(1, n, n, "This column appears more than once."))
    if result.issues:
        return result
    column_index = {n: i for i, n in enumerate(names)}

    # Reference data: two queries, whatever the size of the file.
    depts: dict[str, list[tuple[int, str, bool]]] = {}
    for did, dname, dactive in session.execute(
        select(col(Department.id), col(Department.name), col(Department.active))
    ):
        depts.setdefault(dname.casefold(), []).append((did, dname, bool(dactive)))
    kpis_by_dept: dict[tuple[int, str], list[tuple[int, str, str, bool]]] = {}
    kpi_homes: dict[str, set[str]] = {}
    dept_names = {d[0]: d[1] for entries in depts.values() for d in entries}
    for kid, kname, kdept, kfreq, kactive in session.execute(
        select(col(Kpi.id), col(Kpi.name), col(Kpi.department_id), col(Kpi.frequency), col(Kpi.active))
    ):
        kpis_by_dept.setdefault((kdept, kname.casefold()), []).append((kid, kname, kfreq, bool(kactive)))
        kpi_homes.setdefault(kname.casefold(), set()).add(dept_names.get(kdept, "?"))

    seen: dict[tuple[str, str, str], int] = {}
    locks = period_locks.all_locks(session=session)
    locked_rows: list[tuple[int, int, str, str, float | None, CheckinEntry | None]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True)
    row_no = 0
    try:
        for record in reader:
            row_no += 1
            if row_no == 1:
                continue
            if not record or all(not f.strip() for f in record):
                continue  # blank line
            result.data_rows += 1
            if result.data_rows > MAX_IMPORT_ROWS:
                result.issues.append(
                    ImportIssue(row_no, "", "", f"The file has more than {MAX_IMPORT_ROWS} rows; split it.")
                )
                break
            _validate_row(
                result,
                row_no,
                record,
                names,
                column_index,
                scope,
                depts,
                kpis_by_dept,
                kpi_homes,
                seen,
                locks,
                locked_rows,
            )
    except csv.Error as exc:
        result.issues.append(ImportIssue(row_no + 1, "", "", f"The CSV cannot be read here: {exc}."))
    if result.data_rows == 0 and not result.issues:
        result.issues.append(ImportIssue(0, "", "", "The file has a header but no data rows."))
    _refuse_locked_changes(session, result, locked_rows)
    if result.issues:
        result.entries = []
    return result


def _validate_row(
    result: ImportValidation,
    row_no: int,
    record: list[str],
    names: list[str],
    column_index: dict[str, int],
    scope: EditScope | None,
    depts: dict[str, list[tuple[int, str, bool]]],
    kpis_by_dept: dict[tuple[int, str], list[tuple[int, str, str, bool]]],
    kpi_homes: dict[str, set[str]],
    seen: dict[tuple[str, str, str], int],
    locks: set[tuple[int, str]],
    locked_rows: list[tuple[int, int, str, str, float | None, CheckinEntry | None]],
) -> None:
    issues = result.issues

    def problem(column: str, value: str, reason: str) -> None:
        issues.append(ImportIssue(row_no, column, _show(value), reason))

    if len(record) != len(names):
        hint = ""
        if len(record) > len(names) and result.delimiter == ",":
            hint = " A decimal comma in a comma-separated file must be quoted (\"12,5\"), or use ';' as separator."
        problem(
            "",
            result.delimiter.join(record),
            f"The row has {len(record)} fields but the header has {len(names)}.{hint}",
        )
        return
    cell = {n: record[i].strip() for n, i in column_index.items()}
    dept_text, kpi_text, period_text = cell["department"], cell["kpi"], cell["period"]

    dept_id: int | None = None
    dept_name = dept_text
    if not dept_text:
        problem("department", dept_text, "The department is required.")
    else:
        found = depts.get(dept_text.casefold(), [])
        exact = [d for d in found if d[1] == dept_text]
        match = exact or found
        if not match:
            problem("department", dept_text, "Unknown department.")
        elif len(match) > 1:
            problem("department", dept_text, "More than one department has this name; write it exactly.")
        else:
            dept_id, dept_name, dept_active = match[0]
            if not dept_active:
                problem("department", dept_text, "This department is retired.")
                dept_id = None
            elif scope is not None and not scope.allows(dept_id):
                problem("department", dept_text, f"You may not import data for department {dept_name!r}.")
                dept_id = None

    kpi: tuple[int, str, str, bool] | None = None
    if not kpi_text:
        problem("kpi", kpi_text, "The KPI is required.")
    elif dept_id is not None:
        found_k = kpis_by_dept.get((dept_id, kpi_text.casefold()), [])
        exact_k = [k for k in found_k if k[1] == kpi_text]
        match_k = exact_k or found_k
        if not match_k:
            homes = sorted(kpi_homes.get(kpi_text.casefold(), set()))
            if homes:
                problem(
                    "kpi", kpi_text, f"This KPI is not in department {dept_name!r} (it belongs to {', '.join(homes)})."
                )
            else:
                problem("kpi", kpi_text, "Unknown KPI.")
        elif len(match_k) > 1:
            problem("kpi", kpi_text, "More than one KPI of this department has this name; write it exactly.")
        elif not match_k[0][3]:
            problem("kpi", kpi_text, "This KPI is retired; its data can no longer be changed.")
        else:
            kpi = match_k[0]
    elif kpi_text.casefold() not in kpi_homes:
        problem("kpi", kpi_text, "Unknown KPI.")

    period: str | None = None
    if not period_text:
        problem("period", period_text, "The period is required (YYYY-MM or YYYY-Qn).")
    else:
        try:
            period = str(parse_period(period_text, frequency=kpi[2] if kpi else None))
        except PeriodError as exc:
            problem("period", period_text, str(exc))

    status_text = cell.get("status", "")
    status: str | None = None
    analysis, next_steps = cell.get("analysis", ""), cell.get("next_steps", "")
    if status_text:
        try:
            status = checkin_service.parse_status(value=status_text)
            analysis, next_steps = checkin_service.check_text(status=status, analysis=analysis, next_steps=next_steps)
        except CheckinError as exc:
            problem("analysis" if "analysis" in str(exc) else "status", status_text, str(exc))
    elif analysis or next_steps:
        problem("status", "", "A check-in needs a status (on_track, at_risk or off_track) besides its text.")

    actual: float | None = None
    if cell["actual"] or not status_text:  # here: a check-in row may leave the actual empty
        try:
            actual = parse_number(text=cell["actual"])
        except (ValueError, MeasurementError) as exc:
            problem("actual", cell["actual"], f"The actual {exc}.")
    target: float | None = None
    if cell.get("target"):
        try:
            target = parse_number(text=cell["target"])
        except (ValueError, MeasurementError) as exc:
            problem("target", cell["target"], f"The target {exc}.")

    try:
        norm_period = str(parse_period(period_text))
    except PeriodError:
        norm_period = period_text
    key = (dept_text.casefold(), kpi_text.casefold(), norm_period)
    if key in seen:
        problem(
            "period",
            period_text,
            f"Duplicate row: the same KPI, department and period as row {seen[key]}.",
        )
    else:
        seen[key] = row_no

    checkin = CheckinEntry(kpi[0], period, status, analysis, next_steps) if kpi and period and status else None
    if kpi is not None and period is not None and dept_id is not None and not issues:
        if actual is not None:
            result.entries.append(Entry(kpi[0], period, actual, target))
        if checkin is not None:
            result.checkins.append(checkin)
        if any((dept_id, c) in locks for c in period_locks.covering_periods(period=period)):
            locked_rows.append((row_no, kpi[0], period, dept_name, actual, checkin))
    result.preview.append(
        {
            "row": row_no,
            "department": dept_name,
            "kpi": kpi[1] if kpi else kpi_text,
            "period": period or period_text,
            "actual": actual,
            "target": target,
            "status": status or "",
        }
    )


def _refuse_locked_changes(
    session: Session,
    result: ImportValidation,
    locked_rows: list[tuple[int, int, str, str, float | None, CheckinEntry | None]],
) -> None:
    """A problem for each row in a locked period that would change its actual or check-in.

    Unchanged rows pass, so a file spanning a locked period can be imported again.
    """
    if not locked_rows or result.issues:
        return
    keys = {(kid, period) for _, kid, period, *_ in locked_rows}
    stored = {
        (k, p): a
        for k, p, a in session.execute(select(col(KpiValue.kpi_id), col(KpiValue.period), col(KpiValue.actual)))
        if (k, p) in keys
    }
    notes = {
        (k, p): (st, an, ns)
        for k, p, st, an, ns in session.execute(
            select(
                col(KpiCheckin.kpi_id),
                col(KpiCheckin.period),
                col(KpiCheckin.status),
                col(KpiCheckin.analysis),
                col(KpiCheckin.next_steps),
            )
        )
        if (k, p) in keys
    }
    for row_no, kid, period, dept_name, actual, checkin in locked_rows:
        value_changes = actual is not None and stored.get((kid, period)) != actual
        note = (checkin.status, checkin.analysis, checkin.next_steps) if checkin else None
        checkin_changes = note is not None and notes.get((kid, period)) != note
        if value_changes or checkin_changes:
            result.issues.append(
                ImportIssue(row_no, "period", period, period_locks.locked_message(department=dept_name, period=period))
            )


def import_kpis(
    *,
    session: Session,
    data: bytes | str,
    scope: EditScope,
    dry_run: bool = False,
    filename: str = "",
    author_id: int | None = None,
) -> ImportSummary:
    """Validate and upsert a KPI-values CSV in the caller's transaction (use ``db.write_session``).

    Raises :class:`KpiImportError` (with every problem) before writing anything if the file is
    not valid. With ``dry_run`` nothing is written and the summary says what would change.
    """
    validation = validate_kpi_csv(session=session, data=data, scope=scope)
    if not validation.ok:
        raise KpiImportError(validation)
    try:
        written: WriteSummary = apply_entries(
            session=session, scope=scope, entries=validation.entries, source="import", dry_run=dry_run
        )
        saved = checkin_service.apply_checkins(
            session=session,
            scope=scope,
            entries=validation.checkins,
            author_id=author_id,
            source="import",
            dry_run=dry_run,
        )
    except (MeasurementError, CheckinError, period_locks.PeriodLocked) as exc:  # changed since validation
        validation.issues.append(ImportIssue(0, "", "", str(exc)))
        raise KpiImportError(validation) from None
    summary = ImportSummary(
        rows=validation.data_rows,
        inserted=written.inserted,
        updated=written.updated,
        unchanged=written.unchanged,
        dry_run=dry_run,
        checkins=saved.changed,
    )
    if not dry_run:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        audit.record(
            session,
            actor=scope.actor,
            action="import",
            entity="kpi_value",
            entity_id=filename[:100],
            after={
                "rows": summary.rows,
                "inserted": summary.inserted,
                "updated": summary.updated,
                "unchanged": summary.unchanged,
            }
            | ({"checkins": summary.checkins} if summary.checkins else {}),
            file=filename,
            sha256=hashlib.sha256(raw).hexdigest(),
        )
    return summary
