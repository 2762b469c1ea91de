"""Closed-wave counts: the aggregates of a closed survey wave, stored once.

A closed wave never changes, so its answers per wave x department x question x value
(``wave_answer_count``), its respondents per department (``wave_response_count``) and the
reliability of its line-of-sight scale (``wave_reliability``: Cronbach's alpha over the whole
organisation) are written once — by the close action (:func:`close_wave`), and for databases from before this
step by :func:`repair_counts` (run at the portal's start and by ``python -m kpialign
repair-counts``). Reads never write: :func:`kpialign.scorecard.queries.survey_counts` uses
stored counts when they are complete and otherwise counts the answers live.

Aggregates only: no response id, so nothing stored here can be traced to one response.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from kpialign import db
from kpialign.core import scoring
from kpialign.models import (
    Answer,
    Question,
    Response,
    SurveyWave,
    WaveAnswerCount,
    WaveReliability,
    WaveResponseCount,
    WaveStatus,
)
from kpialign.services import surveys

# Raw counts (value as stored, all question kinds); queries turns them into SurveyCounts.
ANSWER_COLUMNS = ["wave_id", "department_id", "question_id", "value", "count"]
RESPONDENT_COLUMNS = ["wave_id", "department_id", "respondents"]


def fetch(session: Session, stmt, columns: list[str], *, integers: bool = False) -> pd.DataFrame:
    """Run a Core select and build the frame from the driver's tuples (no Row objects: 3-5x faster).

    ``integers``: every column is an integer (counts, ids): the tuples go into one int64 array in
    C instead of pandas inferring each column's type from Python objects (~4x faster for the
    enterprise demo's ~150k stored counts).
    """
    result = session.connection().execute(stmt)
    rows = result.cursor.fetchall() if result.cursor is not None else []
    result.close()
    if integers:
        array = np.array(rows, dtype=np.int64) if rows else np.empty((0, len(columns)), dtype=np.int64)
        return pd.DataFrame(array, columns=columns)
    return pd.DataFrame(rows, columns=columns)


def _answer_select(wave_ids: list[int]):
    return (
        select(Response.wave_id, Response.department_id, Answer.question_id, Answer.value, func.count())
        .join(Response, Response.id == Answer.response_id)
        .where(Response.wave_id.in_(wave_ids))  # type: ignore[attr-defined]
        .group_by(Response.wave_id, Response.department_id, Answer.question_id, Answer.value)
        .order_by(Response.wave_id, Response.department_id, Answer.question_id, Answer.value)
    )


def _response_select(wave_ids: list[int]):
    return (
        select(Response.wave_id, Response.department_id, func.count())
        .where(Response.wave_id.in_(wave_ids))  # type: ignore[attr-defined]
        .group_by(Response.wave_id, Response.department_id)
        .order_by(Response.wave_id, Response.department_id)
    )


# Every query orders its rows by its keys: the scores sum floats in row order, and PostgreSQL's
# row order follows its plan, which changes when the table statistics do (e.g. after autovacuum's
# ANALYZE), so without an order the same data could give different last digits.


def live_counts(session: Session, wave_ids: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(answers, respondents) counted from the responses themselves."""
    return (
        fetch(session, _answer_select(wave_ids), ANSWER_COLUMNS),
        fetch(session, _response_select(wave_ids), RESPONDENT_COLUMNS),
    )


def stored_counts(session: Session, wave_ids: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(answers, respondents) as stored for closed waves (empty for waves never stored)."""
    answers = fetch(
        session,
        select(
            WaveAnswerCount.wave_id,
            WaveAnswerCount.department_id,
            WaveAnswerCount.question_id,
            WaveAnswerCount.value,
            WaveAnswerCount.n,
        )
        .where(WaveAnswerCount.wave_id.in_(wave_ids))  # type: ignore[attr-defined]
        .order_by(
            WaveAnswerCount.wave_id, WaveAnswerCount.department_id, WaveAnswerCount.question_id, WaveAnswerCount.value
        ),
        ANSWER_COLUMNS,
        integers=True,
    )
    respondents = fetch(
        session,
        select(WaveResponseCount.wave_id, WaveResponseCount.department_id, WaveResponseCount.n)
        .where(WaveResponseCount.wave_id.in_(wave_ids))  # type: ignore[attr-defined]
        .order_by(WaveResponseCount.wave_id, WaveResponseCount.department_id),
        RESPONDENT_COLUMNS,
        integers=True,
    )
    return answers, respondents


def wave_counts(session: Session, *, wave_id: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(answers, respondents) of one wave (:data:`ANSWER_COLUMNS`, :data:`RESPONDENT_COLUMNS`).

    A closed wave's stored counts when they are complete (its stored respondents add up to its
    responses: one indexed count); otherwise, and for an open wave, counted live from the
    answers. The exports read a closed wave's 10^4 stored counts instead of grouping its 10^5
    answers. Reads only.
    """
    status = session.execute(select(SurveyWave.status).where(SurveyWave.id == wave_id)).scalar_one_or_none()
    if status == WaveStatus.CLOSED.value:
        answers, respondents = stored_counts(session, [wave_id])
        live_n = session.execute(
            select(func.count()).select_from(Response).where(Response.wave_id == wave_id)
        ).scalar_one()
        if int(respondents["respondents"].sum()) == int(live_n):
            return answers.astype("int64"), respondents.astype("int64")
    answers, respondents = live_counts(session, [wave_id])
    return answers.astype("int64"), respondents.astype("int64")


def item_table(session: Session, *, wave_id: int, department_ids: list[int] | None = None) -> pd.DataFrame:
    """Respondents x Likert items of one wave (for Cronbach's alpha), reverse items flipped.

    Two queries (the Likert items, then the answers as the driver's integer tuples: at enterprise
    scale ~400k answers, where Row objects cost ~4x the time); the pivot happens in pandas. Rows
    carry no identity (the random response id is dropped after the pivot).
    """
    items = session.execute(
        select(Question.id, Question.code, Question.reverse).where(Question.kind == "likert5")
    ).all()
    if not items:
        return pd.DataFrame()
    code = {i: c for i, c, _ in items}
    reverse = [i for i, _, r in items if r]
    stmt = (
        select(Answer.response_id, Answer.question_id, Answer.value)
        .join(Response, Response.id == Answer.response_id)
        .join(Question, Question.id == Answer.question_id)
        .where(Response.wave_id == wave_id, Question.kind == "likert5")
    )
    if department_ids is not None:
        stmt = stmt.where(Response.department_id.in_(department_ids))  # type: ignore[attr-defined]
    df = fetch(session, stmt, ["response_id", "question_id", "value"])
    if df.empty:
        return pd.DataFrame()
    value = df["value"].to_numpy(dtype=float)
    df["value"] = np.where(df["question_id"].isin(reverse).to_numpy(), 6 - value, value)
    df["code"] = df["question_id"].map(code)
    table = df.pivot(index="response_id", columns="code", values="value")
    return table.reset_index(drop=True)


def reliability(session: Session, *, wave_id: int) -> dict[str, float]:
    """Cronbach's alpha of ``wave_id``'s Likert items (whole organisation) with its Feldt interval:
    the stored row of a closed wave, else computed from the answers (an open wave, an older
    database before :func:`repair_counts`). Keys: alpha, low, high (NaN when not estimable), n, items."""
    row = session.get(WaveReliability, wave_id)
    if row is not None:
        nan = float("nan")
        return {
            "alpha": nan if row.alpha is None else row.alpha,
            "low": nan if row.low is None else row.low,
            "high": nan if row.high is None else row.high,
            "n": row.n,
            "items": row.items,
        }
    return scoring.reliability(item_table(session, wave_id=wave_id))


def _store_reliability(session: Session, wave_ids: list[int]) -> None:
    session.execute(delete(WaveReliability).where(WaveReliability.wave_id.in_(wave_ids)))  # type: ignore[attr-defined]
    for wave_id in wave_ids:
        r = scoring.reliability(item_table(session, wave_id=wave_id))
        finite = {k: (None if math.isnan(r[k]) else float(r[k])) for k in ("alpha", "low", "high")}
        session.add(WaveReliability(wave_id=wave_id, items=int(r["items"]), n=int(r["n"]), **finite))


def store_wave_counts(*, session: Session, wave_ids: list[int]) -> list[int]:
    """Store (replace) the counts of those of ``wave_ids`` that are closed, in the caller's write
    transaction; returns the ids stored. Never commits."""
    ids = [int(w) for w in wave_ids]
    if not ids:
        return []
    closed = list(
        session.execute(
            select(SurveyWave.id).where(SurveyWave.id.in_(ids), SurveyWave.status == WaveStatus.CLOSED.value)  # type: ignore[union-attr]
        ).scalars()
    )
    if closed:
        session.execute(delete(WaveAnswerCount).where(WaveAnswerCount.wave_id.in_(closed)))  # type: ignore[attr-defined]
        session.execute(delete(WaveResponseCount).where(WaveResponseCount.wave_id.in_(closed)))  # type: ignore[attr-defined]
        session.execute(
            insert(WaveAnswerCount).from_select(
                ["wave_id", "department_id", "question_id", "value", "n"], _answer_select(closed)
            )
        )
        session.execute(
            insert(WaveResponseCount).from_select(["wave_id", "department_id", "n"], _response_select(closed))
        )
        _store_reliability(session, closed)
        session.flush()
    return closed


def stale_waves(session: Session) -> list[int]:
    """Closed waves whose stored respondents do not add up to their responses (or were never
    stored), or whose reliability was never stored (databases from before it was)."""
    live = dict(
        session.execute(
            select(Response.wave_id, func.count())
            .join(SurveyWave, SurveyWave.id == Response.wave_id)
            .where(SurveyWave.status == WaveStatus.CLOSED.value)
            .group_by(Response.wave_id)
        ).all()
    )
    stored = dict(
        session.execute(
            select(WaveResponseCount.wave_id, func.sum(WaveResponseCount.n)).group_by(WaveResponseCount.wave_id)
        ).all()
    )
    reliable = set(session.execute(select(WaveReliability.wave_id)).scalars())
    return sorted(int(w) for w, n in live.items() if int(stored.get(w) or 0) != int(n) or w not in reliable)


def repair_counts(*, session: Session) -> list[int]:
    """Store the counts of every closed wave that lacks them (older databases); returns the wave ids."""
    return store_wave_counts(session=session, wave_ids=stale_waves(session))


def repair_engine(engine: Engine) -> list[int]:
    """:func:`repair_counts` in its own short write transaction without a data-version bump
    (nothing a page shows changes); a no-op read when every closed wave is stored."""
    with db.read_session(engine) as session:
        if not stale_waves(session):
            return []
    with db.write_session(engine, bump=False) as session:
        return repair_counts(session=session)


def close_wave(*, session: Session, wave_id: int, actor: str) -> None:
    """Close an open wave (:func:`kpialign.services.surveys.close_wave`) and store its counts,
    in the caller's write transaction."""
    surveys.close_wave(session=session, wave_id=wave_id, actor=actor)
    session.flush()
    store_wave_counts(session=session, wave_ids=[wave_id])


def materialise_waves(engine: Engine, wave_ids: list[int]) -> list[int]:
    """Store the counts of closed ``wave_ids`` in a write transaction of their own (benchmarks,
    older callers); prefer :func:`close_wave` or :func:`store_wave_counts`."""
    with db.write_session(engine, bump=False) as session:
        return store_wave_counts(session=session, wave_ids=wave_ids)
