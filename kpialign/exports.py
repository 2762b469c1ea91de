"""CSV exports for HR and admins: one function per kind, each returning a DataFrame.

Kinds and their columns (the CSV header is exactly these names, in this order):

``results`` — one row per wave x department x question, plus an ``All departments`` row:
    ``wave, department, question_code, question, reverse, n, pct_favourable, pct_neutral,
    pct_unfavourable, mean, suppressed``. Percentages are 0..100 (one decimal); favourable is
    4-5 on the 5-point scale after flipping reverse-worded items (so it always means "good"),
    and ``mean`` is on that flipped scale. For the objective-pick item ``mean`` is the average
    knowledge score (0..100) and the percentages are empty. Disclosure control
    (:mod:`kpialign.core.privacy`), the same cells as the survey pages: a department with fewer
    than the wave's ``min_group`` respondents is hidden, and so are further departments until
    the hidden respondents add up to at least k — within each division and among divisions,
    because the pages show division and organisation totals
    (:func:`kpialign.core.privacy.survey_suppression`). Within a question a cell with fewer than
    k answers ("prefer not to say") is hidden too, with complementary suppression inside its
    division.
    Hidden cells are empty, including ``n``, and the row says ``suppressed=true``.
``participation`` — ``wave, department, invited, responded, rate, shown``; counts and
    rate only where at least k were invited (otherwise empty and ``shown=false``), with the
    ``All departments`` total, exactly as the survey pages show it
    (:func:`kpialign.services.surveys.participation`). Rate is a share 0..1.
``responses`` — de-identified answers, one row per response: ``wave, department, respondent``
    then one column per rated question code (wave order). Only departments whose results are
    shown (at least k respondents, after complementary suppression), so that nothing in this
    file plus the ``results`` total can be subtracted to reach a hidden department. No
    response id, no date, never comments; ``respondent`` is a row number 1..n after the rows
    are shuffled within each department.
``comments`` — ``wave, department, comment``: only departments with at least the wave's
    comment threshold (never below 10) of comments, again with complementary suppression;
    shuffled within each department; no dates, no response ids.
``scorecard`` — the department scorecard of a period (the Overview page's numbers):
    the columns of :func:`kpialign.scorecard.build.department_scorecard`.
``kpis`` — one row per KPI and period with a value: ``department, kpi, unit, polarity,
    baseline, target, range_low, range_high, frequency, weight, active, objectives, period,
    actual, period_target``; ``objectives`` lists the linked objectives as
    ``CODE:contribution`` separated by ``; ``. A KPI with no value (in the period filter) has
    one row with an empty period.
``audit`` — ``id, at, actor, action, entity, entity_id, detail`` (admins only).

:func:`build_export` turns a kind into a safe CSV file (:func:`kpialign.core.csv_out.iter_csv`) and
records an ``export`` audit event (who, kind, filters, row count) before the file is handed out. The portal's Exports page and ``python -m kpialign export`` both call it, so the
same filters and date give byte-identical files.

Streaming: every kind is a series of parts (:class:`Parts`) written as CSV chunks, so memory
stays bounded at any size: ``responses`` a batch of departments at a time, ``kpis`` a batch of
KPIs with their values, ``audit`` a range of event ids; the other kinds are one small part. A
part always holds whole departments, so the file is byte-identical whatever the batch size.
Survey figures of a closed wave come from its stored counts
(:func:`kpialign.scorecard.counts.wave_counts`), counted live only when those are incomplete.

Shuffling is deterministic but unrelated to submission order: rows are ordered by a SHA-256
hash of the random response id (or comment id), which the file does not contain.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import BinaryIO

import numpy as np
import pandas as pd
from sqlalchemy import and_, case, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from kpialign import audit, db
from kpialign.core import csv_out, periods, privacy
from kpialign.core.errors import Refused
from kpialign.models import (
    Answer,
    AuditEvent,
    Comment,
    Department,
    KpiTarget,
    KpiValue,
    Question,
    QuestionKind,
    Response,
    Role,
    SurveyWave,
    WaveStatus,
    kpi_columns,
)
from kpialign.scorecard import build as scorecard_build
from kpialign.scorecard import counts as wave_store
from kpialign.scorecard import queries as scorecard_data
from kpialign.services import strategy, surveys

TOTAL_LABEL = "All departments"

RESULTS_COLUMNS = [
    "wave",
    "department",
    "question_code",
    "question",
    "reverse",
    "n",
    "pct_favourable",
    "pct_neutral",
    "pct_unfavourable",
    "mean",
    "suppressed",
]
RESULT_VALUES = ["n", "pct_favourable", "pct_neutral", "pct_unfavourable", "mean"]
PARTICIPATION_COLUMNS = ["wave", "department", "invited", "responded", "rate", "shown"]
RESPONSES_FIXED_COLUMNS = ["wave", "department", "respondent"]
COMMENTS_COLUMNS = ["wave", "department", "comment"]
KPIS_COLUMNS = [
    "department",
    "kpi",
    *kpi_columns(without=("department_id", "name", "description", "owner_id")),  # unit .. weight, active
    "objectives",
    "period",
    "actual",
    "period_target",
]
AUDIT_COLUMNS = ["id", "at", "actor", "action", "entity", "entity_id", "detail"]

SURVEY_KINDS = ("results", "participation", "responses", "comments")
KINDS = (*SURVEY_KINDS, "scorecard", "kpis", "audit")
_HR_ADMIN = frozenset({Role.HR.value, Role.ADMIN.value})
KIND_ROLES: dict[str, frozenset[str]] = {
    **{k: _HR_ADMIN for k in (*SURVEY_KINDS, "scorecard", "kpis")},
    "audit": frozenset({Role.ADMIN.value}),
}
# The command line runs with direct database access (an operator): it may export every kind.
CLI_ROLES = frozenset({Role.HR.value, Role.ADMIN.value})
KIND_LABELS = {
    "results": "Survey results (per question, suppressed cells empty)",
    "participation": "Participation (invited, responded, rate)",
    "responses": "De-identified responses (departments with enough respondents)",
    "comments": "Comments (departments above the comment threshold)",
    "scorecard": "Department scorecard of a period",
    "kpis": "KPI definitions, objective links and values",
    "audit": "Audit log",
}


class ExportError(Refused):
    """An export was refused or cannot be built; the message is safe to show."""


@dataclass(frozen=True)
class ExportFile:
    """A finished export: what to offer for download.

    ``data`` is the file, except when :func:`build_export` wrote it to a file of the caller's
    (``out=``): then ``data`` is empty and ``size`` says how many bytes were written.
    """

    kind: str
    filename: str
    data: bytes
    rows: int
    filters: dict = field(default_factory=dict)
    excel: bool = False
    mime: str = csv_out.CSV_MIME
    size: int = 0


@dataclass(frozen=True)
class Parts:
    """An export's rows as DataFrames made one at a time, in file order (a streamed file):
    only one part's rows exist at a time. ``count`` is how many ``frames`` yields (progress)."""

    columns: list[str]
    count: int
    frames: Iterator[pd.DataFrame]


# About this many rows (audit events) per part of a streamed export, respondents per part of the
# responses export (each with a dozen answers) and KPIs per part of the kpis export (some 45
# values each): a few MiB of memory each, whatever the database's size.
BATCH_ROWS = 20_000
BATCH_RESPONDENTS = 5_000
BATCH_KPIS = 400

# Progress of a streamed export: called with the share done (0..1) after each part is written.
Progress = Callable[[float], None]


# ----------------------------------------------------------------------------- helpers


def _wave(session: Session, wave: str | None, *, results: bool = False) -> surveys.WaveInfo:
    """The named wave, or by default the newest wave that has opened.

    ``results``: the export holds survey results (answers, per-question figures, comments), so
    only a closed wave's (:func:`privacy.results_released`); the default is then the newest
    closed wave. An open wave's results change with each submission: two exports a day apart
    would give away the answers of whoever submitted in between.
    """
    if wave:
        try:
            found = surveys.get_wave(session=session, name=wave)
        except surveys.SurveyError as exc:
            raise ExportError(str(exc)) from exc
        if results and not privacy.results_released(found.status):
            raise ExportError(
                f"Wave {found.name!r} is {found.status}: its results can be exported once it is closed "
                "(participation can be exported now)."
            )
        return found
    statuses = [WaveStatus.CLOSED.value] if results else [WaveStatus.OPEN.value, WaveStatus.CLOSED.value]
    row = session.exec(
        select(SurveyWave)
        .where(col(SurveyWave.status).in_(statuses))
        .order_by(col(SurveyWave.opens_on).desc(), col(SurveyWave.id).desc())
    ).first()
    if row is None:
        what = "closed" if results else "opened"
        raise ExportError(f"No survey wave has {what} yet, so there is nothing to export.")
    return surveys.get_wave(session=session, wave_id=row.id)


def _fetch(session: Session, stmt, columns: list[str]) -> pd.DataFrame:
    """Run a Core select and build the frame from the driver's tuples (no ORM rows: much faster)."""
    result = session.connection().execute(stmt)
    rows = result.cursor.fetchall() if result.cursor is not None else []
    result.close()
    return pd.DataFrame(rows, columns=columns)


def _shuffle_key(ids: pd.Series) -> pd.Series:
    sha = hashlib.sha256
    return pd.Series([sha(str(s).encode()).hexdigest() for s in ids.tolist()], index=ids.index, dtype=object)


def _department_names(session: Session, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.exec(select(Department.id, Department.name).where(col(Department.id).in_(list(ids)))).all()
    return {int(i): n for i, n in rows}


def _batches(keys: list, sizes: list[int], limit: int) -> list[list[int]]:
    """Positions of ``keys`` (sorted, so equal keys are neighbours) cut into consecutive batches
    of at most ``limit`` in total ``sizes`` (one key bigger than that alone); equal keys share a batch."""
    out: list[list[int]] = []
    total = 0
    for i, (key, size) in enumerate(zip(keys, sizes, strict=True)):
        same = i > 0 and key == keys[i - 1]
        if out and (same or total + size <= limit):
            out[-1].append(i)
            total += size
        else:
            out.append([i])
            total = size
    return out


def _joined(parts: Parts) -> pd.DataFrame:
    """The whole frame of streamed ``parts`` (the kind functions' DataFrame)."""
    frames = [f for f in parts.frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=parts.columns)
    return pd.concat(frames, ignore_index=True)[parts.columns]


def _respondents(session: Session, wave: surveys.WaveInfo, respondents: pd.DataFrame | None = None) -> pd.DataFrame:
    """``department_id, department, division_id, n, suppressed`` for every department of the wave.

    ``respondents``: the wave's counts per department (:func:`kpialign.scorecard.counts.wave_counts`;
    read when not given). Suppression exactly as on the survey pages
    (:func:`kpialign.core.privacy.survey_suppression`: fewer than k respondents is hidden, with
    complementary suppression within each division and then among divisions, because division
    and organisation totals are shown). A department the pages do not show (not an active leaf
    of the tree) is hidden here too.
    """
    if respondents is None:
        _, respondents = wave_store.wave_counts(session, wave_id=wave.id)
    by_dept = dict(zip(respondents["department_id"], respondents["respondents"], strict=True))
    ids = sorted(set(wave.department_ids) | set(by_dept))
    names = _department_names(session, ids)
    df = pd.DataFrame(
        {
            "department_id": ids,
            "department": [names.get(i, "") for i in ids],
            "n": [int(by_dept.get(i, 0)) for i in ids],
        },
        columns=["department_id", "department", "n"],
    )
    tree = scorecard_data.departments(session)
    leaves = tree[tree["is_leaf"]]
    division_of = dict(zip(tree["department_id"], tree["division_id"], strict=True))
    df["division_id"] = df["department_id"].map(division_of).astype("Int64")
    cells = respondents[["wave_id", "department_id", "respondents"]]
    sup = privacy.survey_suppression(
        cells[cells["respondents"] > 0], leaves, {wave.id: privacy.effective_k(wave.min_group)}
    )
    shown = set(sup.loc[~sup["suppressed"].astype(bool), "department_id"].astype(int))
    df["suppressed"] = ~df["department_id"].isin(shown)
    return df.sort_values(["department", "department_id"]).reset_index(drop=True)


def wave_choices(session: Session, *, results: bool = False) -> list[str]:
    """Names of the waves that have opened (the ones with anything to export), newest first.

    ``results``: only the waves whose results may be exported (closed ones,
    :func:`kpialign.core.privacy.results_released`), for every kind but participation.
    """
    rows = session.exec(
        select(SurveyWave.name, SurveyWave.status)
        .where(SurveyWave.status != WaveStatus.DRAFT.value)
        .order_by(col(SurveyWave.opens_on).desc(), col(SurveyWave.id).desc())
    ).all()
    return [name for name, status in rows if not results or privacy.results_released(status)]


def period_choices(session: Session) -> list[str]:
    """Periods with KPI values, newest first (months before quarters of the same year)."""
    rows = session.exec(select(KpiValue.period).distinct()).all()
    return sorted(rows, key=lambda p: periods.parse_period(p), reverse=True)


def visible_departments(session: Session, *, wave: str | None = None) -> list[int]:
    """Departments of a wave whose survey figures may be shown (see ``results``); none for an open wave."""
    w = _wave(session, wave)
    if not privacy.results_released(w.status):
        return []
    r = _respondents(session, w)
    return [int(i) for i in r.loc[~r["suppressed"], "department_id"]]


# --------------------------------------------------------------------------- the kinds


def _rated_questions(session: Session, w: surveys.WaveInfo) -> list[Question]:
    """The wave's Likert and objective-pick questions, in wave order (text items never leave)."""
    qs = session.exec(select(Question).where(col(Question.id).in_(list(w.question_ids)))).all()
    order = {qid: i for i, qid in enumerate(w.question_ids)}
    return sorted(
        (q for q in qs if q.kind in (QuestionKind.LIKERT5.value, QuestionKind.OBJECTIVE_PICK.value)),
        key=lambda q: order[q.id],
    )


def _result_cells(
    session: Session, w: surveys.WaveInfo, resp: pd.DataFrame | None = None, answers: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Unmasked result cells with ``department_id`` (``<NA>`` for the total) and ``question_id``.

    ``answers``: the wave's answer counts per department x question x value
    (:func:`kpialign.scorecard.counts.wave_counts`: a closed wave's stored counts), read when
    not given; ``resp``: :func:`_respondents`.
    """
    k = privacy.effective_k(w.min_group)
    if answers is None or resp is None:
        stored_answers, respondents = wave_store.wave_counts(session, wave_id=w.id)
        answers = stored_answers if answers is None else answers
        resp = resp if resp is not None else _respondents(session, w, respondents)
    rated = _rated_questions(session, w)
    per, total = _answer_sums(answers, rated)
    dept_ids = resp["department_id"].to_numpy("int64")
    # Complementary within each division, whose per-question total the pages show.
    division = pd.Series(resp["division_id"].fillna(-1).to_numpy())
    blocks: list[pd.DataFrame] = []
    for q in rated:
        sums = per.reindex(pd.MultiIndex.from_arrays([np.full(len(dept_ids), q.id), dept_ids]), fill_value=0)
        block = _result_block(w.name, resp["department"].tolist(), q, sums, resp["suppressed"].to_numpy(bool))
        # Per question a department may have fewer answers than respondents ("prefer not to
        # say"): such a cell is hidden too, again with complementary suppression.
        block["suppressed"] = privacy.question_cells_hidden(block["n"], block["suppressed"], division, k).to_numpy()
        block["department_id"] = dept_ids
        q_total = _result_block(w.name, [TOTAL_LABEL], q, total.reindex([q.id], fill_value=0), np.zeros(1, bool))
        q_total["suppressed"] = q_total["n"] < k
        q_total["department_id"] = None
        blocks.extend([block, q_total])
    df = pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame(columns=[*RESULTS_COLUMNS, "department_id"])
    df["question_id"] = np.repeat([q.id for q in rated], len(dept_ids) + 1).astype("int64")
    df = df[[*RESULTS_COLUMNS, "department_id", "question_id"]]
    df["n"] = df["n"].astype("Int64")
    for c in RESULT_VALUES[1:]:
        df[c] = df[c].astype("Float64")
    df["suppressed"] = df["suppressed"].astype(bool)
    df["reverse"] = df["reverse"].astype(bool)
    df["department_id"] = df["department_id"].astype("Int64")
    return df


_SUMS = ["n", "total", "favourable", "neutral", "unfavourable"]


def _answer_sums(answers: pd.DataFrame, rated: list[Question]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per question x department and per question: answers, sum of values, and favourable,
    neutral and unfavourable answers (reverse-worded Likert items flipped first)."""
    a = answers[answers["question_id"].isin([q.id for q in rated])]
    flip = [q.id for q in rated if q.reverse and q.kind == QuestionKind.LIKERT5.value]
    values = a["value"].to_numpy("int64")
    values = np.where(a["question_id"].isin(flip).to_numpy(), 6 - values, values)
    n = a["count"].to_numpy("int64")
    parts = pd.DataFrame(
        {
            "question_id": a["question_id"].to_numpy("int64"),
            "department_id": a["department_id"].to_numpy("int64"),
            "n": n,
            "total": values * n,
            "favourable": np.where(values >= 4, n, 0),
            "neutral": np.where(values == 3, n, 0),
            "unfavourable": np.where(values <= 2, n, 0),
        }
    )
    per = parts.groupby(["question_id", "department_id"])[_SUMS].sum()
    return per, parts.groupby("question_id")[_SUMS].sum()


def _result_block(
    wave: str, departments: list[str], q: Question, sums: pd.DataFrame, hidden: np.ndarray
) -> pd.DataFrame:
    """Result rows of one question for ``departments`` (``sums``: their :func:`_answer_sums`, in order).

    The mean is on the flipped scale (two decimals); percentages are of the answers (one
    decimal), only for Likert items; a row with no answers has only ``n = 0``. Rounded with
    Python's ``round`` cell by cell, as the per-row code before did (numpy rounds differently).
    """
    n = sums["n"].to_numpy("int64")
    answered = n > 0
    safe_n = np.where(answered, n, 1)

    def share(x: np.ndarray, places: int) -> list[float]:
        return [round(v, places) if ok else math.nan for v, ok in zip(x.tolist(), answered.tolist(), strict=True)]

    likert = q.kind == QuestionKind.LIKERT5.value
    nan = [math.nan] * len(n)
    return pd.DataFrame(
        {
            "wave": wave,
            "department": departments,
            "question_code": q.code,
            "question": q.text,
            "reverse": bool(q.reverse),
            "n": n,
            "pct_favourable": share(100 * sums["favourable"].to_numpy(float) / safe_n, 1) if likert else nan,
            "pct_neutral": share(100 * sums["neutral"].to_numpy(float) / safe_n, 1) if likert else nan,
            "pct_unfavourable": share(100 * sums["unfavourable"].to_numpy(float) / safe_n, 1) if likert else nan,
            "mean": share(sums["total"].to_numpy("int64") / safe_n, 2),
            "suppressed": hidden,
        }
    )


def results(session: Session, *, wave: str | None = None) -> pd.DataFrame:
    """Per-question results of a wave with disclosure control (see the module docstring).

    Survey pages that show per-question results should call this function, so that the
    page and the export hide exactly the same cells.
    """
    cells = _result_cells(session, _wave(session, wave, results=True))
    return privacy.mask_suppressed(cells[RESULTS_COLUMNS], RESULT_VALUES).reset_index(drop=True)


def participation(session: Session, *, wave: str | None = None) -> pd.DataFrame:
    """Participation per department of a wave, as the survey pages show it."""
    w = _wave(session, wave)
    df = surveys.participation(session=session, wave_id=w.id)
    df = df.drop(columns=["department_id"])
    df.insert(0, "wave", w.name)
    return df[PARTICIPATION_COLUMNS].reset_index(drop=True)


def responses(session: Session, *, wave: str | None = None) -> pd.DataFrame:
    """De-identified answers, one row per response, for the departments whose results are shown.

    An answer whose question cell is hidden in ``results`` (too few answers to that question,
    or complementary suppression) is left empty here too, so that the ``results`` total minus
    this file never describes fewer than k people.
    """
    return _joined(_response_parts(session, _wave(session, wave, results=True)))


def _response_parts(session: Session, w: surveys.WaveInfo, batch_rows: int | None = None) -> Parts:
    """:func:`responses` as parts: the departments in file order, cut into batches of about
    ``batch_rows`` respondents, each fetched and shuffled when its turn comes (memory bounded)."""
    answers, respondents = wave_store.wave_counts(session, wave_id=w.id)
    resp = _respondents(session, w, respondents)
    shown = resp.loc[~resp["suppressed"]]
    rated = _rated_questions(session, w)
    columns = [*RESPONSES_FIXED_COLUMNS, *(q.code for q in rated)]
    if shown.empty or not rated:
        return Parts(columns, 1, iter([pd.DataFrame(columns=columns)]))
    cells = _result_cells(session, w, resp=resp, answers=answers)
    hidden = cells.loc[cells["suppressed"] & cells["department_id"].notna(), ["department_id", "question_id"]]
    # the departments whose cell of each question is hidden in ``results``
    hidden_by_question: dict[int, list[int]] = {}
    for d, qid in zip(hidden["department_id"].astype(int), hidden["question_id"].astype(int), strict=True):
        hidden_by_question.setdefault(int(qid), []).append(int(d))
    # here: a department name never spans two batches (rows sort by name first, then by id)
    limit = batch_rows or BATCH_RESPONDENTS
    batches = _batches(shown["department"].tolist(), shown["n"].astype(int).tolist(), limit)
    ids = shown["department_id"].astype(int).tolist()
    names = dict(zip(ids, shown["department"], strict=True))
    frames = (
        _response_rows(session, w, [ids[i] for i in batch], names, rated, hidden_by_question) for batch in batches
    )
    return Parts(columns, len(batches), frames)


def _response_rows(
    session: Session,
    w: surveys.WaveInfo,
    dept_ids: list[int],
    names: dict[int, str],
    rated: list[Question],
    hidden_by_question: dict[int, list[int]],
) -> pd.DataFrame:
    """The rows of :func:`responses` for some departments (all of each department's respondents).

    One query that pivots in SQL (one row per response, one column per rated item): a large
    batch's 10^5 answers never become Python rows.
    """
    codes = [q.code for q in rated]
    stmt = (
        select(
            Response.id,
            Response.department_id,
            *(func.max(case((Answer.question_id == q.id, Answer.value))) for q in rated),
        )
        .select_from(Response)
        .outerjoin(Answer, Answer.response_id == Response.id)
        .where(Response.wave_id == w.id, col(Response.department_id).in_(dept_ids))
        .group_by(Response.id, Response.department_id)
    )
    result = session.connection().execute(stmt)
    rows = result.cursor.fetchall() if result.cursor is not None else []
    result.close()
    columns = list(zip(*rows, strict=True)) if rows else [()] * (2 + len(rated))
    base = pd.DataFrame(
        {"response_id": pd.Series(columns[0], dtype=object), "department_id": np.array(columns[1], dtype="int64")}
    )
    base["department"] = base["department_id"].map(names)
    base["_key"] = _shuffle_key(base["response_id"])
    order = base.sort_values(["department", "department_id", "_key"], kind="mergesort").index.to_numpy()
    out = base.loc[order].reset_index(drop=True)
    out["respondent"] = out.groupby("department_id").cumcount() + 1
    out.insert(0, "wave", w.name)
    depts = out["department_id"].to_numpy()
    items = {}
    for j, q in enumerate(rated):
        # here: None (no answer) -> NaN in C, then a masked integer array (pd.array from a tuple
        # of Python ints and None inspects every cell)
        raw = np.array(columns[2 + j], dtype="float64")[order]
        missing = np.isnan(raw)
        # A cell hidden in ``results`` (too few answers to the item) is empty here too.
        hidden = hidden_by_question.get(q.id)
        if hidden:
            missing |= np.isin(depts, hidden)
        items[codes[j]] = pd.arrays.IntegerArray(np.where(missing, 0, raw).astype("int64"), missing)
    out = pd.concat([out[RESPONSES_FIXED_COLUMNS], pd.DataFrame(items, index=out.index)], axis=1)
    return out[[*RESPONSES_FIXED_COLUMNS, *codes]]


def comments(session: Session, *, wave: str | None = None) -> pd.DataFrame:
    """Comments of a wave for the departments that reach the comment threshold, shuffled, no dates."""
    w = _wave(session, wave, results=True)
    rows = session.exec(
        select(Comment.id, Comment.text, Response.department_id)
        .join(Response, Response.id == Comment.response_id)
        .where(Response.wave_id == w.id)
    ).all()
    df = pd.DataFrame([tuple(r) for r in rows], columns=["comment_id", "comment", "department_id"])
    if df.empty:
        return pd.DataFrame(columns=COMMENTS_COLUMNS)
    sizes = df.groupby("department_id").size().rename("n").reset_index()
    shown = privacy.comment_groups_shown(sizes, int(w.comment_min))
    df = df[df["department_id"].isin(shown)].copy()
    names = _department_names(session, set(df["department_id"].astype(int)))
    df["department"] = df["department_id"].map(names)
    df["_key"] = _shuffle_key(df["comment_id"])
    df = df.sort_values(["department", "department_id", "_key"], kind="mergesort")
    df.insert(0, "wave", w.name)
    return df[COMMENTS_COLUMNS].reset_index(drop=True)


def scorecard(session: Session, *, period: str | None = None, wave: str | None = None) -> pd.DataFrame:
    """The department scorecard of a period, the same numbers as the Overview page."""
    return scorecard_build.department_scorecard(session, period=period, wave=wave).reset_index(drop=True)


def kpis(session: Session, *, period: str | None = None) -> pd.DataFrame:
    """KPI definitions with their objective links, and values per period (optionally one period or year)."""
    return _joined(_kpi_parts(session, period=period))


def _kpi_parts(session: Session, *, period: str | None = None, batch_kpis: int | None = None) -> Parts:
    """:func:`kpis` as parts: departments in file order, about ``batch_kpis`` KPIs (with their
    values, fetched when the part's turn comes) at a time."""
    keep = periods.period_filter(period)
    defs = strategy.kpis_frame(session=session)
    links = strategy.links_frame(session=session)
    link_text = (
        links.sort_values(["kpi_id", "objective_code"])
        .assign(item=lambda d: d["objective_code"] + ":" + d["contribution"].map(lambda c: f"{c:g}"))
        .groupby("kpi_id")["item"]
        .agg("; ".join)
    )
    d = defs.rename(columns={"name": "kpi"})
    d["objectives"] = d["kpi_id"].map(link_text).fillna("")
    # here: rows sort by department first, so a part holding whole departments (every one of the
    # same name) sorts exactly as its slice of the whole file does
    per_dept = d.groupby("department", sort=True, dropna=False).size()
    per_dept = pd.concat([per_dept[per_dept.index.isna()], per_dept[per_dept.index.notna()]])  # na_position="first"
    batches = _batches(per_dept.index.tolist(), per_dept.astype(int).tolist(), batch_kpis or BATCH_KPIS)
    names = per_dept.index.tolist()
    batches = batches or [[]]  # no KPIs: one empty part (the header)
    return Parts(KPIS_COLUMNS, len(batches), (_kpi_rows(session, d, [names[i] for i in b], keep) for b in batches))


def _kpi_rows(session: Session, defs: pd.DataFrame, departments: list, keep) -> pd.DataFrame:
    """The rows of :func:`kpis` for the KPIs of ``departments``."""
    d = defs[defs["department"].isin(departments)]
    values = _kpi_values(session, d["kpi_id"].astype(int).tolist())
    values = values[values["period"].map(keep)] if len(values) else values
    out = d.merge(values, on="kpi_id", how="left")
    out = out.sort_values(["department", "kpi", "period"], na_position="first", kind="mergesort")
    return out[KPIS_COLUMNS].reset_index(drop=True)


def _kpi_values(session: Session, kpi_ids: list[int]) -> pd.DataFrame:
    """``kpi_id, period, actual, period_target`` of some KPIs (the period target where one is set).

    The driver's tuples straight into columns: ORM rows and pandas' row-wise construction were
    most of this export's client time (~90k values).
    """
    stmt = (
        select(KpiValue.kpi_id, KpiValue.period, KpiValue.actual, KpiTarget.target)
        .outerjoin(KpiTarget, and_(KpiTarget.kpi_id == KpiValue.kpi_id, KpiTarget.period == KpiValue.period))
        .where(col(KpiValue.kpi_id).in_(kpi_ids))
        .order_by(KpiValue.kpi_id, KpiValue.period)
    )
    result = session.connection().execute(stmt)
    rows = result.cursor.fetchall() if result.cursor is not None else []
    result.close()
    ids, periods_, actual, target = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pd.DataFrame(
        {
            "kpi_id": np.array(ids, dtype="int64"),
            "period": pd.Series(periods_, dtype="str"),
            "actual": np.array(actual, dtype="float64"),
            "period_target": np.array(target, dtype="float64"),
        }
    )


def audit_log(session: Session, *, period: str | None = None) -> pd.DataFrame:
    """The audit log, oldest first (optionally of one month, quarter or year, in UTC)."""
    return _joined(_audit_parts(session, period=period))


def _audit_parts(session: Session, *, period: str | None = None, batch_rows: int | None = None) -> Parts:
    """:func:`audit_log` as parts of ``batch_rows`` events, read by id when their turn comes."""
    since, until = periods.utc_bounds(period)
    limit = batch_rows or BATCH_ROWS
    where = []
    if since:
        where.append(col(AuditEvent.at) >= since)
    if until:
        where.append(col(AuditEvent.at) < until)
    total = int(session.execute(select(func.count()).select_from(AuditEvent).where(*where)).scalar_one())
    fields = [getattr(AuditEvent, c) for c in AUDIT_COLUMNS]

    def frames() -> Iterator[pd.DataFrame]:
        last: int | None = None
        while True:  # here: by id after the last one read (keyset), so each part is one indexed range
            stmt = select(*fields).where(*where, *([col(AuditEvent.id) > last] if last is not None else []))
            got = [tuple(r) for r in session.execute(stmt.order_by(col(AuditEvent.id)).limit(limit)).all()]
            if got or last is None:
                yield pd.DataFrame(got, columns=AUDIT_COLUMNS)
            if len(got) < limit:
                return
            last = int(got[-1][0])

    return Parts(AUDIT_COLUMNS, max(1, -(-total // limit)), frames())


# ----------------------------------------------------------------------------- files


def export_parts(session: Session, *, kind: str, wave: str | None = None, period: str | None = None) -> Parts:
    """The rows of one kind as :class:`Parts` (streamed); checks the filters before returning."""
    if kind not in KINDS:
        raise ExportError(f"Unknown export {kind!r}: choose one of {', '.join(KINDS)}.")
    if kind == "responses":
        return _response_parts(session, _wave(session, wave, results=True))
    if kind == "kpis":
        return _kpi_parts(session, period=period)
    if kind == "audit":
        return _audit_parts(session, period=period)
    if kind == "results":
        frame, columns = results(session, wave=wave), RESULTS_COLUMNS
    elif kind == "participation":
        frame, columns = participation(session, wave=wave), PARTICIPATION_COLUMNS
    elif kind == "comments":
        frame, columns = comments(session, wave=wave), COMMENTS_COLUMNS
    else:
        frame = scorecard(session, period=period, wave=wave)
        columns = list(frame.columns)
    return Parts(list(columns), 1, iter([frame]))


def export_frame(session: Session, *, kind: str, wave: str | None = None, period: str | None = None) -> pd.DataFrame:
    """The DataFrame of one kind (no audit event; use :func:`build_export` for downloads)."""
    parts = export_parts(session, kind=kind, wave=wave, period=period)
    if parts.count == 1:
        return next(parts.frames)
    return _joined(parts)


def _scope(session: Session, kind: str, wave: str | None, period: str | None) -> tuple[str | None, dict]:
    """The file-name scope (wave or period) and the filters recorded in the audit event."""
    if kind in SURVEY_KINDS:
        name = _wave(session, wave, results=kind != "participation").name
        return name, {"wave": name}
    if kind == "scorecard":
        filters = {"period": period, "wave": wave}
        return period, {k: v for k, v in filters.items() if v}
    return period, ({"period": period} if period else {})


@dataclass
class ExportStream:
    """An export opened for writing: its name and filters now, its bytes when :meth:`chunks` is
    iterated (inside the read session it was opened in). ``rows`` counts the data rows written."""

    kind: str
    filename: str
    filters: dict
    excel: bool
    parts: Parts
    rows: int = 0

    def chunks(self, progress: Progress | None = None) -> Iterator[bytes]:
        """The CSV file as byte chunks (:func:`kpialign.core.csv_out.iter_csv`); ``progress``
        hears the share done after each part."""

        def counted() -> Iterator[pd.DataFrame]:
            for i, frame in enumerate(self.parts.frames, 1):
                self.rows += len(frame)
                yield frame
                if progress is not None:
                    progress(min(1.0, i / max(1, self.parts.count)))

        return csv_out.iter_csv(counted(), columns=self.parts.columns, excel=self.excel)


def open_export(
    session: Session,
    *,
    kind: str,
    roles: Collection[str],
    wave: str | None = None,
    period: str | None = None,
    excel: bool = False,
    today: date | None = None,
) -> ExportStream:
    """Open one export for streaming (reads only; record it with :func:`record_export`).

    ``roles`` are the exporting user's roles; a kind they may not export is refused.
    ``today`` dates the file name (default: today in UTC). Refusals (role, unknown wave, an
    open wave's results, a bad period) are raised here, before any byte is written.
    """
    if kind not in KINDS:
        raise ExportError(f"Unknown export {kind!r}: choose one of {', '.join(KINDS)}.")
    if not KIND_ROLES[kind].intersection(roles):
        raise ExportError(f"You are not allowed to export {kind}.")
    wave = (wave or "").strip() or None
    period = (period or "").strip() or None
    scope, filters = _scope(session, kind, wave, period)
    parts = export_parts(session, kind=kind, wave=scope if kind in SURVEY_KINDS else wave, period=period)
    day = today or datetime.now(UTC).date()
    filename = csv_out.export_filename(kind, scope, day)
    return ExportStream(kind=kind, filename=filename, filters=filters, excel=excel, parts=parts)


def prepare_export(
    session: Session,
    *,
    kind: str,
    roles: Collection[str],
    wave: str | None = None,
    period: str | None = None,
    excel: bool = False,
    today: date | None = None,
) -> ExportFile:
    """Build one export as a safe CSV file in memory (reads only; record it with :func:`record_export`)."""
    stream = open_export(session, kind=kind, roles=roles, wave=wave, period=period, excel=excel, today=today)
    data = b"".join(stream.chunks())
    return ExportFile(
        kind=kind,
        filename=stream.filename,
        data=data,
        rows=stream.rows,
        filters=stream.filters,
        excel=excel,
        size=len(data),
    )


def record_export(session: Session, export: ExportFile, *, actor: str) -> None:
    """Add the audit event of an export (who, kind, filters, row count) to a write session.

    Deliver the file only after this has committed: an export that could not be recorded
    is not handed out.
    """
    audit.record(
        session,
        actor=actor,
        action="export",
        entity="export",
        entity_id=export.kind,
        kind=export.kind,
        filters=export.filters,
        rows=export.rows,
        excel=export.excel,
        file=export.filename,
    )


def build_export(
    engine: Engine,
    *,
    kind: str,
    actor: str,
    roles: Collection[str],
    wave: str | None = None,
    period: str | None = None,
    excel: bool = False,
    today: date | None = None,
    out: BinaryIO | None = None,
    progress: Progress | None = None,
) -> ExportFile:
    """Write an export in a read transaction, then record it in its own write transaction.

    ``out``: a binary file the CSV is written to chunk by chunk (memory stays bounded; the
    returned file then has empty ``data``); by default the bytes are collected in memory.
    ``progress`` hears the share done (0..1) as parts are written. Hand the file out only after
    this returns: then its audit event (who, kind, filters, rows) is committed. Two
    transactions, so that a long export never holds the write lock. The portal page and the
    CLI both use this function.
    """
    sink = out if out is not None else io.BytesIO()
    size = 0
    with db.read_session(engine) as session:
        stream = open_export(session, kind=kind, roles=roles, wave=wave, period=period, excel=excel, today=today)
        for chunk in stream.chunks(progress):
            sink.write(chunk)
            size += len(chunk)
    export = ExportFile(
        kind=kind,
        filename=stream.filename,
        data=sink.getvalue() if isinstance(sink, io.BytesIO) and out is None else b"",  # in memory, or written out
        rows=stream.rows,
        filters=stream.filters,
        excel=excel,
        size=size,
    )
    with db.write_session(engine) as session:
        record_export(session, export, actor=actor)
    return export


def allowed_kinds(roles: Collection[str]) -> list[str]:
    """The kinds a user with ``roles`` may export, in menu order."""
    return [k for k in KINDS if KIND_ROLES[k].intersection(roles)]


def export_events(session: Session, *, limit: int = 50) -> pd.DataFrame:
    """Recent export audit events: ``at, actor, kind, filters, rows``."""
    ev = audit.list_events(session, action="export", limit=limit)
    details = ev["detail"].map(json.loads) if len(ev) else pd.Series(dtype=object)
    return pd.DataFrame(
        {
            "at": ev["at"],
            "actor": ev["actor"],
            "kind": [d.get("kind") for d in details],
            "filters": [json.dumps(d.get("filters", {}), sort_keys=True) for d in details],
            "rows": [d.get("rows") for d in details],
        }
    )
