"""Reorganisations: rename, move, merge, split, close with effective dates, history kept, refusals with reasons."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
from sqlalchemy import func, select

from kpialign import db
from kpialign.models import (
    Account,
    AccountRole,
    AuditEvent,
    Department,
    DepartmentEvent,
    DepartmentHeadcount,
    Kpi,
)
from kpialign.services import accounts, reorg, strategy
from kpialign.services.reorg import ReorgError
from kpialign.services.strategy import KpiInput
from tests.unit.kpi_fixtures import build_org

A = "admin@example.org"
JUNE, JULY = date(2026, 6, 1), date(2026, 7, 1)


@pytest.fixture
def org(engine, db_factory):
    return db_factory.restore(engine, build_org)


def _do(engine, fn, **kw):
    with db.write_session(engine) as s:
        return fn(session=s, actor=A, **kw)


def _refused(engine, fn, message, **kw):
    with db.read_session(engine) as s:
        before = s.execute(select(func.count()).select_from(DepartmentEvent)).scalar_one()
    with pytest.raises(ReorgError, match=message):
        _do(engine, fn, **kw)
    with db.read_session(engine) as s:
        assert s.execute(select(func.count()).select_from(DepartmentEvent)).scalar_one() == before


def _events(engine, dept_id):
    with db.read_session(engine) as s:
        return [
            (e.kind, e.effective_on, json.loads(e.detail))
            for e in s.execute(
                select(DepartmentEvent).where(DepartmentEvent.department_id == dept_id).order_by(DepartmentEvent.id)
            ).scalars()
        ]


def test_a_rename_keeps_the_unit_and_records_the_old_and_new_name(engine, org):
    _do(engine, reorg.rename_unit, department_id=org.sales, name="Sales & Partnerships", effective_on=JUNE)
    with db.read_session(engine) as s:
        dept = s.get(Department, org.sales)
        assert dept.name == "Sales & Partnerships"
        assert s.execute(select(Kpi.department_id).where(Kpi.id == org.revenue)).scalar_one() == org.sales
        assert s.execute(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "rename")).scalar_one()
    assert _events(engine, org.sales) == [("rename", JUNE, {"from": "Sales", "to": "Sales & Partnerships"})]


def test_a_move_changes_the_parent_and_a_cycle_is_refused(engine, org):
    _do(engine, reorg.move_unit, department_id=org.hr, parent_id=org.ops, effective_on=JUNE)
    with db.read_session(engine) as s:
        assert s.get(Department, org.hr).parent_id == org.ops
    _refused(engine, reorg.move_unit, "would make a cycle", department_id=org.ops, parent_id=org.hr, effective_on=JULY)
    _refused(engine, reorg.move_unit, "already there", department_id=org.hr, parent_id=org.ops, effective_on=JULY)


def test_a_merge_moves_kpis_people_scopes_and_headcount_and_closes_the_source(engine, org):
    with db.write_session(engine) as s:
        owner = accounts.create_user(
            session=s, email="owner@example.org", roles=["kpi_owner"], password=None, department_id=org.hr
        )
        owner_id = owner.id
    event = _do(engine, reorg.merge_units, source_id=org.hr, into_id=org.ops, effective_on=JUNE)
    with db.read_session(engine) as s:
        hr, ops = s.get(Department, org.hr), s.get(Department, org.ops)
        assert not hr.active and ops.active
        assert (hr.headcount, ops.headcount) == (0, 68)
        assert s.execute(select(Kpi.department_id).where(Kpi.id == org.attrition)).scalar_one() == org.ops
        assert s.get(Account, owner_id).department_id == org.ops
        scopes = s.execute(select(AccountRole.department_id).where(AccountRole.account_id == owner_id)).scalars()
        assert list(scopes) == [org.ops]
        hc = dict(
            s.execute(
                select(DepartmentHeadcount.department_id, DepartmentHeadcount.headcount).where(
                    DepartmentHeadcount.period == "2026-06"
                )
            ).all()
        )
        assert hc == {org.hr: 0, org.ops: 68}
        preds = reorg.predecessors(session=s, department_id=org.ops)
        assert [(p.department_id, p.name, p.kind, p.until, p.kpi_ids) for p in preds] == [
            (org.hr, "HR", "merge", JUNE, (org.attrition,))
        ]
        assert event.related_department_id == org.hr
        history = reorg.history_frame(session=s)
        assert history["what"].tolist()[:2] == ["absorbed HR (1 KPI(s))", "merged into Operations"]


def test_nothing_can_be_merged_into_a_closed_unit(engine, org):
    _do(engine, reorg.merge_units, source_id=org.hr, into_id=org.ops, effective_on=JUNE)
    _refused(engine, reorg.merge_units, "closed", source_id=org.sales, into_id=org.hr, effective_on=JULY)


def test_a_merge_with_clashing_kpi_names_is_refused(engine, org):
    with db.write_session(engine) as s:
        strategy.create_kpi(session=s, actor=A, kpi=KpiInput(department_id=org.ops, name="Attrition", target=5))
    _refused(engine, reorg.merge_units, "already has KPI", source_id=org.hr, into_id=org.ops, effective_on=JUNE)


def test_an_effective_date_before_the_unit_existed_is_refused(engine, org):
    new_id = _do(engine, reorg.split_unit, department_id=org.sales, new_name="Inside Sales", effective_on=JUNE)
    _refused(
        engine,
        reorg.rename_unit,
        "did not exist on 2026-05-01: it was created on 2026-06-01",
        department_id=new_id,
        name="Inside",
        effective_on=date(2026, 5, 1),
    )
    _refused(
        engine, reorg.merge_units, "did not exist", source_id=new_id, into_id=org.ops, effective_on=date(2026, 5, 31)
    )
    _refused(
        engine, reorg.rename_unit, "in the future", department_id=org.ops, name="Ops", effective_on=date(2999, 1, 1)
    )


def test_a_step_before_the_units_latest_recorded_step_is_refused(engine, org):
    _do(engine, reorg.rename_unit, department_id=org.sales, name="Sales 2", effective_on=JULY)
    _refused(
        engine, reorg.rename_unit, "already has a change recorded", department_id=org.sales, name="S", effective_on=JUNE
    )


def test_a_split_creates_a_unit_beside_the_old_one_with_the_listed_kpis(engine, org):
    new_id = _do(
        engine,
        reorg.split_unit,
        department_id=org.sales,
        new_name="Sales Efficiency",
        effective_on=JUNE,
        kpi_ids=[org.cac],
        headcount=10,
    )
    with db.read_session(engine) as s:
        new, old = s.get(Department, new_id), s.get(Department, org.sales)
        assert new.parent_id == old.parent_id and old.active
        assert (old.headcount, new.headcount) == (30, 10)
        assert s.execute(select(Kpi.department_id).where(Kpi.id == org.cac)).scalar_one() == new_id
        assert s.execute(select(Kpi.department_id).where(Kpi.id == org.revenue)).scalar_one() == org.sales
        assert [(p.department_id, p.kind, p.kpi_ids) for p in reorg.predecessors(session=s, department_id=new_id)] == [
            (org.sales, "split", (org.cac,))
        ]
        assert reorg.unit_started(session=s, department_id=new_id) == JUNE
    _refused(
        engine,
        reorg.split_unit,
        "do not belong",
        department_id=org.ops,
        new_name="X",
        effective_on=JULY,
        kpi_ids=[org.revenue],
    )
    _refused(engine, reorg.split_unit, "already exists", department_id=org.ops, new_name="sales", effective_on=JULY)


def test_close_needs_no_active_sub_units_or_kpis(engine, org):
    _refused(engine, reorg.close_unit, "active KPI", department_id=org.hr, effective_on=JUNE)
    with db.write_session(engine) as s:
        strategy.set_kpi_active(session=s, actor=A, kpi_id=org.attrition, active=False)
        child = strategy.create_department(session=s, actor=A, name="HR Ops", parent_id=org.hr)
    _refused(engine, reorg.close_unit, "sub-unit", department_id=org.hr, effective_on=JUNE)
    _do(engine, reorg.close_unit, department_id=child, effective_on=JUNE)
    _do(engine, reorg.close_unit, department_id=org.hr, effective_on=JUNE)
    with db.read_session(engine) as s:
        assert not s.get(Department, org.hr).active
    _refused(engine, reorg.rename_unit, "closed", department_id=org.hr, name="People", effective_on=JULY)


def test_a_merge_while_a_survey_wave_is_open_is_refused(demo_copy_url):
    eng = db.make_engine(demo_copy_url)
    try:
        with db.read_session(eng) as s:
            ids = dict(s.execute(select(Department.name, Department.id)).all())
        with db.write_session(eng) as s, pytest.raises(ReorgError, match="is open for"):
            reorg.merge_units(
                session=s, source_id=ids["Marketing"], into_id=ids["Sales"], effective_on=date(2026, 11, 1), actor=A
            )
    finally:
        eng.dispose()


# ------------------------------------------------------------------ history across a merge


def _values(engine):
    from kpialign.services import kpi_import
    from kpialign.services.measurements import EditScope

    lines = ["kpi,department,period,actual"]
    for i, month in enumerate(["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07"]):
        lines += [f"Revenue,Sales,{month},{110 + 5 * i}", f"Budget variance,Operations,{month},{i - 3}"]
        lines += [f"Attrition,HR,{month},{12 - i}"]
    with db.write_session(engine) as s:
        kpi_import.import_kpis(session=s, data="\n".join(lines), scope=EditScope.everything(A))


def test_a_merged_units_history_shows_the_predecessor_before_the_date_and_the_combined_unit_after(engine, org):
    from kpialign.scorecard import history

    _values(engine)
    with db.read_session(engine) as s:
        hr_before = history.unit_history(s, org.hr).set_index("month")["performance"]
        ops_before = history.unit_history(s, org.ops).set_index("month")["performance"]
    _do(engine, reorg.merge_units, source_id=org.hr, into_id=org.ops, effective_on=date(2026, 5, 1))
    with db.read_session(engine) as s:
        after = history.unit_history(s, org.ops)
    series = dict(iter(after.groupby("series")))
    assert set(series) == {"Operations", "HR (before it was merged in on 2026-05-01)"}
    pred = series["HR (before it was merged in on 2026-05-01)"].set_index("month")
    unit = series["Operations"].set_index("month")
    assert pred["period"].tolist() == ["2026-01", "2026-02", "2026-03", "2026-04"]  # ends at the merge date
    pd.testing.assert_series_equal(pred["performance"], hr_before.loc[pred.index], check_names=False)
    early = unit[unit["period"] < "2026-05"]
    pd.testing.assert_series_equal(early["performance"], ops_before.loc[early.index], check_names=False)
    # from the merge on, Operations' P is the weighted mean over its own and HR's KPIs
    may = unit[unit["period"] == "2026-05"].iloc[0]
    assert may["n_with_data"] == 2
    assert may["performance"] == pytest.approx((ops_before.loc[may.name] + hr_before.loc[may.name]) / 2)


def test_a_rename_leaves_the_history_unchanged(engine, org):
    from kpialign.scorecard import history

    _values(engine)
    with db.read_session(engine) as s:
        before = history.unit_history(s, org.sales)
    _do(engine, reorg.rename_unit, department_id=org.sales, name="Revenue Team", effective_on=JUNE)
    _do(engine, reorg.move_unit, department_id=org.sales, parent_id=org.ops, effective_on=JULY)
    with db.read_session(engine) as s:
        after = history.unit_history(s, org.sales)
    assert after["series"].unique().tolist() == ["Revenue Team"]
    pd.testing.assert_frame_equal(before.drop(columns="series"), after.drop(columns="series"))


def test_survey_results_are_never_pooled_across_a_merge_and_a_small_predecessor_stays_hidden(demo_copy_url):
    from sqlalchemy import update

    from kpialign.models import SurveyWave
    from kpialign.scorecard import history, queries

    eng = db.make_engine(demo_copy_url)
    try:
        with db.write_session(eng) as s:
            s.execute(update(SurveyWave).where(SurveyWave.status == "open").values(status="closed"))
            ids = dict(s.execute(select(Department.name, Department.id)).all())
        with db.read_session(eng) as s:
            waves = queries.waves(s)
            counts = queries.survey_counts(s, waves=waves, wave_ids=waves["wave_id"].tolist()).respondents
            finance_n = dict(counts[counts["department_id"] == ids["Finance"]][["wave_id", "respondents"]].values)
            legal_n = dict(counts[counts["department_id"] == ids["Legal"]][["wave_id", "respondents"]].values)
        assert legal_n and max(legal_n.values()) < 5  # Legal has 3 people: always below k
        with db.write_session(eng) as s:
            reorg.merge_units(
                session=s, source_id=ids["Legal"], into_id=ids["Finance"], effective_on=date(2026, 11, 30), actor=A
            )
        with db.read_session(eng) as s:
            out = history.unit_survey_history(s, ids["Finance"])
            names = dict(zip(waves["name"], waves["wave_id"], strict=True))
            min_group = {w.id: w.min_group for w in s.execute(select(SurveyWave)).scalars()}
        pred = out[out["kind"] == "predecessor"]
        closes = dict(zip(waves["wave_id"], waves["closes_on"], strict=True))
        assert len(pred) == sum(closes[w] < date(2026, 11, 30) for w in legal_n) > 0  # waves before the merge
        assert pred["suppressed"].all()
        assert pred["understanding"].isna().all() and pred["respondents"].isna().all()
        unit = out[out["kind"] == "unit"]
        for wave, n in zip(unit["wave"], unit["respondents"], strict=True):
            wid = names[wave]
            assert (
                n == finance_n[wid] if finance_n[wid] >= min_group[wid] else pd.isna(n)
            )  # Finance's own, never + Legal
    finally:
        eng.dispose()
