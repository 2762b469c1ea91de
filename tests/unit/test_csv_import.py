"""KPI-values CSV import: every validation rule, encodings and separators, idempotence, all-or-nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from kpialign import audit, db
from kpialign.models import AuditEvent, KpiTarget, KpiValue
from kpialign.services import kpi_import as csvio
from kpialign.services import measurements, strategy
from kpialign.services.kpi_import import KpiImportError
from kpialign.services.measurements import EditScope
from tests.unit.kpi_fixtures import build_org

ADMIN = EditScope.everything("importer@x")
HEADER = "kpi,department,period,actual,target\n"


@pytest.fixture
def org(engine, db_factory):
    return db_factory.restore(engine, build_org)


def _validate(engine, data, scope=None):
    with db.read_session(engine) as s:
        return csvio.validate_kpi_csv(session=s, data=data, scope=scope)


def _issues(engine, data, scope=None):
    return [(i.row, i.column, i.reason) for i in _validate(engine, data, scope).issues]


def _import(engine, data, scope=ADMIN, **kw):
    with db.write_session(engine) as s:
        return csvio.import_kpis(session=s, data=data, scope=scope, **kw)


def _counts(engine):
    with db.read_session(engine) as s:
        return tuple(
            s.execute(select(func.count()).select_from(t)).scalar_one() for t in (KpiValue, KpiTarget, AuditEvent)
        )


# ----------------------------------------------------------------------- number parsing


@pytest.mark.parametrize(
    ("text", "value"),
    [("12.5", 12.5), ("-3", -3.0), ("+4", 4.0), (".5", 0.5), ("1e3", 1000.0), ("12,5", 12.5), ("0,125", 0.125)],
)
def test_parse_number_reads(text, value):
    assert csvio.parse_number(text=text) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1,234", "ambiguous"),
        ("-999,000", "ambiguous"),
        ("1.234,5", "thousands separator"),
        ("1,234.5", "thousands separator"),
        ("1 234", "thousands separator"),
        ("12%", "% sign"),
        ("€12", "currency"),
        ("abc", "not a number"),
        ("nan", "not a number"),
        ("inf", "not a number"),
        ("", "empty"),
        ("1e999", "finite"),
    ],
)
def test_parse_number_refuses(text, reason):
    with pytest.raises(ValueError, match=reason):
        csvio.parse_number(text=text)


# ----------------------------------------------------------------------- validation rules


def test_valid_file_with_bom_and_semicolons_and_decimal_comma(engine, org):
    data = "\ufeffKPI;Department;Period;Actual;Target\r\nRevenue;Sales;2025-01;120,5;\r\nOn-time delivery;Operations;2025-q1;93;95,5\r\n"
    v = _validate(engine, data.encode("utf-8"))
    assert v.ok, v.issues
    assert v.delimiter == ";"
    assert [(e.kpi_id, e.period, e.actual, e.target) for e in v.entries] == [
        (org.revenue, "2025-01", 120.5, None),
        (org.otd, "2025-Q1", 93.0, 95.5),
    ]


def test_every_row_problem_is_reported(engine, org):
    data = HEADER + "\n".join(
        [
            "Revenue,Sales,2025-01,120,",  # 2 ok
            "Revenue,Nowhere,2025-01,1,",  # 3 unknown department
            "Nothing,Sales,2025-01,1,",  # 4 unknown KPI
            "On-time delivery,Sales,2025-Q1,1,",  # 5 KPI of another department
            "Revenue,Sales,2025-13,1,",  # 6 bad period
            "On-time delivery,Operations,2025-01,1,",  # 7 frequency mismatch
            "Revenue,Sales,2025-02,lots,",  # 8 non-numeric actual
            "Revenue,Sales,2025-03,1,high",  # 9 non-numeric target
            "Revenue,Sales,2025-01,121,",  # 10 duplicate of row 2
            "Revenue,Sales,2025-04,1",  # 11 wrong number of fields
            "Revenue,Sales,2025-05,,",  # 12 empty actual
            ",Sales,2025-06,1,",  # 13 empty KPI
        ]
    )
    issues = _issues(engine, data)
    by_row = {row: (col, reason) for row, col, reason in issues}
    assert 2 not in by_row
    assert by_row[3] == ("department", "Unknown department.")
    assert by_row[4] == ("kpi", "Unknown KPI.")
    assert by_row[5][0] == "kpi" and "not in department 'Sales' (it belongs to Operations)" in by_row[5][1]
    assert by_row[6][0] == "period" and "not a period" in by_row[6][1]
    assert by_row[7][0] == "period" and "monthly period but the KPI is quarterly" in by_row[7][1]
    assert by_row[8] == ("actual", "The actual is not a number.")
    assert by_row[9] == ("target", "The target is not a number.")
    assert by_row[10][0] == "period" and "row 2" in by_row[10][1]
    assert by_row[11][0] == "" and "5 fields" not in by_row[11][1] and "4 fields" in by_row[11][1]
    assert by_row[12] == ("actual", "The actual is empty.")
    assert by_row[13] == ("kpi", "The KPI is required.")
    assert len(issues) == 11  # one per bad row


def test_issue_reports_the_value(engine, org):
    v = _validate(engine, HEADER + "Revenue,Sales,2025-02,1;5,\n")
    assert v.issues_frame().to_dict("records") == [
        {"row": 2, "column": "actual", "value": "1;5", "reason": "The actual is not a number."}
    ]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ("", "empty"),
        ("kpi,department,period\nRevenue,Sales,2025-01\n", "Missing column(s) actual"),
        ("kpi,department,period,actual,colour\n", "Unknown column"),
        ("kpi,department,period,actual,actual\n", "more than once"),
        (HEADER, "no data rows"),
        (b"kpi,department,period,actual\nRevenue,Sales,2025-01,\xff\n", "not UTF-8"),
        ("kpi,department,period,actual\nRevenue,Sales,2025-01,1\x00\n", "NUL"),
    ],
)
def test_file_level_problems(engine, org, data, fragment):
    issues = _issues(engine, data)
    assert issues and any(fragment in reason for _, _, reason in issues)


def test_unquoted_decimal_comma_in_comma_file_is_not_misread(engine, org):
    issues = _issues(engine, "kpi,department,period,actual\nRevenue,Sales,2025-01,12,5\n")
    assert len(issues) == 1 and "must be quoted" in issues[0][2]
    v = _validate(engine, 'kpi,department,period,actual\nRevenue,Sales,2025-01,"12,5"\n')
    assert v.ok and v.entries[0].actual == 12.5


def test_scope_refuses_other_departments(engine, org):
    owner = EditScope(actor="owner@x", departments=frozenset({org.sales}))
    data = HEADER + "Revenue,Sales,2025-01,1,\nOn-time delivery,Operations,2025-Q1,90,\n"
    issues = _issues(engine, data, owner)
    assert issues == [(3, "department", "You may not import data for department 'Operations'.")]
    with pytest.raises(KpiImportError):
        _import(engine, data, scope=owner)
    assert _counts(engine)[0] == 0


def test_retired_kpi_and_department(engine, org):
    with db.write_session(engine) as s:
        strategy.set_kpi_active(session=s, actor="a", kpi_id=org.cac, active=False)
        strategy.update_department(session=s, actor="a", department_id=org.hr, active=False)
    issues = _issues(engine, HEADER + "CAC,Sales,2025-01,1,\nAttrition,HR,2025-01,1,\n")
    assert [(r, c) for r, c, _ in issues] == [(2, "kpi"), (3, "department")]
    assert "retired" in issues[0][2] and "retired" in issues[1][2]


def test_names_match_case_insensitively(engine, org):
    v = _validate(engine, HEADER + "revenue,SALES,2025-01,1,\n")
    assert v.ok and v.entries[0].kpi_id == org.revenue


# ------------------------------------------------------------------------ import / upsert


def test_import_is_idempotent_and_counts(engine, org):
    data = HEADER + "Revenue,Sales,2025-01,120,\nRevenue,Sales,2025-02,125,140\nCAC,Sales,2025-01,75,\n"
    first = _import(engine, data, filename="jan.csv")
    assert (first.inserted, first.updated, first.unchanged) == (3, 0, 0)
    counts = _counts(engine)
    second = _import(engine, data, filename="jan.csv")
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 3)
    assert "Nothing to change" in second.describe()
    # the second import writes only its own "import" audit event
    assert _counts(engine)[:2] == counts[:2] and _counts(engine)[2] == counts[2] + 1
    third = _import(engine, data.replace("125,140", "126,140").replace("75,", "75,70"))
    assert (third.inserted, third.updated, third.unchanged) == (0, 2, 1)
    with db.read_session(engine) as s:
        vf = measurements.values_frame(session=s).set_index(["kpi_id", "period"])
        imports = audit.list_events(s, action="import")
    assert vf.loc[(org.revenue, "2025-02"), "actual"] == 126.0
    assert vf.loc[(org.cac, "2025-01"), "target"] == 70.0
    assert len(imports) == 3
    detail = json.loads(imports.iloc[-1]["detail"])
    assert detail["after"] == {"rows": 3, "inserted": 3, "updated": 0, "unchanged": 0}
    assert detail["file"] == "jan.csv" and len(detail["sha256"]) == 64


def test_dry_run_counts_without_writing(engine, org):
    data = HEADER + "Revenue,Sales,2025-01,120,\n"
    summary = _import(engine, data, dry_run=True)
    assert summary.inserted == 1 and summary.dry_run and "Dry run" in summary.describe()
    assert _counts(engine)[:2] == (0, 0)


def test_invalid_file_writes_nothing(engine, org):
    before = _counts(engine)
    data = HEADER + "Revenue,Sales,2025-01,120,\nRevenue,Sales,2025-02,oops,\n"
    with pytest.raises(KpiImportError) as err:
        _import(engine, data)
    assert len(err.value.validation.issues) == 1
    assert _counts(engine) == before


# -------------------------------------------------------------------------- property test

_CELLS = st.sampled_from(
    [
        *("Revenue", "CAC", "On-time delivery", "Sales", "Operations", "HR", "2025-01", "2025-Q1", "2025-13"),
        "12,5",
        "1,234",
        "7",
        "-1.5",
        "",
        " ",
        '"',
        "x;y",
        "1e400",
        "nan",
        "\ufeff",
        "Attrition",
        "2024-12",
    ]
)
_ROW = st.lists(st.one_of(_CELLS, st.text(max_size=8)), min_size=0, max_size=6)


@st.composite
def csv_text(draw):
    if draw(st.booleans()):
        return draw(st.text(max_size=200))
    sep = draw(st.sampled_from([",", ";"]))
    header = draw(
        st.sampled_from(
            [
                ["kpi", "department", "period", "actual"],
                ["kpi", "department", "period", "actual", "target"],
                ["KPI", "Department", "Period", "Actual", "Target"],
                ["kpi", "period", "actual"],
            ]
        )
    )
    rows = draw(st.lists(_ROW, max_size=6))
    quote = draw(st.booleans())
    lines = [sep.join(header)]
    for r in rows:
        lines.append(sep.join(f'"{c}"' if quote and '"' not in c else c for c in r))
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    return ("\ufeff" if draw(st.booleans()) else "") + text


@given(text=csv_text(), as_bytes=st.booleans())
def test_property_import_is_all_or_nothing(engine, org, text, as_bytes):
    data = text.encode("utf-8", errors="surrogatepass") if as_bytes else text
    before = _counts(engine)
    try:
        summary = _import(engine, data)
    except KpiImportError as exc:
        assert exc.validation.issues
        assert _counts(engine) == before  # nothing at all written
        return
    after = _counts(engine)
    assert summary.rows >= 1
    assert after[0] == before[0] + summary.inserted  # every new value, and only those
    assert after[2] >= before[2] + 1  # the import itself is audited


# --------------------------------------------------------------------------------- CLI


def test_cli_import_kpis(tmp_path, sqlite_engine, monkeypatch, capsys):
    from kpialign import cli

    build_org(sqlite_engine)
    url = sqlite_engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", url)
    monkeypatch.setenv("KPIALIGN_SECRETS_FILE", str(tmp_path / "none"))
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "Revenue,Sales,2025-01,12%,\nRevenue,Nowhere,2025-02,1,\n", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text(HEADER.replace(",", ";") + "Revenue;Sales;2025-01;12,5;\n", encoding="utf-8-sig")

    def run(*args):
        code = cli.main(["import-kpis", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, _, err = run(str(bad))
    assert code == 1
    assert "row 2, column actual, value '12%'" in err and "row 3, column department" in err
    assert "2 problems" in err
    code, out, _ = run(str(good), "--dry-run")
    assert code == 0 and "would be inserted" in out
    with db.read_session(sqlite_engine) as s:
        assert measurements.values_frame(session=s).empty
    code, out, err = run(str(good))
    assert code == 0 and "1 inserted" in out, err
    code, out, _ = run(str(good))
    assert code == 0 and "Nothing to change" in out
    code, _, err = run(str(tmp_path / "missing.csv"))
    assert code == 1 and "No such file" in err
    with db.read_session(sqlite_engine) as s:
        assert measurements.values_frame(session=s)["actual"].tolist() == [12.5]
    # the real entry point, once: exit status and stderr of `python -m kpialign`
    r = subprocess.run(
        [sys.executable, "-m", "kpialign", "import-kpis", str(bad)],
        capture_output=True,
        text=True,
        env={"KPIALIGN_DATABASE_URL": url, "PATH": "/usr/bin:/bin", "KPIALIGN_SECRETS_FILE": str(tmp_path / "none")},
        check=False,
    )
    assert r.returncode == 1 and "nothing was imported" in r.stderr
