"""Demo content for KPI links, conflicts and committees (issue 15), added to the seeded demo.

Small scale only (the enterprise demo has no curated links). Two KPIs are added whose numbers
really depend on another department's KPI, so that the statistics have something true to find:

- Sales' "Converted marketing leads" follows Marketing's "Marketing qualified leads" two months
  later (a real lead at lag 2: the link is *supported*);
- Customer Success' "Delivery complaints" rises a month after Logistics' "Freight cost per
  order" falls (cheaper, consolidated shipping is slower) — the link was drawn expecting the
  opposite sign, so the evidence contradicts the drawer (a conflict of kind b).

Ten more links have no structure in the data (no evidence), too few common periods (a
quarterly KPI: not enough data), missing periods, and one cycle (leads -> conversions ->
bookings -> leads). One committee, "Customer journey", gathers Sales, Marketing, Customer
Success and Logistics around OBJ1 and OBJ2, with the KPI owner and the employee as members.

Deterministic for a seed: its own generator (``[seed, 15]``) leaves the main demo's numbers as
they were, and timestamps are fixed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlmodel import Session

from kpialign.models import Account, Department, Kpi, KpiLink, KpiObjective, KpiValue, Objective
from kpialign.services import committees, kpi_links
from kpialign.services.accounts import UserContext

CONVERSIONS = ("Sales", "Converted marketing leads")
COMPLAINTS = ("Customer Success", "Delivery complaints")
LEADS = ("Marketing", "Marketing qualified leads")
FREIGHT = ("Logistics", "Freight cost per order")
COMMITTEE_NAME = "Customer journey"

# driver, outcome, expected lag, expected sign, rationale
DEMO_LINKS: tuple[tuple[tuple[str, str], tuple[str, str], int, int, str], ...] = (
    (LEADS, CONVERSIONS, 2, 1, "Qualified leads become sales conversations about two months later."),
    (FREIGHT, COMPLAINTS, 1, 1, "Pricier carriers were thought to damage more parcels, so more complaints."),
    (CONVERSIONS, ("Sales", "New bookings"), 1, 1, "Converted leads sign their first contract the month after."),
    (("Marketing", "Brand awareness"), LEADS, 1, 1, "Better-known brands draw more inbound leads."),
    (
        ("Customer Success", "First response time"),
        ("Customer Success", "Net promoter score"),
        1,
        -1,
        "Slow answers cost promoters.",
    ),
    (
        ("Customer Success", "Customer retention rate"),
        ("Sales", "New bookings"),
        3,
        1,
        "Happy customers refer new ones.",
    ),
    (("Production", "Unplanned downtime"), ("Logistics", "On-time delivery"), 1, -1, "Stopped lines delay shipments."),
    (
        ("Production", "Overall equipment effectiveness"),
        ("Finance", "Operating expense ratio"),
        1,
        -1,
        "Efficient lines cost less.",
    ),
    (
        ("People & Culture", "Time to hire"),
        ("Production", "Overall equipment effectiveness"),
        3,
        -1,
        "Vacant posts slow the lines.",
    ),
    (
        ("Logistics", "On-time delivery"),
        COMPLAINTS,
        0,
        -1,
        "Late parcels are the first thing customers complain about.",
    ),
    (("Finance", "Forecast accuracy"), ("Logistics", "Inventory turns"), 1, 1, "Good forecasts keep stock lean."),
    (("Sales", "New bookings"), LEADS, 3, 1, "Marketing's budget follows last quarter's bookings (closes a loop)."),
)


def _kpi(session: Session, department: str, name: str) -> Kpi:
    row = session.execute(
        select(Kpi)
        .join(Department, Department.id == Kpi.department_id)
        .where(Department.name == department, Kpi.name == name)
    ).scalar_one()
    return row


def _actuals(session: Session, kpi_id: int) -> tuple[list[str], np.ndarray]:
    rows = session.execute(
        select(KpiValue.period, KpiValue.actual).where(KpiValue.kpi_id == kpi_id).order_by(KpiValue.period)
    ).all()
    return [r[0] for r in rows], np.array([r[1] for r in rows], dtype=float)


def _entered_at(period: str) -> datetime:
    y, m = int(period[:4]), int(period[5:7])
    y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return datetime(y, m, 4, 9, 0, tzinfo=UTC)


def _add_kpi(
    session: Session,
    where: tuple[str, str],
    *,
    unit: str,
    polarity: str,
    baseline: float,
    target: float,
    objective: str,
    contribution: float,
    periods: list[str],
    values: np.ndarray,
    description: str,
) -> int:
    dept = session.execute(select(Department).where(Department.name == where[0])).scalar_one()
    kpi = Kpi(
        department_id=int(dept.id or 0),
        name=where[1],
        description=description,
        unit=unit,
        polarity=polarity,
        baseline=baseline,
        target=target,
        frequency="monthly",
    )
    session.add(kpi)
    session.flush()
    objective_id = session.execute(select(Objective.id).where(Objective.code == objective)).scalar_one()
    session.add(KpiObjective(kpi_id=kpi.id, objective_id=objective_id, contribution=contribution))
    session.add_all(
        KpiValue(
            kpi_id=kpi.id, period=p, actual=float(v), source="import", entered_by="import", entered_at=_entered_at(p)
        )
        for p, v in zip(periods, values.tolist(), strict=True)
    )
    session.flush()
    return int(kpi.id or 0)


def seed_links(session: Session, *, scale: str, seed: int, at: datetime, summary: Any = None) -> int:
    """Add the demo's linked KPIs, links and committee (small scale); returns the links drawn.

    ``summary`` (the seeder's DemoSummary) has its KPI and value counts raised by what is added.
    """
    if scale != "small":
        return 0
    rng = np.random.default_rng([seed, 15])

    # Conversions two months after the leads: 12% of the leads, plus noise. The two months
    # before the window have leads too (not stored): like the first stored month, plus noise.
    periods, leads = _actuals(session, _kpi(session, *LEADS).id or 0)
    before = leads[0] + rng.normal(0, 15, 2)
    lagged = np.concatenate([before, leads[:-2]])
    conversions = np.round(0.12 * lagged + rng.normal(0, 1.2, len(periods)))
    _add_kpi(
        session,
        CONVERSIONS,
        unit="leads",
        polarity="higher",
        baseline=45,
        target=65,
        objective="OBJ1",
        contribution=0.5,
        periods=periods,
        values=conversions,
        description="Marketing qualified leads that became a sales opportunity in the month.",
    )

    # Complaints a month after freight cost: cheaper (consolidated, slower) shipping -> more complaints.
    fperiods, cost = _actuals(session, _kpi(session, *FREIGHT).id or 0)
    lagged_cost = np.concatenate([[cost[0] + rng.normal(0, 0.3)], cost[:-1]])
    complaints = np.round(60 + 25 * (14.0 - lagged_cost) + rng.normal(0, 3, len(fperiods)))
    _add_kpi(
        session,
        COMPLAINTS,
        unit="complaints",
        polarity="lower",
        baseline=110,
        target=60,
        objective="OBJ2",
        contribution=0.6,
        periods=fperiods,
        values=complaints,
        description="Customer complaints about late or damaged deliveries in the month.",
    )

    system = UserContext(account_id=None, email="seed-demo", name="", roles=frozenset({"admin"}))
    for driver, outcome, lag, sign, why in DEMO_LINKS:
        kpi_links.create_link(
            session=session,
            user=system,
            link=kpi_links.LinkInput(
                int(_kpi(session, *driver).id or 0), int(_kpi(session, *outcome).id or 0), lag, sign, why
            ),
        )
    session.execute(update(KpiLink).values(created_at=at))
    if summary is not None:
        summary.kpis += 2
        summary.kpi_values += len(periods) + len(fperiods)

    dept_ids = [
        int(i)
        for i in session.execute(
            select(Department.id).where(Department.name.in_(["Sales", "Marketing", "Customer Success", "Logistics"]))  # type: ignore[attr-defined]
        ).scalars()
    ]
    objective_ids = [
        int(i)
        for i in session.execute(select(Objective.id).where(Objective.code.in_(["OBJ1", "OBJ2"]))).scalars()  # type: ignore[attr-defined]
    ]
    members = [
        int(i)
        for i in session.execute(
            select(Account.id).where(Account.email.like("kpi.owner@%") | Account.email.like("employee@%"))  # type: ignore[attr-defined]
        ).scalars()
    ]
    committees.create_committee(
        session=session,
        user=system,
        committee=committees.CommitteeInput(
            COMMITTEE_NAME,
            "Sales, Marketing, Customer Success and Logistics meet monthly on the customer's journey "
            "from first lead to delivered order.",
            tuple(objective_ids),
            tuple(dept_ids),
            tuple(members),
        ),
    )
    return len(DEMO_LINKS)
