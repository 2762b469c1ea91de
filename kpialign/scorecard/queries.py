"""Repository queries for the scorecard: one SQL statement per frame, aggregates in SQL.

Each function takes a session and returns a DataFrame with fixed columns (empty when there
is nothing). No per-row Python loops over the database, no query per KPI or department.
Survey answers are read only as counts per wave x department x question x value
(:func:`kpialign.services.surveys.answer_counts`); closed waves never change, so their aggregates are
kept in a process-level cache for good (:func:`survey_counts`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, literal, select
from sqlmodel import Session

from kpialign.core import privacy
from kpialign.core.scoring import ScoringSettings
from kpialign.models import (
    Department,
    DepartmentObjective,
    Kpi,
    KpiObjective,
    KpiTarget,
    KpiValue,
    Objective,
    Question,
    Response,
    SurveyWave,
    kpi_columns,
)
from kpialign.scorecard import counts
from kpialign.scorecard.counts import fetch as _fetch
from kpialign.services import headcount
from kpialign.services.question_bank import OBJ_PICK_KNOWS
from kpialign.services.settings import load_settings

MAX_TREE_DEPTH = 20


# Every query orders its rows by its keys: see the note in scorecard/counts.py (PostgreSQL's row
# order follows its plan; float sums follow the row order).


def _frame(rows, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


def departments(session: Session) -> pd.DataFrame:
    """Active departments with their division (top-level ancestor) and whether they are leaves.

    Columns: department_id, department, parent_id, headcount, division_id, division, is_leaf.
    """
    df = _frame(
        session.execute(
            select(Department.id, Department.name, Department.parent_id, Department.headcount)
            .where(Department.active == literal(True))
            .order_by(Department.id)
        ).all(),
        ["department_id", "department", "parent_id", "headcount"],
    )
    if df.empty:
        return df.assign(division_id=pd.Series(dtype="int64"), division=pd.Series(dtype=object), is_leaf=False)
    ids = df["department_id"].to_numpy()
    parent = dict(zip(ids, df["parent_id"], strict=True))
    top = {}
    for i in ids:  # walk to the root (trees are shallow; bounded by MAX_TREE_DEPTH)
        cur, guard = i, 0
        while (
            parent.get(cur) is not None
            and not pd.isna(parent.get(cur))
            and parent[cur] in parent
            and guard < MAX_TREE_DEPTH
        ):
            cur = int(parent[cur])
            guard += 1
        top[i] = cur
    names = dict(zip(ids, df["department"], strict=True))
    df["division_id"] = df["department_id"].map(top).astype("int64")
    df["division"] = df["division_id"].map(names)
    has_child = set(df["parent_id"].dropna().astype("int64"))
    df["is_leaf"] = ~df["department_id"].isin(has_child)
    df["parent_id"] = df["parent_id"].astype("Int64")
    df["headcount"] = df["headcount"].astype("int64")
    return df


def kpis(session: Session) -> pd.DataFrame:
    """Active KPIs of active departments: ``kpi_id``, then the KPI fields the scorecard uses (KpiRead order)."""
    fields = kpi_columns(without=("description", "owner_id", "active"))
    cols = ["kpi_id", *fields]
    rows = session.execute(
        select(Kpi.id, *(getattr(Kpi, f) for f in fields))
        .join(Department, Department.id == Kpi.department_id)
        .where(Kpi.active == literal(True), Department.active == literal(True))
        .order_by(Kpi.id)
    ).all()
    df = _frame(rows, cols)
    return df.astype(
        {
            "kpi_id": "int64",
            "department_id": "int64",
            "baseline": "float64",
            "target": "float64",
            "range_low": "float64",
            "range_high": "float64",
            "weight": "float64",
        }
    )


def kpi_values(session: Session, *, since: str | None = None) -> pd.DataFrame:
    """Actuals of active KPIs with the period target where one is set (else NaN: the default).

    ``since``: only periods whose text sorts at or after it (``YYYY`` or ``YYYY-MM``); the
    comparison is on text, which orders months and quarters of a year correctly enough for a
    lower bound by year.
    """
    stmt = (
        select(KpiValue.kpi_id, KpiValue.period, KpiValue.actual, KpiTarget.target)
        .join(Kpi, Kpi.id == KpiValue.kpi_id)
        .outerjoin(KpiTarget, and_(KpiTarget.kpi_id == KpiValue.kpi_id, KpiTarget.period == KpiValue.period))
        .where(Kpi.active == literal(True))
    )
    if since:
        stmt = stmt.where(KpiValue.period >= since)
    stmt = stmt.order_by(KpiValue.kpi_id, KpiValue.period)
    df = _fetch(session, stmt, ["kpi_id", "period", "actual", "target"])
    return df.astype({"kpi_id": "int64", "actual": "float64", "target": "float64"})


def objectives(session: Session) -> pd.DataFrame:
    """Active objectives: objective_id, code, title, parent_id, weight."""
    rows = session.execute(
        select(Objective.id, Objective.code, Objective.title, Objective.parent_id, Objective.weight)
        .where(Objective.active == literal(True))
        .order_by(Objective.code)
    ).all()
    df = _frame(rows, ["objective_id", "code", "title", "parent_id", "weight"])
    df["parent_id"] = df["parent_id"].astype("Int64")
    return df


def links(session: Session, *, cascade: bool = True) -> pd.DataFrame:
    """KPI -> objective links of active KPIs and objectives: kpi_id, objective_id, contribution, direct.

    With ``cascade`` a link to a child objective also counts for each objective it cascades
    (``direct`` False; the strongest contribution wins when a KPI reaches an objective twice).
    """
    rows = session.execute(
        select(KpiObjective.kpi_id, KpiObjective.objective_id, KpiObjective.contribution)
        .join(Kpi, Kpi.id == KpiObjective.kpi_id)
        .join(Objective, Objective.id == KpiObjective.objective_id)
        .where(Kpi.active == literal(True), Objective.active == literal(True))
        .order_by(KpiObjective.kpi_id, KpiObjective.objective_id)
    ).all()
    df = _frame(rows, ["kpi_id", "objective_id", "contribution"]).assign(direct=True)
    if df.empty or not cascade:
        return df
    parents = session.execute(select(Objective.id, Objective.parent_id).where(Objective.active == literal(True))).all()
    parent_of = {int(i): (None if p is None else int(p)) for i, p in parents}
    extra = []
    level = df
    for _ in range(MAX_TREE_DEPTH):
        up = level.assign(objective_id=level["objective_id"].map(parent_of))
        up = up[up["objective_id"].notna()]
        if up.empty:
            break
        up = up.assign(objective_id=up["objective_id"].astype("int64"), direct=False)
        extra.append(up)
        level = up
    if extra:
        df = pd.concat([df, *extra], ignore_index=True)
        df = df.sort_values(["direct", "contribution"], ascending=[False, False], kind="stable")
        df = df.drop_duplicates(["kpi_id", "objective_id"]).reset_index(drop=True)
    return df


def expected(session: Session) -> pd.DataFrame:
    """Which active objectives each active department is expected to serve."""
    rows = session.execute(
        select(DepartmentObjective.department_id, DepartmentObjective.objective_id)
        .join(Objective, Objective.id == DepartmentObjective.objective_id)
        .join(Department, Department.id == DepartmentObjective.department_id)
        .where(Objective.active == literal(True), Department.active == literal(True))
        .order_by(DepartmentObjective.department_id, DepartmentObjective.objective_id)
    ).all()
    return _frame(rows, ["department_id", "objective_id"])


def waves(session: Session) -> pd.DataFrame:
    """Opened waves (not drafts), oldest first, with their response counts (one grouped query)."""
    counts = select(Response.wave_id, func.count().label("responses")).group_by(Response.wave_id).subquery()
    rows = session.execute(
        select(
            SurveyWave.id,
            SurveyWave.name,
            SurveyWave.opens_on,
            SurveyWave.closes_on,
            SurveyWave.status,
            SurveyWave.min_group,
            func.coalesce(counts.c.responses, 0),
        )
        .outerjoin(counts, counts.c.wave_id == SurveyWave.id)
        .where(SurveyWave.status != "draft")
        .order_by(SurveyWave.closes_on, SurveyWave.id)
    ).all()
    df = _frame(rows, ["wave_id", "name", "opens_on", "closes_on", "status", "min_group", "responses"])
    return df.astype({"wave_id": "int64", "min_group": "int64", "responses": "int64"})


def questions(session: Session) -> pd.DataFrame:
    """question_id, code, text, dimension, kind, reverse (all questions: history needs retired ones)."""
    rows = session.execute(
        select(Question.id, Question.code, Question.text, Question.dimension, Question.kind, Question.reverse).order_by(
            Question.id
        )
    ).all()
    return _frame(rows, ["question_id", "code", "text", "dimension", "kind", "reverse"])


# ------------------------------------------------------------------------ survey counts


@dataclass(frozen=True)
class SurveyCounts:
    """Aggregates of some waves: never one row per respondent.

    ``likert``: wave_id, department_id, question_id, value (reverse items flipped), count.
    ``respondents``: wave_id, department_id, respondents.
    ``picks``: wave_id, department_id, answered, knows (objective-pick score >= the
    "knows the objectives" mark).
    """

    likert: pd.DataFrame
    respondents: pd.DataFrame
    picks: pd.DataFrame


_CACHE_LOCK = threading.Lock()
_CLOSED: OrderedDict[tuple, SurveyCounts] = OrderedDict()
_CLOSED_MAX = 256


def clear_cache() -> None:
    """Forget the in-process copies of closed-wave aggregates (tests and benchmarks)."""
    with _CACHE_LOCK:
        _CLOSED.clear()


def survey_counts(session: Session, *, waves: pd.DataFrame, wave_ids: list[int]) -> SurveyCounts:
    """Counts for ``wave_ids`` (``waves``: the frame of :func:`waves`, with response counts). Reads only.

    Closed waves never change: their counts are stored once (:mod:`kpialign.scorecard.counts`,
    by the close action or the repair step) and kept in this process for good, keyed by a
    fingerprint (database URL, wave, closing day, response count). A closed wave whose stored
    counts are missing or incomplete, and an open wave, are counted live from the answers.
    """
    url = session.get_bind().url.render_as_string(hide_password=True)
    info = waves.set_index("wave_id")
    parts: list[SurveyCounts] = []
    closed_todo: list[int] = []
    live: list[int] = []
    keys: dict[int, tuple] = {}
    for w in wave_ids:
        if w not in info.index:
            continue
        row = info.loc[w]
        if row["status"] != "closed":
            live.append(w)
            continue
        keys[w] = (url, w, str(row["name"]), str(row["closes_on"]), int(row["responses"]))
        with _CACHE_LOCK:
            hit = _CLOSED.get(keys[w])
        if hit is not None:
            parts.append(hit)
        else:
            closed_todo.append(w)
    if closed_todo:
        stored = _raw(*counts.stored_counts(session, closed_todo))
        have = stored.respondents.groupby("wave_id")["respondents"].sum()
        stale = [w for w in closed_todo if int(have.get(w, 0)) != int(info.loc[w, "responses"])]
        if stale:  # not stored yet (an older database before its repair): count live, write nothing
            keep = [w for w in closed_todo if w not in stale]
            stored = _concat([select_waves(stored, keep), _raw(*counts.live_counts(session, stale))])
        for w in closed_todo:
            one = select_waves(stored, [w])
            with _CACHE_LOCK:
                _CLOSED[keys[w]] = one
                while len(_CLOSED) > _CLOSED_MAX:
                    _CLOSED.popitem(last=False)
            parts.append(one)
    if live:
        parts.append(_raw(*counts.live_counts(session, live)))
    q = questions(session)
    return _finish(_concat(parts), q)


def _raw(answers: pd.DataFrame, respondents: pd.DataFrame) -> SurveyCounts:
    return SurveyCounts(
        answers, respondents, pd.DataFrame(columns=["wave_id", "department_id", "answered", "knows"], dtype="int64")
    )


def select_waves(c: SurveyCounts, ids: list[int]) -> SurveyCounts:
    """Only the counts of the waves ``ids``."""
    return SurveyCounts(*(f[f["wave_id"].isin(ids)].reset_index(drop=True) for f in (c.likert, c.respondents, c.picks)))


def _concat(parts: list[SurveyCounts]) -> SurveyCounts:
    if not parts:
        return SurveyCounts(
            pd.DataFrame(columns=["wave_id", "department_id", "question_id", "value", "count"], dtype="int64"),
            pd.DataFrame(columns=["wave_id", "department_id", "respondents"], dtype="int64"),
            pd.DataFrame(columns=["wave_id", "department_id", "answered", "knows"], dtype="int64"),
        )
    return SurveyCounts(
        *(pd.concat([getattr(p, n) for p in parts], ignore_index=True) for n in ("likert", "respondents", "picks"))
    )


def _finish(raw: SurveyCounts, q: pd.DataFrame) -> SurveyCounts:
    """Split raw counts into Likert (reverse items flipped) and objective-pick aggregates."""
    a = raw.likert.astype("int64")
    kind = a["question_id"].map(dict(zip(q["question_id"], q["kind"], strict=True)))
    rev = set(q.loc[q["reverse"].astype(bool), "question_id"])
    lk = a[kind == "likert5"]
    likert = lk.assign(value=np.where(lk["question_id"].isin(rev), 6 - lk["value"], lk["value"]).astype("int64"))
    pk = a[kind == "objective_pick"]
    pk = pk.assign(k=np.where(pk["value"] >= OBJ_PICK_KNOWS, pk["count"], 0))
    picks = pk.groupby(["wave_id", "department_id"], as_index=False).agg(answered=("count", "sum"), knows=("k", "sum"))
    return SurveyCounts(likert.reset_index(drop=True), raw.respondents.astype("int64"), picks.astype("int64"))


# ------------------------------------------------------------------------- one pass


@dataclass(frozen=True)
class ScorecardFrames:
    """Every frame the scorecard is computed from, fetched in one pass (:func:`fetch_frames`)."""

    settings: ScoringSettings
    departments: pd.DataFrame
    kpis: pd.DataFrame
    waves: pd.DataFrame
    objectives: pd.DataFrame
    links: pd.DataFrame
    expected: pd.DataFrame
    questions: pd.DataFrame
    values: pd.DataFrame
    counts: SurveyCounts  # every closed wave (never an open one: privacy.results_released)
    # Recorded headcounts (department_id, period, month, headcount): roll-ups weigh each month by them.
    headcounts: pd.DataFrame = field(default_factory=headcount.empty_history)


def fetch_frames(
    session: Session, *, wave: str | None = None, settings: ScoringSettings | None = None
) -> ScorecardFrames:
    """Go down to the database once for everything :func:`kpialign.scorecard.build.compute_scorecard` needs."""
    settings = settings or load_settings(session=session)
    waves_frame = waves(session)
    # Released (closed) waves only: an open wave's figures would change with each submission, so
    # a watcher could difference one person's answers. compute_scorecard refuses an open wave.
    wanted = waves_frame.loc[waves_frame["status"].map(privacy.results_released), "wave_id"]
    return ScorecardFrames(
        settings=settings,
        departments=departments(session),
        kpis=kpis(session),
        waves=waves_frame,
        objectives=objectives(session),
        links=links(session),
        expected=expected(session),
        questions=questions(session),
        values=kpi_values(session),
        counts=survey_counts(session, waves=waves_frame, wave_ids=[int(w) for w in wanted]),
        headcounts=headcount.history_frame(session=session),
    )
