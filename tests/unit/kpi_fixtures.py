"""A small organisation for the KPI stewardship tests (independent of the demo seeder)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from kpialign import db
from kpialign.services import strategy
from kpialign.services.strategy import KpiInput


@dataclass(frozen=True)
class Org:
    sales: int
    ops: int
    hr: int
    grow: int  # objective O1
    grow_eu: int  # objective O1.1, cascades O1
    lean: int  # objective O2
    people: int  # objective O3 (nobody serves it)
    revenue: int  # Sales, monthly, higher
    cac: int  # Sales, monthly, lower
    otd: int  # Ops, quarterly, higher
    cost: int  # Ops, monthly, range
    attrition: int  # HR, monthly, lower, linked to nothing (orphan)


def build_org(engine: Engine) -> Org:
    with db.write_session(engine) as s:
        a = "setup@example.org"
        sales = strategy.create_department(session=s, actor=a, name="Sales", headcount=40)
        ops = strategy.create_department(session=s, actor=a, name="Operations", headcount=60)
        hr = strategy.create_department(session=s, actor=a, name="HR", headcount=8)
        grow = strategy.create_objective(session=s, actor=a, code="O1", title="Grow revenue")
        grow_eu = strategy.create_objective(session=s, actor=a, code="O1.1", title="Grow in Europe", parent_id=grow)
        lean = strategy.create_objective(session=s, actor=a, code="O2", title="Operate lean")
        people = strategy.create_objective(session=s, actor=a, code="O3", title="Great place to work")
        revenue = strategy.create_kpi(
            session=s, actor=a, kpi=KpiInput(department_id=sales, name="Revenue", unit="EUR", baseline=100, target=150)
        )
        cac = strategy.create_kpi(
            session=s, actor=a, kpi=KpiInput(department_id=sales, name="CAC", unit="EUR", polarity="lower", target=80)
        )
        otd = strategy.create_kpi(
            session=s,
            actor=a,
            kpi=KpiInput(department_id=ops, name="On-time delivery", unit="%", target=95, frequency="quarterly"),
        )
        cost = strategy.create_kpi(
            session=s,
            actor=a,
            kpi=KpiInput(department_id=ops, name="Budget variance", polarity="range", range_low=-2, range_high=2),
        )
        attrition = strategy.create_kpi(
            session=s, actor=a, kpi=KpiInput(department_id=hr, name="Attrition", unit="%", polarity="lower", target=8)
        )
        strategy.set_link(session=s, actor=a, kpi_id=revenue, objective_id=grow_eu, contribution=1.0)
        strategy.set_link(session=s, actor=a, kpi_id=cac, objective_id=lean, contribution=-0.5)
        strategy.set_link(session=s, actor=a, kpi_id=otd, objective_id=lean, contribution=0.8)
        strategy.set_link(session=s, actor=a, kpi_id=cost, objective_id=lean, contribution=0.6)
        strategy.set_expectation(session=s, actor=a, department_id=sales, objective_id=grow, expected=True)
        strategy.set_expectation(session=s, actor=a, department_id=ops, objective_id=lean, expected=True)
        strategy.set_expectation(session=s, actor=a, department_id=hr, objective_id=people, expected=True)
    return Org(sales, ops, hr, grow, grow_eu, lean, people, revenue, cac, otd, cost, attrition)
