"""Demo content for reviews (issue 14): check-ins, two department reviews and a handful of actions.

Everything is derived from the seeded data (no randomness, no clock): check-ins follow each
KPI's attainment in the last complete quarter; the reviews and actions go to the departments
with the most red KPIs, leaving out the demo KPI owner's unit so that its red KPI shows the
"red KPI without an action" alert. Written through the services (validated, audited) with a
fixed "today" and fixed timestamps, so a seed always gives the same database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
from sqlalchemy import select, update
from sqlmodel import Session

from kpialign.core import scoring
from kpialign.core.periods import parse_period, period_bounds, period_of
from kpialign.models import (
    Action,
    Department,
    KpiCheckin,
    PeriodLock,
    Question,
    Review,
    SurveyWave,
    WaveStatus,
)
from kpialign.scorecard import queries
from kpialign.services import actions, checkins, reviews
from kpialign.services.accounts import UserContext
from kpialign.services.measurements import EditScope

ACTOR = "seed-demo"
_SYSTEM = UserContext(None, ACTOR, "Demo", frozenset({"admin"}))

WHY = {
    "off_track": (
        "Two large customers delayed their orders to next quarter; the gap is timing, not lost business.",
        "Staff shortage after two departures; the backlog grew faster than we could clear it.",
        "The supplier change took longer than planned and cost us three weeks of output.",
    ),
    "at_risk": (
        "Slightly behind plan; the seasonal dip was deeper than last year.",
        "On plan in two regions, behind in the third; we are checking whether it is a one-off.",
    ),
    "on_track": ("On plan.", "Ahead of plan thanks to the new onboarding checklist."),
}
NEXT = {
    "off_track": "Agree a recovery plan in the review and track it weekly.",
    "at_risk": "Watch the next month closely; escalate if it slips again.",
    "on_track": "",
}


def seed_reviews(session: Session, *, end_period: str, owner_id: int | None, skip_unit: str | None) -> None:
    """Check-ins for the last complete quarter, two reviews and a few actions (see the module doc)."""
    end_month = parse_period(end_period)
    today = period_bounds(str(end_month))[1] + timedelta(days=12)  # the demo's "now"
    quarter = parse_period(period_of(period_bounds(str(end_month))[1], "quarterly"))
    if period_bounds(str(quarter))[1] > period_bounds(str(end_month))[1]:
        quarter = quarter.shift(-1)
    q_first, q_last = period_bounds(str(quarter))
    months = [f"{q_first.year:04d}-{m:02d}" for m in range(q_first.month, q_last.month + 1)]

    kpis = queries.kpis(session)
    values = queries.kpi_values(session)
    att = scoring.kpi_attainment(values, kpis)
    in_q = att[att["period"].isin([*months[-2:], str(quarter)])]
    entries = []
    for i, r in enumerate(in_q.sort_values(["kpi_id", "period"]).itertuples(index=False)):
        if r.kpi_id % 4 == 0 or pd.isna(r.attainment):  # here: some KPIs stay without a check-in
            continue
        status = "on_track" if r.attainment >= 0.9 else "at_risk" if r.attainment >= 0.7 else "off_track"
        texts = WHY[status]
        entries.append(checkins.CheckinEntry(int(r.kpi_id), r.period, status, texts[i % len(texts)], NEXT[status]))
    checkins.apply_checkins(session=session, scope=EditScope.everything(ACTOR), entries=entries, author_id=owner_id)

    # departments with the most red KPIs at the quarter's end (not the demo owner's unit)
    last = att[att["period"].isin([months[-1], str(quarter)])]
    red = last[last["attainment"] < 0.6].merge(kpis[["kpi_id", "name"]], on="kpi_id")
    names = dict(session.execute(select(Department.id, Department.name)).all())
    red = red[red["department_id"].map(names) != skip_unit]
    ranked = red.groupby("department_id").size().sort_values(ascending=False, kind="stable")
    if len(ranked) < 2:
        return
    first, second = (int(d) for d in ranked.index[:2])

    def reddest(dept: int) -> int:
        return int(red[red["department_id"] == dept].sort_values(["attainment", "kpi_id"])["kpi_id"].iloc[0])

    kpi_name = dict(zip(kpis["kpi_id"], kpis["name"], strict=True))
    worst_first, worst_second = kpi_name[reddest(first)], kpi_name[reddest(second)]

    signed = reviews.save_review(
        session=session, user=_SYSTEM, department_id=first, period=str(quarter), held_on=q_last + timedelta(days=8),
        attendees="Department head, team leads, KPI owner, finance partner",
        summary=f"{int(ranked.iloc[0])} KPI(s) are red at the end of the quarter, {worst_first} furthest from target.",
        decisions=f"A recovery plan for {worst_first}, followed up weekly; keep the weekly team reviews.", today=today,
    )  # fmt: skip
    at = datetime(today.year, today.month, today.day, 9, 0, tzinfo=UTC)
    reviews.sign_off(session=session, user=_SYSTEM, review_id=signed.id, lock_period=True, now=at)
    reviews.save_review(
        session=session, user=_SYSTEM, department_id=second, period=str(quarter), held_on=q_last + timedelta(days=10),
        attendees="Department head, team leads", summary=f"{worst_second} is behind plan for the second quarter running.",
        decisions="Find the root cause before adding people.", today=today,
    )  # fmt: skip
    second_review = reviews.get_review(session=session, department_id=second, period=str(quarter))

    add = actions.create_action
    add(session=session, user=_SYSTEM, title=f"Recovery plan for {worst_first}", department_id=first,
        kpi_id=reddest(first), owner_id=owner_id, review_id=signed.id, status="in_progress",
        started_on=q_last + timedelta(days=9), due_on=today + timedelta(days=45), today=today)  # fmt: skip
    add(session=session, user=_SYSTEM, title="Weekly progress review with the whole team", department_id=first,
        kpi_id=reddest(first), status="done", started_on=q_first - timedelta(days=60), due_on=q_first,
        closed_on=q_first - timedelta(days=3), outcome="Running every Monday since spring.", today=today)  # fmt: skip
    add(session=session, user=_SYSTEM, title=f"Find and fix the root cause behind {worst_second}", department_id=second,
        kpi_id=reddest(second), review_id=second_review.id if second_review else None, status="in_progress",
        started_on=q_first + timedelta(days=20), due_on=q_last, today=q_first + timedelta(days=20))  # fmt: skip
    add(session=session, user=_SYSTEM, title="Review the team's workload and priorities", department_id=second,
        due_on=today + timedelta(days=80), today=today)  # fmt: skip

    closed = (
        session.execute(
            select(SurveyWave).where(SurveyWave.status == WaveStatus.CLOSED.value).order_by(SurveyWave.closes_on)
        )
        .scalars()
        .all()
    )
    question = session.execute(select(Question).where(Question.code == "LS1")).scalars().first()
    if len(closed) >= 2 and question is not None:
        wave = closed[-2]
        add(session=session, user=_SYSTEM, title="Explain in every team meeting how our work serves the objectives",
            department_id=first, question_id=question.id, wave_id=wave.id, status="done",
            started_on=wave.closes_on + timedelta(days=7), closed_on=wave.closes_on + timedelta(days=40),
            outcome="Done in all teams; the next wave shows whether more people see the link.", today=today)  # fmt: skip

    # fixed timestamps: the same seed gives the same database whenever it is seeded
    session.execute(update(KpiCheckin).values(updated_at=at))
    session.execute(update(Action).values(created_at=at))
    session.execute(update(Review).values(updated_at=at))
    session.execute(update(Review).where(Review.signed_off_at.is_not(None)).values(signed_off_at=at))  # type: ignore[union-attr]
    session.execute(update(PeriodLock).values(locked_at=at))
    session.flush()


def demo_today(end_period: str) -> date:
    """The demo's "now" (a few days after its last month)."""
    return period_bounds(end_period)[1] + timedelta(days=12)
