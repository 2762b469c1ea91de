"""Team conversation: a manager talks the latest closed wave through with their unit — results,
strengths and opportunities, the comments above the threshold, and a prompt to commit to actions."""

from __future__ import annotations

import streamlit as st

from kpialign.core import privacy
from kpialign.scorecard import scope
from kpialign.services import surveys
from kpialign.ui import auth, data, nav
from kpialign.ui import line_of_sight as los
from kpialign.ui.widgets import plain

user = auth.require(nav.roles_for("pages/team_conversation.py"))

st.title("Team conversation")
st.caption(
    "A guide for talking the survey results through with your team: what stands out, what people wrote, "
    "and what you will do about it. Confidential, not anonymous: small groups are never shown."
)

names = los.department_names()
units = los.managed_units(user)
wanted = st.query_params.get("unit")
if wanted is not None:
    if not wanted.isdigit():
        st.error(scope.OUT_OF_SCOPE, icon=":material/lock:")
        st.stop()
    los.refuse_out_of_scope(user, int(wanted), "team_conversation")
if not units:
    st.info("You do not lead any unit yet. An admin sets a manager's units on the Users and roles page.")
    st.stop()
default = units.index(int(wanted)) if wanted and int(wanted) in units else 0
unit = st.selectbox(
    "Unit", units, index=default, format_func=lambda d: names.get(d, str(d)), key="team_conversation.unit"
)

sc = los.latest_closed()
res = los.shared_results(sc, unit)
if res.wave is None:
    st.info(
        "No survey wave has closed yet. The conversation guide opens when a wave closes; while a wave is open "
        "only participation is shown (on the Survey waves page for HR).",
        icon=":material/schedule:",
    )
    st.stop()
w = res.wave
st.caption(f"Wave {w.name}, closed {w.closes_on:%d %b %Y}. Groups under {w.k} responses are never shown.")

st.header(f"1. How {plain(names.get(unit, 'your unit'))} sees it")
if res.reason:
    st.warning(res.reason, icon=":material/visibility_off:")
if res.own is None:
    st.info("No unit smaller than the whole organisation can be shown for this team; use the organisation's results.")
    if res.organisation is not None:
        los.unit_result(res.organisation, k=w.k)
else:
    if res.substituted:
        st.text(f"Nearest unit that can be shown: {res.own.unit} (your team's people are counted in it).")
    los.unit_result(res.own, k=w.k)
    if not res.substituted and res.own.level == "department":
        los.alpha_table(unit, period=None, wave=w.name)

mine = scope.scoped(sc, user)
inside = mine.departments[mine.departments["department_id"].isin(los.subtree_of(unit))]
if len(inside) > 1:
    st.subheader("Units within it")
    st.dataframe(
        inside.assign(
            u=[None if h else v * 100 for v, h in zip(inside["understanding"], inside["u_suppressed"], strict=True)]
        )[["department", "u", "respondents"]],
        hide_index=True,
        width="stretch",
        column_config={
            "department": "Unit",
            "u": st.column_config.NumberColumn("Understanding U, % favourable", format="%.0f"),
            "respondents": st.column_config.NumberColumn("Responses", format="%d"),
        },
    )
    st.caption("An empty cell is hidden: too few responses, or it would let someone work out a small group.")

st.header("2. What people wrote")
with data.reading() as session:
    readable = surveys.comment_departments(
        session=session, wave_id=w.wave_id, department_ids=sorted(los.subtree_of(unit))
    )
if readable.empty:
    st.info(
        f"No comments can be shown: a unit's comments appear only when at least {privacy.COMMENT_MIN} people "
        "wrote one, so that nobody can be recognised by their words."
    )
else:
    st.dataframe(readable[["department", "comments"]], hide_index=True, width="stretch",
                 column_config={"department": "Unit", "comments": "Comments to read"})  # fmt: skip
    st.page_link("pages/comments.py", label="Read them on the Comments page (each read is audited)",
                 icon=":material/forum:")  # fmt: skip

st.header("3. Commit to actions")
st.text(
    "Agree one to three actions with the team: what you will do, who owns it and by when. "
    "Your team sees them on their Our results page."
)
if nav.has_page("pages/actions.py"):
    st.page_link("pages/actions.py", label="Record actions", icon=":material/checklist:")
else:
    st.caption("Recording actions arrives with the Actions page.")
