"""Streamlit pieces for check-ins, reviews, actions and review packs, shared by several pages.

Pages that others own (KPI data, Department, Home) call one function each from here, so their
edits stay a few lines. User text is shown with ``st.text``, dataframes or :func:`plain`.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from kpialign import reports
from kpialign.core.errors import Refused
from kpialign.core.periods import parse_period, period_bounds, period_of, recent_periods
from kpialign.models import CheckinStatus, Role
from kpialign.scorecard import review_brief
from kpialign.scorecard.review_brief import ReviewBrief
from kpialign.services import checkins, measurements, period_locks, reviews
from kpialign.services.accounts import UserContext
from kpialign.ui import data, scorecard_ui
from kpialign.ui.widgets import plain

STATUS_ICON = {"On track": "🟢", "At risk": "🟠", "Off track": "🔴"}
REFUSALS = (Refused,)  # every domain refusal; its text is safe to show


def notice(key: str) -> None:
    """Show (once) a success message left by the previous run.

    The slot is drawn on every run, message or not, so the elements below keep their place and
    a tab set below does not jump back to its first tab when the message comes or goes."""
    slot = st.empty()
    if text := st.session_state.pop(key, None):
        slot.success(plain(text), icon=":material/check_circle:")


# ------------------------------------------------------------------------------ check-ins


def checkin_editor(user: UserContext, *, department_id: int, period: str, kpis: pd.DataFrame) -> None:
    """KPI data page: record or update the check-in of one KPI for ``period``; list this period's."""
    st.subheader("Check-ins")
    notice("checkins.notice")
    with data.reading() as session:
        found = checkins.checkins_frame(session=session, department_ids=[department_id], periods=[period])
        locked = bool(period_locks.locked_keys(session=session, keys=[(department_id, period)]))
    if locked:
        st.info(
            f"{period} is locked after its review: its values and check-ins can no longer be changed.",
            icon=":material/lock:",
        )
    if not found.empty:
        shown = found.assign(actual=found["has_actual"].map({True: "entered", False: "no actual yet"}))
        st.dataframe(
            shown[["kpi", "status_label", "analysis", "next_steps", "author", "actual"]],
            hide_index=True,
            width="stretch",
            column_config={"kpi": "KPI", "status_label": "Status", "analysis": "Why", "next_steps": "Next steps",
                           "author": "By", "actual": "Actual"},
        )  # fmt: skip
    if locked or kpis.empty:
        return
    names = dict(zip(kpis["kpi_id"].astype(int), kpis["kpi"], strict=True))
    with st.form(f"checkins.form.{department_id}.{period}", clear_on_submit=True):
        kpi_id = st.selectbox("KPI", list(names), format_func=names.get, key="checkins.kpi")
        status = st.radio(
            "Status",
            [s.value for s in CheckinStatus],
            format_func=checkins.STATUS_LABELS.get,
            horizontal=True,
            key="checkins.status",
        )
        analysis = st.text_area("Analysis: why is it where it is?", key="checkins.analysis", max_chars=5000)
        next_steps = st.text_area("Next steps", key="checkins.next_steps", max_chars=5000)
        submitted = st.form_submit_button("Save check-in", type="primary", icon=":material/fact_check:")
    if submitted:
        try:
            with data.writing() as session:
                result = checkins.save_checkin(
                    session=session, user=user, kpi_id=kpi_id, period=period, status=status,
                    analysis=analysis, next_steps=next_steps,
                )  # fmt: skip
        except REFUSALS as exc:
            st.error(plain(str(exc)), icon=":material/error:")
        else:
            extra = (
                " There is no actual for this period yet; the check-in is marked so." if result.without_actual else ""
            )
            st.session_state["checkins.notice"] = f"Check-in saved for {names[kpi_id]} ({period}).{extra}"
            st.rerun()


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _latest_checkins(version: int, url: str, department_id: int) -> pd.DataFrame:
    with data.reading() as session:
        frame = checkins.checkins_frame(session=session, department_ids=[department_id])
    return frame.sort_values("period").groupby("kpi_id", as_index=False).last()


def checkin_table(department_id: int, kpis: dict[int, str]) -> None:
    """Department page: each KPI's (id -> name, in the page's order) latest check-in: status, period,
    author, why and next steps, or that it has none. User text in a table cell, never Markdown."""
    latest = _latest_checkins(data.version(), str(data.engine().url), department_id).set_index("kpi_id")
    rows = []
    for kpi_id, name in kpis.items():
        if kpi_id not in latest.index:
            rows.append({"KPI": name, "status": "No check-in yet"})
            continue
        r = latest.loc[kpi_id]
        mark = "" if r["has_actual"] else " (no actual for this period)"
        rows.append(
            {
                "KPI": name,
                "status": f"{STATUS_ICON.get(r['status_label'], '')} {r['status_label']}",
                "period": f"{r['period']}{mark}",
                "by": r["author"],
                "why": r["analysis"] or "",
                "next": r["next_steps"] or "",
            }
        )
    table = pd.DataFrame(rows, columns=["KPI", "status", "period", "by", "why", "next"]).fillna("")
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={"why": st.column_config.TextColumn("Why", width="large"),
                       "next": st.column_config.TextColumn("Next", width="large")},
    )  # fmt: skip


# ---------------------------------------------------------------------------------- alerts


@st.cache_data(ttl=300, max_entries=256, show_spinner=False)
def _alerts(version: int, url: str, user: UserContext, today: date) -> list[review_brief.Alert]:
    with data.reading() as session:
        return review_brief.home_alerts(session=session, user=user, today=today)


def home_alerts(user: UserContext) -> None:
    """Home: overdue actions and red KPIs without an action, each a count with a link."""
    alerts = _alerts(data.version(), str(data.engine().url), user, date.today())
    if not alerts:
        return
    st.subheader("Needs attention")
    cols = st.columns(len(alerts))
    for col, a in zip(cols, alerts, strict=True):
        with col.container(border=True):
            st.metric("Overdue actions" if a.kind == "overdue" else "Red KPIs without an action", a.count)
            st.page_link("pages/actions.py", label=f"See the {a.text}", icon=":material/arrow_forward:")


def red_kpis(user: UserContext) -> pd.DataFrame:
    """Red KPIs in ``user``'s scope without an open or recent action (Actions page)."""
    with data.reading() as session:
        return review_brief.red_kpis_without_action(session=session, user=user, today=date.today())


# --------------------------------------------------------------------------------- periods


@st.cache_data(ttl=600, max_entries=16, show_spinner=False)
def _latest_month(version: int, url: str) -> str | None:
    with data.reading() as session:
        return measurements.latest_periods(session=session).get("monthly")


def quarter_choices(count: int = 8) -> tuple[list[str], int]:
    """Recent quarters, newest first, and the index of the default: the last quarter complete by
    the latest month with data (the one a review looks back on)."""
    latest = _latest_month(data.version(), str(data.engine().url))
    until = date.today()
    if latest:
        until = max(until, period_bounds(latest)[1])
    quarters = list(reversed(recent_periods("quarterly", count=count, until=until)))
    if not latest:
        return quarters, 0
    month_end = period_bounds(latest)[1]
    quarter = parse_period(period_of(month_end, "quarterly"))
    complete = quarter if period_bounds(str(quarter))[1] == month_end else quarter.shift(-1)
    return quarters, quarters.index(str(complete)) if str(complete) in quarters else 0


# ------------------------------------------------------------------------------- the brief


@st.cache_data(ttl=600, max_entries=32, show_spinner="Preparing the review…")
def brief(version: int, url: str, department_id: int, period: str, today: date) -> ReviewBrief:
    """The review brief of one department (:func:`kpialign.scorecard.review_brief.prepare_review`),
    from the shared scorecard of the review's month (:func:`kpialign.scorecard.review_brief.build_for`
    builds the same one): a change of department costs no scorecard build."""
    month = review_brief.scored_month(reviews.review_period(text=period), _latest_month(version, url))
    sc = scorecard_ui.cached_scorecard(version, url, scorecard_ui.period_key(version, url, month), None)
    with data.reading() as session:
        return review_brief.prepare_review(
            session=session, department_id=department_id, period=period, today=today, sc=sc
        )


def show_brief(b: ReviewBrief) -> None:
    """The printable review brief (use the browser's print to paper or PDF)."""
    s = b.scores
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Alignment score A", "–" if pd.isna(s["alignment"]) else f"{s['alignment']:.0f}", s["status"],
              delta_color="off", delta_arrow="off")  # fmt: skip
    c2.metric("Performance P", f"{100 * s['performance']:.0f}%" if not pd.isna(s["performance"]) else "–")
    c3.metric("Understanding U", "hidden" if s["u_suppressed"] else f"{100 * s['understanding']:.0f}%")
    c4.metric("Coverage C", f"{100 * s['coverage']:.0f}%" if not pd.isna(s["coverage"]) else "–")
    st.markdown("**Red and amber KPIs**")
    att = b.attention
    if att.empty:
        st.text("None: every KPI with data is green.")
    else:
        st.dataframe(att[["name", "period_used", "actual", "target", "attainment_pct", "status", "checkin_status"]],
                     hide_index=True, width="stretch",
                     column_config={"name": "KPI", "period_used": "Period", "attainment_pct": "Attainment %",
                                    "checkin_status": "Check-in"})  # fmt: skip
    st.markdown("**Significant trends**")
    tr = b.trends
    st.dataframe(tr[["name", "trend", "trend_words"]], hide_index=True, width="stretch",
                 column_config={"name": "KPI", "trend_words": "Mann-Kendall trend"}) if len(tr) else st.text(
        "No KPI trend is significant after Benjamini-Hochberg."
    )  # fmt: skip
    st.markdown("**KPIs without a check-in**")
    st.text(", ".join(b.without_checkin["name"]) if len(b.without_checkin) else "Every KPI has a check-in.")
    st.markdown("**Survey changes since the previous wave**")
    st.text(b.survey_note)
    if not b.survey_changes.empty:
        ch = b.survey_changes
        st.dataframe(
            pd.DataFrame({"item": ch["code"], "question": ch["text"], "favourable %": (100 * ch["fav_now"]).round(0),
                          "before %": (100 * ch["fav_before"]).round(0), "change (points)": (100 * ch["fav_diff"]).round(0),
                          "significant": ch["significant"]}),
            hide_index=True, width="stretch",
        )  # fmt: skip
    st.markdown(f"**Open actions** ({len(b.open_actions)}, of which {len(b.overdue_actions)} overdue)")
    if len(b.open_actions):
        action_table(b.open_actions)


def action_table(frame: pd.DataFrame) -> None:
    st.dataframe(
        frame.assign(overdue=frame["overdue"].map({True: "overdue", False: ""}), owner=frame["owner"].replace("", "–"))[
            ["title", "department", "owner", "due_on", "status_label", "overdue", "kpi", "question", "review_period"]
        ],
        hide_index=True,
        width="stretch",
        column_config={"title": "Action", "department": "Department", "owner": "Owner", "due_on": "Due",
                       "status_label": "Status", "overdue": "", "kpi": "KPI", "question": "Survey item",
                       "review_period": "Review"},
    )  # fmt: skip


# ----------------------------------------------------------------------------------- packs


def pack_download(*, department_id: int | None, period: str, label: str, key: str, name: str = "") -> None:
    """A button that makes a review pack (one department, or the organisation when None), then
    offers it for download."""
    store = f"{key}.pdf"
    if st.button(label, icon=":material/picture_as_pdf:", key=key):
        try:
            with data.reading() as session:
                if department_id is None:
                    bar = st.progress(0.0, text="Preparing the organisation pack…")

                    def step(done: int, total: int, dept: str) -> None:
                        bar.progress(done / total, text=f"{'Preparing' if done <= total / 2 else 'Writing'} {dept}")

                    pdf = reports.organisation_pack(session, period=period, progress=step)
                    bar.empty()
                    name = reports.pack_filename("organisation", period)
                else:
                    with st.spinner("Writing the review pack…"):
                        pdf = reports.department_pack(session, department_id=department_id, period=period)
                    name = reports.pack_filename(name or f"department-{department_id}", period)
        except REFUSALS as exc:
            st.error(plain(str(exc)), icon=":material/error:")
        else:
            st.session_state[store] = (name, pdf)
    if store in st.session_state:
        name, pdf = st.session_state[store]
        st.download_button("Download the PDF", pdf, file_name=name, mime="application/pdf",
                           icon=":material/download:", key=f"{key}.download")  # fmt: skip


def can_review(user: UserContext) -> bool:
    return user.has(Role.ADMIN.value, Role.LEADER.value, Role.MANAGER.value)
