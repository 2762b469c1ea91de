"""Survey question bank, waves, personal invitations, confidential submission, participation.

Rules enforced here (and tested in ``tests/unit/test_surveys.py`` on SQLite and PostgreSQL):

- The shipped bank (:mod:`kpialign.services.question_bank`) is synced into the ``question`` table by
  code; HR can add, edit and retire questions. A retired question keeps its answers; a
  question used in a wave that has opened cannot be edited (its wording is part of that
  wave's results).
- A wave is ``draft`` -> ``open`` -> ``closed``. Its thresholds (minimum group size, default
  5, never below 3; comment threshold, never below 10), questions and departments are
  locked once it opens; a closed wave never changes.
- Personal links carry a random token from :func:`secrets.token_urlsafe`; only
  :func:`hash_token` of it is stored. Links work only while the wave is open and within its
  dates. E-mail addresses from an invitation CSV go into the returned links CSV only.
- :func:`submit_response` checks the link (or the signed-in account), marks it used and
  stores the response in one write transaction, with a conditional ``UPDATE ... WHERE used =
  false`` so that a double submit yields exactly one response. The response has a random id,
  the department and the day only; nothing links it to the invitation or the account.
- Participation is published only where at least ``min_group`` were invited.

A department answers either through personal links or, if it has none in the wave, through
signed-in accounts; never both, so that nobody can answer twice.
"""

from __future__ import annotations

import csv
import io
import json
import random
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import case, delete, func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from kpialign import audit
from kpialign.core import csv_out, privacy, security
from kpialign.core.errors import Refused
from kpialign.core.security import hash_token, survey_link
from kpialign.models import (
    Account,
    Answer,
    Comment,
    Department,
    Invitation,
    InvitationAddress,
    Objective,
    Question,
    QuestionKind,
    QuestionText,
    Response,
    Role,
    SurveyWave,
    WaveDepartment,
    WaveParticipant,
    WaveQuestion,
    WaveStatus,
    new_uuid,
    pk,
    table_of,
)
from kpialign.services import headcount
from kpialign.services import settings as scoring_settings
from kpialign.services.accounts import UserContext
from kpialign.services.bank_translations import BANK_TRANSLATIONS
from kpialign.services.question_bank import DECOY_OBJECTIVES, QUESTION_BANK, objective_pick_score

MIN_GROUP_DEFAULT = 5
MIN_GROUP_FLOOR = privacy.MIN_K
COMMENT_MIN = privacy.COMMENT_MIN
MAX_COMMENT_CHARS = 2000
MAX_LINKS_PER_BATCH = 5000


class SurveyError(Refused):
    """A survey operation was refused; the message is safe to show and nothing was written."""


class LinkProblem(SurveyError):
    """A survey link (or a signed-in account) cannot be used to answer; ``reason`` says why.

    Reasons: ``unknown``, ``used``, ``not_open``, ``expired``, ``closed``, ``not_invited``, ``revoked``.
    """

    MESSAGES: ClassVar[dict[str, str]] = {
        "unknown": "We could not find this survey link. Please check that you copied the whole link, "
        "or ask HR for a new one.",
        "used": "This survey link has already been used, so your answers are already in. Thank you! "
        "Each link can be used once.",
        "not_open": "This survey has not opened yet. Please come back once it has started.",
        "expired": "This survey has ended, so the link no longer works. Thank you for your interest.",
        "closed": "This survey is closed, so the link no longer works. Thank you for your interest.",
        "not_invited": "There is no survey for you to answer at the moment.",
        "revoked": "This survey link has been withdrawn or replaced by a newer one. Please use the newest "
        "link HR sent you, or ask HR for a new one.",
    }

    def __init__(self, reason: str):
        super().__init__(self.MESSAGES[reason])
        self.reason = reason


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class WaveInfo:
    id: int
    name: str
    opens_on: date
    closes_on: date
    status: str
    min_group: int
    comment_min: int
    department_ids: tuple[int, ...] = ()
    question_ids: tuple[int, ...] = ()

    def accepting(self, today: date) -> str | None:
        """``None`` if the wave accepts answers on ``today``, else the :class:`LinkProblem` reason."""
        if self.status == WaveStatus.CLOSED.value:
            return "closed"
        if self.status != WaveStatus.OPEN.value or today < self.opens_on:
            return "not_open"
        if today > self.closes_on:
            return "expired"
        return None


@dataclass(frozen=True)
class SurveyItem:
    """One item as shown to a respondent."""

    question_id: int
    code: str
    text: str
    kind: str
    dimension: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class SurveyForm:
    """What a respondent needs to fill in a wave (no identity of any kind)."""

    wave: WaveInfo
    department_id: int
    department: str
    items: tuple[SurveyItem, ...] = field(default_factory=tuple)

    @property
    def rated_items(self) -> tuple[SurveyItem, ...]:
        return tuple(i for i in self.items if i.kind != QuestionKind.TEXT.value)

    @property
    def has_comment(self) -> bool:
        return any(i.kind == QuestionKind.TEXT.value for i in self.items)


# -------------------------------------------------------------------------- question bank


def sync_question_bank(*, session: Session, actor: str = "system") -> int:
    """Insert the shipped questions that are not in the database yet (by code); return how many.

    Existing questions are left alone: HR may have edited or retired them.
    """
    existing = set(session.exec(select(Question.code)).all())
    added = 0
    for q in QUESTION_BANK:
        if q.code in existing:
            continue
        options = json.dumps(list(DECOY_OBJECTIVES)) if q.kind == QuestionKind.OBJECTIVE_PICK.value else None
        row = Question(code=q.code, text=q.text, dimension=q.dimension, kind=q.kind, reverse=q.reverse, options=options)
        session.add(row)
        session.flush()
        for lang, text in BANK_TRANSLATIONS.get(q.code, {}).items():  # the shipped translations come along
            session.add(QuestionText(question_id=pk(row), language=lang, text=text, updated_by=actor))
        added += 1
    if added:
        session.flush()
        audit.record(session, actor=actor, action="sync", entity="question", after={"added": added})
    return added


def bank_missing(*, session: Session) -> list[str]:
    """Codes of shipped bank questions not in the database yet (then :func:`sync_question_bank`)."""
    existing = set(session.exec(select(Question.code)).all())
    return [q.code for q in QUESTION_BANK if q.code not in existing]


def list_questions(*, session: Session, include_retired: bool = True) -> pd.DataFrame:
    """Questions with how they are used: ``waves`` (count), ``locked`` (used in a wave that opened)."""
    stmt = select(Question).order_by(col(Question.id))
    if not include_retired:
        stmt = stmt.where(Question.active == True)  # noqa: E712
    questions = session.exec(stmt).all()
    usage = session.exec(
        select(col(WaveQuestion.question_id), col(SurveyWave.status)).join(
            SurveyWave, col(SurveyWave.id) == col(WaveQuestion.wave_id)
        )
    ).all()
    waves: dict[int, int] = {}
    locked: set[int] = set()
    for qid, status in usage:
        waves[qid] = waves.get(qid, 0) + 1
        if status != WaveStatus.DRAFT.value:
            locked.add(qid)
    rows = [
        {
            "id": q.id,
            "code": q.code,
            "text": q.text,
            "dimension": q.dimension,
            "kind": q.kind,
            "reverse": q.reverse,
            "active": q.active,
            "waves": waves.get(q.id or 0, 0),
            "locked": q.id in locked,
        }
        for q in questions
    ]
    return pd.DataFrame(
        rows, columns=["id", "code", "text", "dimension", "kind", "reverse", "active", "waves", "locked"]
    )


def _question(session: Session, question_id: int) -> Question:
    q = session.get(Question, question_id)
    if q is None:
        raise SurveyError(f"There is no question with id {question_id}.")
    return q


def _question_locked(session: Session, question_id: int) -> bool:
    stmt = (
        select(func.count())
        .select_from(WaveQuestion)
        .join(SurveyWave, col(SurveyWave.id) == col(WaveQuestion.wave_id))
        .where(col(WaveQuestion.question_id) == question_id, col(SurveyWave.status) != WaveStatus.DRAFT.value)
    )
    return session.exec(stmt).one() > 0


def add_question(
    *,
    session: Session,
    code: str,
    text: str,
    dimension: str = "",
    kind: str = QuestionKind.LIKERT5.value,
    reverse: bool = False,
    actor: str,
) -> int:
    """Add a question to the bank; returns its id."""
    code = code.strip().upper()
    text = text.strip()
    if not code or len(code) > 40 or not code.replace("_", "").isalnum():
        raise SurveyError("A question code is 1 to 40 letters, digits or underscores, e.g. LS4.")
    if not text:
        raise SurveyError("A question needs a text.")
    if kind not in {k.value for k in QuestionKind}:
        raise SurveyError(f"Unknown question kind {kind!r}: choose likert5, objective_pick or text.")
    if session.exec(select(Question).where(Question.code == code)).first():
        raise SurveyError(f"A question with code {code} already exists.")
    options = json.dumps(list(DECOY_OBJECTIVES)) if kind == QuestionKind.OBJECTIVE_PICK.value else None
    q = Question(code=code, text=text, dimension=dimension.strip(), kind=kind, reverse=reverse, options=options)
    session.add(q)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity="question",
        entity_id=q.id,
        after={"code": code, "text": text, "dimension": q.dimension, "kind": kind, "reverse": reverse},
    )
    return pk(q)


def edit_question(
    *,
    session: Session,
    question_id: int,
    text: str | None = None,
    dimension: str | None = None,
    reverse: bool | None = None,
    actor: str,
) -> None:
    """Change a question's wording, dimension or scoring direction.

    Refused once the question was used in a wave that opened: its answers were given to the
    old wording (add a new question and retire this one instead).
    """
    q = _question(session, question_id)
    if _question_locked(session, question_id):
        raise SurveyError(
            f"Question {q.code} was used in a survey wave that has opened, so it cannot be edited. "
            "Add a new question and retire this one instead."
        )
    before = {"text": q.text, "dimension": q.dimension, "reverse": q.reverse}
    if text is not None:
        if not text.strip():
            raise SurveyError("A question needs a text.")
        if text.strip() != q.text:
            q.text_version += 1  # its translations are stale until someone reviews them
        q.text = text.strip()
    if dimension is not None:
        q.dimension = dimension.strip()
    if reverse is not None:
        q.reverse = reverse
    session.add(q)
    audit.record(
        session,
        actor=actor,
        action="update",
        entity="question",
        entity_id=q.id,
        before=before,
        after={"text": q.text, "dimension": q.dimension, "reverse": q.reverse},
    )


def set_question_active(*, session: Session, question_id: int, active: bool, actor: str) -> None:
    """Retire (``active=False``) or restore a question. Its answers and wave history are kept."""
    q = _question(session, question_id)
    if q.active == active:
        return
    q.active = active
    session.add(q)
    audit.record(
        session,
        actor=actor,
        action="restore" if active else "retire",
        entity="question",
        entity_id=q.id,
        before={"active": not active},
        after={"active": active},
    )


# ---------------------------------------------------------------------------------- waves


def _wave_info(session: Session, wave: SurveyWave) -> WaveInfo:
    depts = session.exec(
        select(col(WaveDepartment.department_id))
        .where(col(WaveDepartment.wave_id) == wave.id)
        .order_by(col(WaveDepartment.department_id))
    ).all()
    qs = session.exec(
        select(col(WaveQuestion.question_id))
        .where(col(WaveQuestion.wave_id) == wave.id)
        .order_by(col(WaveQuestion.position), col(WaveQuestion.question_id))
    ).all()
    return WaveInfo(
        id=pk(wave),
        name=wave.name,
        opens_on=wave.opens_on,
        closes_on=wave.closes_on,
        status=wave.status,
        min_group=wave.min_group,
        comment_min=wave.comment_min,
        department_ids=tuple(depts),
        question_ids=tuple(qs),
    )


def get_wave(*, session: Session, wave_id: int | None = None, name: str | None = None) -> WaveInfo:
    """A wave by id or by name."""
    if wave_id is not None:
        wave = session.get(SurveyWave, wave_id)
    elif name is not None:
        wave = session.exec(select(SurveyWave).where(SurveyWave.name == name.strip())).first()
    else:
        raise SurveyError("Say which wave: an id or a name.")
    if wave is None:
        raise SurveyError(f"There is no survey wave {name if name is not None else wave_id!r}.")
    return _wave_info(session, wave)


def list_waves(*, session: Session) -> pd.DataFrame:
    """All waves, newest first, with their numbers of departments, questions and responses."""
    waves = session.exec(select(SurveyWave).order_by(col(SurveyWave.opens_on).desc(), col(SurveyWave.id).desc())).all()
    n_dept = dict(
        session.exec(select(col(WaveDepartment.wave_id), func.count()).group_by(col(WaveDepartment.wave_id))).all()
    )
    n_q = dict(session.exec(select(col(WaveQuestion.wave_id), func.count()).group_by(col(WaveQuestion.wave_id))).all())
    n_resp = dict(session.exec(select(col(Response.wave_id), func.count()).group_by(col(Response.wave_id))).all())
    rows = [
        {
            "id": w.id,
            "name": w.name,
            "opens_on": w.opens_on,
            "closes_on": w.closes_on,
            "status": w.status,
            "min_group": w.min_group,
            "comment_min": w.comment_min,
            "departments": n_dept.get(pk(w), 0),
            "questions": n_q.get(pk(w), 0),
            "responses": n_resp.get(pk(w), 0),
        }
        for w in waves
    ]
    cols = ["id", "name", "opens_on", "closes_on", "status", "min_group", "comment_min"]
    return pd.DataFrame(rows, columns=[*cols, "departments", "questions", "responses"])


def _check_wave_fields(name: str, opens_on: date, closes_on: date, min_group: int, comment_min: int) -> None:
    if not name.strip() or len(name.strip()) > 200:
        raise SurveyError("A wave needs a name (up to 200 characters).")
    if closes_on < opens_on:
        raise SurveyError("A wave cannot close before it opens: check the dates.")
    if int(min_group) < MIN_GROUP_FLOOR:
        raise SurveyError(
            f"The minimum group size is never below {MIN_GROUP_FLOOR} (the default is {MIN_GROUP_DEFAULT})."
        )
    if int(comment_min) < COMMENT_MIN:
        raise SurveyError(f"Comments are shown only from {COMMENT_MIN} upwards; the threshold cannot be lower.")


def _check_members(session: Session, question_ids: Sequence[int], department_ids: Collection[int]) -> None:
    if not question_ids:
        raise SurveyError("Choose at least one question for the wave.")
    if len(set(question_ids)) != len(question_ids):
        raise SurveyError("A question appears twice in the wave.")
    if not department_ids:
        raise SurveyError("Choose at least one department for the wave.")
    qs = session.exec(select(Question).where(col(Question.id).in_(list(question_ids)))).all()
    if len(qs) != len(set(question_ids)):
        raise SurveyError("Some chosen questions do not exist.")
    retired = [q.code for q in qs if not q.active]
    if retired:
        raise SurveyError(f"Retired questions cannot be used in a new wave: {', '.join(sorted(retired))}.")
    if not any(q.kind == QuestionKind.LIKERT5.value for q in qs):
        raise SurveyError("A wave needs at least one rated (agree scale) question.")
    if sum(q.kind == QuestionKind.OBJECTIVE_PICK.value for q in qs) > 1:
        raise SurveyError("A wave can have only one objective-pick question.")
    if sum(q.kind == QuestionKind.TEXT.value for q in qs) > 1:
        raise SurveyError("A wave can have only one comment question.")
    n_dept = session.exec(
        select(func.count()).select_from(Department).where(col(Department.id).in_(list(department_ids)))
    ).one()
    if n_dept != len(set(department_ids)):
        raise SurveyError("Some chosen departments do not exist.")


def _set_members(session: Session, wave_id: int, question_ids: Sequence[int], department_ids: Collection[int]) -> None:
    for row in session.exec(select(WaveQuestion).where(WaveQuestion.wave_id == wave_id)).all():
        session.delete(row)
    for department_row in session.exec(select(WaveDepartment).where(WaveDepartment.wave_id == wave_id)).all():
        session.delete(department_row)
    session.flush()
    for pos, qid in enumerate(question_ids):
        session.add(WaveQuestion(wave_id=wave_id, question_id=int(qid), position=pos))
    for did in sorted(set(department_ids)):
        session.add(WaveDepartment(wave_id=wave_id, department_id=int(did)))
    session.flush()


@dataclass(frozen=True)
class WaveDefaults:
    """The privacy thresholds a new wave starts with (from the Scoring settings)."""

    min_group: int
    comment_min: int


def wave_defaults(*, session: Session) -> WaveDefaults:
    s = scoring_settings.load_settings(session=session)
    return WaveDefaults(min_group=s.default_k, comment_min=s.comment_min)


def create_wave(
    *,
    session: Session,
    name: str,
    opens_on: date,
    closes_on: date,
    question_ids: Sequence[int],
    department_ids: Collection[int],
    min_group: int | None = None,
    comment_min: int | None = None,
    actor: str,
) -> int:
    """Create a draft wave; returns its id. Questions keep the given order.

    ``min_group`` and ``comment_min`` default to the admin's Scoring settings (default k and
    comment threshold), which never go below the privacy floors.
    """
    defaults = wave_defaults(session=session)
    min_group = defaults.min_group if min_group is None else min_group
    comment_min = defaults.comment_min if comment_min is None else comment_min
    _check_wave_fields(name, opens_on, closes_on, min_group, comment_min)
    name = name.strip()
    if session.exec(select(SurveyWave).where(SurveyWave.name == name)).first():
        raise SurveyError(f"A wave named {name!r} already exists.")
    _check_members(session, question_ids, department_ids)
    wave = SurveyWave(
        name=name,
        opens_on=opens_on,
        closes_on=closes_on,
        status=WaveStatus.DRAFT.value,
        min_group=int(min_group),
        comment_min=int(comment_min),
    )
    session.add(wave)
    session.flush()
    _set_members(session, pk(wave), question_ids, department_ids)
    audit.record(
        session,
        actor=actor,
        action="create",
        entity="survey_wave",
        entity_id=wave.id,
        after={
            "name": name,
            "opens_on": opens_on,
            "closes_on": closes_on,
            "min_group": int(min_group),
            "comment_min": int(comment_min),
            "questions": list(question_ids),
            "departments": sorted(department_ids),
        },
    )
    return pk(wave)


def _wave_row(session: Session, wave_id: int) -> SurveyWave:
    wave = session.get(SurveyWave, wave_id)
    if wave is None:
        raise SurveyError(f"There is no survey wave with id {wave_id}.")
    return wave


def update_wave(
    *,
    session: Session,
    wave_id: int,
    name: str | None = None,
    opens_on: date | None = None,
    closes_on: date | None = None,
    min_group: int | None = None,
    comment_min: int | None = None,
    question_ids: Sequence[int] | None = None,
    department_ids: Collection[int] | None = None,
    actor: str,
) -> None:
    """Change a draft wave. Once open, only the closing date may move (not before today's
    opening date); thresholds, questions and departments are locked. A closed wave never changes."""
    wave = _wave_row(session, wave_id)
    if wave.status == WaveStatus.CLOSED.value:
        raise SurveyError(f"Wave {wave.name!r} is closed; a closed wave never changes.")
    before = _wave_info(session, wave)
    if wave.status == WaveStatus.OPEN.value:
        locked = {
            "name": name is not None and name.strip() != wave.name,
            "opening date": opens_on is not None and opens_on != wave.opens_on,
            "minimum group size": min_group is not None and int(min_group) != wave.min_group,
            "comment threshold": comment_min is not None and int(comment_min) != wave.comment_min,
            "questions": question_ids is not None and tuple(question_ids) != before.question_ids,
            "departments": department_ids is not None and tuple(sorted(department_ids)) != before.department_ids,
        }
        changed = [k for k, v in locked.items() if v]
        if changed:
            raise SurveyError(
                f"Wave {wave.name!r} is open, so its {', '.join(changed)} can no longer change "
                "(only the closing date can)."
            )
    new_name = name.strip() if name is not None else wave.name
    new_open = opens_on or wave.opens_on
    new_close = closes_on or wave.closes_on
    new_min = int(min_group) if min_group is not None else wave.min_group
    new_cmin = int(comment_min) if comment_min is not None else wave.comment_min
    _check_wave_fields(new_name, new_open, new_close, new_min, new_cmin)
    if new_name != wave.name and session.exec(select(SurveyWave).where(SurveyWave.name == new_name)).first():
        raise SurveyError(f"A wave named {new_name!r} already exists.")
    if question_ids is not None or department_ids is not None:
        qids = list(question_ids) if question_ids is not None else list(before.question_ids)
        dids = set(department_ids) if department_ids is not None else set(before.department_ids)
        _check_members(session, qids, dids)
        if wave.status == WaveStatus.DRAFT.value:
            _set_members(session, wave_id, qids, dids)
    wave.name, wave.opens_on, wave.closes_on, wave.min_group, wave.comment_min = (
        new_name,
        new_open,
        new_close,
        new_min,
        new_cmin,
    )
    session.add(wave)
    session.flush()
    after = _wave_info(session, wave)
    audit.record(
        session,
        actor=actor,
        action="update",
        entity="survey_wave",
        entity_id=wave.id,
        before=before.__dict__,
        after=after.__dict__,
    )


def open_wave(*, session: Session, wave_id: int, actor: str) -> None:
    """Open a draft wave: from now on its thresholds, questions and departments are locked."""
    wave = _wave_row(session, wave_id)
    if wave.status != WaveStatus.DRAFT.value:
        raise SurveyError(f"Wave {wave.name!r} is {wave.status}; only a draft wave can be opened.")
    info = _wave_info(session, wave)
    _check_members(session, info.question_ids, info.department_ids)
    wave.status = WaveStatus.OPEN.value
    session.add(wave)
    audit.record(
        session,
        actor=actor,
        action="open",
        entity="survey_wave",
        entity_id=wave.id,
        before={"status": "draft"},
        after={"status": "open", "min_group": wave.min_group, "comment_min": wave.comment_min},
    )


def close_wave(*, session: Session, wave_id: int, actor: str) -> None:
    """Close an open wave: its links stop working and it never changes again."""
    wave = _wave_row(session, wave_id)
    if wave.status != WaveStatus.OPEN.value:
        raise SurveyError(f"Wave {wave.name!r} is {wave.status}; only an open wave can be closed.")
    wave.status = WaveStatus.CLOSED.value
    session.add(wave)
    # E-mail addresses are kept only while the wave is open (they served invitations and reminders).
    addresses = session.exec(
        delete(InvitationAddress).where(
            col(InvitationAddress.invitation_id).in_(
                select(col(Invitation.id)).where(col(Invitation.wave_id) == wave_id)
            )
        )
    ).rowcount
    audit.record(
        session,
        actor=actor,
        action="close",
        entity="survey_wave",
        entity_id=wave.id,
        before={"status": "open"},
        after={"status": "closed", "addresses_deleted": int(addresses or 0)},
    )


def delete_draft_wave(*, session: Session, wave_id: int, actor: str) -> None:
    """Delete a draft wave that has no invitations yet (a mistake made while setting it up)."""
    wave = _wave_row(session, wave_id)
    if wave.status != WaveStatus.DRAFT.value:
        raise SurveyError(f"Wave {wave.name!r} is {wave.status}; only a draft wave can be deleted.")
    n_inv = session.exec(select(func.count()).select_from(Invitation).where(Invitation.wave_id == wave_id)).one()
    if n_inv:
        raise SurveyError(f"Wave {wave.name!r} already has {n_inv} personal links; it cannot be deleted.")
    _set_members(session, wave_id, [], [])
    session.delete(wave)
    audit.record(
        session, actor=actor, action="delete", entity="survey_wave", entity_id=wave_id, before={"name": wave.name}
    )


# ---------------------------------------------------------------------------- invitations


def _department_by_name(session: Session, name: str) -> Department:
    dept = session.exec(select(Department).where(Department.name == name.strip())).first()
    if dept is None:
        raise SurveyError(f"Unknown department: {name.strip()!r}.")
    return dept


def _check_can_invite(session: Session, wave: WaveInfo, department_ids: Collection[int]) -> None:
    if wave.status == WaveStatus.CLOSED.value:
        raise SurveyError(f"Wave {wave.name!r} is closed; no new links can be made for it.")
    outside = set(department_ids) - set(wave.department_ids)
    if outside:
        names = session.exec(select(col(Department.name)).where(col(Department.id).in_(sorted(outside)))).all()
        raise SurveyError(f"These departments are not part of wave {wave.name!r}: {', '.join(sorted(names))}.")
    signed_in = session.exec(
        select(col(Account.department_id), func.count())
        .select_from(WaveParticipant)
        .join(Account, col(Account.id) == col(WaveParticipant.account_id))
        .where(col(WaveParticipant.wave_id) == wave.id, col(Account.department_id).in_(list(department_ids)))
        .group_by(col(Account.department_id))
    ).all()
    if signed_in:
        raise SurveyError(
            "Some employees of these departments already answered this wave after signing in; "
            "personal links for them now could let someone answer twice."
        )


def check_can_invite(*, session: Session, wave_id: int, department_ids: Collection[int]) -> WaveInfo:
    """The wave, if personal links may be made for these departments; else :class:`SurveyError`."""
    wave = get_wave(session=session, wave_id=wave_id)
    _check_can_invite(session, wave, department_ids)
    return wave


def _new_invitations(
    session: Session, wave_id: int, department_id: int, count: int, key: bytes, base_url: str
) -> list[str]:
    links = []
    for _ in range(count):
        token = security.new_token(24)
        session.add(Invitation(wave_id=wave_id, department_id=department_id, token_hmac=hash_token(token, key)))
        links.append(survey_link(base_url, token))
    session.flush()
    return links


def invite_department(
    *,
    session: Session,
    wave_id: int,
    department: str | int,
    count: int,
    key: bytes,
    base_url: str,
    actor: str,
) -> pd.DataFrame:
    """Make ``count`` personal links for one department; returns ``department, link`` rows.

    The links are shown once: only HMACs of their tokens are stored.
    """
    wave = get_wave(session=session, wave_id=wave_id)
    dept = (
        session.get(Department, department) if isinstance(department, int) else _department_by_name(session, department)
    )
    if dept is None:
        raise SurveyError(f"Unknown department id {department}.")
    if not 1 <= int(count) <= MAX_LINKS_PER_BATCH:
        raise SurveyError(f"Make between 1 and {MAX_LINKS_PER_BATCH} links at a time.")
    _check_can_invite(session, wave, {pk(dept)})
    links = _new_invitations(session, wave.id, pk(dept), int(count), key, base_url)
    audit.record(
        session,
        actor=actor,
        action="invite",
        entity="survey_wave",
        entity_id=wave.id,
        after={"department": dept.name, "links": int(count)},
    )
    return pd.DataFrame({"department": [dept.name] * len(links), "link": links})


def parse_invitee_csv(*, text: str) -> pd.DataFrame:
    """Read an ``email,department`` CSV (header row required) into a DataFrame, checking every row."""
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text))
    rows = [r for r in reader if any(c.strip() for c in r)]
    if not rows:
        raise SurveyError("The CSV file is empty.")
    header = [c.strip().lower() for c in rows[0]]
    if "email" not in header or "department" not in header:
        raise SurveyError("The CSV needs a header row with the columns email and department.")
    ie, idp = header.index("email"), header.index("department")
    out, problems = [], []
    for line, row in enumerate(rows[1:], start=2):
        email = row[ie].strip() if ie < len(row) else ""
        dept = row[idp].strip() if idp < len(row) else ""
        if "@" not in email or email.startswith("@") or email.endswith("@") or len(email) > 320:
            problems.append(f"line {line}: not an e-mail address")
        elif not dept:
            problems.append(f"line {line}: no department")
        else:
            out.append({"email": email, "department": dept})
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise SurveyError(f"The CSV has problems, nothing was created: {shown}.")
    if not out:
        raise SurveyError("The CSV has a header but no rows.")
    if len(out) > MAX_LINKS_PER_BATCH:
        raise SurveyError(f"At most {MAX_LINKS_PER_BATCH} rows per file.")
    df = pd.DataFrame(out, columns=["email", "department"])
    dup = df["email"].str.lower().duplicated()
    if dup.any():
        raise SurveyError(f"E-mail addresses appear twice, nothing was created: {', '.join(df.loc[dup, 'email'][:5])}.")
    return df


def invite_from_csv(
    *, session: Session, wave_id: int, csv_text: str, key: bytes, base_url: str, actor: str
) -> pd.DataFrame:
    """One personal link per ``email,department`` row; returns ``email, department, link`` rows.

    The e-mail addresses are only copied into the returned table (for a mail merge); the
    database stores the department and the token's HMAC, nothing else.
    """
    invitees = parse_invitee_csv(text=csv_text)
    wave = get_wave(session=session, wave_id=wave_id)
    names = sorted(set(invitees["department"]))
    depts = {d.name: d for d in session.exec(select(Department).where(col(Department.name).in_(names))).all()}
    unknown = [n for n in names if n not in depts]
    if unknown:
        raise SurveyError(f"Unknown departments in the CSV, nothing was created: {', '.join(unknown[:10])}.")
    _check_can_invite(session, wave, {pk(d) for d in depts.values()})
    links = []
    for dept_name in invitees["department"]:
        links.extend(_new_invitations(session, wave.id, pk(depts[dept_name]), 1, key, base_url))
    audit.record(
        session,
        actor=actor,
        action="invite",
        entity="survey_wave",
        entity_id=wave.id,
        after={"links": len(links), "departments": names, "source": "csv"},
    )
    out = invitees.copy()
    out["link"] = links
    return out


def token_from_link(*, text: str) -> str:
    """The token of a personal link as HR pastes it: the whole link, or the token alone."""
    text = (text or "").strip()
    if "token=" in text:
        text = text.split("token=", 1)[1].split("&", 1)[0].split("#", 1)[0]
    return text


def _live_invitation(session: Session, token: str, key: bytes) -> Invitation:
    """The invitation of a link HR wants to replace: it must exist, be unused, unrevoked, of a wave not closed."""
    if not token or len(token) > 200:
        raise SurveyError("Paste the whole personal link (or its token) as it was sent.")
    inv = session.exec(select(Invitation).where(Invitation.token_hmac == hash_token(token, key))).first()
    if inv is None:
        raise SurveyError("This is not a personal link of this portal (it may have been mistyped or cut short).")
    if inv.used:
        raise SurveyError("This link has been used: the person's answers are in, so there is nothing to reissue.")
    if inv.revoked:
        raise SurveyError("This link was already withdrawn or replaced; look for the newer link in your list.")
    wave = get_wave(session=session, wave_id=inv.wave_id)
    if wave.status == WaveStatus.CLOSED.value:
        raise SurveyError(f"Wave {wave.name!r} is closed; its links can no longer change.")
    return inv


def _revoke(session: Session, where: Sequence[Any]) -> int:
    """Revoke the unused, unrevoked links matching ``where``; a link claimed by a submit meanwhile is left alone."""
    result = session.exec(
        update(Invitation)
        .where(*where, col(Invitation.used) == False, col(Invitation.revoked) == False)  # noqa: E712
        .values(revoked=True)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def reissue_link(*, session: Session, link: str, key: bytes, base_url: str, actor: str) -> str:
    """Replace one person's lost or leaked link: the old link stops working, a new one (returned once) works.

    HR finds the person's old link in the list it downloaded when the links were made. The new
    link is for the same wave and department, and the old one is revoked in the same
    transaction, so the invited count and the participation denominator do not grow. A link
    already used (the answers are in) or revoked is refused. Audited, without either token.
    """
    inv = _live_invitation(session, token_from_link(text=link), key)
    if _revoke(session, [Invitation.id == inv.id]) != 1:
        raise SurveyError("This link was used a moment ago: the person's answers are in.")
    [new_link] = _new_invitations(session, inv.wave_id, inv.department_id, 1, key, base_url)
    dept = session.get(Department, inv.department_id)
    audit.record(
        session,
        actor=actor,
        action="reissue_link",
        entity="survey_wave",
        entity_id=inv.wave_id,
        after={"department": dept.name if dept else inv.department_id, "revoked": 1, "links": 1},
    )
    return new_link


def revoke_unused_links(*, session: Session, wave_id: int, actor: str, department_id: int | None = None) -> int:
    """Withdraw every unused link of a wave that is not closed (optionally of one department); returns how many.

    For links made by mistake or sent to the wrong people: they stop opening the survey and no
    longer count as invited. Used links are never touched (their answers stay in). Audited.
    """
    wave = get_wave(session=session, wave_id=wave_id)
    if wave.status == WaveStatus.CLOSED.value:
        raise SurveyError(f"Wave {wave.name!r} is closed; its links and participation never change.")
    where: list[Any] = [Invitation.wave_id == wave_id]
    dept_name = None
    if department_id is not None:
        dept = session.get(Department, department_id)
        if dept is None:
            raise SurveyError(f"Unknown department id {department_id}.")
        where.append(Invitation.department_id == department_id)
        dept_name = dept.name
    revoked = _revoke(session, where)
    if revoked:
        audit.record(
            session,
            actor=actor,
            action="revoke_links",
            entity="survey_wave",
            entity_id=wave_id,
            after={"department": dept_name or "all departments", "revoked": revoked},
        )
    return revoked


def links_csv(*, links: pd.DataFrame) -> str:
    """The links table as CSV text for a mail merge (via :func:`kpialign.services.kpi_import.write_csv`:
    cells that a spreadsheet would read as formulas are neutralised)."""
    return csv_out.write_csv(links).decode("utf-8")


# ----------------------------------------------------------------------------- answering


def _real_objectives(session: Session) -> list[str]:
    return list(
        session.exec(
            select(col(Objective.title))
            .where(col(Objective.active) == True, col(Objective.parent_id).is_(None))  # noqa: E712
            .order_by(col(Objective.code))
        ).all()
    )


def _decoys(q: Question) -> list[str]:
    if q.options:
        try:
            values = json.loads(q.options)
            return [str(v) for v in values]
        except (ValueError, TypeError):
            pass
    return list(DECOY_OBJECTIVES)


def objective_options(*, real: Sequence[str], decoys: Sequence[str], wave_id: int) -> tuple[str, ...]:
    """Real objectives and decoys in one list, shuffled the same way for everyone in a wave."""
    options = list(dict.fromkeys([*real, *[d for d in decoys if d not in set(real)]]))
    options.sort()
    random.Random(f"kpialign-wave-{wave_id}").shuffle(options)
    return tuple(options)


def survey_form(*, session: Session, wave_id: int, department_id: int) -> SurveyForm:
    """The items of a wave as a respondent sees them (the objective-pick options included)."""
    wave = get_wave(session=session, wave_id=wave_id)
    dept = session.get(Department, department_id)
    qs = {q.id: q for q in session.exec(select(Question).where(col(Question.id).in_(list(wave.question_ids)))).all()}
    items = []
    for qid in wave.question_ids:
        q = qs[qid]
        options: tuple[str, ...] = ()
        if q.kind == QuestionKind.OBJECTIVE_PICK.value:
            options = objective_options(real=_real_objectives(session), decoys=_decoys(q), wave_id=wave.id)
        items.append(SurveyItem(int(qid), q.code, q.text, q.kind, q.dimension, options))
    return SurveyForm(wave=wave, department_id=department_id, department=dept.name if dept else "", items=tuple(items))


def check_token(*, session: Session, token: str, key: bytes, today: date | None = None) -> SurveyForm:
    """The form a personal link opens, or :class:`LinkProblem` (unknown, used, not open, expired, closed)."""
    today = today or date.today()
    if not token or len(token) > 200:
        raise LinkProblem("unknown")
    inv = session.exec(select(Invitation).where(Invitation.token_hmac == hash_token(token, key))).first()
    if inv is None:
        raise LinkProblem("unknown")
    wave = get_wave(session=session, wave_id=inv.wave_id)
    reason = wave.accepting(today)
    if reason == "closed":
        raise LinkProblem(reason)
    if inv.used:
        raise LinkProblem("used")
    if inv.revoked:
        raise LinkProblem("revoked")
    if reason:
        raise LinkProblem(reason)
    return survey_form(session=session, wave_id=inv.wave_id, department_id=inv.department_id)


def _link_departments(session: Session, wave_id: int) -> set[int]:
    return set(session.exec(select(Invitation.department_id).where(Invitation.wave_id == wave_id).distinct()).all())


def waves_for_account(*, session: Session, account_id: int, today: date | None = None) -> pd.DataFrame:
    """The waves a signed-in employee may answer now: open, in dates, their department included,
    the department not surveyed through personal links. Columns: ``wave_id, name, closes_on, answered``."""
    today = today or date.today()
    account = session.get(Account, account_id)
    cols = ["wave_id", "name", "closes_on", "answered"]
    if account is None or not account.active or account.department_id is None:
        return pd.DataFrame(columns=cols)
    stmt = (
        select(SurveyWave)
        .join(WaveDepartment, col(WaveDepartment.wave_id) == col(SurveyWave.id))
        .where(
            col(WaveDepartment.department_id) == account.department_id,
            col(SurveyWave.status) == WaveStatus.OPEN.value,
            col(SurveyWave.opens_on) <= today,
            col(SurveyWave.closes_on) >= today,
        )
        .order_by(col(SurveyWave.closes_on))
    )
    answered = set(session.exec(select(WaveParticipant.wave_id).where(WaveParticipant.account_id == account_id)).all())
    rows = [
        {"wave_id": w.id, "name": w.name, "closes_on": w.closes_on, "answered": w.id in answered}
        for w in session.exec(stmt).all()
        if account.department_id not in _link_departments(session, pk(w))
    ]
    return pd.DataFrame(rows, columns=cols)


def account_form(*, session: Session, account_id: int, wave_id: int, today: date | None = None) -> SurveyForm:
    """The form for a signed-in employee, or :class:`LinkProblem` (``not_invited``, ``used``, ...)."""
    today = today or date.today()
    account = session.get(Account, account_id)
    if account is None or not account.active or account.department_id is None:
        raise LinkProblem("not_invited")
    wave = get_wave(session=session, wave_id=wave_id)
    reason = wave.accepting(today)
    if reason:
        raise LinkProblem(reason)
    if account.department_id not in wave.department_ids or account.department_id in _link_departments(session, wave_id):
        raise LinkProblem("not_invited")
    if session.get(WaveParticipant, (wave_id, account_id)) is not None:
        raise LinkProblem("used")
    return survey_form(session=session, wave_id=wave_id, department_id=int(account.department_id))


@dataclass(frozen=True)
class Submitted:
    """What the thank-you page needs; deliberately not the response id."""

    wave_name: str
    answered: int
    skipped: int


def _validated_answers(
    session: Session,
    form: SurveyForm,
    answers: Mapping[int, int | None],
    objective_picks: Collection[str] | None,
    comment: str | None,
) -> tuple[dict[int, int], str | None, int]:
    items = {i.question_id: i for i in form.items}
    unknown = set(answers) - {qid for qid, i in items.items() if i.kind == QuestionKind.LIKERT5.value}
    if unknown:
        raise SurveyError("Some answers are for questions that are not in this survey.")
    values: dict[int, int] = {}
    for qid, value in answers.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise SurveyError("Answers are on a scale from 1 to 5 (or 'prefer not to say').")
        values[int(qid)] = value
    pick_item = next((i for i in form.items if i.kind == QuestionKind.OBJECTIVE_PICK.value), None)
    if objective_picks is not None:
        if pick_item is None:
            raise SurveyError("This survey has no objective-pick question.")
        picked = set(objective_picks)
        if not picked <= set(pick_item.options):
            raise SurveyError("Some picked objectives were not among the choices.")
        real = set(_real_objectives(session))
        decoys = set(pick_item.options) - real
        values[pick_item.question_id] = objective_pick_score(picked=picked, real=real, decoys=decoys)
    text = (comment or "").strip()
    if text:
        if not form.has_comment:
            raise SurveyError("This survey has no comment question.")
        if len(text) > MAX_COMMENT_CHARS:
            raise SurveyError(f"A comment can have at most {MAX_COMMENT_CHARS} characters.")
    skipped = len(form.rated_items) - len(values)
    return values, (text or None), skipped


def _insert_participant(session: Session, wave_id: int, account_id: int) -> bool:
    """Insert the ``wave_participant`` row unless it exists; True if this call inserted it.

    ``RETURNING`` tells, on both backends, whether a row went in (psycopg reports no rowcount
    for ``INSERT ... ON CONFLICT DO NOTHING``).
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = table_of(WaveParticipant)
    stmt = (
        insert(table).values(wave_id=wave_id, account_id=account_id).on_conflict_do_nothing().returning(table.c.wave_id)
    )
    return session.execute(stmt).first() is not None


def _hold_open_wave(session: Session, wave_id: int) -> None:
    """Share-lock the wave row until this transaction ends, then check that it is still open.

    A wave closed while someone submits must not take the response: the check done when the
    form was read may be stale by now. On PostgreSQL ``SELECT ... FOR SHARE`` waits for a close
    in flight (and then reads the committed status), and a close waits for this submit to commit,
    so a response is committed only while its wave is open. SQLite renders no lock clause; there
    ``BEGIN IMMEDIATE`` already serialises every write transaction.
    """
    status = session.execute(
        select(SurveyWave.status).where(SurveyWave.id == wave_id).with_for_update(read=True)
    ).scalar_one_or_none()
    if status != WaveStatus.OPEN.value:
        raise LinkProblem("closed")


def submit_response(
    *,
    session: Session,
    answers: Mapping[int, int | None],
    token: str | None = None,
    key: bytes | None = None,
    account_id: int | None = None,
    wave_id: int | None = None,
    objective_picks: Collection[str] | None = None,
    comment: str | None = None,
    today: date | None = None,
) -> Submitted:
    """Store one response, from a personal link (``token`` + ``key``) or a signed-in account
    (``account_id`` + ``wave_id``). Call inside :func:`kpialign.db.write_session`.

    In the caller's single transaction: check the link or account, share-lock the wave row and
    check it is still open (:func:`_hold_open_wave`), claim the link with a conditional
    ``UPDATE invitation SET used = true WHERE ... AND used = false`` (or an insert of the
    ``wave_participant`` row that does nothing on conflict) and check that exactly one row was
    claimed, then insert the response (random id, department, day only), its answers and the
    optional comment. A concurrent or repeated submit claims nothing and raises
    :class:`LinkProblem` ``("used")``, so the transaction rolls back and exactly one response exists.

    ``answers`` maps question id -> 1..5, or ``None`` for "prefer not to say" (not stored).
    ``objective_picks`` are the chosen options of the objective-pick item (``None`` = skipped);
    only the resulting knowledge score is stored.
    """
    today = today or date.today()
    if token is not None:
        if key is None:
            raise SurveyError("A key is needed to check a survey link.")
        form = check_token(session=session, token=token, key=key, today=today)
        values, text, skipped = _validated_answers(session, form, answers, objective_picks, comment)
        _hold_open_wave(session, form.wave.id)
        claim = session.exec(
            update(Invitation)
            .where(
                col(Invitation.token_hmac) == hash_token(token, key),
                col(Invitation.used) == False,  # noqa: E712
                col(Invitation.revoked) == False,  # noqa: E712  (revoked meanwhile: claims nothing)
            )
            .values(used=True)
            .execution_options(synchronize_session=False)
        )
        if claim.rowcount != 1:
            raise LinkProblem("used")
    elif account_id is not None and wave_id is not None:
        form = account_form(session=session, account_id=account_id, wave_id=wave_id, today=today)
        values, text, skipped = _validated_answers(session, form, answers, objective_picks, comment)
        _hold_open_wave(session, wave_id)
        if not _insert_participant(session, wave_id, account_id):
            raise LinkProblem("used")
    else:
        raise SurveyError("Say who answers: a personal link, or a signed-in account and a wave.")
    response_id = new_uuid()
    session.add(Response(id=response_id, wave_id=form.wave.id, department_id=form.department_id, submitted_on=today))
    session.flush()
    for qid, value in values.items():
        session.add(Answer(response_id=response_id, question_id=qid, value=value))
    if text:
        session.add(Comment(response_id=response_id, text=text))
    session.flush()
    return Submitted(wave_name=form.wave.name, answered=len(form.rated_items) - skipped, skipped=skipped)


# ------------------------------------------------------------------------- participation


def participation(*, session: Session, wave_id: int) -> pd.DataFrame:
    """Invited, responded and response rate per department of a wave.

    ``invited`` is the number of personal links; for a department without links, its headcount in
    the wave's month where one is recorded (``department_headcount``), else the number of active
    accounts in it (they answer after signing in). Rows where fewer than the wave's
    ``min_group`` were invited have ``shown = False`` and no counts (``<NA>``); a total row
    (``department = "All departments"``) is added, and if it would let a hidden department be
    recovered by subtraction, further departments are hidden (complementary suppression).
    Columns: ``department_id, department, invited, responded, rate, shown``.
    """
    wave = get_wave(session=session, wave_id=wave_id)
    cols = ["department_id", "department", "invited", "responded", "rate", "shown"]
    if not wave.department_ids:
        return pd.DataFrame(columns=cols)
    names = dict(
        session.exec(
            select(col(Department.id), col(Department.name)).where(col(Department.id).in_(wave.department_ids))
        ).all()
    )
    # Revoked links (withdrawn, or replaced by a reissued one) are not invited; a department
    # surveyed through links stays one even when all its links are revoked (invited 0).
    links = dict(
        session.exec(
            select(col(Invitation.department_id), func.sum(case((col(Invitation.revoked) == True, 0), else_=1)))  # noqa: E712
            .where(col(Invitation.wave_id) == wave_id)
            .group_by(col(Invitation.department_id))
        ).all()
    )
    accounts = dict(
        session.exec(
            select(col(Account.department_id), func.count())
            .where(col(Account.active) == True, col(Account.department_id).in_(wave.department_ids))  # noqa: E712
            .group_by(col(Account.department_id))
        ).all()
    )
    responded = dict(
        session.exec(
            select(col(Response.department_id), func.count())
            .where(col(Response.wave_id) == wave_id)
            .group_by(col(Response.department_id))
        ).all()
    )
    recorded = headcount.recorded_in(
        session=session,
        period=f"{wave.opens_on.year:04d}-{wave.opens_on.month:02d}",
        department_ids=wave.department_ids,
    )
    df = pd.DataFrame(
        {
            "department_id": list(wave.department_ids),
            "department": [names.get(d, "") for d in wave.department_ids],
            # a department with links counts its live (non-revoked) links, even when that is 0
            "invited": [
                int(links[d] if d in links else (recorded.get(d) or accounts.get(d) or 0)) for d in wave.department_ids
            ],
            "responded": [int(responded.get(d, 0)) for d in wave.department_ids],
        }
    )
    df["parent"] = 0
    df = privacy.suppress_counts(df, ["department_id"], "invited", wave.min_group, parent_col="parent")
    total_invited, total_responded = int(df["invited"].sum()), int(df["responded"].sum())
    df["shown"] = ~df["suppressed"]
    df = df.drop(columns=["parent", "suppressed"]).sort_values("department").reset_index(drop=True)
    total = pd.DataFrame(
        [
            {
                "department_id": None,
                "department": "All departments",
                "invited": total_invited,
                "responded": total_responded,
                "shown": total_invited >= wave.min_group,
            }
        ]
    )
    out = pd.concat([df, total], ignore_index=True)
    out["invited"] = out["invited"].astype("Int64")
    out["responded"] = out["responded"].astype("Int64")
    out.loc[~out["shown"], ["invited", "responded"]] = pd.NA
    inv = out["invited"].astype("Float64")
    out["rate"] = (out["responded"].astype("Float64") / inv.where(inv > 0)).round(4)
    out["department_id"] = out["department_id"].astype("Int64")
    return out[cols]


def participation_csv(*, session: Session, wave_id: int) -> str:
    """Participation of a wave as CSV (hidden cells are empty)."""
    df = participation(session=session, wave_id=wave_id).drop(columns=["department_id"])
    df.insert(0, "wave", get_wave(session=session, wave_id=wave_id).name)
    return csv_out.write_csv(df).decode("utf-8")


# ------------------------------------------------------------------- aggregates for scoring


def response_counts(*, session: Session, wave_ids: Collection[int] | None = None) -> pd.DataFrame:
    """Responses per wave x department (SQL aggregate). Columns: ``wave_id, department_id, n``."""
    stmt = select(col(Response.wave_id), col(Response.department_id), func.count().label("n")).group_by(
        col(Response.wave_id), col(Response.department_id)
    )
    if wave_ids is not None:
        stmt = stmt.where(col(Response.wave_id).in_(list(wave_ids)))
    rows = session.exec(stmt).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=["wave_id", "department_id", "n"]).astype("int64")


def answer_counts(*, session: Session, wave_ids: Collection[int] | None = None) -> pd.DataFrame:
    """Answers counted per wave x department x question x value, in SQL.

    Columns: ``wave_id, department_id, question_id, code, kind, value, n``. Raw counts: apply
    :mod:`kpialign.core.privacy` (group size from :func:`response_counts`) before showing anything.
    Objective-pick values are knowledge scores 0..100.
    """
    stmt = (
        sa.select(
            col(Response.wave_id),
            col(Response.department_id),
            col(Answer.question_id),
            col(Question.code),
            col(Question.kind),
            col(Answer.value),
            func.count().label("n"),
        )
        .join(Response, col(Response.id) == col(Answer.response_id))
        .join(Question, col(Question.id) == col(Answer.question_id))
        .group_by(
            col(Response.wave_id),
            col(Response.department_id),
            col(Answer.question_id),
            col(Question.code),
            col(Question.kind),
            col(Answer.value),
        )
    )
    if wave_ids is not None:
        stmt = stmt.where(col(Response.wave_id).in_(list(wave_ids)))
    rows = session.execute(stmt).all()
    df = pd.DataFrame(
        [tuple(r) for r in rows], columns=["wave_id", "department_id", "question_id", "code", "kind", "value", "n"]
    )
    for c in ("wave_id", "department_id", "question_id", "value", "n"):
        df[c] = df[c].astype("int64")
    return df.sort_values(["wave_id", "department_id", "question_id", "value"]).reset_index(drop=True)


@dataclass(frozen=True)
class Comments:
    """Comments of one group: ``texts`` is empty unless ``shown`` (at least the wave's comment threshold)."""

    n: int
    shown: bool
    texts: tuple[str, ...]


def comments(*, session: Session, wave_id: int, department_ids: Collection[int] | None = None) -> Comments:
    """The comments of a wave (optionally of some departments), alphabetically so that their
    order reveals nothing; withheld unless there are at least the wave's ``comment_min``."""
    wave = get_wave(session=session, wave_id=wave_id)
    stmt = (
        select(col(Comment.text))
        .join(Response, col(Response.id) == col(Comment.response_id))
        .where(col(Response.wave_id) == wave_id)
    )
    if department_ids is not None:
        stmt = stmt.where(col(Response.department_id).in_(list(department_ids)))
    texts = sorted(session.exec(stmt).all(), key=str.casefold)
    shown = privacy.comments_visible(len(texts), wave.comment_min)
    return Comments(n=len(texts), shown=shown, texts=tuple(texts) if shown else ())


# -------------------------------------------------------------------------- reading comments


@dataclass(frozen=True)
class DepartmentComments:
    """One department's comments in one closed wave, in random order, without dates or answers."""

    wave: str
    department: str
    texts: tuple[str, ...]


def comment_waves(*, session: Session) -> pd.DataFrame:
    """The waves whose comments may be read (closed ones), newest first: ``id, name, threshold``
    (the comment threshold in force: the wave's, never below :data:`privacy.COMMENT_MIN`)."""
    waves = list_waves(session=session)
    released = waves[waves["status"].map(privacy.results_released)].copy()
    released["threshold"] = released["comment_min"].map(lambda n: max(privacy.COMMENT_MIN, int(n)))
    return released.sort_values("closes_on", ascending=False)[["id", "name", "threshold"]].reset_index(drop=True)


def _released_wave(session: Session, wave_id: int) -> WaveInfo:
    wave = get_wave(session=session, wave_id=wave_id)
    if not privacy.results_released(wave.status):
        raise SurveyError(f"Wave {wave.name!r} is {wave.status}: its comments can be read once it is closed.")
    return wave


def _comment_sizes(session: Session, wave_id: int) -> pd.DataFrame:
    rows = session.exec(
        select(col(Response.department_id), func.count())
        .join(Comment, col(Comment.response_id) == col(Response.id))
        .where(col(Response.wave_id) == wave_id)
        .group_by(col(Response.department_id))
    ).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=["department_id", "n"])


def comment_departments(
    *, session: Session, wave_id: int, department_ids: Collection[int] | None = None
) -> pd.DataFrame:
    """Departments of a closed wave whose comments may be read: ``department_id, department, comments``.

    Only those at or above the wave's comment threshold (see :func:`privacy.comment_groups_shown`),
    optionally limited to ``department_ids`` (a manager's units). How many comments a hidden
    department has is not said.
    """
    wave = _released_wave(session, wave_id)
    sizes = _comment_sizes(session, wave.id)
    shown = privacy.comment_groups_shown(sizes, wave.comment_min)
    if department_ids is not None:
        shown &= set(department_ids)
    cols = ["department_id", "department", "comments"]
    if not shown:
        return pd.DataFrame(columns=cols)
    names = dict(
        session.exec(select(col(Department.id), col(Department.name)).where(col(Department.id).in_(shown))).all()
    )
    n = dict(zip(sizes["department_id"].astype(int), sizes["n"].astype(int), strict=True))
    rows = [{"department_id": d, "department": names.get(d, ""), "comments": n[d]} for d in shown]
    return pd.DataFrame(rows, columns=cols).sort_values("department").reset_index(drop=True)


def read_comments(*, session: Session, wave_id: int, department_id: int, user: UserContext) -> DepartmentComments:
    """One department's comments in a closed wave, for a leader (any department) or a manager (their units).

    Refused for an open or draft wave, below the comment threshold, and outside a manager's
    scope. The texts come in a fresh random order on every read (no submission order, no
    dates, no other answers beside them). Every read is audited: who read which department's
    comments of which wave, and how many.
    """
    wave = _released_wave(session, wave_id)
    if not user.has(Role.LEADER.value) and not (user.has(Role.MANAGER.value) and user.manages(department_id)):
        raise SurveyError("You can read the comments of the units you manage only.")
    if department_id not in privacy.comment_groups_shown(_comment_sizes(session, wave.id), wave.comment_min):
        raise SurveyError(
            f"This department has fewer than {max(privacy.COMMENT_MIN, wave.comment_min)} comments in "
            f"{wave.name}, so they are not shown."
        )
    texts = list(
        session.exec(
            select(col(Comment.text))
            .join(Response, col(Response.id) == col(Comment.response_id))
            .where(col(Response.wave_id) == wave.id, col(Response.department_id) == department_id)
        ).all()
    )
    secrets.SystemRandom().shuffle(texts)
    dept = session.get(Department, department_id)
    name = dept.name if dept else str(department_id)
    audit.record(
        session,
        actor=user.email,
        action="read_comments",
        entity="survey_wave",
        entity_id=wave.id,
        after={"department": name, "comments": len(texts)},
    )
    return DepartmentComments(wave=wave.name, department=name, texts=tuple(texts))
