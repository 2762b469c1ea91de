"""Admin: the scoring settings — weights, form of A, status thresholds, cap, privacy defaults, trend window.

Every change is validated, previewed (what the Overview would show) and audited; every page,
chart and export reads the stored settings (a save bumps the data version, so caches refresh).
"""

from __future__ import annotations

import streamlit as st

from kpialign.core.scoring import ScoringError
from kpialign.scorecard import build as scorecard
from kpialign.services import settings as scoring_settings
from kpialign.ui import auth, data, nav
from kpialign.ui import scorecard_ui as ui
from kpialign.ui import scoring_form as form

user = auth.require(nav.roles_for("pages/admin_scoring.py"))
CANDIDATE = f"{form.P}.candidate"
NOTICE = f"{form.P}.notice"

st.title("Scoring settings")
st.caption(
    "The numbers behind every score. Preview a change to see what the Overview would show, then save it: "
    "the change applies to every page, chart and export at once and is recorded in the audit log. "
    "'How scores work' always shows the settings in force."
)
if notice := st.session_state.pop(NOTICE, None):
    st.success(notice, icon=":material/check_circle:")

with data.reading() as session:
    current = scoring_settings.load_settings(session=session)
if (candidate := form.settings_form(current)) is not None:
    st.session_state[CANDIDATE] = candidate

candidate = st.session_state.get(CANDIDATE)
if candidate is None:
    st.caption("Change a setting and press Preview.")
    st.stop()
diff = form.changes(current, candidate)
if diff.empty:
    st.info("These are the settings in force; nothing to save.", icon=":material/info:")
    st.stop()

st.subheader("Preview")
st.dataframe(diff, hide_index=True, width="stretch")
now = ui.get()
with st.spinner("Scoring every department with the new settings…"), data.reading() as session:
    then = scorecard.build_scorecard(session, settings=candidate)
form.preview(now, then)
if st.button("Save settings", type="primary", icon=":material/save:", key=f"{form.P}.save"):
    try:
        with data.writing() as session:  # bumps the data version: every cached scorecard is rebuilt
            scoring_settings.save_settings(session=session, settings=candidate, actor=user.email)
    except ScoringError as exc:
        st.error(str(exc), icon=":material/error:")
    else:
        st.session_state.pop(CANDIDATE, None)
        st.session_state[NOTICE] = f"Saved {len(diff)} setting(s); every page now uses them."
        st.rerun()
