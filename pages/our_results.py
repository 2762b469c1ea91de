"""Our results: the latest closed survey wave shared back with everyone — the organisation's results,
your department's (or the nearest unit the thresholds allow), the change in words, and what is being done."""

from __future__ import annotations

import streamlit as st

from kpialign.services import actions
from kpialign.ui import auth, data, nav
from kpialign.ui import line_of_sight as los
from kpialign.ui.widgets import plain

user = auth.require(nav.roles_for("pages/our_results.py"))

st.title("Our results")
st.caption(
    "What people said in the latest closed survey, shared back with everyone. Confidential, not anonymous: "
    "nobody can see one person's answers, and no figure is shown for a small group."
)

sc = los.latest_closed()
res = los.shared_results(sc, user.department_id)
if res.wave is None:
    st.info(
        "No survey wave has closed yet. Results are shared here once a wave closes — never while it is open, "
        "so that nobody can work out one person's answers from the changing figures.",
        icon=":material/schedule:",
    )
    st.stop()

w = res.wave
st.caption(
    f"Wave {w.name}, closed {w.closes_on:%d %b %Y}, {w.responses:,} responses. Groups under {w.k} are never shown."
)

st.header("The whole organisation")
if res.organisation is None:
    st.info(f"Fewer than {w.k} people answered in {w.name}, so no results can be shown.")
else:
    los.unit_result(res.organisation, k=w.k)

if user.department_id is None:
    st.info(
        "Your account has no home department, so only the organisation's results are shown. "
        "Ask an admin to set your department.",
        icon=":material/info:",
    )
    st.stop()

st.header(f"{plain(res.asked_unit)}")
if res.reason:
    st.warning(res.reason, icon=":material/visibility_off:")
if res.own is None:
    st.info("No smaller unit than the whole organisation can be shown for you in this wave.")
elif res.substituted:
    st.text(f"The nearest unit whose results can be shown is {res.own.unit}:")
    los.unit_result(res.own, k=w.k)
else:
    los.unit_result(res.own, k=w.k)

st.header("What we are doing about it")
with data.reading() as session:
    done = actions.actions_for_department(session=session, department_id=user.department_id)
if done.empty:
    st.info(
        f"{res.asked_unit} has not recorded any actions yet. When your manager commits to actions after "
        "talking the results through with the team, they appear here.",
        icon=":material/checklist:",
    )
else:
    st.dataframe(
        done[["title", "status_label", "due_on", "owner", "wave"]],
        hide_index=True,
        width="stretch",
        column_config={
            "title": st.column_config.TextColumn("Action", width="large"),
            "status_label": st.column_config.TextColumn("Status"),
            "due_on": st.column_config.DateColumn("Due"),
            "owner": st.column_config.TextColumn("Owner"),
            "wave": st.column_config.TextColumn("Follows up survey"),
        },
    )
