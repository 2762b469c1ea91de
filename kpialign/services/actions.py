"""Actions: one object for KPI reviews and survey follow-up alike.

An action belongs to a department and may point at an objective, a KPI, a survey question and
wave, and the review that decided it. Who may do what (checked here, not only in navigation):

- admins and leaders create and change every action;
- a manager creates and changes the actions of the units they manage (their subtree);
- the owner of an action may move its status and record its outcome;
- everybody sees "My actions"; managers see their units, KPI owners their departments,
  leaders and admins the organisation.

Rules: a due date in the past is accepted only when recording an action that is already done
(history typed in after the fact); status changes keep ``started_on`` and ``closed_on`` (the
"did it work?" comparison starts at ``started_on``). Every write is audited in the caller's
transaction; nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import ColumnElement, literal, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from kpialign import audit
from kpialign.core.errors import Refused
from kpialign.models import (
    Account,
    Action,
    ActionStatus,
    Department,
    Kpi,
    Objective,
    Question,
    Review,
    Role,
    SurveyWave,
)
from kpialign.services.accounts import UserContext

OPEN_STATUSES = (ActionStatus.NOT_STARTED.value, ActionStatus.IN_PROGRESS.value)
STATUS_LABELS = {
    ActionStatus.NOT_STARTED.value: "Not started",
    ActionStatus.IN_PROGRESS.value: "In progress",
    ActionStatus.DONE.value: "Done",
    ActionStatus.CANCELLED.value: "Cancelled",
}
TITLE_MAX = 300
TEXT_MAX = 5000

ACTION_COLUMNS = [
    "action_id",
    "title",
    "status",
    "status_label",
    "due_on",
    "overdue",
    "owner_id",
    "owner",
    "department_id",
    "department",
    "objective_id",
    "objective",
    "kpi_id",
    "kpi",
    "question_id",
    "question",
    "question_text",
    "wave_id",
    "wave",
    "review_id",
    "review_period",
    "started_on",
    "closed_on",
    "outcome",
    "description",
    "created_by",
    "created_at",
]


class ActionError(Refused):
    """An action change was refused; the message is safe to show. Nothing was written."""


# ---------------------------------------------------------------------------------- scope


def sees_everything(*, user: UserContext) -> bool:
    return user.has(Role.ADMIN.value, Role.LEADER.value)


def may_manage(*, user: UserContext, department_id: int) -> bool:
    """Whether ``user`` may create and change any action of ``department_id``."""
    return sees_everything(user=user) or user.manages(department_id)


def visible_departments(*, user: UserContext) -> frozenset[int] | None:
    """The departments whose actions ``user`` may list (``None``: all of them)."""
    if sees_everything(user=user):
        return None
    return frozenset(user.managed_departments | user.owner_departments)


# --------------------------------------------------------------------------------- writes


def _text(value: object, what: str, max_len: int, *, required: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise ActionError(f"An action needs a {what}.")
    if len(text) > max_len:
        raise ActionError(f"The {what} is too long (at most {max_len} characters).")
    return text


def _status(value: str) -> str:
    try:
        return ActionStatus(value).value
    except ValueError:
        raise ActionError(
            f"Unknown status {value!r}: choose one of {', '.join(s.value for s in ActionStatus)}."
        ) from None


def _check_due(due_on: date | None, status: str, today: date) -> None:
    if due_on is not None and due_on < today and status != ActionStatus.DONE.value:
        raise ActionError(
            f"The due date {due_on.isoformat()} is in the past. A past due date is accepted only "
            "when you record an action that is already done."
        )


def _check_links(session: Session, action: Action) -> None:
    if session.get(Department, action.department_id) is None:
        raise ActionError(f"There is no department #{action.department_id}.")
    if action.owner_id is not None:
        owner = session.get(Account, action.owner_id)
        if owner is None or not owner.active:
            raise ActionError("The owner must be an active account.")
    if action.kpi_id is not None:
        kpi = session.get(Kpi, action.kpi_id)
        if kpi is None:
            raise ActionError(f"There is no KPI #{action.kpi_id}.")
        if kpi.department_id != action.department_id:
            raise ActionError(f"KPI {kpi.name!r} belongs to another department.")
    if action.objective_id is not None and session.get(Objective, action.objective_id) is None:
        raise ActionError(f"There is no objective #{action.objective_id}.")
    if action.question_id is not None and session.get(Question, action.question_id) is None:
        raise ActionError(f"There is no question #{action.question_id}.")
    if action.wave_id is not None and session.get(SurveyWave, action.wave_id) is None:
        raise ActionError(f"There is no survey wave #{action.wave_id}.")
    if action.review_id is not None:
        review = session.get(Review, action.review_id)
        if review is None:
            raise ActionError(f"There is no review #{action.review_id}.")
        if review.department_id != action.department_id:
            raise ActionError("The review belongs to another department.")


def _snapshot(action: Action) -> dict:
    return action.model_dump(exclude={"created_at"})


def _apply_status_dates(action: Action, old_status: str | None, today: date) -> None:
    new = action.status
    if new == old_status:
        return
    if new in (ActionStatus.IN_PROGRESS.value, ActionStatus.DONE.value) and action.started_on is None:
        action.started_on = today
    if new in (ActionStatus.DONE.value, ActionStatus.CANCELLED.value):
        action.closed_on = action.closed_on if old_status is None and action.closed_on else today
    else:
        action.closed_on = None


def create_action(
    *,
    session: Session,
    user: UserContext,
    title: str,
    department_id: int,
    owner_id: int | None = None,
    due_on: date | None = None,
    status: str = ActionStatus.NOT_STARTED.value,
    description: str = "",
    objective_id: int | None = None,
    kpi_id: int | None = None,
    question_id: int | None = None,
    wave_id: int | None = None,
    review_id: int | None = None,
    started_on: date | None = None,
    closed_on: date | None = None,
    outcome: str = "",
    today: date | None = None,
) -> Action:
    """Create an action (audited). Only admins, leaders and the department's managers may."""
    today = today or date.today()
    if not may_manage(user=user, department_id=department_id):
        raise ActionError("Only the department's manager, a leader or an admin can add actions for it.")
    status = _status(status)
    _check_due(due_on, status, today)
    if started_on is not None and started_on > today:
        raise ActionError("An action cannot have started in the future.")
    if closed_on is not None and (status not in (ActionStatus.DONE.value, ActionStatus.CANCELLED.value)):
        raise ActionError("Only a done or cancelled action has a closing date.")
    action = Action(
        title=_text(title, "title", TITLE_MAX, required=True),
        description=_text(description, "description", TEXT_MAX),
        owner_id=owner_id,
        due_on=due_on,
        status=status,
        department_id=department_id,
        objective_id=objective_id,
        kpi_id=kpi_id,
        question_id=question_id,
        wave_id=wave_id,
        review_id=review_id,
        created_by=user.email,
        started_on=started_on,
        closed_on=closed_on,
        outcome=_text(outcome, "outcome", TEXT_MAX),
    )
    if action.question_id is None and action.wave_id is not None:
        raise ActionError("Choose the survey question the action follows up, not only the wave.")
    _check_links(session, action)
    _apply_status_dates(action, None, today)
    session.add(action)
    session.flush()
    audit.record(
        session, actor=user.email, action="create", entity="action", entity_id=action.id, after=_snapshot(action)
    )
    return action


_OWNER_FIELDS = {"status", "outcome"}
_FIELDS = {
    "title",
    "description",
    "owner_id",
    "due_on",
    "status",
    "objective_id",
    "kpi_id",
    "question_id",
    "wave_id",
    "review_id",
    "outcome",
}


def update_action(
    *, session: Session, user: UserContext, action_id: int, today: date | None = None, **changes: object
) -> Action:
    """Change an action (audited with before and after).

    A manager of its department, a leader or an admin may change anything; the action's owner
    may change its status and outcome.
    """
    today = today or date.today()
    action = session.get(Action, action_id)
    if action is None:
        raise ActionError(f"There is no action #{action_id}.")
    unknown = set(changes) - _FIELDS
    if unknown:
        raise ActionError(f"These cannot be changed: {', '.join(sorted(unknown))}.")
    is_owner = user.account_id is not None and action.owner_id == user.account_id
    if not may_manage(user=user, department_id=action.department_id) and not (
        is_owner and set(changes) <= _OWNER_FIELDS
    ):
        raise ActionError("You may change only the status and outcome of your own actions.")
    before = _snapshot(action)
    old_status = action.status
    for key, value in changes.items():
        if key == "title":
            value = _text(value, "title", TITLE_MAX, required=True)
        elif key in ("description", "outcome"):
            value = _text(value, key, TEXT_MAX)
        elif key == "status":
            value = _status(str(value))
        setattr(action, key, value)
    if "due_on" in changes:
        # here: only a new due date is checked; an overdue action can still change its status
        _check_due(action.due_on, action.status, today)
    _check_links(session, action)
    _apply_status_dates(action, old_status, today)
    after = _snapshot(action)
    if after == before:
        return action
    session.add(action)
    session.flush()
    audit.record(
        session, actor=user.email, action="update", entity="action", entity_id=action.id, before=before, after=after
    )
    return action


# ---------------------------------------------------------------------------------- reads


def _frame(session: Session, *conditions, today: date | None = None) -> pd.DataFrame:
    today = today or date.today()
    owner = aliased(Account)
    stmt = (
        select(
            col(Action.id),
            col(Action.title),
            col(Action.status),
            col(Action.due_on),
            col(Action.owner_id),
            col(owner.name),
            col(owner.email),
            col(Action.department_id),
            col(Department.name),
            col(Action.objective_id),
            col(Objective.code),
            col(Action.kpi_id),
            col(Kpi.name),
            col(Action.question_id),
            col(Question.code),
            col(Question.text),
            col(Action.wave_id),
            col(SurveyWave.name),
            col(Action.review_id),
            col(Review.period),
            col(Action.started_on),
            col(Action.closed_on),
            col(Action.outcome),
            col(Action.description),
            col(Action.created_by),
            col(Action.created_at),
        )
        .join(Department, col(Department.id) == col(Action.department_id))
        .outerjoin(owner, col(owner.id) == col(Action.owner_id))
        .outerjoin(Objective, col(Objective.id) == col(Action.objective_id))
        .outerjoin(Kpi, col(Kpi.id) == col(Action.kpi_id))
        .outerjoin(Question, col(Question.id) == col(Action.question_id))
        .outerjoin(SurveyWave, col(SurveyWave.id) == col(Action.wave_id))
        .outerjoin(Review, col(Review.id) == col(Action.review_id))
        .where(literal(True), *conditions)
        .order_by(col(Action.due_on).is_(None), col(Action.due_on), col(Action.id))
    )
    rows = []
    for r in session.execute(stmt):
        (aid, title, st, due, oid, oname, oemail, did, dname, obj_id, obj_code, kid, kname, qid, qcode, qtext) = r[:16]
        (wid, wname, rid, rperiod, started, closed, outcome, desc, created_by, created_at) = r[16:]
        rows.append(
            [
                aid,
                title,
                st,
                STATUS_LABELS.get(st, st),
                due,
                bool(due is not None and due < today and st in OPEN_STATUSES),
                oid,
                (oname or oemail) if oid is not None else "",
                did,
                dname,
                obj_id,
                obj_code or "",
                kid,
                kname or "",
                qid,
                qcode or "",
                qtext or "",
                wid,
                wname or "",
                rid,
                rperiod or "",
                started,
                closed,
                outcome,
                desc,
                created_by,
                created_at,
            ]
        )
    df = pd.DataFrame(rows, columns=ACTION_COLUMNS)
    return df.astype({"action_id": "int64", "department_id": "int64", "overdue": "bool"})


def list_actions(
    *,
    session: Session,
    user: UserContext,
    department_ids: list[int] | None = None,
    statuses: list[str] | None = None,
    mine: bool = False,
    kpi_id: int | None = None,
    overdue_only: bool = False,
    today: date | None = None,
) -> pd.DataFrame:
    """The actions ``user`` may see, filtered; one row per action (:data:`ACTION_COLUMNS`)."""
    conditions: list[ColumnElement[bool]] = []
    if mine:
        conditions.append(col(Action.owner_id) == (user.account_id if user.account_id is not None else -1))
    else:
        scope = visible_departments(user=user)
        if scope is not None:
            allowed = scope if department_ids is None else scope.intersection(department_ids)
            own = col(Action.owner_id) == (user.account_id if user.account_id is not None else -1)
            conditions.append(col(Action.department_id).in_(sorted(allowed)) | own)
    if department_ids is not None:
        conditions.append(col(Action.department_id).in_(sorted(department_ids)))
    if statuses:
        conditions.append(col(Action.status).in_(statuses))
    if kpi_id is not None:
        conditions.append(col(Action.kpi_id) == kpi_id)
    df = _frame(session, *conditions, today=today)
    if overdue_only:
        df = df[df["overdue"]].reset_index(drop=True)
    return df


def my_actions(*, session: Session, user: UserContext, today: date | None = None) -> pd.DataFrame:
    """The actions ``user`` owns, open ones first by due date."""
    df = list_actions(session=session, user=user, mine=True, today=today)
    order = df["status"].isin(OPEN_STATUSES).map({True: 0, False: 1})
    return df.assign(_o=order).sort_values(["_o"], kind="stable").drop(columns="_o").reset_index(drop=True)


def actions_for_department(*, session: Session, department_id: int, wave_id: int | None = None) -> pd.DataFrame:
    """What a department is doing: its actions that are not cancelled (for sharing results back).

    With ``wave_id``, only the actions that follow up that survey wave. Columns as
    :data:`ACTION_COLUMNS`; no scope check (the caller decides who may see the department's
    actions — titles, statuses and due dates; owners' names are in ``owner``).
    """
    conditions = [Action.department_id == department_id, Action.status != ActionStatus.CANCELLED.value]
    if wave_id is not None:
        conditions.append(Action.wave_id == wave_id)
    return _frame(session, *conditions)


def get_action(*, session: Session, action_id: int) -> Action | None:
    return session.get(Action, action_id)


@dataclass(frozen=True, slots=True)
class ActionCounts:
    open: int
    overdue: int
    done: int


def counts(*, frame: pd.DataFrame) -> ActionCounts:
    """Open, overdue and done actions in a frame from :func:`list_actions`."""
    return ActionCounts(
        open=int(frame["status"].isin(OPEN_STATUSES).sum()),
        overdue=int(frame["overdue"].sum()),
        done=int((frame["status"] == ActionStatus.DONE.value).sum()),
    )


def assignable_people(*, session: Session) -> dict[int, str]:
    """Active accounts an action can be given to: id -> "Name (e-mail)", by name."""
    rows = session.execute(
        select(col(Account.id), col(Account.name), col(Account.email))
        .where(col(Account.active) == literal(True))
        .order_by(col(Account.name))
    ).all()
    return {int(i): f"{n} ({e})" if n else e for i, n, e in rows}
