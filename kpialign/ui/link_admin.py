"""HR's link maintenance on the Survey waves page: reissue one person's link, withdraw unused links.

Both are audited service calls (:func:`kpialign.services.surveys.reissue_link`,
:func:`~kpialign.services.surveys.revoke_unused_links`); a revoked link stops opening the survey
and no longer counts as invited, so neither inflates the participation denominator.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from kpialign.services import surveys
from kpialign.ui import data
from kpialign.ui.widgets import plain

P = "link_admin"
NEW_LINK = f"{P}.new_link"  # (wave id, link) of the link just reissued: shown once
NOTICE = f"{P}.notice"
ALL = 0


def maintenance_panel(
    wave: surveys.WaveInfo, dept_path: Mapping[int, str], *, key: bytes, base_url: str, actor: str
) -> None:
    """The two tools, for a wave that is not closed."""
    st.subheader("Lost or wrong links")
    if notice := st.session_state.pop(NOTICE, None):
        st.success(notice, icon=":material/check_circle:")
    reissue, revoke = st.columns(2)
    with reissue, st.form(f"{P}.reissue.{wave.id}", clear_on_submit=True):
        st.text("Reissue one person's link: the old link stops working, the new one is shown once.")
        old = st.text_input(
            "The person's old link",
            placeholder="https://…/survey?token=…",
            help="From the list of links you downloaded when the links were made.",
            key=f"{P}.old.{wave.id}",
        )
        if st.form_submit_button("Reissue link", icon=":material/autorenew:"):
            try:
                with data.writing() as session:
                    link = surveys.reissue_link(session=session, link=old, key=key, base_url=base_url, actor=actor)
                st.session_state[NEW_LINK] = (wave.id, link)
            except surveys.SurveyError as exc:
                st.error(plain(str(exc)), icon=":material/error:")
    with revoke, st.form(f"{P}.revoke.{wave.id}"):
        st.text("Withdraw links not used yet: they stop working and no longer count as invited.")
        dept = st.selectbox(
            "Department",
            [ALL, *wave.department_ids],
            format_func=lambda d: "All departments of this wave" if d == ALL else str(dept_path.get(d, d)),
            key=f"{P}.dept.{wave.id}",
        )
        sure = st.checkbox(
            "I understand the people holding these links can no longer answer", key=f"{P}.sure.{wave.id}"
        )
        if st.form_submit_button("Withdraw unused links", icon=":material/link_off:"):
            if not sure:
                st.warning("Tick the box to confirm first.", icon=":material/warning:")
            else:
                try:
                    with data.writing() as session:
                        n = surveys.revoke_unused_links(
                            session=session, wave_id=wave.id, actor=actor, department_id=None if dept == ALL else dept
                        )
                    st.session_state[NOTICE] = (
                        f"{n} unused link(s) withdrawn." if n else "There were no unused links to withdraw."
                    )
                    st.rerun()  # participation above counts them no more
                except surveys.SurveyError as exc:
                    st.error(plain(str(exc)), icon=":material/error:")
    if (made := st.session_state.pop(NEW_LINK, None)) and made[0] == wave.id:
        st.success("New link made. Send it to the person now; it cannot be shown again.", icon=":material/link:")
        st.code(made[1], language=None)
