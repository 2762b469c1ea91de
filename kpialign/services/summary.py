"""The organisation at a glance (home page): counts, latest survey wave, data freshness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from sqlalchemy import case, func
from sqlmodel import Session, col, select

from kpialign.models import (
    Department,
    Kpi,
    KpiObjective,
    KpiValue,
    Objective,
    SurveyWave,
    pk,
)
from kpialign.services import surveys


@dataclass(frozen=True)
class WaveGlance:
    name: str
    status: str
    opens_on: date
    closes_on: date
    min_group: int
    invited: int
    responded: int

    @property
    def rate(self) -> float | None:
        """Participation rate, or None when fewer than ``min_group`` were invited (privacy)."""
        if self.invited < self.min_group or self.invited == 0:
            return None
        return self.responded / self.invited


@dataclass(frozen=True)
class Glance:
    departments: int
    top_level_units: int
    headcount: int
    objectives: int
    objectives_without_kpi: int
    kpis: int
    latest_period: str | None
    last_entry_at: datetime | None
    latest_wave: WaveGlance | None
    freshness: pd.DataFrame  # department, kpis, with_data_latest, share


def organisation_glance(*, session: Session) -> Glance:
    dept_rows = session.exec(
        select(Department.id, Department.parent_id, Department.headcount).where(Department.active)
    ).all()
    ids = {d[0] for d in dept_rows}
    # A unit's headcount is its own staff, not its children's (a division with teams may have staff of its own).
    headcount = sum(d[2] for d in dept_rows)
    top_level = sum(1 for d in dept_rows if d[1] is None or d[1] not in ids)

    objectives = session.exec(select(func.count()).select_from(Objective).where(Objective.active)).one()
    served = (
        select(col(KpiObjective.objective_id))
        .join(Kpi, col(Kpi.id) == col(KpiObjective.kpi_id))
        .where(col(Kpi.active), col(KpiObjective.contribution) > 0)
    )
    without_kpi = session.exec(
        select(func.count()).select_from(Objective).where(col(Objective.active), col(Objective.id).not_in(served))
    ).one()
    kpis = session.exec(select(func.count()).select_from(Kpi).where(Kpi.active)).one()
    latest_period = session.exec(
        select(func.max(col(KpiValue.period)))
        .join(Kpi, col(Kpi.id) == col(KpiValue.kpi_id))
        .where(col(Kpi.frequency) == "monthly")
    ).one()
    last_entry = session.exec(select(func.max(KpiValue.entered_at))).one()
    return Glance(
        departments=len(dept_rows),
        top_level_units=top_level,
        headcount=int(headcount),
        objectives=int(objectives),
        objectives_without_kpi=int(without_kpi),
        kpis=int(kpis),
        latest_period=latest_period,
        last_entry_at=last_entry,
        latest_wave=_latest_wave(session),
        freshness=_freshness(session, latest_period),
    )


def _latest_wave(session: Session) -> WaveGlance | None:
    """The newest opened wave with its participation total, as the HR page counts it."""
    wave = session.exec(
        select(SurveyWave).where(col(SurveyWave.status) != "draft").order_by(col(SurveyWave.opens_on).desc())
    ).first()
    if wave is None:
        return None
    part = surveys.participation(session=session, wave_id=pk(wave))
    total = part[part["department"] == "All departments"]
    invited = int(total["invited"].iloc[0]) if len(total) and total["shown"].iloc[0] else 0
    responded = int(total["responded"].iloc[0]) if len(total) and total["shown"].iloc[0] else 0
    return WaveGlance(
        name=wave.name,
        status=wave.status,
        opens_on=wave.opens_on,
        closes_on=wave.closes_on,
        min_group=wave.min_group,
        invited=invited,
        responded=responded,
    )


def _freshness(session: Session, latest_month: str | None) -> pd.DataFrame:
    """Per department: active KPIs and how many have a value in the latest period of their frequency."""
    cols = ["department", "kpis", "with_data_latest", "share"]
    if latest_month is None:
        return pd.DataFrame(columns=cols)
    year, month = int(latest_month[:4]), int(latest_month[5:7])
    latest_quarter = f"{year}-Q{(month - 1) // 3 + 1}"
    # A quarter is complete only at its last month; otherwise the previous quarter is the latest.
    if month % 3 != 0:
        q = (month - 1) // 3
        latest_quarter = f"{year}-Q{q}" if q else f"{year - 1}-Q4"
    has_value = (
        select(col(KpiValue.kpi_id))
        .join(Kpi, col(Kpi.id) == col(KpiValue.kpi_id))
        .where(
            ((col(Kpi.frequency) == "monthly") & (col(KpiValue.period) == latest_month))
            | ((col(Kpi.frequency) == "quarterly") & (col(KpiValue.period) == latest_quarter))
        )
    )
    rows = session.exec(
        select(col(Department.name), func.count(col(Kpi.id)), func.sum(case((col(Kpi.id).in_(has_value), 1), else_=0)))
        .join(Kpi, col(Kpi.department_id) == col(Department.id))
        .where(col(Kpi.active), col(Department.active))
        .group_by(col(Department.name))
        .order_by(col(Department.name))
    ).all()
    df = pd.DataFrame(rows, columns=cols[:3])
    df["with_data_latest"] = df["with_data_latest"].fillna(0).astype(int)
    df["share"] = df["with_data_latest"] / df["kpis"]
    return df
