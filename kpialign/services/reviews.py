"""Department reviews (the periodic meeting) and "did it work?" for actions.

A review is kept per department and period: when it was held, who attended, a summary, the
decisions, and a sign-off. Admins, leaders and the department's managers run it. A signed-off
review no longer changes; signing off may lock the period (see
:mod:`kpialign.services.period_locks`). Every write is audited in the caller's transaction.

"Did it work?" (:func:`action_effect`) describes what happened around an action, never why:

- for a KPI-linked action, Mann-Kendall and Sen's slope on the KPI's actuals before the action
  started and since, and a Pettitt change point over the whole series where there are enough
  periods;
- for a survey-item action, the item's change from the wave that prompted it to the next closed
  wave that asked it (Mann-Whitney U and the Newcombe interval of the change in % favourable),
  only where both waves have at least k responses in the department (core/privacy.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from kpialign import audit
from kpialign.core import privacy, stats
from kpialign.core.errors import Refused
from kpialign.core.periods import PeriodError, normalise_period, period_bounds, period_of
from kpialign.models import (
    Action,
    Department,
    Kpi,
    KpiValue,
    Question,
    Review,
    ReviewStatus,
    Role,
    SurveyWave,
    WaveDepartment,
    WaveQuestion,
    WaveStatus,
    utcnow,
)
from kpialign.services import period_locks, surveys
from kpialign.services.accounts import UserContext

TEXT_MAX = 20_000
MIN_SEGMENT = 3  # values needed on each side of an action's start for a trend test
MIN_PETTITT = 8  # values needed in the whole series for a change-point test
STATUS_LABELS = {
    ReviewStatus.DRAFT.value: "Draft",
    ReviewStatus.HELD.value: "Held",
    ReviewStatus.SIGNED_OFF.value: "Signed off",
}
REVIEW_COLUMNS = [
    "review_id",
    "department_id",
    "department",
    "period",
    "status",
    "status_label",
    "held_on",
    "attendees",
    "summary",
    "decisions",
    "signed_off_by",
    "signed_off_at",
    "updated_at",
]


class ReviewError(Refused):
    """A review change was refused; the message is safe to show. Nothing was written."""


def may_run(*, user: UserContext, department_id: int) -> bool:
    """Admins, leaders and the department's managers run its reviews."""
    return user.has(Role.ADMIN.value, Role.LEADER.value) or user.manages(department_id)


def reviewable_departments(*, user: UserContext) -> frozenset[int] | None:
    """The departments whose reviews ``user`` may run (``None``: all)."""
    if user.has(Role.ADMIN.value, Role.LEADER.value):
        return None
    return frozenset(user.managed_departments)


def review_period(*, text: str) -> str:
    """The canonical spelling of a review period (``2026-q1`` -> ``2026-Q1``), or :class:`ReviewError`."""
    return _period(text)


def _period(text: str) -> str:
    try:
        return normalise_period(text)
    except PeriodError as exc:
        raise ReviewError(str(exc)) from None


def _text(value: object, what: str) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > TEXT_MAX:
        raise ReviewError(f"The {what} is too long (at most {TEXT_MAX} characters).")
    return text


def _snapshot(review: Review) -> dict:
    return review.model_dump(exclude={"updated_at"})


def get_review(*, session: Session, department_id: int, period: str) -> Review | None:
    stmt = select(Review).where(col(Review.department_id) == department_id, col(Review.period) == _period(period))
    return session.execute(stmt).scalars().first()


def reviews_of_period(*, session: Session, department_ids: list[int], period: str) -> dict[int, Review]:
    """The stored reviews of ``period`` for these departments (one query), by department id."""
    stmt = select(Review).where(
        col(Review.department_id).in_(sorted(set(department_ids))), col(Review.period) == _period(period)
    )
    found: dict[int, Review] = {}
    for review in session.execute(stmt.order_by(col(Review.id))).scalars():
        found.setdefault(review.department_id, review)
    return found


def save_review(
    *,
    session: Session,
    user: UserContext,
    department_id: int,
    period: str,
    held_on: date | None = None,
    attendees: str = "",
    summary: str = "",
    decisions: str = "",
    today: date | None = None,
) -> Review:
    """Create or update the department's review for ``period`` (audited).

    With ``held_on`` the review counts as held (a date in the future is refused); a signed-off
    review is refused.
    """
    today = today or date.today()
    dept = session.get(Department, department_id)
    if dept is None:
        raise ReviewError(f"There is no department #{department_id}.")
    if not may_run(user=user, department_id=department_id):
        raise ReviewError(f"Only a manager of {dept.name}, a leader or an admin can record its reviews.")
    period = _period(period)
    if held_on is not None and held_on > today:
        raise ReviewError("A review cannot be recorded as held on a future date.")
    review = get_review(session=session, department_id=department_id, period=period)
    before = _snapshot(review) if review is not None else None
    if review is None:
        review = Review(department_id=department_id, period=period, created_by=user.email)
    elif review.status == ReviewStatus.SIGNED_OFF.value:
        raise ReviewError(f"The {period} review of {dept.name} is signed off and can no longer be changed.")
    review.held_on = held_on
    review.attendees = _text(attendees, "list of attendees")
    review.summary = _text(summary, "summary")
    review.decisions = _text(decisions, "decisions")
    review.status = ReviewStatus.HELD.value if held_on is not None else ReviewStatus.DRAFT.value
    review.updated_at = utcnow()
    session.add(review)
    session.flush()
    after = _snapshot(review)
    if before != after:
        audit.record(
            session, actor=user.email, action="create" if before is None else "update", entity="review",
            entity_id=review.id, before=before, after=after,
        )  # fmt: skip
    return review


def sign_off(
    *, session: Session, user: UserContext, review_id: int, lock_period: bool = False, now: datetime | None = None
) -> Review:
    """Sign a held review off (audited); ``lock_period`` also locks the department's period."""
    review = session.get(Review, review_id)
    if review is None:
        raise ReviewError(f"There is no review #{review_id}.")
    dept = session.get(Department, review.department_id)
    name = dept.name if dept else f"#{review.department_id}"
    if not may_run(user=user, department_id=review.department_id):
        raise ReviewError(f"Only a manager of {name}, a leader or an admin can sign its reviews off.")
    if review.status == ReviewStatus.SIGNED_OFF.value:
        raise ReviewError(f"The {review.period} review of {name} is signed off already.")
    if review.held_on is None:
        raise ReviewError("Record the date the review was held before signing it off.")
    before = _snapshot(review)
    review.status = ReviewStatus.SIGNED_OFF.value
    review.signed_off_by = user.email
    review.signed_off_at = now or utcnow()
    review.updated_at = review.signed_off_at
    session.add(review)
    session.flush()
    audit.record(
        session, actor=user.email, action="sign_off", entity="review", entity_id=review.id,
        before=before, after=_snapshot(review),
    )  # fmt: skip
    if lock_period:
        try:
            period_locks.lock_period(
                session=session, user=user, department_id=review.department_id, period=review.period
            )
        except period_locks.LockError as exc:
            raise ReviewError(str(exc)) from None
    return review


def reviews_frame(*, session: Session, department_ids: list[int] | frozenset[int] | None = None) -> pd.DataFrame:
    """Reviews, newest period first (:data:`REVIEW_COLUMNS`)."""
    stmt = (
        select(
            col(Review.id),
            col(Review.department_id),
            col(Department.name),
            col(Review.period),
            col(Review.status),
            col(Review.held_on),
            col(Review.attendees),
            col(Review.summary),
            col(Review.decisions),
            col(Review.signed_off_by),
            col(Review.signed_off_at),
            col(Review.updated_at),
        )
        .join(Department, col(Department.id) == col(Review.department_id))
        .order_by(col(Review.period).desc(), col(Department.name))
    )
    if department_ids is not None:
        stmt = stmt.where(col(Review.department_id).in_(sorted(department_ids)))
    rows = [
        (rid, d, dn, p, st, STATUS_LABELS.get(st, st), h, a, s, dec, sb, sa, u)
        for rid, d, dn, p, st, h, a, s, dec, sb, sa, u in session.execute(stmt)
    ]
    return pd.DataFrame(rows, columns=REVIEW_COLUMNS)


# ------------------------------------------------------------------------- did it work?


@dataclass(frozen=True, slots=True)
class Segment:
    """A trend test on one side of an action's start: Sen's slope per period and Mann-Kendall."""

    label: str
    periods: tuple[str, ...]
    n: int
    slope: float
    p: float
    direction: str  # "improving", "worsening", "no clear trend", "rising", "falling", "too few periods"


@dataclass(frozen=True, slots=True)
class ActionEffect:
    """What happened around an action, in figures and in words that claim no cause."""

    kind: str  # "kpi", "survey" or "none"
    headline: str
    details: list[str] = field(default_factory=list)
    before: Segment | None = None
    after: Segment | None = None
    change_point: str | None = None  # the first period after a Pettitt change point
    change_p: float = math.nan
    survey: stats.LikertComparison | None = None
    series: pd.DataFrame = field(default_factory=pd.DataFrame)  # period, actual, side


CAUTION = (
    "This describes what happened before and after the action started; other things changed too, "
    "so it does not show that the action caused it."
)


def _fmt_p(p: float) -> str:
    if math.isnan(p):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _direction(result: stats.TrendResult, polarity: str, alpha: float) -> str:
    if result.n < MIN_SEGMENT:
        return "too few periods"
    p = result.p_exact if not math.isnan(result.p_exact) else result.p
    if not (p < alpha) or result.s == 0:
        return "no clear trend"
    up = result.s > 0
    if polarity == "range":
        return "rising" if up else "falling"
    return "improving" if up == (polarity == "higher") else "worsening"


def _segment(label: str, frame: pd.DataFrame, polarity: str, alpha: float) -> Segment:
    values = frame["actual"].to_numpy(float)
    if len(values) < MIN_SEGMENT:
        return Segment(label, tuple(frame["period"]), len(values), math.nan, math.nan, "too few periods")
    r = stats.mann_kendall(values, alpha=alpha)
    p = r.p_exact if not math.isnan(r.p_exact) else r.p
    return Segment(label, tuple(frame["period"]), r.n, r.slope, p, _direction(r, polarity, alpha))


_PAST = {
    "improving": "was improving",
    "worsening": "was worsening",
    "rising": "was rising",
    "falling": "was falling",
    "no clear trend": "showed no clear trend",
}
_PRESENT = {k: v.replace("was ", "is ").replace("showed", "shows") for k, v in _PAST.items()}


def _segment_words(seg: Segment, unit: str) -> str:
    if seg.direction == "too few periods":
        return f"{seg.label}: {seg.n} period(s) with data, too few for a trend test (needs {MIN_SEGMENT})."
    per = f" {unit}" if unit else ""
    return (
        f"{seg.label} ({seg.periods[0]} to {seg.periods[-1]}, {seg.n} periods): {seg.direction}; "
        f"Sen's slope {seg.slope:+.3g}{per} per period, Mann-Kendall {_fmt_p(seg.p)}."
    )


def action_effect(*, session: Session, action_id: int, alpha: float = 0.05) -> ActionEffect:
    """ "Did it work?" for one action (see the module docstring)."""
    action = session.get(Action, action_id)
    if action is None:
        raise ReviewError(f"There is no action #{action_id}.")
    if action.kpi_id is not None:
        return _kpi_effect(session, action, alpha)
    if action.question_id is not None and action.wave_id is not None:
        return _survey_effect(session, action)
    return ActionEffect(
        "none", "This action is linked to neither a KPI nor a survey item, so there is nothing to measure."
    )


def _kpi_effect(session: Session, action: Action, alpha: float) -> ActionEffect:
    kpi = session.get(Kpi, action.kpi_id)
    assert kpi is not None
    start_day = action.started_on or action.created_at.date()
    start = period_of(start_day, kpi.frequency)
    rows = session.execute(
        select(col(KpiValue.period), col(KpiValue.actual))
        .where(col(KpiValue.kpi_id) == kpi.id)
        .order_by(col(KpiValue.period))
    ).all()
    series = pd.DataFrame([tuple(r) for r in rows], columns=["period", "actual"])
    # here: the period in which the action started counts as "since": its value already reflects it
    series["side"] = np.where(series["period"] < start, "before", "since")
    before = _segment("Before the action started", series[series["side"] == "before"], kpi.polarity, alpha)
    after = _segment("Since it started", series[series["side"] == "since"], kpi.polarity, alpha)
    details = [_segment_words(before, kpi.unit), _segment_words(after, kpi.unit)]
    change_point, change_p = None, math.nan
    if len(series) >= MIN_PETTITT:
        cp = stats.pettitt(series["actual"].to_numpy(float))
        change_p = cp.p
        if cp.index is not None and cp.index < len(series) and cp.p < alpha:
            change_point = str(series["period"].iloc[cp.index])
            details.append(
                f"The series shifts from {change_point} on (Pettitt change point, {_fmt_p(cp.p)}); "
                f"the action started in {start}."
            )
        else:
            details.append(f"No clear shift anywhere in the series (Pettitt, {_fmt_p(cp.p)}).")
    else:
        details.append(f"A change-point test needs at least {MIN_PETTITT} periods with data; there are {len(series)}.")
    if after.direction == "too few periods":
        headline = f"Too early to tell: {kpi.name} has {after.n} period(s) of data since the action started in {start}."
    elif before.direction == "too few periods":
        headline = f"Since the action started in {start}, {kpi.name} {_PRESENT[after.direction]}; too few earlier periods to compare."
    else:
        headline = (
            f"Before the action started in {start}, {kpi.name} {_PAST[before.direction]}; "
            f"since then it {_PRESENT[after.direction]}."
        )
    details.append(CAUTION)
    return ActionEffect(
        "kpi", headline, details, before, after, change_point, change_p, series=series.reset_index(drop=True)
    )


def _survey_effect(session: Session, action: Action) -> ActionEffect:
    wave = session.get(SurveyWave, action.wave_id)
    question = session.get(Question, action.question_id)
    assert wave is not None and question is not None
    later = (
        session.execute(
            select(SurveyWave)
            .join(WaveQuestion, col(WaveQuestion.wave_id) == col(SurveyWave.id))
            .join(WaveDepartment, col(WaveDepartment.wave_id) == col(SurveyWave.id))
            .where(
                col(WaveQuestion.question_id) == question.id,
                col(WaveDepartment.department_id) == action.department_id,
                col(SurveyWave.opens_on) > wave.closes_on,
            )
            .order_by(col(SurveyWave.opens_on))
        )
        .scalars()
        .first()
    )
    if later is None or later.status != WaveStatus.CLOSED.value:
        when = f"{later.name} is still {later.status}" if later is not None else "no later wave has asked it yet"
        return ActionEffect(
            "survey",
            f"Not yet measurable: {question.code} is compared when the next wave that asks it has closed ({when}).",
            [CAUTION],
        )
    if wave.status != WaveStatus.CLOSED.value:
        return ActionEffect("survey", f"{wave.name} is not closed yet, so its results cannot be compared.", [CAUTION])
    ids = [wave.id, later.id]
    responses = surveys.response_counts(session=session, wave_ids=ids)
    sizes = responses[responses["department_id"] == action.department_id].set_index("wave_id")["n"]
    counts = surveys.answer_counts(session=session, wave_ids=ids)
    counts = counts[(counts["department_id"] == action.department_id) & (counts["question_id"] == question.id)]
    k = max(privacy.effective_k(wave.min_group), privacy.effective_k(later.min_group))
    n_item = counts.groupby("wave_id")["n"].sum()
    if any(int(sizes.get(w, 0)) < k or int(n_item.get(w, 0)) < k for w in ids):
        return ActionEffect(
            "survey",
            f"Not shown: fewer than {k} people in the department answered {question.code} in {wave.name} or "
            f"{later.name}, so the change cannot be shown without risking someone's confidentiality.",
            [CAUTION],
        )
    values = counts["value"] if not question.reverse else 6 - counts["value"]
    counts = counts.assign(value=values)
    vec = {
        w: [int(counts[(counts["wave_id"] == w) & (counts["value"] == v)]["n"].sum()) for v in range(1, 6)] for w in ids
    }
    r = stats.compare_likert(vec[later.id], vec[wave.id])
    points = 100 * r.fav_diff
    moved = "rose" if points > 0 else "fell" if points < 0 else "stayed"
    headline = (
        f"{question.code} favourable {moved} from {r.fav_b:.0%} in {wave.name} to {r.fav_a:.0%} in {later.name} "
        f"({points:+.0f} points)."
    )
    details = [
        f"95% interval of the change: {100 * r.fav_diff_low:+.0f} to {100 * r.fav_diff_high:+.0f} points "
        f"(Newcombe); two-proportion test {_fmt_p(r.p_fav)}.",
        f"Mann-Whitney U on all answers: {_fmt_p(r.p_mwu)}, rank-biserial {r.rank_biserial:+.2f} "
        f"({r.n_b} answers before, {r.n_a} after).",
        CAUTION,
    ]
    return ActionEffect("survey", headline, details, survey=r)


def period_span(*, period: str) -> tuple[date, date]:
    """First and last day of a review period."""
    return period_bounds(_period(period))
