"""Reviews: prepare a department's periodic review from the data, record it, decide actions,
sign it off and lock the period, and download the review pack."""

from __future__ import annotations

from datetime import date

import streamlit as st

from kpialign.services import actions, period_locks, reviews, strategy
from kpialign.ui import auth, data, nav
from kpialign.ui import reviews_ui as ui
from kpialign.ui.widgets import plain

user = auth.require(nav.roles_for("pages/reviews.py"))
st.title("Reviews")
ui.notice("reviews.notice")

with data.reading() as session:
    depts = strategy.departments_frame(session=session, include_retired=False)
scope = reviews.reviewable_departments(user=user)
if scope is not None:
    depts = depts[depts["id"].isin(scope)]
depts = depts[depts["kpis"] > 0]  # here: a division with no KPIs of its own has nothing to review
if depts.empty:
    st.info("You do not manage any department yet, so there is no review for you to run.")
    st.stop()

labels = dict(zip(depts["id"].astype(int), depts["path"], strict=True))
quarters, default = ui.quarter_choices()
c1, c2 = st.columns([3, 1])
dept_id = c1.selectbox("Department", list(labels), format_func=labels.get, key="reviews.department")
period = c2.selectbox("Quarter", quarters, index=default, key="reviews.period")

try:
    brief = ui.brief(data.version(), str(data.engine().url), dept_id, period, date.today())
except reviews.ReviewError as exc:
    st.info(plain(str(exc)))
    st.stop()

stored = brief.review or {}
status = reviews.STATUS_LABELS.get(stored.get("status", ""), "not recorded yet")
st.caption(f"Review of {plain(brief.department)} for {period}: {status}" + (" · period locked" if brief.locked else ""))

# Tracked tabs: the open tab is kept in the session, so saving a form never sends the user back to "Prepare".
prepare, record, act, pack = st.tabs(
    ["Prepare", "Record and sign off", "Decide an action", "Review pack"], key="reviews.tab", on_change="rerun"
)

with prepare:
    st.caption("What the data says for this review. To print it, use your browser's print command.")
    ui.show_brief(brief)

with record:
    signed = stored.get("status") == "signed_off"
    with st.form("reviews.record"):
        held_on = st.date_input("Held on", value=stored.get("held_on"), max_value=date.today(), disabled=signed,
                                key="reviews.held_on")  # fmt: skip
        attendees = st.text_area(
            "Attendees", value=stored.get("attendees", ""), disabled=signed, key="reviews.attendees"
        )
        summary = st.text_area("Summary", value=stored.get("summary", ""), disabled=signed, key="reviews.summary")
        decisions = st.text_area(
            "Decisions", value=stored.get("decisions", ""), disabled=signed, key="reviews.decisions"
        )
        save = st.form_submit_button("Save the review", type="primary", disabled=signed, icon=":material/save:")
    if save:
        try:
            with data.writing() as session:
                reviews.save_review(
                    session=session, user=user, department_id=dept_id, period=period, held_on=held_on,
                    attendees=attendees, summary=summary, decisions=decisions,
                )  # fmt: skip
        except ui.REFUSALS as exc:
            st.error(plain(str(exc)), icon=":material/error:")
        else:
            st.session_state["reviews.notice"] = "The review was saved."
            st.rerun()
    if stored and not signed:
        lock = st.checkbox("Also lock the period (values and check-ins can then no longer change)", value=True,
                           key="reviews.lock")  # fmt: skip
        if st.button("Sign the review off", icon=":material/task_alt:", key="reviews.sign"):
            try:
                with data.writing() as session:
                    reviews.sign_off(session=session, user=user, review_id=stored["id"], lock_period=lock)
            except ui.REFUSALS as exc:
                st.error(plain(str(exc)), icon=":material/error:")
            else:
                st.session_state["reviews.notice"] = f"Signed off{' and locked' if lock else ''}."
                st.rerun()
    may_unlock = brief.locked and period_locks.may_lock(user=user, department_id=dept_id)
    if may_unlock and st.button(f"Unlock {period}", icon=":material/lock_open:", key="reviews.unlock"):
        with data.writing() as session:
            period_locks.unlock_period(session=session, user=user, department_id=dept_id, period=period)
        st.session_state["reviews.notice"] = f"{period} is unlocked."
        st.rerun()

with act:
    with data.reading() as session:
        people = actions.assignable_people(session=session)
    kpi_names = dict(zip(brief.kpis["kpi_id"].astype(int), brief.kpis["name"], strict=True))
    with st.form("reviews.action", clear_on_submit=True):
        title = st.text_input("Action", max_chars=300, key="reviews.action_title")
        owner = st.selectbox("Owner", list(people), format_func=people.get, index=None, key="reviews.action_owner")
        due = st.date_input("Due on", value=None, min_value=date.today(), key="reviews.action_due")
        kpi = st.selectbox("About KPI (optional)", list(kpi_names), format_func=kpi_names.get, index=None,
                           key="reviews.action_kpi")  # fmt: skip
        add = st.form_submit_button("Add the action", type="primary", icon=":material/add_task:")
    if add:
        try:
            with data.writing() as session:
                review = reviews.get_review(session=session, department_id=dept_id, period=period)
                actions.create_action(
                    session=session, user=user, title=title, department_id=dept_id, owner_id=owner, due_on=due,
                    kpi_id=kpi, review_id=review.id if review else None,
                )  # fmt: skip
        except ui.REFUSALS as exc:
            st.error(plain(str(exc)), icon=":material/error:")
        else:
            st.session_state["reviews.notice"] = f"Action added: {title}"
            st.rerun()

with pack:
    st.caption("Scorecard figures, KPI charts with targets, check-ins, survey changes and open actions, as a PDF.")
    ui.pack_download(department_id=dept_id, period=period, label="Make this department's pack", key="reviews.pack",
                      name=brief.department)  # fmt: skip
    if user.has("leader", "admin"):
        ui.pack_download(department_id=None, period=period, label="Make the organisation pack", key="reviews.org")
