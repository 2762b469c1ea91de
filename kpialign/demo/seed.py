"""Deterministic demo organisation: ``small`` (what every page shows) and ``enterprise`` (load).

The same ``seed`` and ``today`` always give the same database contents, byte for byte, given
the same HMAC key (``invitation.token_hmac`` depends on the key kept outside the database). The
calendar is laid out relative to ``today`` (:class:`DemoCalendar`; ``seed-demo --today``, by
default the real today, so the demo never expires): the timeline ends with the last complete
month before it, the open wave runs from 18 days before it to 28 days after it and the closed
waves are the quarters before. The constants below describe the reference calendar
(``today`` = :data:`REFERENCE_TODAY`, the Python API's default, which tests rely on): every
period and date of another ``today`` is the reference one moved by whole months (quarters for
quarterly periods). Timestamps are derived from periods, random ids and even the argon2 salt
of the (public) demo password come from the seeded generator. The raw invitation tokens are derived from the seed *and* the key and then
thrown away, so knowing the seed is not enough to answer the open demo wave.

Shape of the ``small`` organisation (tests and pages rely on it):

- 3 divisions (headcount 0: people sit in the departments) with 8 departments of 3..60
  people; ``Legal`` has 3 people, so its survey results are always suppressed.
- 5 top-level objectives ``OBJ1``..``OBJ5`` and one child ``OBJ3.1``; ``OBJ5`` (net zero) is
  served by no KPI (a coverage gap); Marketing is expected to serve ``OBJ2`` but has no KPI
  for it; Logistics' "Freight cost per order" pulls against ``OBJ2`` (negative contribution)
  which Customer Success pushes (a conflict).
- 31 KPIs over the 24 months ending :data:`DEMO_END_PERIOD` (quarterly KPIs: the 8 quarters
  ending in that window), with improving, degrading and flat trends, seasonality, noise and a
  few missing periods; a few period-specific targets.
- 4 closed quarterly waves (60-90% participation per department, one personal link per
  person) and one open wave (:data:`OPEN_WAVE_NAME`, about 30% so far), in which Sales, the
  demo employee's department, answers after signing in instead (no links, no answers yet), so
  the demo employee can try the survey. Answers follow the department's KPI
  performance in the wave's quarter, plus a department culture and drift over the waves.
- The 7 demo accounts of :data:`DEMO_ACCOUNTS` (two managers: the Commercial division and
  Production), password :data:`DEMO_PASSWORD`.

``enterprise``: 8 divisions > 40 departments > 152 teams (200 units), 50,000 employees,
2,000 KPIs over 60 months, 11 closed waves and one open wave (12 in all): about 600,000
invitations, 430,000 responses and 5 million answers, written with bulk inserts (executemany
on SQLite, COPY on PostgreSQL) in one transaction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any

import numpy as np
from sqlalchemy import insert, text, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from kpialign import audit, db
from kpialign.config import ConfigError, secret_key
from kpialign.core import scoring, security
from kpialign.core.periods import month_periods, quarter_of, quarters_ending_in
from kpialign.demo import links as demo_links
from kpialign.demo.languages import seed_languages
from kpialign.demo.managers import DemoManager, seed_managers
from kpialign.demo.org import seed_org_history
from kpialign.demo.reviews import seed_reviews
from kpialign.models import (
    Account,
    AuditEvent,
    Comment,
    Department,
    DepartmentObjective,
    Kpi,
    KpiObjective,
    KpiTarget,
    KpiValue,
    Objective,
    Question,
    Setting,
    SurveyWave,
    WaveDepartment,
    WaveQuestion,
)
from kpialign.scorecard import counts
from kpialign.services import accounts
from kpialign.services.portal import DEMO_MARKER
from kpialign.services.question_bank import DECOY_OBJECTIVES, QUESTION_BANK, objective_pick_score

DEMO_PASSWORD = "kpialign-demo-2026"  # noqa: S105 - public by design, shown on the sign-in page in demo mode
DEMO_DOMAIN = "demo.kpialign.test"
DEMO_ACCOUNTS: dict[str, str] = {
    "employee": f"employee@{DEMO_DOMAIN}",
    "kpi_owner": f"kpi.owner@{DEMO_DOMAIN}",
    "leader": f"leader@{DEMO_DOMAIN}",
    "hr": f"hr@{DEMO_DOMAIN}",
    "admin": f"admin@{DEMO_DOMAIN}",
    "manager": f"manager@{DEMO_DOMAIN}",
    "department_manager": f"production.manager@{DEMO_DOMAIN}",
}
# The demo managers (kpialign.demo.managers): one leads a division, one a department.
DEMO_MANAGERS = {
    "manager": DemoManager(DEMO_ACCOUNTS["manager"], "Mia Manager", "Commercial"),
    "department_manager": DemoManager(DEMO_ACCOUNTS["department_manager"], "Pablo Production", "Production"),
}
# Home departments of the demo accounts (small scale; enterprise uses the first unit with KPIs).
DEMO_ACCOUNT_DEPARTMENTS = {
    "employee": "Sales",
    "kpi_owner": "Customer Success",
    "hr": "People & Culture",
}
DEMO_ACCOUNT_NAMES = {
    "employee": "Emma Employee",
    "kpi_owner": "Oscar Owner",
    "leader": "Lena Leader",
    "hr": "Hana HR",
    "admin": "Adam Admin",
}

REFERENCE_TODAY = date(2026, 11, 20)  # the day the constants below describe (seed_demo's default)
DEMO_END_PERIOD = "2026-10"  # the last complete month of the demo timeline
OPEN_WAVE_NAME = "2026 Q4"
OPEN_WAVE_AS_OF = REFERENCE_TODAY  # open-wave responses are dated up to this day
SEEDED_AT = datetime(2024, 10, 1, 8, 0, tzinfo=UTC)  # created_at / audit time of seeded rows (before the timeline)
OPEN_WAVE_DAYS_BEFORE, OPEN_WAVE_DAYS_AFTER = 18, 28  # the open wave's window around today
SCALES = ("small", "enterprise")

Progress = Callable[[float, str], None]

# ----------------------------------------------------------------------------- periods


def _wave_window(year: int, quarter: int) -> tuple[date, date]:
    """A wave opens on the first Monday of its quarter's second month, for 46 days."""
    first = date(year, 3 * (quarter - 1) + 2, 1)
    opens = first + timedelta(days=(7 - first.weekday()) % 7)
    return opens, opens + timedelta(days=46)


@dataclass(frozen=True)
class DemoCalendar:
    """The demo's calendar for one ``today``: the reference calendar moved by whole months.

    ``months`` is how many months ``today``'s month lies after the reference month (November
    2026); ``quarters`` the same in quarters. Monthly periods move by ``months``, quarterly
    periods and wave quarters by ``quarters``; the open wave's window is set around ``today``.
    """

    today: date
    months: int
    quarters: int

    @property
    def end_period(self) -> str:
        return self.period(DEMO_END_PERIOD)

    @property
    def seeded_at(self) -> datetime:
        y, m = divmod(SEEDED_AT.year * 12 + SEEDED_AT.month - 1 + self.months, 12)
        return SEEDED_AT.replace(year=y, month=m + 1)

    @property
    def open_quarter(self) -> tuple[int, int]:
        return self.today.year, (self.today.month - 1) // 3 + 1

    @property
    def open_wave_name(self) -> str:
        year, quarter = self.open_quarter
        return f"{year} Q{quarter}"

    def open_window(self) -> tuple[date, date]:
        return (
            self.today - timedelta(days=OPEN_WAVE_DAYS_BEFORE),
            self.today + timedelta(days=OPEN_WAVE_DAYS_AFTER),
        )

    def period(self, period: str) -> str:
        """A reference period (``YYYY-MM`` or ``YYYY-Qn``) moved to this calendar."""
        if "Q" in period:
            y, q = divmod(int(period[:4]) * 4 + int(period[-1]) - 1 + self.quarters, 4)
            return f"{y:04d}-Q{q + 1}"
        y, m = divmod(int(period[:4]) * 12 + int(period[5:7]) - 1 + self.months, 12)
        return f"{y:04d}-{m + 1:02d}"

    def quarter(self, year: int, quarter: int) -> tuple[int, int]:
        y, q = divmod(year * 4 + quarter - 1 + self.quarters, 4)
        return y, q + 1

    def spec(self, spec: KpiSpec) -> KpiSpec:
        """A KPI specification with its missing periods and period targets moved to this calendar."""
        if not self.months and not self.quarters:
            return spec
        return KpiSpec(
            **{
                **spec.__dict__,
                "missing": tuple(self.period(p) for p in spec.missing),
                "targets": tuple((self.period(p), t) for p, t in spec.targets),
            }
        )


def calendar_for(today: date | None = None) -> DemoCalendar:
    """The demo calendar around ``today`` (default: :data:`REFERENCE_TODAY`)."""
    today = today or REFERENCE_TODAY
    ref = REFERENCE_TODAY
    months = (today.year * 12 + today.month) - (ref.year * 12 + ref.month)
    quarters = (today.year * 4 + (today.month - 1) // 3) - (ref.year * 4 + (ref.month - 1) // 3)
    return DemoCalendar(today=today, months=months, quarters=quarters)


# ------------------------------------------------------------------------- specifications


@dataclass(frozen=True)
class KpiSpec:
    name: str
    unit: str
    polarity: str  # higher | lower | range
    frequency: str  # monthly | quarterly
    baseline: float | None  # for range KPIs: range_low
    target: float | None  # for range KPIs: range_high
    trend: str  # up (improving) | down (degrading) | flat
    links: tuple[tuple[str, float], ...]
    decimals: int = 1
    season: float = 0.1  # amplitude, as a share of |target - baseline|
    noise: float = 0.1  # sd, as a share of |target - baseline|
    lo: float | None = 0.0
    hi: float | None = None
    missing: tuple[str, ...] = ()  # periods with no value
    targets: tuple[tuple[str, float], ...] = ()  # period-specific targets (period prefix, target)
    description: str = ""


OBJECTIVES: tuple[tuple[str, str, str, str | None, float], ...] = (
    # code, title, description, parent code, weight
    ("OBJ1", "Grow recurring revenue", "Grow annual recurring revenue by 15% a year.", None, 1.0),
    ("OBJ2", "Delight our customers", "Customers stay, recommend us and get help fast.", None, 1.0),
    ("OBJ3", "Run operations efficiently", "Deliver more with the same resources.", None, 1.0),
    ("OBJ3.1", "Cut waste in production", "Halve scrap and rework by the end of 2027.", "OBJ3", 0.5),
    ("OBJ4", "Make this a great place to work", "People grow here, stay and are safe.", None, 0.8),
    ("OBJ5", "Reach net-zero emissions by 2030", "Cut scope 1 and 2 emissions to net zero.", None, 0.6),
)
GAP_OBJECTIVE = "OBJ5"

PCT = {"lo": 0.0, "hi": 100.0}

SMALL_ORG: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = (
    ("Commercial", (("Sales", 48), ("Marketing", 22), ("Customer Success", 35))),
    ("Operations", (("Production", 60), ("Logistics", 27))),
    ("Corporate", (("Finance", 18), ("People & Culture", 12), ("Legal", 3))),
)

SMALL_EXPECTED: dict[str, tuple[str, ...]] = {
    "Sales": ("OBJ1", "OBJ2"),
    "Marketing": ("OBJ1", "OBJ2"),  # no Marketing KPI serves OBJ2: a department coverage gap
    "Customer Success": ("OBJ1", "OBJ2"),
    "Production": ("OBJ3", "OBJ3.1", "OBJ4", "OBJ5"),
    "Logistics": ("OBJ2", "OBJ3", "OBJ5"),
    "Finance": ("OBJ1", "OBJ3"),
    "People & Culture": ("OBJ4",),
    "Legal": ("OBJ3",),
}

_Y26 = tuple((f"2026-{m:02d}", 0.0) for m in range(1, 11))

SMALL_KPIS: dict[str, tuple[KpiSpec, ...]] = {
    "Sales": (
        KpiSpec(
            "New bookings",
            "k€",
            "higher",
            "monthly",
            800,
            1000,
            "up",
            (("OBJ1", 1.0),),
            0,
            season=0.35,
            noise=0.15,
            targets=tuple((p, 1100.0) for p, _ in _Y26),
            description="Value of new contracts signed in the month.",
        ),
        KpiSpec("Win rate", "%", "higher", "monthly", 22, 30, "flat", (("OBJ1", 0.6),), **PCT),
        KpiSpec("Average discount", "%", "lower", "monthly", 14, 10, "down", (("OBJ1", 0.4),), **PCT),
        KpiSpec("Sales cycle length", "days", "lower", "quarterly", 75, 60, "up", (("OBJ1", 0.5),), 0),
    ),
    "Marketing": (
        KpiSpec(
            "Marketing qualified leads", "leads", "higher", "monthly", 400, 550, "up", (("OBJ1", 0.7),), 0, season=0.3
        ),
        KpiSpec("Cost per lead", "€", "lower", "monthly", 95, 70, "flat", (("OBJ3", 0.3),)),
        KpiSpec(
            "Brand awareness", "%", "higher", "quarterly", 31, 38, "up", (("OBJ1", 0.3),), **PCT, missing=("2025-Q2",)
        ),
    ),
    "Customer Success": (
        KpiSpec(
            "Customer retention rate",
            "%",
            "higher",
            "monthly",
            88,
            94,
            "up",
            (("OBJ1", 0.8), ("OBJ2", 0.6)),
            **PCT,
            targets=tuple((p, 95.0) for p, _ in _Y26),
        ),
        KpiSpec(
            "Net promoter score", "points", "higher", "quarterly", 28, 45, "up", (("OBJ2", 1.0),), 0, lo=-100, hi=100
        ),
        KpiSpec("First response time", "hours", "lower", "monthly", 10, 4, "down", (("OBJ2", 0.7),), season=0.25),
        KpiSpec("Ticket backlog", "tickets", "range", "monthly", 80, 140, "flat", (("OBJ2", 0.3),), 0, season=0.3),
        KpiSpec(
            "Onboarding completed within 30 days", "%", "higher", "monthly", 70, 90, "flat", (("OBJ2", 0.5),), 0, **PCT
        ),
    ),
    "Production": (
        KpiSpec("Overall equipment effectiveness", "%", "higher", "monthly", 62, 75, "up", (("OBJ3", 1.0),), **PCT),
        KpiSpec("Scrap rate", "%", "lower", "monthly", 4.5, 2.5, "up", (("OBJ3.1", 1.0),), 2, **PCT),
        KpiSpec(
            "Unplanned downtime",
            "hours",
            "lower",
            "monthly",
            40,
            20,
            "down",
            (("OBJ3", 0.6),),
            0,
            missing=("2025-08", "2026-02"),
        ),
        KpiSpec("Lost-time injury rate", "per 200k hours", "lower", "quarterly", 1.8, 1.0, "flat", (("OBJ4", 0.5),), 2),
        KpiSpec("Energy per unit produced", "kWh", "lower", "monthly", 12, 10, "up", (("OBJ3", 0.4),), 2, season=0.4),
    ),
    "Logistics": (
        KpiSpec("On-time delivery", "%", "higher", "monthly", 91, 97, "down", (("OBJ2", 0.8),), **PCT, season=0.3),
        # Cheaper freight means slower, consolidated shipping: it pulls against OBJ2.
        KpiSpec(
            "Freight cost per order",
            "€",
            "lower",
            "monthly",
            14,
            11,
            "up",
            (("OBJ3", 0.7), ("OBJ2", -0.4)),
            2,
            description="Shipping cost divided by orders shipped; consolidation lowers it but delays orders.",
        ),
        KpiSpec("Inventory turns", "turns/year", "higher", "quarterly", 6, 8, "flat", (("OBJ3", 0.5),)),
        KpiSpec("Picking accuracy", "%", "higher", "monthly", 98.5, 99.7, "up", (("OBJ2", 0.4),), 2, lo=90, hi=100),
    ),
    "Finance": (
        KpiSpec("Days sales outstanding", "days", "lower", "monthly", 52, 40, "up", (("OBJ1", 0.3), ("OBJ3", 0.5)), 0),
        KpiSpec("Operating expense ratio", "%", "lower", "quarterly", 34, 30, "flat", (("OBJ3", 0.8),), **PCT),
        KpiSpec("Headcount budget variance", "%", "range", "monthly", -2, 2, "down", (("OBJ3", 0.4),), lo=None),
        KpiSpec(
            "Forecast accuracy", "%", "higher", "monthly", 85, 95, "up", (("OBJ3", 0.3),), **PCT, missing=("2025-03",)
        ),
    ),
    "People & Culture": (
        KpiSpec(
            "Voluntary attrition",
            "% annualised",
            "lower",
            "monthly",
            14,
            9,
            "up",
            (("OBJ4", 1.0),),
            **PCT,
            targets=tuple((f"2025-{m:02d}", 12.0) for m in range(1, 13)),
        ),
        KpiSpec("Time to hire", "days", "lower", "monthly", 55, 40, "down", (("OBJ4", 0.5),), 0),
        KpiSpec("Training hours per employee", "hours", "higher", "quarterly", 6, 10, "up", (("OBJ4", 0.6),)),
        KpiSpec("Engagement index", "points", "higher", "quarterly", 68, 75, "flat", (("OBJ4", 0.8),), 0, **PCT),
    ),
    "Legal": (
        KpiSpec(
            "Contract turnaround time",
            "days",
            "lower",
            "monthly",
            12,
            7,
            "flat",
            (("OBJ3", 0.3),),
            missing=("2025-06", "2026-01", DEMO_END_PERIOD),
        ),
        KpiSpec("Open litigation matters", "matters", "range", "quarterly", 0, 4, "flat", (("OBJ3", 0.2),), 0),
    ),
}

# Survey culture of each small department: (offset on the 1..5 scale, drift per wave).
SMALL_CULTURE = {
    "Sales": (0.05, 0.06),
    "Marketing": (-0.1, 0.12),
    "Customer Success": (0.3, 0.0),
    "Production": (-0.25, -0.1),
    "Logistics": (-0.1, -0.05),
    "Finance": (0.1, 0.03),
    "People & Culture": (0.4, 0.0),
    "Legal": (0.0, 0.0),
}
ITEM_EFFECT = {
    "AW1": 0.1, "AW2": 0.0, "LS1": 0.25, "LS2": -0.1, "LS3": -0.2, "KU1": 0.15,
    "KU2": -0.05, "CT1": -0.25, "CT2": -0.45, "LC1": 0.0, "LC2": 0.1,
}  # fmt: skip

POSITIVE_COMMENTS = (
    "The quarterly all-hands made it much clearer what we are aiming for.",
    "I like that our team board shows the KPIs we are measured on.",
    "My manager links our weekly priorities to the company objectives.",
    "Good progress this quarter; the targets feel realistic.",
    "The new dashboard helps us see how we are doing against target.",
    "Clear goals, and we talk about them in every team meeting.",
)
NEGATIVE_COMMENTS = (
    "Priorities change too often and nobody explains why.",
    "I do not know which KPIs my team is judged on.",
    "Other departments seem to work towards different goals than we do.",
    "Targets are set without asking the people who have to reach them.",
    "We hear about the objectives once a year and then never again.",
    "Cost cutting in one team keeps creating extra work in ours.",
)
NEUTRAL_COMMENTS = (
    "It would help to see the objectives next to our team plans.",
    "Please share the survey results with the whole department.",
    "More time to discuss goals in one-to-ones would be useful.",
)
# Exercises escaping: pages must show this literally, never render it.
MARKUP_COMMENT = "Our **priorities** change <b>every month</b> — see [the plan](http://example.com) <script>x</script>"


@dataclass
class DemoSummary:
    """What was seeded (counts) and how long it took."""

    scale: str
    seed: int
    today: date = REFERENCE_TODAY
    departments: int = 0
    employees: int = 0
    objectives: int = 0
    kpis: int = 0
    kpi_values: int = 0
    waves: int = 0
    closed_waves: int = 0
    invitations: int = 0
    responses: int = 0
    answers: int = 0
    comments: int = 0
    accounts: int = 0
    seconds: float = 0.0

    def describe(self) -> str:
        return (
            f"Seeded the {self.scale} demo organisation (seed {self.seed}) around {self.today.isoformat()} "
            f"in {self.seconds:.1f} s: "
            f"{self.departments:,} departments, {self.employees:,} employees, {self.objectives} objectives, "
            f"{self.kpis:,} KPIs with {self.kpi_values:,} values, {self.waves} survey waves "
            f"({self.closed_waves} closed), {self.invitations:,} invitations, {self.responses:,} responses, "
            f"{self.answers:,} answers, {self.comments:,} comments, {self.accounts} demo accounts "
            f"(password {DEMO_PASSWORD!r})."
        )


def text_progress(stream: IO[str], width: int = 30) -> Progress:
    """A one-line text progress bar for the command line."""
    last = {"text": ""}

    def report(fraction: float, message: str) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        filled = round(fraction * width)
        line = f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}% {message}"
        pad = max(0, len(last["text"]) - len(line))
        stream.write(line + " " * pad)
        last["text"] = line
        if fraction >= 1.0:
            stream.write("\n")
        stream.flush()

    return report


# ------------------------------------------------------------------------------- plan


@dataclass
class _Unit:
    id: int
    name: str
    parent_id: int | None
    headcount: int
    culture: tuple[float, float] = (0.0, 0.0)


@dataclass
class _Kpi:
    id: int
    unit_id: int
    spec: KpiSpec
    periods: list[str]
    values: np.ndarray  # NaN = missing
    attainment: np.ndarray


@dataclass
class _Wave:
    id: int
    name: str
    year: int
    quarter: int
    opens_on: date
    closes_on: date
    closed: bool


@dataclass
class _Plan:
    scale: str
    units: list[_Unit]
    expected: list[tuple[int, str]]  # (unit id, objective code)
    kpi_specs: list[tuple[int, KpiSpec]]  # (unit id, spec)
    months: list[str]
    waves: list[_Wave]
    owner_unit: str
    account_units: dict[str, str]
    calendar: DemoCalendar

    @property
    def signin_unit(self) -> str:
        """The demo employee's department. In the open wave it has no personal links, so its
        people answer after signing in (``surveys`` allows one way per department and wave)."""
        return self.account_units.get("employee", self.owner_unit)


def _small_plan(cal: DemoCalendar) -> _Plan:
    units: list[_Unit] = []
    kpis: list[tuple[int, KpiSpec]] = []
    expected: list[tuple[int, str]] = []
    next_id = 1
    for division, departments in SMALL_ORG:
        div = _Unit(next_id, division, None, 0)
        units.append(div)
        next_id += 1
        for name, headcount in departments:
            unit = _Unit(next_id, name, div.id, headcount, SMALL_CULTURE[name])
            units.append(unit)
            next_id += 1
            kpis.extend((unit.id, cal.spec(spec)) for spec in SMALL_KPIS[name])
            expected.extend((unit.id, code) for code in SMALL_EXPECTED[name])
    quarters = [(2025, 4), (2026, 1), (2026, 2), (2026, 3), (2026, 4)]
    return _Plan(
        scale="small",
        units=units,
        expected=expected,
        kpi_specs=kpis,
        months=month_periods(cal.end_period, 24),
        waves=_waves(quarters, cal),
        owner_unit=DEMO_ACCOUNT_DEPARTMENTS["kpi_owner"],
        account_units=dict(DEMO_ACCOUNT_DEPARTMENTS),
        calendar=cal,
    )


def _waves(quarters: Sequence[tuple[int, int]], cal: DemoCalendar) -> list[_Wave]:
    """Reference quarters moved to the calendar; the last one is open, around ``cal.today``."""
    waves = []
    for i, reference in enumerate(quarters, start=1):
        year, q = cal.quarter(*reference)
        is_open = (year, q) == cal.open_quarter
        opens, closes = cal.open_window() if is_open else _wave_window(year, q)
        waves.append(_Wave(i, f"{year} Q{q}", year, q, opens, closes, closed=not is_open))
    return waves


ENTERPRISE_DIVISIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Commercial", ("Sales", "Marketing", "Customer Success", "Partnerships", "Pricing")),
    ("Operations", ("Production", "Logistics", "Procurement", "Quality", "Maintenance")),
    ("Technology", ("Engineering", "IT Services", "Data & Analytics", "Security", "Architecture")),
    ("Finance", ("Accounting", "Controlling", "Treasury", "Tax", "Internal Audit")),
    ("People", ("Recruiting", "Learning", "Compensation", "HR Operations", "Workplace")),
    ("Customer Operations", ("Contact Centre", "Field Service", "Billing", "Claims", "Returns")),
    ("Product", ("Product Management", "Design", "Research", "Product Marketing", "Compliance Products")),
    ("Corporate", ("Legal", "Strategy", "Communications", "Sustainability", "Facilities")),
)
TEAM_SUFFIXES = ("North", "South", "East", "West", "Central", "Nordics", "Iberia", "DACH", "Benelux", "UK & Ireland")
ENTERPRISE_EMPLOYEES = 50_000
ENTERPRISE_KPIS = 2_000


def _enterprise_plan(rng: np.random.Generator, cal: DemoCalendar) -> _Plan:
    units: list[_Unit] = []
    next_id = 1
    leaves: list[_Unit] = []
    for division, departments in ENTERPRISE_DIVISIONS:
        div = _Unit(next_id, division, None, 0)
        units.append(div)
        next_id += 1
        for dname in departments:
            dep = _Unit(next_id, dname, div.id, 0)
            units.append(dep)
            leaves.append(dep)
            next_id += 1
    # 152 teams spread over the 40 departments (3 or 4 each; 32 get 4, 8 get 3).
    n_teams = 200 - len(units)
    per_dep = np.full(len(leaves), n_teams // len(leaves))
    per_dep[rng.choice(len(leaves), n_teams - int(per_dep.sum()), replace=False)] += 1
    for dep, k in zip(leaves[:], per_dep, strict=True):
        for j in range(int(k)):
            team = _Unit(next_id, f"{dep.name} {TEAM_SUFFIXES[j]}", dep.id, 0)
            units.append(team)
            leaves.append(team)
            next_id += 1
    # Headcount: departments keep a small core staff, teams the rest (lognormal sizes).
    weights = np.array([0.25 if u.parent_id is not None and _is_department(u, units) else 1.0 for u in leaves])
    weights = weights * rng.lognormal(0.0, 0.7, len(leaves))
    tiny = len(leaves) - 1  # one team of exactly 3 people, and a few under 10
    fixed = {tiny: 3, tiny - 1: 4, tiny - 2: 7, tiny - 3: 9}
    free = [i for i in range(len(leaves)) if i not in fixed]
    remaining = ENTERPRISE_EMPLOYEES - sum(fixed.values())
    share = weights[free] / weights[free].sum() * remaining
    counts = np.maximum(np.floor(share).astype(int), 12)
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    diff = remaining - int(counts.sum())
    step = 1 if diff > 0 else -1
    i = 0
    while diff != 0:
        j = order[i % len(order)]
        if step > 0 or counts[j] > 12:
            counts[j] += step
            diff -= step
        i += 1
    for idx, c in zip(free, counts, strict=True):
        leaves[idx].headcount = int(c)
    for idx, c in fixed.items():
        leaves[idx].headcount = c
    for u in leaves:
        u.culture = (float(rng.normal(0, 0.25)), float(rng.normal(0, 0.04)))

    months = month_periods(cal.end_period, 60)
    templates = [spec for specs in SMALL_KPIS.values() for spec in specs]
    kpi_specs: list[tuple[int, KpiSpec]] = []
    per_leaf = np.full(len(leaves), ENTERPRISE_KPIS // len(leaves))
    per_leaf[rng.choice(len(leaves), ENTERPRISE_KPIS - int(per_leaf.sum()), replace=False)] += 1
    trends = ("up", "down", "flat")
    expected: list[tuple[int, str]] = []
    for u, k in zip(leaves, per_leaf, strict=True):
        chosen = rng.choice(len(templates), int(k), replace=False)
        codes: set[str] = set()
        for t in chosen:
            base = templates[int(t)]
            jitter = float(rng.uniform(0.9, 1.1))
            if base.hi is not None and max(base.baseline or 0, base.target or 0) * jitter > base.hi:
                jitter = 1.0  # e.g. a 99.7% accuracy target cannot grow by 10%
            freq = (
                base.frequency if rng.random() > 0.15 else ("quarterly" if base.frequency == "monthly" else "monthly")
            )
            spec = KpiSpec(
                base.name,
                base.unit,
                base.polarity,
                freq,
                None if base.baseline is None else round(base.baseline * jitter, base.decimals),
                None if base.target is None else round(base.target * jitter, base.decimals),
                trends[int(rng.integers(3))],
                base.links,
                base.decimals,
                base.season,
                base.noise,
                base.lo,
                base.hi,
                description=base.description,
                missing=_random_gaps(freq, months, rng),
            )
            if spec.polarity == "range":
                spec = KpiSpec(**{**spec.__dict__, "baseline": base.baseline, "target": base.target})
            kpi_specs.append((u.id, spec))
            codes.update(c for c, w in base.links if w > 0)
        expected.extend((u.id, c) for c in sorted(codes))
        if rng.random() < 0.2:
            expected.append((u.id, GAP_OBJECTIVE))
    quarters = [(y, q) for y in (2024, 2025, 2026) for q in (1, 2, 3, 4)]
    return _Plan(
        scale="enterprise",
        units=units,
        expected=sorted(set(expected)),
        kpi_specs=kpi_specs,
        months=months,
        waves=_waves(quarters, cal),
        owner_unit=next(units[uid - 1].name for uid, _ in kpi_specs),
        account_units={},
        calendar=cal,
    )


def _random_gaps(frequency: str, months: list[str], rng: np.random.Generator) -> tuple[str, ...]:
    """About 1 KPI in 10 misses 1-3 periods; about 1 in 30 has not reported the latest one."""
    periods = months if frequency == "monthly" else quarters_ending_in(months)
    gaps: set[str] = set()
    if rng.random() < 0.1:
        gaps.update(periods[int(i)] for i in rng.choice(len(periods) - 1, int(rng.integers(1, 4)), replace=False))
    if rng.random() < 0.03:
        gaps.add(periods[-1])
    return tuple(sorted(gaps))


def _is_department(u: _Unit, units: list[_Unit]) -> bool:
    parent = units[u.parent_id - 1] if u.parent_id else None
    return parent is not None and parent.parent_id is None


# ------------------------------------------------------------------------- KPI series


def attainment(values: np.ndarray, spec: KpiSpec, targets: np.ndarray) -> np.ndarray:
    """The scorecard's attainment (:func:`kpialign.core.scoring.attainment`, cap 1) of a demo
    series, used only to make survey answers follow performance."""
    if spec.polarity == "range":
        return scoring.attainment(values, None, None, "range", 1.0, spec.baseline, spec.target)
    return scoring.attainment(values, targets, spec.baseline, spec.polarity, 1.0)


def _series(spec: KpiSpec, months: list[str], rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Actuals of one KPI over the window (NaN where missing)."""
    if spec.frequency == "monthly":
        periods = list(months)
        month_of_year = np.array([int(m[5:]) for m in months])
        t = np.linspace(0, 1, len(months))
    else:
        periods = quarters_ending_in(months)
        month_of_year = np.array([3 * int(p[-1]) - 1 for p in periods])
        t = np.linspace(0, 1, len(periods))
    n = len(periods)
    phase = rng.uniform(0, 12)
    season = np.sin(2 * np.pi * (month_of_year - 1 + phase) / 12)
    eps = rng.normal(0, 1, n)
    if spec.polarity == "range":
        lo, hi = float(spec.baseline or 0), float(spec.target or 0)
        mid, width = (lo + hi) / 2, hi - lo
        offset = {"up": 1.15 - 1.0 * t, "down": 0.1 + 0.9 * t, "flat": np.full(n, 0.3)}[spec.trend]
        sign = 1.0 if rng.random() < 0.5 else -1.0
        values = mid + sign * offset * width + spec.season * width * season + spec.noise * 1.5 * width * eps
    else:
        base, target = float(spec.baseline or 0), float(spec.target or 0)
        span = target - base
        progress = {"up": 0.1 + 0.9 * t, "down": 0.85 - 0.6 * t, "flat": np.full(n, 0.6)}[spec.trend]
        values = base + (progress + spec.season * season + spec.noise * eps) * span
    if spec.lo is not None or spec.hi is not None:
        values = np.clip(values, spec.lo, spec.hi)
    values = np.round(values, spec.decimals)
    if spec.missing:
        miss = np.array([p in spec.missing for p in periods])
        values = np.where(miss, np.nan, values)
    return periods, values


def _targets_for(spec: KpiSpec, periods: list[str]) -> np.ndarray:
    default = float(spec.target) if spec.target is not None else np.nan
    special = dict(spec.targets)
    return np.array([special.get(p, default) for p in periods])


def _entered_at(period: str, rng_minutes: int) -> datetime:
    """Values are entered in the first days after the period ends (fixed, derived from the period)."""
    y = int(period[:4])
    m = 3 * int(period[-1]) if "Q" in period else int(period[5:])
    y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return datetime(y, m, 3, 8, 0, tzinfo=UTC) + timedelta(minutes=rng_minutes)


# ----------------------------------------------------------------------------- writing


def _insert(conn: Connection, model: Any, rows: list[dict], chunk: int = 5000) -> None:
    """Insert rows (dicts); on PostgreSQL through COPY, elsewhere as executemany in chunks."""
    table = model.__table__
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        columns = list(rows[0])
        raw = conn.connection.driver_connection
        cols = ", ".join(columns)
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
        return
    for i in range(0, len(rows), chunk):
        conn.execute(insert(table), rows[i : i + chunk])


def _bulk(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple], chunk: int = 100_000) -> None:
    """Fast insert of plain values: ints (booleans as 0/1) and strings with no tab, newline or backslash."""
    raw = conn.connection.driver_connection
    cols = ", ".join(columns)
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" * len(columns))
        raw.cursor().executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)  # noqa: S608
    elif conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            lines: list[str] = []
            for row in rows:
                lines.append("\t".join(map(str, row)))
                if len(lines) >= chunk:
                    copy.write("\n".join(lines) + "\n")
                    lines = []
            if lines:
                copy.write("\n".join(lines) + "\n")
    else:  # pragma: no cover - kpialign supports SQLite and PostgreSQL only
        raise NotImplementedError(f"bulk insert on {conn.dialect.name}")


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded ASCII digits, shape (n, width)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values.astype(np.int64)[:, None] // powers) % 10 + ord("0")).astype(np.uint8)


class _Ids:
    """Random 32-hex ids, kept both as str (SQLite) and as an ASCII byte matrix (PostgreSQL COPY)."""

    def __init__(self, ids: list[str]):
        self.str = np.array(ids, dtype=object)
        self.ascii = np.array(ids, dtype="S32").view(np.uint8).reshape(-1, 32)


def _bulk_answers(conn: Connection, ids: _Ids, r: np.ndarray, q: np.ndarray, v: np.ndarray) -> None:
    """Insert answer rows (ids.str[r], q, v). On PostgreSQL the COPY text is built with numpy as
    fixed-width lines (integers zero-padded, which PostgreSQL reads as the same numbers)."""
    if conn.dialect.name != "postgresql":
        _bulk(
            conn,
            "answer",
            ("response_id", "question_id", "value"),
            zip(ids.str[r].tolist(), q.tolist(), v.tolist(), strict=True),
        )
        return
    lines = np.empty((len(r), 40), dtype=np.uint8)
    lines[:, :32] = ids.ascii[r]
    lines[:, 32] = lines[:, 35] = ord("\t")
    lines[:, 33:35] = _digits(q, 2)
    lines[:, 36:39] = _digits(v, 3)
    lines[:, 39] = ord("\n")
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy("COPY answer (response_id, question_id, value) FROM STDIN") as copy:
        copy.write(lines.tobytes())


@contextmanager
def _bulk_load(conn: Connection, tables: Sequence[str]) -> Iterator[None]:
    """Drop the secondary indexes (and, on PostgreSQL, the foreign keys) of ``tables`` for a bulk
    load and recreate them afterwards, in the same transaction: one index build and one
    validation query are much faster than millions of row-by-row updates and trigger checks.
    Primary keys and unique constraints stay in place.
    """
    ddl: list[str] = []
    if conn.dialect.name == "postgresql":
        keys: list[str] = []  # primary keys and unique constraints: re-added first
        indexes: list[str] = []
        fks: list[str] = []
        for table in tables:
            for name, definition in conn.execute(
                text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND contype = 'f'"
                ),
                {"t": table},
            ).all():
                conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                fks.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for table in tables:
            # Keys that no table outside the load references can be rebuilt too.
            referenced = conn.execute(
                text("SELECT count(*) FROM pg_constraint WHERE confrelid = CAST(:t AS regclass) AND contype = 'f'"),
                {"t": table},
            ).scalar_one()
            if not referenced:
                for name, definition in conn.execute(
                    text(
                        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = CAST(:t AS regclass) AND contype IN ('p', 'u')"
                    ),
                    {"t": table},
                ).all():
                    conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                    keys.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            for name, definition in conn.execute(
                text(
                    "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
                    "WHERE x.indrelid = CAST(:t AS regclass) AND NOT x.indisprimary AND NOT x.indisunique"
                ),
                {"t": table},
            ).all():
                conn.exec_driver_sql(f'DROP INDEX "{name}"')
                indexes.append(definition)
        ddl = keys + indexes + fks
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
    elif conn.dialect.name == "sqlite":
        marks = ", ".join("?" * len(tables))
        rows = conn.exec_driver_sql(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",  # noqa: S608
            tuple(tables),
        ).all()
        for name, sql in rows:
            if not sql.upper().startswith("CREATE UNIQUE"):
                conn.exec_driver_sql(f'DROP INDEX "{name}"')
                ddl.append(sql)
    yield
    for statement in ddl:
        conn.exec_driver_sql(statement)


def _reset_sequences(conn: Connection, tables: Sequence[str]) -> None:
    """After inserts with explicit ids, move PostgreSQL's id sequences past them."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
        )


def _hex_ids(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` random 32-hex-digit ids from the seeded generator (the shape of uuid4().hex)."""
    h = rng.bytes(16 * n).hex()
    return [h[i : i + 32] for i in range(0, 32 * n, 32)]


def _token_key(engine: Engine) -> bytes:
    try:
        return secret_key(engine.url.render_as_string(hide_password=False))
    except ConfigError:
        # No key configured (PostgreSQL without KPIALIGN_SECRET_KEY): the digests are then made
        # with a fixed key and match no link that the portal could ever accept.
        return b"kpialign-demo-without-secret-key"


# ------------------------------------------------------------------------------ seeding


def seed_demo(
    engine: Engine,
    *,
    scale: str = "small",
    seed: int = 7,
    today: date | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Fill an empty, migrated database with the demo organisation, in one transaction.

    ``today`` places the calendar (default :data:`REFERENCE_TODAY`; ``seed-demo`` passes the
    real today). A ``setting`` row :data:`DEMO_MARKER` marks the database as the demo: the
    portal is in demo mode (demo accounts on the sign-in page) only on such a database.
    """
    if scale not in SCALES:
        raise ValueError(f"Unknown demo scale {scale!r}; choose from: {', '.join(SCALES)}")
    if not db.is_empty(engine):
        raise ValueError("The database is not empty; the demo organisation is seeded only into an empty database.")
    started = time.perf_counter()
    report: Progress = progress or (lambda _f, _m: None)
    rng = np.random.default_rng(seed)
    pyrng = random.Random(seed)
    cal = calendar_for(today)
    plan = _small_plan(cal) if scale == "small" else _enterprise_plan(rng, cal)
    summary = DemoSummary(scale=scale, seed=seed, today=cal.today)
    key = _token_key(engine)

    report(0.0, "organisation")
    with db.write_session(engine) as session:
        conn = session.connection()
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA cache_size=-400000")  # ~400 MB page cache while seeding
        try:
            _seed_strategy(session, conn, plan, summary)
            seed_org_history(conn, [(u.id, u.name) for u in plan.units])
            report(0.03, "accounts")
            owner_id = _seed_accounts(session, plan, rng.bytes(16), summary)
            report(0.06, "KPIs")
            kpis = _seed_kpis(conn, plan, rng, owner_id, summary)
            report(0.12, "survey waves")
            _seed_surveys(conn, plan, kpis, rng, pyrng, key, summary, report)
            _reset_sequences(conn, ("department", "objective", "kpi", "question", "survey_wave", "invitation"))
            seed_reviews(session, end_period=DEMO_END_PERIOD, owner_id=owner_id or None, skip_unit=plan.owner_unit)
            demo_links.seed_links(session, scale=scale, seed=seed, at=SEEDED_AT, summary=summary)
            counts.repair_counts(session=session)  # closed waves' counts, as closing them would have stored
            seed_languages(session, at=SEEDED_AT)
            audit.record(
                session,
                actor="seed-demo",
                action="seed_demo",
                entity="organisation",
                after={
                    "scale": scale,
                    "seed": seed,
                    "today": cal.today.isoformat(),
                    "departments": summary.departments,
                    "kpis": summary.kpis,
                },
            )
            session.add(
                Setting(
                    key=DEMO_MARKER, value=json.dumps({"scale": scale, "seed": seed, "today": cal.today.isoformat()})
                )
            )
            session.flush()
            session.execute(update(AuditEvent).values(at=cal.seeded_at))
            session.execute(update(Account).values(created_at=cal.seeded_at))
            report(0.99, "committing")
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA cache_size=-2000")  # SQLite's default
    summary.seconds = time.perf_counter() - started
    report(1.0, f"done in {summary.seconds:.1f} s")
    return summary


def _seed_strategy(session: Session, conn: Connection, plan: _Plan, summary: DemoSummary) -> None:
    _insert(
        conn,
        Department,
        [
            {"id": u.id, "name": u.name, "parent_id": u.parent_id, "headcount": u.headcount, "active": True}
            for u in plan.units
        ],
    )
    codes = {code: i for i, (code, *_rest) in enumerate(OBJECTIVES, start=1)}
    _insert(
        conn,
        Objective,
        [
            {
                "id": codes[code],
                "code": code,
                "title": title,
                "description": desc,
                "parent_id": codes[parent] if parent else None,
                "weight": weight,
                "active": True,
            }
            for code, title, desc, parent, weight in OBJECTIVES
        ],
    )
    _insert(
        conn,
        DepartmentObjective,
        [{"department_id": uid, "objective_id": codes[code]} for uid, code in plan.expected],
    )
    _insert(
        conn,
        Question,
        [
            {
                "id": i,
                "code": q.code,
                "text": q.text,
                "dimension": q.dimension,
                "kind": q.kind,
                "reverse": q.reverse,
                "active": True,
                "options": json.dumps(list(DECOY_OBJECTIVES)) if q.kind == "objective_pick" else None,
            }
            for i, q in enumerate(QUESTION_BANK, start=1)
        ],
    )
    summary.departments = len(plan.units)
    summary.employees = sum(u.headcount for u in plan.units)
    summary.objectives = len(OBJECTIVES)


def _seed_accounts(session: Session, plan: _Plan, salt: bytes, summary: DemoSummary) -> int:
    """The demo accounts (argon2id hashes through accounts.create_user); returns the KPI owner's id."""
    owner_id = 0
    # One argon2id hash (argon2-cffi's defaults, as accounts uses) of the shared, public demo
    # password, with a salt from the seed so that the same seed gives the same database.
    password_hash = security.hash_password(DEMO_PASSWORD, salt=salt)
    for role, email in DEMO_ACCOUNTS.items():
        if role in DEMO_MANAGERS:
            continue
        department = plan.owner_unit if role == "kpi_owner" else plan.account_units.get(role)
        if role == "employee":
            department = plan.signin_unit
        account = accounts.create_user(
            session=session,
            email=email,
            roles=[role],
            password=None,
            name=DEMO_ACCOUNT_NAMES[role],
            department=department,
            actor="seed-demo",
        )
        account.password_hash = password_hash
        if role == "kpi_owner":
            owner_id = int(account.id or 0)
    session.flush()
    seed_managers(session, managers=DEMO_MANAGERS, emails=DEMO_ACCOUNTS, password_hash=password_hash)
    summary.accounts = len(DEMO_ACCOUNTS)
    return owner_id


def _seed_kpis(
    conn: Connection, plan: _Plan, rng: np.random.Generator, owner_id: int, summary: DemoSummary
) -> list[_Kpi]:
    names = {u.id: u.name for u in plan.units}
    objective_ids = {code: i for i, (code, *_rest) in enumerate(OBJECTIVES, start=1)}
    kpis: list[_Kpi] = []
    kpi_rows, link_rows, target_rows, value_rows = [], [], [], []
    owner_email = DEMO_ACCOUNTS["kpi_owner"]
    for kid, (uid, spec) in enumerate(plan.kpi_specs, start=1):
        periods, values = _series(spec, plan.months, rng)
        targets = _targets_for(spec, periods)
        kpis.append(_Kpi(kid, uid, spec, periods, values, attainment(values, spec, targets)))
        is_range = spec.polarity == "range"
        owned = names[uid] == plan.owner_unit
        kpi_rows.append(
            {
                "id": kid,
                "department_id": uid,
                "name": spec.name,
                "description": spec.description,
                "unit": spec.unit,
                "polarity": spec.polarity,
                "baseline": None if is_range else spec.baseline,
                "target": None if is_range else spec.target,
                "range_low": spec.baseline if is_range else None,
                "range_high": spec.target if is_range else None,
                "frequency": spec.frequency,
                "weight": 1.0,
                "owner_id": owner_id if owned else None,
                "active": True,
            }
        )
        link_rows.extend(
            {"kpi_id": kid, "objective_id": objective_ids[code], "contribution": c} for code, c in spec.links
        )
        target_rows.extend({"kpi_id": kid, "period": p, "target": t} for p, t in spec.targets if p in set(periods))
        minutes = rng.integers(0, 3 * 24 * 60, len(periods))
        for p, v, mins in zip(periods, values.tolist(), minutes.tolist(), strict=True):
            if math.isnan(v):
                continue
            value_rows.append(
                {
                    "kpi_id": kid,
                    "period": p,
                    "actual": v,
                    "source": "manual" if owned else "import",
                    "entered_by": owner_email if owned else "import",
                    "entered_at": _entered_at(p, mins),
                }
            )
    _insert(conn, Kpi, kpi_rows)
    _insert(conn, KpiObjective, link_rows)
    _insert(conn, KpiTarget, target_rows)
    _insert(conn, KpiValue, value_rows)
    summary.kpis = len(kpi_rows)
    summary.kpi_values = len(value_rows)
    return kpis


def _performance(plan: _Plan, kpis: list[_Kpi]) -> dict[tuple[int, str], float]:
    """Mean attainment of each unit's KPIs per quarter ``YYYY-Qn``."""
    acc: dict[tuple[int, str], list[float]] = {}
    for k in kpis:
        for p, a in zip(k.periods, k.attainment.tolist(), strict=True):
            if not math.isnan(a):
                acc.setdefault((k.unit_id, quarter_of(p) if "Q" not in p else p), []).append(a)
    return {key: float(np.mean(v)) for key, v in acc.items()}


def _seed_surveys(
    conn: Connection,
    plan: _Plan,
    kpis: list[_Kpi],
    rng: np.random.Generator,
    pyrng: random.Random,
    key: bytes,
    summary: DemoSummary,
    report: Progress,
) -> None:
    questions = {q.code: i for i, q in enumerate(QUESTION_BANK, start=1)}
    likert = [q.code for q in QUESTION_BANK if q.kind == "likert5"]
    pick_qid = questions["OBJ_PICK"]
    n_real = sum(1 for _c, _t, _d, parent, _w in OBJECTIVES if parent is None)
    # Lookup table: score[hits, false_picks], from the question bank's own scoring function.
    reals = {f"r{i}" for i in range(n_real)}
    decoys = {f"d{i}" for i in range(len(DECOY_OBJECTIVES))}
    score = np.array(
        [
            [
                objective_pick_score(
                    picked={f"r{i}" for i in range(h)} | {f"d{i}" for i in range(f)}, real=reals, decoys=decoys
                )
                for f in range(len(DECOY_OBJECTIVES) + 1)
            ]
            for h in range(n_real + 1)
        ]
    )
    perf = _performance(plan, kpis)
    quarters = sorted({q for (_u, q) in perf})
    surveyed = [u for u in plan.units if u.headcount > 0]

    _insert(
        conn,
        SurveyWave,
        [
            {
                "id": w.id,
                "name": w.name,
                "opens_on": w.opens_on,
                "closes_on": w.closes_on,
                "status": "closed" if w.closed else "open",
                "min_group": 5,
                "comment_min": 10,
            }
            for w in plan.waves
        ],
    )
    _insert(conn, WaveDepartment, [{"wave_id": w.id, "department_id": u.id} for w in plan.waves for u in surveyed])
    _insert(
        conn,
        WaveQuestion,
        [{"wave_id": w.id, "question_id": qid, "position": qid} for w in plan.waves for qid in questions.values()],
    )
    summary.waves = len(plan.waves)
    summary.closed_waves = sum(w.closed for w in plan.waves)

    # --- who answered: per wave and unit, the number of responses; invitations follow.
    inv_rows: list[tuple] = []
    resp_wave: list[np.ndarray] = []
    resp_unit: list[np.ndarray] = []
    resp_mu: list[np.ndarray] = []
    resp_day: list[np.ndarray] = []
    for wi, w in enumerate(plan.waves):
        quarter = f"{w.year}-Q{w.quarter}"
        perf_q = max((q for q in quarters if q <= quarter), default=None)
        for u in surveyed:
            hc = u.headcount
            if not w.closed and u.name == plan.signin_unit:
                continue  # answers after signing in (no personal links), and nobody has yet
            if w.closed:
                n = round(hc * float(rng.uniform(0.62, 0.88)))
                n = min(max(n, math.ceil(0.6 * hc)), math.floor(0.9 * hc))
                days = np.minimum(rng.exponential(9.0, n).astype(int), (w.closes_on - w.opens_on).days)
            else:
                n = round(hc * float(rng.uniform(0.22, 0.38)))
                days = np.minimum(rng.exponential(6.0, n).astype(int), (plan.calendar.today - w.opens_on).days)
            p = perf.get((u.id, perf_q), 0.6) if perf_q else 0.6
            offset, drift = u.culture
            mu = 3.55 + 2.0 * (p - 0.6) + offset + drift * wi
            used = np.zeros(hc, dtype=bool)
            used[rng.choice(hc, n, replace=False)] = True
            raw = rng.bytes(16 * hc)
            for j in range(hc):
                token = base64.urlsafe_b64encode(
                    hmac.new(key, b"kpialign-demo-link:" + raw[16 * j : 16 * j + 16], hashlib.sha256).digest()[:24]
                ).decode()
                inv_rows.append((w.id, u.id, security.hash_token(token, key), int(used[j])))
            resp_wave.append(np.full(n, w.id, dtype=np.int32))
            resp_unit.append(np.full(n, u.id, dtype=np.int32))
            resp_mu.append(np.full(n, mu))
            resp_day.append(np.array([(w.opens_on + timedelta(days=int(d))).toordinal() for d in days], dtype=np.int64))
        report(0.12 + 0.18 * (wi + 1) / len(plan.waves), f"invitations for {w.name}")

    with _bulk_load(conn, ("invitation", "response", "answer")):
        inv_ids = range(1, len(inv_rows) + 1)
        _bulk(conn, "invitation", ("id", "wave_id", "department_id", "token_hmac", "used"),
              ((i, *r) for i, r in zip(inv_ids, inv_rows, strict=True)))  # fmt: skip
        summary.invitations = len(inv_rows)
        del inv_rows
        report(0.35, "answers")

        wave_of = np.concatenate(resp_wave)
        unit_of = np.concatenate(resp_unit)
        mu = np.concatenate(resp_mu)
        day_of = np.concatenate(resp_day)
        n = len(wave_of)
        person = mu + rng.normal(0, 0.6, n)
        effects = np.array([ITEM_EFFECT.get(c, 0.0) for c in likert])
        latent = person[:, None] + effects[None, :] + rng.normal(0, 0.7, (n, len(likert)))
        values = np.clip(np.rint(latent), 1, 5).astype(np.int8)
        answered = rng.random((n, len(likert))) >= 0.03  # ~3% "prefer not to say": no answer row
        p_real = 1 / (1 + np.exp(-(1.3 * (person - 3.0) + 0.9)))
        p_decoy = 1 / (1 + np.exp(1.1 * (person - 3.0) + 2.0))
        hits = rng.binomial(n_real, np.clip(p_real, 0, 1))
        false_picks = rng.binomial(len(DECOY_OBJECTIVES), np.clip(p_decoy, 0, 1))
        pick = score[hits, false_picks]
        pick_answered = rng.random(n) >= 0.03

        # Random ids, rows written in id order (no insertion order to read submission order from).
        ids = sorted(_hex_ids(rng, n))
        rank = rng.permutation(n)  # response i gets ids[rank[i]]
        order = np.argsort(rank)  # responses in id order
        _bulk(
            conn,
            "response",
            ("id", "wave_id", "department_id", "submitted_on"),
            (
                (ids[rank[i]], int(wave_of[i]), int(unit_of[i]), date.fromordinal(int(day_of[i])).isoformat())
                for i in order.tolist()
            ),
        )
        summary.responses = n
        report(0.45, "answers")

        qids = [questions[c] for c in likert] + [pick_qid]
        all_values = np.concatenate([values.astype(np.int16), pick[:, None].astype(np.int16)], axis=1)
        all_answered = np.concatenate([answered, pick_answered[:, None]], axis=1)
        q_order = np.argsort(qids)  # within a response, rows in (response_id, question_id) order
        qids_sorted = [qids[j] for j in q_order]
        all_values = all_values[:, q_order]
        all_answered = all_answered[:, q_order]
        summary.answers = int(all_answered.sum())
        qids_arr = np.array(qids_sorted)
        assert qids_arr.max() < 100 and all_values.max() < 1000  # widths of the COPY fast path
        id_table = _Ids(ids)
        chunk = 50_000
        for start in range(0, n, chunk):
            block = order[start : start + chunk]
            mask = all_answered[block]
            r_sel = np.broadcast_to(rank[block][:, None], mask.shape)[mask]  # row-major: (id, question) order
            q_sel = np.broadcast_to(qids_arr, mask.shape)[mask]
            v_sel = all_values[block][mask]
            _bulk_answers(conn, id_table, r_sel, q_sel, v_sel)
            report(0.45 + 0.45 * min(1.0, (start + chunk) / n), "answers")
        report(0.9, "indexes and foreign keys")
    report(0.97, "comments")

    # Comments: ~15% of respondents, tone following their answers; one with markup to escape.
    biggest = max(surveyed, key=lambda u: u.headcount).id
    last_closed = max(w.id for w in plan.waves if w.closed)
    markup_at = int(np.flatnonzero((unit_of == biggest) & (wave_of == last_closed))[0])
    commenting = np.union1d(np.flatnonzero(rng.random(n) < 0.15), [markup_at])
    mean_answer = values.mean(axis=1)
    comment_rows = []
    comment_ids = _hex_ids(rng, len(commenting))
    for cid, i in zip(comment_ids, commenting.tolist(), strict=True):
        if i == markup_at:
            body = MARKUP_COMMENT
        elif mean_answer[i] >= 3.6:
            body = pyrng.choice(POSITIVE_COMMENTS)
        elif mean_answer[i] <= 2.8:
            body = pyrng.choice(NEGATIVE_COMMENTS)
        else:
            body = pyrng.choice(NEUTRAL_COMMENTS + NEGATIVE_COMMENTS[:2] + POSITIVE_COMMENTS[:2])
        comment_rows.append({"id": cid, "response_id": ids[rank[i]], "text": body})
    comment_rows.sort(key=lambda r: r["id"])
    _insert(conn, Comment, comment_rows)
    summary.comments = len(comment_rows)
