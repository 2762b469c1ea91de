"""Employee survey: from a personal link (``?token=``, no account needed) or signed in.

One phone-friendly page (the form is :mod:`kpialign.ui.survey_form`): confidentiality statement,
items with "prefer not to say", the objective pick, an optional comment, a progress indicator,
then a thank-you page. The token is never logged, printed or stored anywhere but this browser
session.
"""

from __future__ import annotations

import streamlit as st

from kpialign.core import security
from kpialign.core.i18n import text as tr
from kpialign.services import surveys
from kpialign.ui import auth, data, language, nav
from kpialign.ui import survey_form as sf

token = st.query_params.get("token")
if token:
    # The personal link is the credential: no account needed.
    key = sf.link_key()
    sf.flow(
        lambda session: surveys.check_token(session=session, token=token, key=key),
        sf.session_marker("token", security.hash_token(token, key)),
        {"token": token, "key": key},
    )
else:
    user = auth.require(nav.roles_for("pages/survey.py"))
    with data.reading() as session:
        waves = surveys.waves_for_account(session=session, account_id=user.account_id) if user.account_id else None
    ulang = language.resolve(account_id=user.account_id)
    open_waves = waves[~waves["answered"]] if waves is not None else waves
    if open_waves is None or open_waves.empty:
        language.set_document_language(ulang)
        st.title(tr("title", ulang))
        if waves is None or waves.empty:
            st.info(tr("none_now", ulang), icon=":material/event_available:")
        else:
            st.success(tr("all_answered", ulang), icon=":material/task_alt:")
        language.picker(ulang, account_id=user.account_id, actor=user.email, key="survey.language")
        st.stop()
    wave_id = int(open_waves["wave_id"].iloc[0])
    if len(open_waves) > 1:
        names = dict(zip(open_waves["wave_id"].astype(int), open_waves["name"], strict=True))
        wave_id = st.selectbox(
            tr("which_survey", ulang), list(names), format_func=lambda w: str(names[w]), key="survey.wave"
        )
    sf.flow(
        lambda session: surveys.account_form(session=session, account_id=user.account_id, wave_id=wave_id),
        sf.session_marker("account", f"{user.account_id}:{wave_id}"),
        {"account_id": user.account_id, "wave_id": wave_id},
        account_id=user.account_id,
        actor=user.email,
    )
