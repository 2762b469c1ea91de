"""HR: survey waves (create, open, watch participation, close), personal links, question bank."""

from __future__ import annotations

import streamlit as st

from kpialign.services import strategy, surveys
from kpialign.ui import auth, data, forms, mail_ui, nav
from kpialign.ui import wave_admin as wa

user = auth.require(nav.roles_for("pages/hr_waves.py"))
ACTOR = user.email

st.title("Survey waves")
forms.show_notice(wa.NOTICE)

with data.reading() as session:
    missing = surveys.bank_missing(session=session)
if missing:  # the shipped bank appears on first use (audited)
    with data.writing() as session:
        surveys.sync_question_bank(session=session, actor=ACTOR)
with data.reading() as session:
    waves = surveys.list_waves(session=session)
    questions = surveys.list_questions(session=session)
    depts = strategy.departments_frame(session=session, include_retired=False)
dept_path = dict(zip(depts["id"].astype(int), depts["path"], strict=True)) if not depts.empty else {}

# Tracked tabs: the open tab is kept in the session, so saving a form never sends HR back to "Waves".
tab_waves, tab_new, tab_questions, tab_lang = st.tabs(
    ["Waves", "New wave", "Question bank", "Languages and e-mails"], key=f"{wa.P}.tab", on_change="rerun"
)

with tab_waves:
    if waves.empty:
        st.info("No survey wave yet. Create one on the New wave tab.", icon=":material/info:")
    else:
        st.dataframe(
            waves.drop(columns=["id"]),
            hide_index=True,
            width="stretch",
            column_config={
                "opens_on": st.column_config.DateColumn("Opens", format="D MMM YYYY"),
                "closes_on": st.column_config.DateColumn("Closes", format="D MMM YYYY"),
                "min_group": st.column_config.NumberColumn("Min group", help="Results of smaller groups are hidden"),
                "comment_min": st.column_config.NumberColumn("Min comments"),
            },
        )
        default = next((i for i, s in enumerate(waves["status"]) if s == "open"), 0)
        names = dict(zip(waves["id"].astype(int), waves["name"], strict=True))
        wave_id = st.selectbox(
            "Wave", list(names), index=default, format_func=lambda w: str(names[w]), key=f"{wa.P}.wave"
        )
        with data.reading() as session:
            wave = surveys.get_wave(session=session, wave_id=int(wave_id))
        st.markdown(wa.status_line(wave))
        wa.wave_actions(wave, ACTOR)
        wa.participation_panel(wave)
        if wave.status != "closed":
            wa.links_panel(wave, dept_path, ACTOR)
            mail_ui.mail_panel(wave, ACTOR)

with tab_new:
    if depts.empty:
        st.info("There are no departments yet. An admin adds them on the Strategy setup page.")
    else:
        wa.new_wave_form(questions, dept_path, ACTOR)

with tab_questions:
    st.caption(
        "Agree-scale items are scored 4-5 = favourable. A question used in a wave that has opened "
        "cannot be edited (its answers belong to that wording); retire it and add a new one instead. "
        "Retired questions keep their history."
    )
    st.dataframe(
        questions.drop(columns=["id"]),
        hide_index=True,
        width="stretch",
        column_config={
            "text": st.column_config.TextColumn("Text", width="large"),
            "locked": st.column_config.CheckboxColumn("Locked", help="Used in a wave that has opened"),
        },
    )
    wa.question_bank(questions, ACTOR)

with tab_lang:
    mail_ui.translations_panel(ACTOR)
    mail_ui.templates_panel(ACTOR)
