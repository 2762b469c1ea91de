"""The review brief (what a department's review meeting looks at) and the Home alerts.

Both read the scorecard, so a review sees exactly what the Department page shows: the same
attainment and status thresholds (scoring settings), the same trend tests, and survey changes
between closed waves only, with the scorecard's suppression (kpialign.core.privacy).

- :func:`prepare_review`: red and amber KPIs, significant trends, KPIs without a check-in,
  survey changes since the previous closed wave, open and overdue actions.
- :func:`home_alerts`: overdue actions and red KPIs without an action, each with a count and
  the page that lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sqlmodel import Session

from kpialign.core import scoring
from kpialign.core.periods import period_range_for
from kpialign.core.scoring import ScoringSettings
from kpialign.models import Role
from kpialign.scorecard import build as scorecard
from kpialign.scorecard import queries, views
from kpialign.scorecard.model import Scorecard
from kpialign.services import actions, checkins, measurements, period_locks, reviews
from kpialign.services import settings as scoring_settings
from kpialign.services.accounts import UserContext

ATTENTION = ("red", "amber")


@dataclass
class ReviewBrief:
    """Everything prepared for one department's review of one period."""

    department_id: int
    department: str
    period: str
    scored_month: str | None  # the scorecard month used (the period's last month)
    settings: ScoringSettings
    scores: dict  # alignment, status, performance, understanding, coverage, u_suppressed, respondents
    kpis: pd.DataFrame  # one row per KPI (see _kpi_table)
    series: pd.DataFrame  # kpi_id, period, date, actual, target: the trend window, for charts
    sen: dict  # kpi_id -> (slope, intercept) on the actuals
    attainment: pd.DataFrame  # kpi_id, period, date, attainment_pct: the trend window, for charts
    wave: str | None
    previous_wave: str | None
    survey_changes: pd.DataFrame  # code, text, fav_now, fav_before, fav_diff, low, high, q, significant
    survey_note: str
    open_actions: pd.DataFrame
    overdue_actions: pd.DataFrame
    review: dict | None  # the stored review of this period, if any
    locked: bool
    notes: list[str] = field(default_factory=list)

    @property
    def attention(self) -> pd.DataFrame:
        """Red and amber KPIs, worst first."""
        k = self.kpis[self.kpis["status"].isin(ATTENTION)]
        return k.sort_values(["attainment_pct", "name"]).reset_index(drop=True)

    @property
    def trends(self) -> pd.DataFrame:
        """KPIs whose trend is significant (BH across this department's tests)."""
        return self.kpis[self.kpis["significant"]].reset_index(drop=True)

    @property
    def without_checkin(self) -> pd.DataFrame:
        return self.kpis[~self.kpis["has_checkin"]].reset_index(drop=True)


def scored_month(period: str, latest_month: str | None = None) -> str:
    """The scorecard month of a review period: its last month (a quarter is scored at its end),
    or the latest month with data when the period is still running."""
    last = reviews.period_span(period=period)[1]
    month = f"{last.year:04d}-{last.month:02d}"
    return min(month, latest_month) if latest_month else month


def build_for(session: Session, period: str) -> Scorecard:
    """The scorecard a review of ``period`` reads (one for every department of an organisation pack)."""
    latest = measurements.latest_periods(session=session).get("monthly")
    return scorecard.build_scorecard(session, period=scored_month(period, latest))


def _checkins_in(session: Session, period: str, kpis: pd.DataFrame) -> pd.DataFrame:
    """The latest check-in of each KPI within the review period (a month or a quarter), for the
    KPIs of one or many departments (one query): a department looks at the periods of its KPIs'
    frequencies within the review period."""
    first, last = reviews.period_span(period=period)
    span = {str(f): set(period_range_for(str(f), first, last)) for f in kpis["frequency"].unique()}
    wanted_by_dept: dict[int, set[str]] = {}
    for d, f in zip(kpis["department_id"], kpis["frequency"], strict=True):
        wanted_by_dept.setdefault(int(d), set()).update(span[str(f)])
    wanted = set().union(*span.values()) if span else set()
    if not wanted:
        return pd.DataFrame(columns=checkins.CHECKIN_COLUMNS)
    frame = checkins.checkins_frame(session=session, department_ids=sorted(wanted_by_dept), periods=wanted)
    # a boolean array, not a list: an empty list would select no columns (no check-in in the period)
    keep = np.array(
        [p in wanted_by_dept.get(int(d), ()) for d, p in zip(frame["department_id"], frame["period"], strict=True)],
        dtype=bool,
    )
    return frame[keep].sort_values("period").groupby("kpi_id", as_index=False).last()


def _kpi_table(kp: pd.DataFrame, found: pd.DataFrame, settings: ScoringSettings) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "kpi_id": kp["kpi_id"].astype("int64"),
            "name": kp["name"],
            "unit": kp["unit"],
            "polarity": kp["polarity"],
            "frequency": kp["frequency"],
            "period_used": kp["period_used"],
            "actual": kp["actual"].astype(float),
            "target": kp["target_used"].astype(float),
            "range_low": kp["range_low"],
            "range_high": kp["range_high"],
            "attainment_pct": (kp["attainment"].astype(float) * 100).round(1),
            "trend": kp.get("trend_page", pd.Series("–", index=kp.index)),
            "trend_words": kp.get("words", pd.Series("", index=kp.index)),
            "significant": kp.get("significant_page", pd.Series(False, index=kp.index)).fillna(False).astype(bool),
        }
    )
    out["status"] = scoring.status(out["attainment_pct"].to_numpy(float), settings) if len(out) else []
    note = found.set_index("kpi_id") if not found.empty else pd.DataFrame(columns=checkins.CHECKIN_COLUMNS)
    out["has_checkin"] = out["kpi_id"].isin(note.index)
    out["checkin_period"] = out["kpi_id"].map(note["period"]) if len(note) else ""
    out["checkin_status"] = out["kpi_id"].map(note["status_label"]) if len(note) else ""
    out["analysis"] = out["kpi_id"].map(note["analysis"]) if len(note) else ""
    out["next_steps"] = out["kpi_id"].map(note["next_steps"]) if len(note) else ""
    for c in ("checkin_period", "checkin_status", "analysis", "next_steps"):
        out[c] = out[c].fillna("")
    return out


def _attainment_window(sc: Scorecard, series: pd.DataFrame) -> pd.DataFrame:
    cols = ["kpi_id", "period", "date", "attainment_pct"]
    if series.empty:
        return pd.DataFrame(columns=cols)
    keys = series[["kpi_id", "period", "date"]]
    att = sc.attainment[sc.attainment["kpi_id"].isin(keys["kpi_id"])][["kpi_id", "period", "attainment"]]
    out = keys.merge(att, on=["kpi_id", "period"], how="left")
    return out.assign(attainment_pct=out["attainment"] * 100)[cols]


def _split(frame: pd.DataFrame, by: pd.Series | np.ndarray, ids: list[int]) -> dict[int, pd.DataFrame]:
    """``frame``'s rows per department (order kept, index reset); an empty slice for the others."""
    parts = {int(k): g.reset_index(drop=True) for k, g in frame.groupby(by, sort=False)} if len(frame) else {}
    return {d: parts[d] if d in parts else frame.iloc[0:0].reset_index(drop=True) for d in ids}


def prepare_review(
    *,
    session: Session,
    department_id: int,
    period: str,
    today: date | None = None,
    sc: Scorecard | None = None,
) -> ReviewBrief:
    """Gather what the review of ``department_id`` for ``period`` should discuss.

    Pass ``sc`` (from :func:`build_for`) when preparing many departments for the same period,
    or call :func:`prepare_reviews`.
    """
    period = reviews.review_period(text=period)
    sc = sc if sc is not None else build_for(session, period)
    return prepare_reviews(session=session, department_ids=[department_id], period=period, today=today, sc=sc)[0]


def prepare_reviews(
    *,
    session: Session,
    department_ids: list[int],
    period: str,
    today: date | None = None,
    sc: Scorecard | None = None,
) -> list[ReviewBrief]:
    """The review briefs of many departments for one period, in the order of ``department_ids``.

    The same briefs as :func:`prepare_review` one by one, computed from the scorecard's frames
    and four queries whatever the number of departments (check-ins, actions, reviews, locks):
    the organisation pack prepares 200 departments this way.
    """
    today = today or date.today()
    period = reviews.review_period(text=period)
    sc = sc if sc is not None else build_for(session, period)
    ids = [int(d) for d in department_ids]
    rows = sc.departments.set_index("department_id", drop=False)
    if not set(ids) <= set(rows.index):
        raise reviews.ReviewError("That department is not scored (no KPIs and no people), so it has no review brief.")
    s = sc.settings
    kp = sc.kpis[sc.kpis["department_id"].isin(ids)]
    att = sc.attainment[sc.attainment["kpi_id"].isin(kp["kpi_id"])]
    series, sen, _ = views.kpi_windows(kp, att, sc.month, s.trend_periods, alpha=s.alpha)
    kp, _ = views.page_trends(sc, kp, ids)
    found = _checkins_in(session, period, kp)
    table = _kpi_table(kp, found, s)
    dept_of_kpi = dict(zip(kp["kpi_id"], kp["department_id"], strict=True))
    kpis = _split(table, kp["department_id"].to_numpy(), ids)
    window = _attainment_window(sc, series)
    series_of = _split(series, series["kpi_id"].map(dept_of_kpi) if len(series) else [], ids)
    windows = _split(window, window["kpi_id"].map(dept_of_kpi) if len(window) else [], ids)
    changes_of = views.page_changes(sc, ids)

    admin = UserContext(None, "system", "", frozenset({Role.ADMIN.value}))
    acts = actions.list_actions(session=session, user=admin, department_ids=ids, today=today)
    open_all = acts[acts["status"].isin(actions.OPEN_STATUSES)]
    open_of = _split(open_all, open_all["department_id"], ids)
    stored = reviews.reviews_of_period(session=session, department_ids=ids, period=period)
    locked = period_locks.locked_keys(session=session, keys=[(d, period) for d in ids])
    briefs = []
    for d in ids:
        row = rows.loc[d]
        note, changes = _survey_changes(sc, changes_of[d])
        u_hidden = bool(row["u_suppressed"])
        scores = {
            "alignment": float(row["alignment"]),
            "status": str(row["status"]),
            "partial": bool(row["partial"]),
            "performance": float(row["performance"]),
            "understanding": np.nan if u_hidden else float(row["understanding"]),
            "u_suppressed": u_hidden,
            "coverage": float(row["coverage"]),
            "n_kpis": int(row["n_kpis"]),
            "n_with_data": int(row["n_with_data"]),
        }
        mine = set(kpis[d]["kpi_id"])
        open_ = open_of[d]
        review = stored.get(d)
        briefs.append(
            ReviewBrief(
                department_id=d,
                department=str(row["department"]),
                period=period,
                scored_month=sc.period,
                settings=s,
                scores=scores,
                kpis=kpis[d],
                series=series_of[d] if len(kpis[d]) else pd.DataFrame(),
                sen={k: v for k, v in sen.items() if k in mine},
                attainment=windows[d] if len(windows[d]) else _attainment_window(sc, pd.DataFrame()),
                wave=sc.wave.name if sc.wave else None,
                previous_wave=sc.previous_wave.name if sc.previous_wave else None,
                survey_changes=changes,
                survey_note=note,
                open_actions=open_,
                overdue_actions=open_[open_["overdue"]].reset_index(drop=True),
                review=review.model_dump() if review is not None else None,
                locked=(d, period) in locked,
            )
        )
    return briefs


def _survey_changes(sc: Scorecard, ch: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    if sc.wave is None:
        return "No survey wave has closed yet.", pd.DataFrame()
    if sc.previous_wave is None:
        return f"{sc.wave.name} is the first closed wave: there is nothing to compare it with.", pd.DataFrame()
    if ch.empty:
        return (
            f"No survey changes can be shown for this department between {sc.previous_wave.name} and "
            f"{sc.wave.name}: fewer than {sc.wave.k} people answered in one of them, or its figures are hidden "
            "to protect a smaller group.",
            pd.DataFrame(),
        )
    changes = pd.DataFrame(
        {
            "code": ch["code"],
            "text": ch["text"],
            "fav_now": ch["fav_now"],
            "fav_before": ch["fav_before"],
            "fav_diff": ch["fav_diff"],
            "low": ch["fav_diff_low"],
            "high": ch["fav_diff_high"],
            "q": ch["q_page"],
            "significant": ch["significant_page"].astype(bool),
        }
    ).reset_index(drop=True)
    return f"{sc.wave.name} compared with {sc.previous_wave.name} (closed waves only).", changes


# ------------------------------------------------------------------------------- alerts


@dataclass(frozen=True, slots=True)
class Alert:
    """A Home alert: how many, what, and the page (url path) that lists them."""

    kind: str  # "overdue" or "red_without_action"
    count: int
    text: str
    page: str


def latest_kpi_status(session: Session, settings: ScoringSettings | None = None) -> pd.DataFrame:
    """Each active KPI's latest value: kpi_id, department_id, name, period, attainment_pct, status."""
    settings = settings or scoring_settings.load_settings(session=session)
    kpis = queries.kpis(session)
    values = queries.kpi_values(session)
    cols = ["kpi_id", "department_id", "name", "period", "attainment_pct", "status"]
    if kpis.empty or values.empty:
        return pd.DataFrame(columns=cols)
    # here: the latest period per KPI; periods of one frequency sort correctly as text
    latest = values.sort_values("period").groupby("kpi_id", as_index=False).last()
    att = scoring.kpi_attainment(latest, kpis, cap=settings.cap)
    att = att.merge(kpis[["kpi_id", "name"]], on="kpi_id")
    att["attainment_pct"] = att["attainment"] * 100
    att["status"] = scoring.status(att["attainment_pct"].to_numpy(float), settings) if len(att) else []
    return att[cols].reset_index(drop=True)


def red_kpis_without_action(
    *, session: Session, user: UserContext, today: date | None = None, settings: ScoringSettings | None = None
) -> pd.DataFrame:
    """Red KPIs in ``user``'s scope with no open action, nor one closed since their latest period began."""
    today = today or date.today()
    scope = actions.visible_departments(user=user)
    status = latest_kpi_status(session, settings)
    red = status[status["status"] == "red"]
    if scope is not None:
        red = red[red["department_id"].isin(scope)]
    if red.empty:
        return red.assign(department=pd.Series(dtype=object)).reset_index(drop=True)
    admin = UserContext(None, "system", "", frozenset({Role.ADMIN.value}))
    linked = actions.list_actions(session=session, user=admin, department_ids=sorted(set(red["department_id"])))
    linked = linked[linked["kpi_id"].notna()]
    starts = {k: reviews.period_span(period=p)[0] for k, p in zip(red["kpi_id"], red["period"], strict=True)}
    covered = set()
    for r in linked.itertuples(index=False):
        kid = int(r.kpi_id)
        if kid not in starts:
            continue
        if r.status in actions.OPEN_STATUSES or (r.closed_on is not None and r.closed_on >= starts[kid]):
            covered.add(kid)
    red = red[~red["kpi_id"].isin(covered)]
    depts = queries.departments(session)
    names = dict(zip(depts["department_id"], depts["department"], strict=True))
    return (
        red.assign(department=red["department_id"].map(names))
        .sort_values(["department", "name"])
        .reset_index(drop=True)
    )


def home_alerts(*, session: Session, user: UserContext, today: date | None = None) -> list[Alert]:
    """Overdue actions and red KPIs without an action in ``user``'s scope (only non-zero counts)."""
    today = today or date.today()
    out: list[Alert] = []
    overdue = actions.list_actions(session=session, user=user, overdue_only=True, today=today)
    if len(overdue):
        out.append(Alert("overdue", len(overdue), f"{len(overdue)} overdue action(s)", "actions"))
    if user.has(Role.ADMIN.value, Role.LEADER.value, Role.MANAGER.value, Role.KPI_OWNER.value):
        red = red_kpis_without_action(session=session, user=user, today=today)
        if len(red):
            out.append(Alert("red_without_action", len(red), f"{len(red)} red KPI(s) without an action", "actions"))
    return out
