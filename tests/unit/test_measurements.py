"""Scoped upserts with audit, values/targets frames, missing periods, the entry grid."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from kpialign import audit, db
from kpialign.core.periods import PeriodError, complete_periods, period_bounds
from kpialign.services import measurements
from kpialign.services.accounts import UserContext
from kpialign.services.measurements import EditScope, Entry, MeasurementError, ScopeError
from tests.unit.kpi_fixtures import build_org

ADMIN = EditScope.everything("admin@x")


@pytest.fixture
def org(engine, db_factory):
    return db_factory.restore(engine, build_org)


# ------------------------------------------------------------------------------ scope


def test_scope_for_users():
    owner = UserContext(1, "o@x", "O", frozenset({"kpi_owner"}), owner_departments=frozenset({3}))
    admin = UserContext(2, "a@x", "A", frozenset({"admin", "kpi_owner"}), owner_departments=frozenset({3}))
    leader = UserContext(3, "l@x", "L", frozenset({"leader"}))
    assert EditScope.for_user(owner).allows(3) and not EditScope.for_user(owner).allows(4)
    assert EditScope.for_user(admin).allows(4)
    assert not EditScope.for_user(leader).allows(3)


# ------------------------------------------------------------------------------- writes


def test_owner_cannot_write_another_department(engine, org):
    owner = EditScope(actor="owner@x", departments=frozenset({org.sales}))
    entries = [Entry(org.revenue, "2025-01", 120.0), Entry(org.cost, "2025-01", 1.0)]
    with (
        pytest.raises(ScopeError, match="may not change KPI data of department 'Operations'"),
        db.write_session(engine) as s,
    ):
        measurements.apply_entries(session=s, scope=owner, entries=entries)
    with db.read_session(engine) as s:
        assert measurements.values_frame(session=s).empty  # the Sales value was not written either


def test_upsert_counts_and_audit(engine, org):
    entries = [Entry(org.revenue, "2025-01", 120.0), Entry(org.revenue, "2025-02", 130.0, target=140.0)]
    with db.write_session(engine) as s:
        summary = measurements.apply_entries(session=s, scope=ADMIN, entries=entries)
    assert (summary.inserted, summary.updated, summary.unchanged) == (2, 0, 0)
    with db.write_session(engine) as s:
        again = measurements.apply_entries(session=s, scope=ADMIN, entries=entries)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert again.describe().startswith("Nothing changed")
    with db.write_session(engine) as s:
        changed = measurements.apply_entries(
            session=s,
            scope=ADMIN,
            entries=[Entry(org.revenue, "2025-01", 125.0), Entry(org.revenue, "2025-02", 130.0, 145.0)],
        )
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 2, 0)
    with db.read_session(engine) as s:
        events = audit.list_events(s, entity="kpi_value")
        target_events = audit.list_events(s, entity="kpi_target")
    assert len(events) == 3  # two inserts, one change; nothing for unchanged rows
    newest = json.loads(events.iloc[0]["detail"])
    assert newest["before"] == {"actual": 120.0} and newest["after"] == {"actual": 125.0}
    assert events.iloc[0]["entity_id"] == f"{org.revenue}:2025-01" and events.iloc[0]["actor"] == "admin@x"
    assert len(target_events) == 2


def test_dry_run_writes_nothing(engine, org):
    with db.write_session(engine) as s:
        summary = measurements.apply_entries(
            session=s, scope=ADMIN, entries=[Entry(org.revenue, "2025-01", 1.0, 2.0)], dry_run=True
        )
    assert summary.inserted == 1
    with db.read_session(engine) as s:
        assert measurements.values_frame(session=s).empty
        assert measurements.targets_frame(session=s).empty
        assert audit.list_events(s, entity="kpi_value").empty


@pytest.mark.parametrize(
    ("entry", "error", "message"),
    [
        (Entry(99999, "2025-01", 1.0), MeasurementError, "no KPI"),
        (Entry(-1, "2025-01", 1.0), MeasurementError, "no KPI"),
        ("otd_month", PeriodError, "monthly period but the KPI is quarterly"),
        ("nan", MeasurementError, "finite"),
        ("inf_target", MeasurementError, "finite"),
        ("both", MeasurementError, "either set or clear"),
    ],
)
def test_invalid_entries_write_nothing(engine, org, entry, error, message):
    entry = {
        "otd_month": Entry(org.otd, "2025-01", 90.0),
        "nan": Entry(org.revenue, "2025-01", float("nan")),
        "inf_target": Entry(org.revenue, "2025-01", 1.0, float("inf")),
        "both": Entry(org.revenue, "2025-01", 1.0, 2.0, clear_target=True),
    }.get(entry, entry)
    good = Entry(org.cac, "2025-01", 70.0)
    with pytest.raises(error, match=message), db.write_session(engine) as s:
        measurements.apply_entries(session=s, scope=ADMIN, entries=[good, entry])
    with db.read_session(engine) as s:
        assert measurements.values_frame(session=s).empty


def test_duplicate_entries_refused(engine, org):
    with pytest.raises(MeasurementError, match="two entries"), db.write_session(engine) as s:
        measurements.apply_entries(
            session=s, scope=ADMIN, entries=[Entry(org.revenue, "2025-01", 1.0), Entry(org.revenue, "2025-01", 2.0)]
        )


def test_retired_kpi_refused(engine, org):
    from kpialign.services import strategy

    with db.write_session(engine) as s:
        strategy.set_kpi_active(session=s, actor="a", kpi_id=org.cac, active=False)
    with pytest.raises(MeasurementError, match="retired"), db.write_session(engine) as s:
        measurements.apply_entries(session=s, scope=ADMIN, entries=[Entry(org.cac, "2025-01", 1.0)])


def test_clear_target_and_delete_value(engine, org):
    with db.write_session(engine) as s:
        measurements.apply_entries(session=s, scope=ADMIN, entries=[Entry(org.revenue, "2025-01", 120.0, 160.0)])
    with db.write_session(engine) as s:
        summary = measurements.apply_entries(
            session=s, scope=ADMIN, entries=[Entry(org.revenue, "2025-01", clear_target=True)]
        )
    assert summary.targets_cleared == 1 and summary.updated == 1
    with db.read_session(engine) as s:
        vf = measurements.values_frame(session=s)
    assert vf.iloc[0]["target"] == 150.0 and vf.iloc[0]["target_source"] == "default"
    owner = EditScope(actor="o", departments=frozenset({org.ops}))
    with pytest.raises(ScopeError), db.write_session(engine) as s:
        measurements.delete_value(session=s, scope=owner, kpi_id=org.revenue, period="2025-01")
    with db.write_session(engine) as s:
        assert measurements.delete_value(session=s, scope=ADMIN, kpi_id=org.revenue, period="2025-01")
        assert not measurements.delete_value(session=s, scope=ADMIN, kpi_id=org.revenue, period="2025-01")
    with db.read_session(engine) as s:
        assert measurements.values_frame(session=s).empty
        assert audit.list_events(s, entity="kpi_value", action="delete").shape[0] == 1


# -------------------------------------------------------------------------------- reads


def _seed_values(engine, org):
    entries = [
        Entry(org.revenue, "2025-01", 110.0),
        Entry(org.revenue, "2025-02", 120.0, target=130.0),
        Entry(org.revenue, "2025-03", 140.0),
        Entry(org.otd, "2025-Q1", 93.0),
        Entry(org.cost, "2025-02", 1.5),
    ]
    with db.write_session(engine) as s:
        measurements.apply_entries(session=s, scope=ADMIN, entries=entries)


def test_values_frame_target_precedence_and_filters(engine, org):
    _seed_values(engine, org)
    with db.read_session(engine) as s:
        df = measurements.values_frame(session=s)
        only = measurements.values_frame(session=s, kpi_ids=[org.revenue], periods=["2025-02", "2025-03"])
        ser = measurements.series(session=s, kpi_id=org.revenue)
    assert list(df.columns) == ["kpi_id", "period", "actual", "target", "target_source"]
    rev = df[df["kpi_id"] == org.revenue].set_index("period")
    assert rev.loc["2025-02", "target"] == 130.0 and rev.loc["2025-02", "target_source"] == "period"
    assert rev.loc["2025-01", "target"] == 150.0 and rev.loc["2025-01", "target_source"] == "default"
    assert pd.isna(df[df["kpi_id"] == org.cost].iloc[0]["target"])  # a range KPI has no target
    assert list(only["period"]) == ["2025-02", "2025-03"]
    assert list(ser["period"]) == ["2025-01", "2025-02", "2025-03"] and list(ser["actual"]) == [110.0, 120.0, 140.0]


def test_missing_periods(engine, org):
    _seed_values(engine, org)
    with db.read_session(engine) as s:
        missing = measurements.missing_periods(session=s, start=date(2025, 1, 1), end=date(2025, 6, 30))
        sales = measurements.missing_periods(
            session=s, start=date(2025, 1, 1), end=date(2025, 6, 30), department_ids=[org.sales]
        )
    got = set(zip(missing["kpi_id"], missing["period"], strict=True))
    assert (org.revenue, "2025-04") in got and (org.revenue, "2025-01") not in got
    assert (org.otd, "2025-Q2") in got and (org.otd, "2025-Q1") not in got
    assert (org.cost, "2025-01") in got and (org.cost, "2025-02") not in got
    # Revenue 3 of 6 months, CAC 6, Attrition 6, Budget variance 5, OTD 1 of 2 quarters
    assert len(missing) == 3 + 6 + 6 + 5 + 1
    assert set(sales["department"]) == {"Sales"} and len(sales) == 9


def test_latest_periods(engine, org):
    _seed_values(engine, org)
    with db.read_session(engine) as s:
        assert measurements.latest_periods(session=s) == {"monthly": "2025-03", "quarterly": "2025-Q1"}


def test_entry_grid_and_grid_entries(engine, org):
    _seed_values(engine, org)
    with db.read_session(engine) as s:
        grid = measurements.entry_grid(session=s, department_id=org.sales, period="2025-02")
    assert list(grid["kpi"]) == ["CAC", "Revenue"]
    rev = grid[grid["kpi"] == "Revenue"].iloc[0]
    assert (rev["actual"], rev["target"], rev["default_target"]) == (120.0, 130.0, 150.0)
    edited = grid.copy()
    edited.loc[edited["kpi"] == "CAC", "actual"] = 75.0  # new value
    edited.loc[edited["kpi"] == "Revenue", "target"] = None  # back to the default target
    entries, problems = measurements.grid_entries(before=grid, after=edited, period="2025-02")
    assert problems == []
    by_kpi = {e.kpi_id: e for e in entries}
    assert by_kpi[org.cac].actual == 75.0 and by_kpi[org.revenue].clear_target
    assert by_kpi[org.revenue].actual is None  # unchanged actual is not rewritten
    bad = grid.copy().astype({"actual": object})
    bad.loc[bad["kpi"] == "Revenue", "actual"] = None
    bad.loc[bad["kpi"] == "CAC", "actual"] = "abc"
    _, problems = measurements.grid_entries(before=grid, after=bad, period="2025-02")
    assert {(p.kpi, p.column) for p in problems} == {("Revenue", "actual"), ("CAC", "actual")}


def test_complete_periods_leave_out_a_running_quarter():
    assert complete_periods("quarterly", date(2025, 1, 1), date(2025, 10, 31)) == [
        "2025-Q1",
        "2025-Q2",
        "2025-Q3",
    ]
    assert complete_periods("monthly", date(2025, 1, 1), date(2025, 3, 31)) == [
        "2025-01",
        "2025-02",
        "2025-03",
    ]


def test_period_bounds():
    assert period_bounds("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert period_bounds("2025-Q4") == (date(2025, 10, 1), date(2025, 12, 31))
    assert period_bounds("2025-12") == (date(2025, 12, 1), date(2025, 12, 31))
