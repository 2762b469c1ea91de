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

:func:`build_export` turns a kind into a safe CSV file (:func:`kpialign.services.kpi_import.write_csv`) and
records an ``export`` audit event (who, kind, filters, row count) before the file is handed out. The portal's Exports page and ``python -m kpialign export`` both call it, so the
same filters and date give byte-identical files.

Shuffling is deterministic but unrelated to submission order: rows are ordered by a SHA-256
hash of the random response id (or comment id), which the file does not contain.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from kpialign import audit, db
from kpialign.core import csv_out, periods, privacy
from kpialign.core.errors import Refused
from kpialign.models import (
    Answer,
    Comment,
    Department,
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
from kpialign.services import measurements, strategy, surveys

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
    """A finished export: what to offer for download."""

    kind: str
    filename: str
    data: bytes
    rows: int
    filters: dict = field(default_factory=dict)
    excel: bool = False
    mime: str = csv_out.CSV_MIME


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
            found = surveys.get_wave(session, name=wave)
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
    return surveys.get_wave(session, wave_id=row.id)


def _fetch(session: Session, stmt, columns: list[str]) -> pd.DataFrame:
    """Run a Core select and build the frame from the driver's tuples (no ORM rows: much faster)."""
    result = session.connection().execute(stmt)
    rows = result.cursor.fetchall() if result.cursor is not None else []
    result.close()
    return pd.DataFrame(rows, columns=columns)


def _shuffle_key(ids: pd.Series) -> pd.Series:
    return ids.map(lambda s: hashlib.sha256(str(s).encode()).hexdigest())


def _department_names(session: Session, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.exec(select(Department.id, Department.name).where(col(Department.id).in_(list(ids)))).all()
    return {int(i): n for i, n in rows}


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


def wave_choices(session: Session) -> list[str]:
    """Names of the waves that have opened (the ones with anything to export), newest first."""
    rows = session.exec(
        select(SurveyWave.name)
        .where(SurveyWave.status != WaveStatus.DRAFT.value)
        .order_by(col(SurveyWave.opens_on).desc(), col(SurveyWave.id).desc())
    ).all()
    return list(rows)


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
    df = surveys.participation(session, wave_id=w.id)
    df = df.drop(columns=["department_id"])
    df.insert(0, "wave", w.name)
    return df[PARTICIPATION_COLUMNS].reset_index(drop=True)


def responses(session: Session, *, wave: str | None = None) -> pd.DataFrame:
    """De-identified answers, one row per response, for the departments whose results are shown.

    An answer whose question cell is hidden in ``results`` (too few answers to that question,
    or complementary suppression) is left empty here too, so that the ``results`` total minus
    this file never describes fewer than k people.
    """
    w = _wave(session, wave, results=True)
    resp = _respondents(session, w)
    shown = resp.loc[~resp["suppressed"]]
    rated = _rated_questions(session, w)
    codes = [q.code for q in rated]
    columns = [*RESPONSES_FIXED_COLUMNS, *codes]
    if shown.empty or not rated:
        return pd.DataFrame(columns=columns)
    dept_ids = [int(i) for i in shown["department_id"]]
    base = _fetch(
        session,
        select(Response.id, Response.department_id).where(
            Response.wave_id == w.id, col(Response.department_id).in_(dept_ids)
        ),
        ["response_id", "department_id"],
    )
    a = _fetch(
        session,
        select(Answer.response_id, Answer.question_id, Answer.value, Response.department_id)
        .join(Response, Response.id == Answer.response_id)
        .where(
            Response.wave_id == w.id,
            col(Response.department_id).in_(dept_ids),
            col(Answer.question_id).in_([q.id for q in rated]),
        ),
        ["response_id", "question_id", "value", "department_id"],
    )
    cells = _result_cells(session, w, resp=resp)
    hidden = cells.loc[cells["suppressed"] & cells["department_id"].notna(), ["department_id", "question_id"]]
    hidden_keys = set(zip(hidden["department_id"].astype(int), hidden["question_id"].astype(int), strict=True))
    if hidden_keys and len(a):
        pairs = pd.MultiIndex.from_arrays([a["department_id"].astype("int64"), a["question_id"].astype("int64")])
        a = a[~pairs.isin(list(hidden_keys))]
    wide = a.pivot(index="response_id", columns="question_id", values="value") if len(a) else pd.DataFrame()
    wide = wide.reindex(columns=[q.id for q in rated])
    wide.columns = codes
    names = dict(zip(shown["department_id"].astype(int), shown["department"], strict=True))
    base["department"] = base["department_id"].map(names)
    base["_key"] = _shuffle_key(base["response_id"])
    base = base.sort_values(["department", "department_id", "_key"], kind="mergesort").reset_index(drop=True)
    base["respondent"] = base.groupby("department_id").cumcount() + 1
    out = base.join(wide, on="response_id")
    out.insert(0, "wave", w.name)
    for c in codes:
        out[c] = out[c].astype("Int64")
    return out[columns].reset_index(drop=True)


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
    keep = periods.period_filter(period)
    defs = strategy.kpis_frame(session)
    links = strategy.links_frame(session)
    link_text = (
        links.sort_values(["kpi_id", "objective_code"])
        .assign(item=lambda d: d["objective_code"] + ":" + d["contribution"].map(lambda c: f"{c:g}"))
        .groupby("kpi_id")["item"]
        .agg("; ".join)
    )
    values = measurements.values_frame(session)  # already joined with the period targets
    values = values[values["period"].map(keep)] if len(values) else values
    values = values.assign(period_target=values["target"].where(values["target_source"] == "period"))
    values = values[["kpi_id", "period", "actual", "period_target"]]
    d = defs.rename(columns={"name": "kpi"})
    d["objectives"] = d["kpi_id"].map(link_text).fillna("")
    out = d.merge(values, on="kpi_id", how="left")
    out = out.sort_values(["department", "kpi", "period"], na_position="first", kind="mergesort")
    return out[KPIS_COLUMNS].reset_index(drop=True)


def audit_log(session: Session, *, period: str | None = None) -> pd.DataFrame:
    """The audit log, oldest first (optionally of one month, quarter or year, in UTC)."""
    since, until = periods.utc_bounds(period)
    df = audit.list_events(session, since=since, until=until, limit=10_000_000)
    return df.sort_values("id").reset_index(drop=True)[AUDIT_COLUMNS]


# ----------------------------------------------------------------------------- files


def export_frame(session: Session, *, kind: str, wave: str | None = None, period: str | None = None) -> pd.DataFrame:
    """The DataFrame of one kind (no audit event; use :func:`build_export` for downloads)."""
    if kind not in KINDS:
        raise ExportError(f"Unknown export {kind!r}: choose one of {', '.join(KINDS)}.")
    if kind == "results":
        return results(session, wave=wave)
    if kind == "participation":
        return participation(session, wave=wave)
    if kind == "responses":
        return responses(session, wave=wave)
    if kind == "comments":
        return comments(session, wave=wave)
    if kind == "scorecard":
        return scorecard(session, period=period, wave=wave)
    if kind == "kpis":
        return kpis(session, period=period)
    return audit_log(session, period=period)


def _scope(session: Session, kind: str, wave: str | None, period: str | None) -> tuple[str | None, dict]:
    """The file-name scope (wave or period) and the filters recorded in the audit event."""
    if kind in SURVEY_KINDS:
        name = _wave(session, wave, results=kind != "participation").name
        return name, {"wave": name}
    if kind == "scorecard":
        filters = {"period": period, "wave": wave}
        return period, {k: v for k, v in filters.items() if v}
    return period, ({"period": period} if period else {})


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
    """Build one export as a safe CSV file (reads only; record it with :func:`record_export`).

    ``roles`` are the exporting user's roles; a kind they may not export is refused.
    ``today`` dates the file name (default: today in UTC).
    """
    if kind not in KINDS:
        raise ExportError(f"Unknown export {kind!r}: choose one of {', '.join(KINDS)}.")
    if not KIND_ROLES[kind].intersection(roles):
        raise ExportError(f"You are not allowed to export {kind}.")
    wave = (wave or "").strip() or None
    period = (period or "").strip() or None
    scope, filters = _scope(session, kind, wave, period)
    df = export_frame(session, kind=kind, wave=scope if kind in SURVEY_KINDS else wave, period=period)
    data = csv_out.write_csv(df, excel=excel)
    day = today or datetime.now(UTC).date()
    filename = csv_out.export_filename(kind, scope, day)
    return ExportFile(kind=kind, filename=filename, data=data, rows=len(df), filters=filters, excel=excel)


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
) -> ExportFile:
    """Prepare an export in a read transaction, then record it in its own write transaction.

    Two transactions on purpose: building some kinds may itself write (the scorecard stores
    closed-wave aggregates in a short transaction of its own), which must not wait for a
    write lock held by the caller. The portal page and the CLI both use this function.
    """
    with db.read_session(engine) as session:
        export = prepare_export(session, kind=kind, roles=roles, wave=wave, period=period, excel=excel, today=today)
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
