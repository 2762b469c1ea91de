"""Strategy setup: validation, trees, links, retire-instead-of-delete, audit, findings (both backends)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from kpialign import audit, db
from kpialign.models import AuditEvent, Kpi, Objective
from kpialign.services import measurements, strategy
from kpialign.services.measurements import EditScope, Entry
from kpialign.services.strategy import KpiInput, StrategyError
from tests.unit.kpi_fixtures import build_org


@pytest.fixture
def org(engine, db_factory):
    return db_factory.restore(engine, build_org)


def _events(engine, entity: str):
    with db.read_session(engine) as s:
        return audit.list_events(s, entity=entity)


# ---------------------------------------------------------------------- departments/trees


def test_department_tree_paths_and_cycle_refused(engine, org):
    with db.write_session(engine) as s:
        emea = strategy.create_department(session=s, actor="a", name="EMEA sales", parent_id=org.sales, headcount=12)
        team = strategy.create_department(session=s, actor="a", name="DACH team", parent_id=emea, headcount=4)
    with db.read_session(engine) as s:
        df = strategy.departments_frame(session=s)
    row = df[df["id"] == team].iloc[0]
    assert row["path"] == "Sales / EMEA sales / DACH team"
    assert row["depth"] == 2 and row["parent"] == "EMEA sales"
    # tree order: a child comes right after its parent's subtree starts
    names = list(df["name"])
    assert names.index("Sales") < names.index("EMEA sales") < names.index("DACH team")
    with pytest.raises(StrategyError, match="cycle"), db.write_session(engine) as s:
        strategy.update_department(session=s, actor="a", department_id=org.sales, parent_id=team)
    with pytest.raises(StrategyError, match="own parent"), db.write_session(engine) as s:
        strategy.update_department(session=s, actor="a", department_id=org.sales, parent_id=org.sales)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "  "}, "cannot be empty"),
        ({"name": "sales"}, "already exists"),
        ({"name": "X", "headcount": -1}, "headcount"),
        ({"name": "X", "parent_id": 9999}, "does not exist"),
    ],
)
def test_department_validation(engine, org, kwargs, message):
    with pytest.raises(StrategyError, match=message), db.write_session(engine) as s:
        strategy.create_department(session=s, actor="a", **kwargs)


def test_department_with_kpis_is_retired_not_deleted(engine, org):
    with db.write_session(engine) as s:
        empty = strategy.create_department(session=s, actor="a", name="Legal")
        strategy.set_expectation(session=s, actor="a", department_id=empty, objective_id=org.grow, expected=True)
    with db.write_session(engine) as s:
        assert strategy.remove_department(session=s, actor="a", department_id=org.hr) == "retired"
        assert strategy.remove_department(session=s, actor="a", department_id=empty) == "deleted"
    with db.read_session(engine) as s:
        df = strategy.departments_frame(session=s)
    assert bool(df.loc[df["id"] == org.hr, "active"].iloc[0]) is False
    assert empty not in set(df["id"])
    events = _events(engine, "department")
    deleted = events[events["action"] == "delete"]
    assert json.loads(deleted.iloc[0]["detail"])["before"]["expected_objectives"] == [org.grow]


# ------------------------------------------------------------------------------ objectives


def test_objective_validation_and_update_audited(engine, org):
    with pytest.raises(StrategyError, match="already exists"), db.write_session(engine) as s:
        strategy.create_objective(session=s, actor="a", code="o1", title="dup")
    with pytest.raises(StrategyError, match="no spaces"), db.write_session(engine) as s:
        strategy.create_objective(session=s, actor="a", code="O 9", title="x")
    with pytest.raises(StrategyError, match="weight"), db.write_session(engine) as s:
        strategy.create_objective(session=s, actor="a", code="O9", title="x", weight=-1)
    with db.write_session(engine) as s:
        assert strategy.update_objective(session=s, actor="boss", objective_id=org.lean, title="Operate lean and green")
        assert not strategy.update_objective(
            session=s, actor="boss", objective_id=org.lean, title="Operate lean and green"
        )
    ev = _events(engine, "objective")
    upd = ev[ev["action"] == "update"].iloc[0]
    detail = json.loads(upd["detail"])
    assert upd["actor"] == "boss"
    assert detail == {"before": {"title": "Operate lean"}, "after": {"title": "Operate lean and green"}}


def test_objective_with_links_is_retired(engine, org):
    with db.write_session(engine) as s:
        lone = strategy.create_objective(session=s, actor="a", code="O9", title="Temporary")
        assert strategy.remove_objective(session=s, actor="a", objective_id=lone) == "deleted"
        assert strategy.remove_objective(session=s, actor="a", objective_id=org.lean) == "retired"
    with db.read_session(engine) as s:
        assert s.get(Objective, lone) is None
        assert s.get(Objective, org.lean).active is False


# ------------------------------------------------------------------------------------ KPIs


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "cannot be empty"),
        ({"polarity": "sideways"}, "polarity"),
        ({"frequency": "weekly"}, "frequency"),
        ({"target": None}, "needs a target"),
        ({"baseline": 200.0}, "above the baseline"),
        ({"baseline": 150.0}, "differ from the baseline"),
        ({"weight": -1.0}, "weight"),
        ({"target": float("inf")}, "finite"),
        ({"name": "revenue"}, "already has a KPI"),
        ({"department_id": 9999}, "department"),
        ({"owner_id": 9999}, "no account"),
    ],
)
def test_kpi_validation(engine, org, changes, message):
    base = {"department_id": org.sales, "name": "New KPI", "baseline": 100.0, "target": 150.0}
    with pytest.raises(StrategyError, match=message), db.write_session(engine) as s:
        strategy.create_kpi(session=s, actor="a", kpi=KpiInput(**{**base, **changes}))


def test_range_and_lower_kpi_rules(engine, org):
    with pytest.raises(StrategyError, match="both the low and the high"), db.write_session(engine) as s:
        strategy.create_kpi(
            session=s, actor="a", kpi=KpiInput(department_id=org.ops, name="R", polarity="range", range_low=1)
        )
    with pytest.raises(StrategyError, match="below the high"), db.write_session(engine) as s:
        strategy.create_kpi(
            session=s,
            actor="a",
            kpi=KpiInput(department_id=org.ops, name="R", polarity="range", range_low=5, range_high=1),
        )
    with pytest.raises(StrategyError, match="below the baseline"), db.write_session(engine) as s:
        strategy.create_kpi(
            session=s, actor="a", kpi=KpiInput(department_id=org.ops, name="L", polarity="lower", baseline=5, target=9)
        )


def test_kpi_with_values_is_retired_and_cannot_move(engine, org):
    with db.write_session(engine) as s:
        measurements.apply_entries(
            session=s, scope=EditScope.everything("t"), entries=[Entry(org.revenue, "2025-01", 120.0)]
        )
    with db.write_session(engine) as s:
        kpi = strategy.get_kpi(session=s, kpi_id=org.revenue)
        kpi.department_id = org.ops
        with pytest.raises(StrategyError, match="recorded values"):
            strategy.update_kpi(session=s, actor="a", kpi_id=org.revenue, kpi=kpi)
    with db.write_session(engine) as s:
        assert strategy.remove_kpi(session=s, actor="a", kpi_id=org.revenue) == "retired"
        assert strategy.remove_kpi(session=s, actor="a", kpi_id=org.attrition) == "deleted"
    with db.read_session(engine) as s:
        assert s.get(Kpi, org.revenue).active is False
        assert s.get(Kpi, org.attrition) is None
        frame = strategy.kpis_frame(session=s, include_retired=False)
    assert org.revenue not in set(frame["kpi_id"])


def test_kpi_update_is_audited_with_before_and_after(engine, org):
    with db.write_session(engine) as s:
        kpi = strategy.get_kpi(session=s, kpi_id=org.cac)
        kpi.target = 70.0
        assert strategy.update_kpi(session=s, actor="owner@x", kpi_id=org.cac, kpi=kpi)
    with db.read_session(engine) as s:
        ev = s.exec(select(AuditEvent).where(AuditEvent.entity == "kpi", AuditEvent.action == "update")).one()
    assert json.loads(ev.detail) == {"before": {"target": 80.0}, "after": {"target": 70.0}}


# ----------------------------------------------------------------------------------- links


@pytest.mark.parametrize("contribution", [1.5, -1.01, 0, float("nan")])
def test_link_contribution_range(engine, org, contribution):
    with pytest.raises(StrategyError), db.write_session(engine) as s:
        strategy.set_link(
            session=s, actor="a", kpi_id=org.attrition, objective_id=org.people, contribution=contribution
        )


def test_links_update_remove_and_frame(engine, org):
    with db.write_session(engine) as s:
        assert strategy.set_link(session=s, actor="a", kpi_id=org.cac, objective_id=org.lean, contribution=-0.25)
        assert not strategy.set_link(session=s, actor="a", kpi_id=org.cac, objective_id=org.lean, contribution=-0.25)
        assert strategy.remove_link(session=s, actor="a", kpi_id=org.cost, objective_id=org.lean)
        assert not strategy.remove_link(session=s, actor="a", kpi_id=org.cost, objective_id=org.lean)
    with db.read_session(engine) as s:
        links = strategy.links_frame(session=s)
    assert len(links) == 3
    cac = links[links["kpi_id"] == org.cac].iloc[0]
    assert cac["contribution"] == -0.25 and cac["department"] == "Sales" and cac["objective_code"] == "O2"
    actions = list(_events(engine, "kpi_objective")["action"])
    assert actions.count("delete") == 1 and actions.count("update") == 1


# -------------------------------------------------------------------------------- findings


def test_findings(engine, org):
    with db.read_session(engine) as s:
        f = strategy.findings(session=s)
    # O3 has no KPI; O1 is served through its child O1.1, so it is no gap.
    assert list(f.coverage_gaps["code"]) == ["O3"]
    assert list(f.orphans["kpi"]) == ["Attrition"]
    # CAC (Sales) pulls against O2, which Operations' KPIs push.
    assert len(f.conflicts) == 1
    c = f.conflicts.iloc[0]
    assert (c["kpi"], c["department"], c["objective_code"], c["pushed_by"]) == ("CAC", "Sales", "O2", "Operations")
    # HR is expected to serve O3 but has nothing for it; Sales serves O1 through O1.1.
    assert list(zip(f.missing_expected["department"], f.missing_expected["objective_code"], strict=True)) == [
        ("HR", "O3")
    ]
    assert f.total == 4


def test_findings_follow_changes(engine, org):
    with db.write_session(engine) as s:
        strategy.set_link(session=s, actor="a", kpi_id=org.attrition, objective_id=org.people, contribution=0.7)
        strategy.set_link(session=s, actor="a", kpi_id=org.cac, objective_id=org.lean, contribution=0.3)
    with db.read_session(engine) as s:
        f = strategy.findings(session=s)
    assert f.total == 0


def test_pulling_within_one_department_is_no_conflict(engine, org):
    with db.write_session(engine) as s:
        strategy.set_link(session=s, actor="a", kpi_id=org.cac, objective_id=org.lean, contribution=0.5)
        strategy.set_link(session=s, actor="a", kpi_id=org.cost, objective_id=org.lean, contribution=-0.5)
    with db.read_session(engine) as s:
        f = strategy.findings(session=s)
    # Budget variance (Operations) pulls; CAC (Sales) pushes: a conflict across departments.
    assert list(f.conflicts["kpi"]) == ["Budget variance"]
    with db.write_session(engine) as s:
        strategy.remove_link(session=s, actor="a", kpi_id=org.cac, objective_id=org.lean)
    with db.read_session(engine) as s:
        # only Operations' own KPIs push O2 now
        assert strategy.findings(session=s).conflicts.empty


def test_retired_items_leave_findings(engine, org):
    with db.write_session(engine) as s:
        strategy.set_kpi_active(session=s, actor="a", kpi_id=org.attrition, active=False)
        strategy.update_objective(session=s, actor="a", objective_id=org.people, active=False)
    with db.read_session(engine) as s:
        f = strategy.findings(session=s)
    assert f.orphans.empty and f.coverage_gaps.empty and f.missing_expected.empty


def test_alignment_matrix(engine, org):
    with db.read_session(engine) as s:
        m = strategy.alignment_matrix(session=s)
    cell = {(r.objective_code, r.department): r for r in m.itertuples()}
    assert cell[("O1.1", "Sales")].status == "unexpected"
    assert cell[("O2", "Operations")].status == "served" and cell[("O2", "Operations")].kpis == 2
    assert cell[("O2", "Sales")].status == "conflict"
    assert cell[("O3", "HR")].status == "missing"
    assert cell[("O2", "Operations")].net_contribution == pytest.approx(1.4)


def test_set_expectations_replaces_the_set(engine, org):
    with db.write_session(engine) as s:
        n = strategy.set_expectations(
            session=s, actor="a", department_id=org.sales, objective_ids=[org.grow_eu, org.lean]
        )
    assert n == 3  # two added, one (O1) removed
    with db.read_session(engine) as s:
        exp = strategy.expectations_frame(session=s)
    assert sorted(exp[exp["department"] == "Sales"]["objective_code"]) == ["O1.1", "O2"]


def test_kpis_frame_has_one_row_per_kpi(engine, org):
    with db.read_session(engine) as s:
        df = strategy.kpis_frame(session=s)
    assert len(df) == 5 and df["kpi_id"].is_unique
    rev = df[df["kpi_id"] == org.revenue].iloc[0]
    assert (rev["department"], rev["baseline"], rev["target"], rev["links"]) == ("Sales", 100.0, 150.0, 1)


def test_failed_change_writes_no_audit_event(engine, org):
    with db.read_session(engine) as s:
        before = len(audit.list_events(s))
    with pytest.raises(StrategyError), db.write_session(engine) as s:
        strategy.create_objective(session=s, actor="a", code="O7", title="fine")
        strategy.create_objective(session=s, actor="a", code="O7", title="duplicate")  # the transaction rolls back
    with db.read_session(engine) as s:
        assert len(audit.list_events(s)) == before
        assert s.exec(select(Objective).where(Objective.code == "O7")).first() is None
