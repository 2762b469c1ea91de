"""A unit's performance history across reorganisations (issue 17).

A rename or a move keeps the unit's id, so its series simply continues. After a merge (or a
split) the KPIs that came from a predecessor count for the unit from the effective date on;
before it they form the predecessor's own, labelled series, so the history shows "Sales North
(until 2026-06-01)" beside "Sales" instead of restating the past as if the merged unit had
always existed. Survey results are not pooled here: each unit keeps the responses it was given,
shown only through the usual disclosure rules.
"""

from __future__ import annotations

import pandas as pd
from sqlmodel import Session

from kpialign.core import privacy, scoring
from kpialign.core.periods import month_label
from kpialign.models import Department
from kpialign.scorecard import queries
from kpialign.services import reorg
from kpialign.services.settings import load_settings

HISTORY_COLUMNS = ["series", "kind", "period", "month", "performance", "n_kpis", "n_with_data"]


def unit_history(session: Session, department_id: int, *, cap: float | None = None) -> pd.DataFrame:
    """Monthly performance P of a unit and, before each merge or split, of its predecessors.

    Columns: ``series`` (label), ``kind`` (``unit`` or ``predecessor``), ``period``, ``month``,
    ``performance`` (0..1, NaN without data), ``n_kpis``, ``n_with_data``. Empty when the unit
    has no active KPI with data.
    """
    dept = session.get(Department, department_id)
    if dept is None:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    settings = load_settings(session=session)
    kpis = queries.kpis(session)
    kpis = kpis[kpis["department_id"] == department_id]
    if kpis.empty:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    values = queries.kpi_values(session)
    values = values[values["kpi_id"].isin(kpis["kpi_id"])]
    att = scoring.kpi_attainment(values, kpis, cap=settings.cap if cap is None else cap)
    if att.empty:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    att = scoring.expand_to_months(att)
    months = range(int(att["month"].min()), int(att["month"].max()) + 1)
    labels = {department_id: (dept.name, "unit")}
    # Each predecessor gets a pseudo department id (negative): its KPIs' values before the date.
    kpi_frames = [kpis]
    for i, pred in enumerate(reorg.predecessors(session=session, department_id=department_id), start=1):
        moved = kpis["kpi_id"].isin(pred.kpi_ids)
        if not moved.any():
            continue
        pseudo = -i
        until = pred.until.year * 12 + pred.until.month - 1  # the scoring month index
        before = att["kpi_id"].isin(pred.kpi_ids) & (att["month"] < until)
        att.loc[before, "department_id"] = pseudo
        kpi_frames.append(kpis[moved].assign(department_id=pseudo))
        word = "merged in" if pred.kind == "merge" else "split off"
        labels[pseudo] = (f"{pred.name} (before it was {word} on {pred.until.isoformat()})", "predecessor")
    perf = scoring.department_performance(att, pd.concat(kpi_frames, ignore_index=True), months)
    # A predecessor's series ends at the date; the unit's moved KPIs count from it on.
    perf = perf[perf["n_with_data"] > 0].copy()
    perf["series"] = perf["department_id"].map(lambda d: labels[d][0])
    perf["kind"] = perf["department_id"].map(lambda d: labels[d][1])
    perf["period"] = month_label(perf["month"].to_numpy())
    perf = perf.sort_values(["kind", "series", "month"], ascending=[False, True, True])
    return perf[HISTORY_COLUMNS].reset_index(drop=True)


SURVEY_COLUMNS = ["series", "kind", "wave", "closes_on", "respondents", "understanding", "suppressed"]


def unit_survey_history(session: Session, department_id: int) -> pd.DataFrame:
    """Understanding U per closed wave for the unit and, before each merge or split, its predecessors.

    Each series keeps the responses given in its own unit: nothing is pooled across a merge, and
    every cell goes through the disclosure rule (:func:`kpialign.core.privacy.suppress_counts`,
    the wave's k), so a predecessor of 4 respondents shows nothing rather than being folded into
    the merged unit. Columns: ``series, kind, wave, closes_on, respondents, understanding,
    suppressed`` (suppressed cells have no respondents and no U).
    """
    dept = session.get(Department, department_id)
    waves = queries.waves(session)
    closed = waves[waves["status"] == "closed"]
    if dept is None or closed.empty:
        return pd.DataFrame(columns=SURVEY_COLUMNS)
    wanted: list[tuple[int, str, str, object]] = [(department_id, dept.name, "unit", None)]
    for pred in reorg.predecessors(session=session, department_id=department_id):
        word = "merged in" if pred.kind == "merge" else "split off"
        label = f"{pred.name} (before it was {word} on {pred.until.isoformat()})"
        wanted.append((pred.department_id, label, "predecessor", pred.until))
    counts = queries.survey_counts(session, waves=waves, wave_ids=closed["wave_id"].tolist())
    u = scoring.understanding(counts.likert, counts.respondents, counts.picks)
    u = u.merge(closed[["wave_id", "name", "closes_on", "min_group"]], on="wave_id")
    parts = []
    for dept_id, label, kind, until in wanted:
        rows = u[u["department_id"] == dept_id]
        if until is not None:
            rows = rows[rows["closes_on"] < until]
        parts.append(rows.assign(series=label, kind=kind))
    df = pd.concat(parts, ignore_index=True) if parts else u.iloc[0:0]
    if df.empty:
        return pd.DataFrame(columns=SURVEY_COLUMNS)
    shown = []
    for k, cells in df.groupby("min_group"):
        shown.append(privacy.suppress_counts(cells, ["wave_id", "series"], "respondents", int(k)))
    df = pd.concat(shown).sort_values(["kind", "series", "closes_on"], ascending=[False, True, True])
    df["respondents"] = df["respondents"].astype("Int64").mask(df["suppressed"])
    df["understanding"] = df["understanding"].astype(float).where(~df["suppressed"])
    return df.rename(columns={"name": "wave"})[SURVEY_COLUMNS].reset_index(drop=True)
