"""Strategy import and export: objectives, KPI definitions, links; all or nothing, idempotent, round trip."""

from __future__ import annotations

import random
from datetime import date

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kpialign import db
from kpialign.core.csv_out import write_csv
from kpialign.models import AuditEvent, Department, DepartmentObjective, Kpi, KpiObjective, Objective
from kpialign.scorecard import build as scorecard
from kpialign.services import directory, kpi_import, measurements, strategy_import
from kpialign.services.measurements import EditScope
from kpialign.services.strategy_import import StrategyImportError
from tests.unit.csv_corrupt import corrupt
from tests.unit.kpi_fixtures import build_org

A = "admin@example.org"
OBJECTIVES = (
    "code,title,description,parent,weight,active,serving_departments\n"
    "G1,Grow,Grow revenue,,1,true,Sales\n"
    "G1.1,Grow abroad,,G1,0.5,,Sales|Operations\n"
)
KPIS = (
    "department,name,description,unit,polarity,baseline,target,range_low,range_high,frequency,weight,owner_email,active\n"
    "Sales,Export share,Share of revenue abroad,%,higher,10,25,,,quarterly,2,,true\n"
    "Operations,Energy per unit,,kWh,range,,,3,5,monthly,1,,\n"
)
LINKS = "department,kpi,objective,contribution\nSales,Export share,G1.1,1\nOperations,Energy per unit,G1,-0.5\n"


def _import(engine, **kw):
    kw.setdefault("actor", A)
    with db.write_session(engine) as s:
        return strategy_import.import_strategy(session=s, **kw)


def _counts(engine):
    with db.read_session(engine) as s:
        return tuple(
            s.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (Objective, Kpi, KpiObjective, DepartmentObjective, AuditEvent)
        )


def test_objectives_kpis_and_links_are_created_with_every_field(engine):
    build_org(engine)
    plan = _import(engine, objectives=OBJECTIVES, kpis=KPIS, links=LINKS)
    assert plan.counts["objectives_created"] == 2 and plan.counts["kpis_created"] == 2
    with db.read_session(engine) as s:
        child = s.execute(select(Objective).where(Objective.code == "G1.1")).scalar_one()
        parent = s.execute(select(Objective).where(Objective.code == "G1")).scalar_one()
        assert child.parent_id == parent.id and child.weight == 0.5
        k = s.execute(select(Kpi).where(Kpi.name == "Export share")).scalar_one()
        assert (k.polarity, k.baseline, k.target, k.frequency, k.weight, k.unit) == (
            "higher",
            10,
            25,
            "quarterly",
            2,
            "%",
        )
        e = s.execute(select(Kpi).where(Kpi.name == "Energy per unit")).scalar_one()
        assert (e.polarity, e.range_low, e.range_high) == ("range", 3, 5)
        link = s.get(KpiObjective, (e.id, parent.id))
        assert link.contribution == -0.5
        serving = s.execute(
            select(func.count()).select_from(DepartmentObjective).where(DepartmentObjective.objective_id == child.id)
        ).scalar_one()
        assert serving == 2


def test_the_same_files_twice_change_nothing(engine):
    build_org(engine)
    _import(engine, objectives=OBJECTIVES, kpis=KPIS, links=LINKS)
    before = _counts(engine)
    again = _import(engine, objectives=OBJECTIVES, kpis=KPIS, links=LINKS)
    assert again.changes == 0 and "Nothing to change" in again.describe()
    assert _counts(engine) == before


def test_a_dry_run_counts_the_changes_and_writes_nothing(engine):
    build_org(engine)
    before = _counts(engine)
    plan = _import(engine, objectives=OBJECTIVES, kpis=KPIS, links=LINKS, dry_run=True)
    assert plan.counts["kpis_created"] == 2 and plan.counts["links_changed"] == 2 and "Dry run" in plan.describe()
    assert _counts(engine) == before


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"kpis": KPIS.replace("higher,10,25", "sideways,10,25")}, ("kpis", 2, "", "polarity must be")),
        ({"kpis": KPIS.replace("Sales,Export", "Nowhere,Export")}, ("kpis", 2, "department", "Unknown department")),
        ({"kpis": KPIS.replace("range,,,3,5", "range,,,5,3")}, ("kpis", 3, "", "low end of the range")),
        ({"kpis": KPIS.replace(",2,,true", ",2,ghost@x.org,true")}, ("kpis", 2, "owner_email", "No account")),
        ({"objectives": OBJECTIVES.replace(",G1,0.5", ",G9,0.5")}, ("objectives", 3, "parent", "Unknown parent")),
        ({"objectives": OBJECTIVES + "G1,Again,,,1,,\n"}, ("objectives", 4, "code", "Duplicate objective")),
        ({"links": LINKS.replace("G1,-0.5", "G1,-2")}, ("links", 3, "contribution", "between -1")),
        ({"links": LINKS.replace("G1.1,1", "NOPE,1")}, ("links", 2, "objective", "Unknown objective")),
    ],
)
def test_bad_rows_are_refused_with_file_row_and_reason_and_nothing_is_written(engine, kw, expected):
    build_org(engine)
    files = {"objectives": OBJECTIVES, "kpis": KPIS, "links": LINKS, **kw}
    before = _counts(engine)
    with pytest.raises(StrategyImportError) as exc:
        _import(engine, **files)
    issues = [(i.file, i.row, i.column, i.reason) for i in exc.value.plan.issues]
    f, row, col, reason = expected
    assert any(i[0] == f and i[1] == row and i[2] == col and reason in i[3] for i in issues), issues
    assert _counts(engine) == before


def _values_csv(session) -> bytes:
    values = measurements.values_frame(session=session)
    kpis = pd.DataFrame(
        session.execute(select(Kpi.id, Kpi.name, Kpi.department_id)).all(), columns=["kpi_id", "kpi", "department_id"]
    )
    depts = dict(session.execute(select(Department.id, Department.name)).all())
    df = values.merge(kpis, on="kpi_id")
    df["department"] = df["department_id"].map(depts)
    df["target"] = df["target"].where(df["target_source"] == "period")
    return write_csv(df[["kpi", "department", "period", "actual", "target"]])


def test_a_configuration_round_trips_into_an_empty_database_with_an_identical_scorecard(demo_engine, engine):
    with db.read_session(demo_engine) as s:
        units, people = directory.export_frames(session=s)
        files = strategy_import.export_strategy(session=s)
        values = _values_csv(s)
        original = scorecard.build_scorecard(s, wave=None)
    with db.write_session(engine) as s:
        directory.import_directory(
            session=s, data=write_csv(units), people=write_csv(people), actor=A, as_of=date(2026, 11, 1)
        )
        strategy_import.import_strategy(session=s, actor=A, **files)
    with db.write_session(engine) as s:
        kpi_import.import_kpis(session=s, data=values, scope=EditScope.everything(A))
    with db.read_session(engine) as s:
        again = scorecard.build_scorecard(s, period=original.period, wave=None)
        assert strategy_import.export_strategy(session=s) == files  # the configuration itself is identical
    cols = ["department", "performance", "coverage", "n_kpis", "n_with_data", "n_expected", "n_covered"]
    left = original.departments[cols].sort_values("department").reset_index(drop=True)
    right = again.departments[cols].sort_values("department").reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)
    obj_cols = [c for c in original.objectives.columns if c not in ("objective_id",)]
    pd.testing.assert_frame_equal(
        original.objectives[obj_cols].reset_index(drop=True), again.objectives[obj_cols].reset_index(drop=True)
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), which=st.sampled_from(["objectives", "kpis", "links"]), n=st.integers(1, 3))
def test_property_random_corruptions_write_all_or_nothing(engine, seed, which, n):
    with db.read_session(engine) as s:
        empty = s.execute(select(func.count()).select_from(Department)).scalar_one() == 0
    if empty:
        build_org(engine)
    rnd = random.Random(seed)
    files = {"objectives": OBJECTIVES, "kpis": KPIS, "links": LINKS}
    for _ in range(n):
        files[which] = corrupt(files[which], rnd)
    before = _counts(engine)
    try:
        plan = _import(engine, **files)
    except StrategyImportError as exc:
        assert exc.plan.issues
        assert _counts(engine) == before  # nothing at all written
        return
    assert plan.ok
    assert _import(engine, **files).changes == 0  # whatever was accepted is now the state
