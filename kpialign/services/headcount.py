"""Headcount over time: a unit's headcount in a period, from ``department_headcount``.

Directory imports (and reorganisations) record a unit's headcount per month. A figure about a
period uses the headcount in force then: the latest record at or before that month; a unit with
no record that early falls back to ``department.headcount`` (its current headcount), so a
database without history behaves exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from kpialign.models import Department, DepartmentHeadcount


def _month(period: str) -> int:
    """``YYYY-MM`` (or ``YYYY-Qn``: the quarter's last month) as a month index ``year * 12 + month - 1``."""
    year, rest = int(period[:4]), period[5:]
    month = int(rest[1]) * 3 if rest.upper().startswith("Q") else int(rest)
    return year * 12 + month - 1


HISTORY_COLUMNS = ["department_id", "period", "month", "headcount"]


def empty_history() -> pd.DataFrame:
    """No recorded headcounts (every unit weighs with its current headcount)."""
    return pd.DataFrame({c: pd.Series(dtype="int64" if c != "period" else object) for c in HISTORY_COLUMNS})


def history_frame(*, session: Session, department_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Recorded headcounts: ``department_id, period, month, headcount`` (month = month index)."""
    stmt = select(
        col(DepartmentHeadcount.department_id), col(DepartmentHeadcount.period), col(DepartmentHeadcount.headcount)
    )
    if department_ids is not None:
        stmt = stmt.where(col(DepartmentHeadcount.department_id).in_(list(department_ids)))
    df = pd.DataFrame(session.execute(stmt).all(), columns=["department_id", "period", "headcount"])
    df["month"] = [_month(p) for p in df["period"]]
    return df.astype({"department_id": "int64", "headcount": "int64", "month": "int64"})[HISTORY_COLUMNS]


def headcount_by_month(*, history: pd.DataFrame, current: pd.Series, months: Iterable[int]) -> pd.DataFrame:
    """Headcount of each unit in each month: the latest record at or before it, else ``current``.

    ``current`` is the units' ``department.headcount`` indexed by department id. Returns
    ``department_id, month, headcount`` for every unit of ``current`` and every month.
    """
    months = np.asarray(sorted(set(int(m) for m in months)), dtype="int64")
    grid = pd.MultiIndex.from_product([current.index.astype("int64"), months], names=["department_id", "month"])
    out = grid.to_frame(index=False)
    if history.empty or not len(out):
        out["headcount"] = out["department_id"].map(current).astype("int64")
        return out
    hist = history[["department_id", "month", "headcount"]].sort_values("month")
    merged = pd.merge_asof(
        out.sort_values("month"), hist, on="month", by="department_id", direction="backward"
    ).sort_values(["department_id", "month"])
    merged["headcount"] = merged["headcount"].fillna(merged["department_id"].map(current)).astype("int64")
    return merged.reset_index(drop=True)


def headcount_in(*, session: Session, period: str, department_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Each unit's headcount in ``period`` (``YYYY-MM`` or ``YYYY-Qn``), falling back to the current one."""
    stmt = select(col(Department.id), col(Department.headcount))
    if department_ids is not None:
        stmt = stmt.where(col(Department.id).in_(list(department_ids)))
    current = pd.Series(dict(session.execute(stmt).all()), dtype="int64")
    hist = history_frame(session=session, department_ids=current.index.tolist())
    frame = headcount_by_month(history=hist, current=current, months=[_month(period)])
    return dict(zip(frame["department_id"].tolist(), frame["headcount"].tolist(), strict=True))


def recorded_in(*, session: Session, period: str, department_ids: Iterable[int]) -> dict[int, int]:
    """Only the units with a recorded headcount at or before ``period`` (no fallback)."""
    hist = history_frame(session=session, department_ids=department_ids)
    hist = hist[hist["month"] <= _month(period)].sort_values("month")
    last = hist.groupby("department_id")["headcount"].last()
    return {int(d): int(h) for d, h in zip(last.index, last, strict=True)}
