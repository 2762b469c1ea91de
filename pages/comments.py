"""Comments: what people wrote, per department and closed wave, above the comment threshold; every read audited."""

from __future__ import annotations

import streamlit as st

from kpialign.models import Role
from kpialign.services import surveys
from kpialign.ui import auth, data, nav
from kpialign.ui.widgets import plain

user = auth.require(nav.roles_for("pages/comments.py"))
P = "comments"
SHOWN = f"{P}.shown"  # (wave id, department id, DepartmentComments) of the last read

st.title("Comments")
st.caption(
    "Confidential, not anonymous: comments are shown per department and closed wave, only where at least the "
    "wave's comment threshold (never below 10) commented, in random order, without dates and without anyone's "
    "other answers. Each time you read a department's comments, it is recorded in the audit log."
)

with data.reading() as session:
    waves = surveys.comment_waves(session=session)
if waves.empty:
    st.info("No survey wave has closed yet. Comments can be read once a wave is closed.", icon=":material/info:")
    st.stop()

names = dict(zip(waves["id"].astype(int), waves["name"], strict=True))
scope = None if user.has(Role.LEADER.value) else user.managed_departments
with data.reading() as session:
    readable = {w: surveys.comment_departments(session=session, wave_id=w, department_ids=scope) for w in names}
first = next((i for i, w in enumerate(names) if not readable[w].empty), 0)  # the newest wave with comments to read
wave_id = st.selectbox(
    "Wave (closed waves only)",
    list(names),
    index=first,
    format_func=lambda w: f"{names[w]} — {len(readable[w])} department(s) with comments",
    key=f"{P}.wave",
)
depts = readable[wave_id]
threshold = int(waves.set_index("id").loc[wave_id, "threshold"])
if depts.empty:
    where = "the units you manage" if scope is not None else "any department"
    st.info(
        f"In {names[wave_id]}, fewer than {threshold} people of {where} commented, so no comments can be shown.",
        icon=":material/visibility_off:",
    )
    st.stop()

labels = dict(zip(depts["department_id"].astype(int), depts["department"], strict=True))
counts = dict(zip(depts["department_id"].astype(int), depts["comments"].astype(int), strict=True))
dept_id = st.selectbox(
    f"Department ({len(depts)} with at least {threshold} comments)",
    list(labels),
    format_func=lambda d: f"{labels[d]} — {counts[d]} comments",  # options are plain text, never Markdown
    key=f"{P}.department",
)
if st.button("Read comments", type="primary", icon=":material/forum:", key=f"{P}.read"):
    try:
        with data.writing(bump=False) as session:  # the audit row; no data any page shows changes
            st.session_state[SHOWN] = (
                wave_id,
                dept_id,
                surveys.read_comments(session=session, wave_id=int(wave_id), department_id=int(dept_id), user=user),
            )
    except surveys.SurveyError as exc:
        st.error(plain(str(exc)), icon=":material/block:")

shown = st.session_state.get(SHOWN)
if shown and shown[:2] == (wave_id, dept_id):
    found = shown[2]
    st.subheader(f"{plain(found.department)}, {plain(found.wave)}: {len(found.texts)} comments")
    for text in found.texts:
        with st.container(border=True):
            st.text(text)  # user text: never Markdown or HTML
else:
    st.caption("Choose a department and press Read comments.")
