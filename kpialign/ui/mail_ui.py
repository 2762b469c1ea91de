"""Survey waves page, e-mail parts: recipients, sending with a progress bar, reminders, templates,
question translations. HR sees counts only, never who has or has not answered."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpialign import mail
from kpialign.config import ConfigError, MailSettings, load_settings, mail_settings, secret_key
from kpialign.core import i18n
from kpialign.services import surveys, translations
from kpialign.ui import data
from kpialign.ui.widgets import plain

P = "hr_mail"
REPORT = f"{P}.report"  # (wave id, SendReport) of the last run, shown after the rerun


def _settings() -> MailSettings | None:
    try:
        return mail_settings()
    except ConfigError as exc:
        st.error(plain(str(exc)), icon=":material/error:")
        return None


def _write(action, success: str) -> bool:
    try:
        with data.writing() as session:
            result = action(session)
    except surveys.SurveyError as exc:
        st.error(plain(str(exc)), icon=":material/error:")
        return False
    st.toast(plain(success.format(result=result)), icon=":material/check_circle:")
    return True


def _show_report(wave_id: int) -> None:
    last = st.session_state.get(REPORT)
    if not last or last[0] != wave_id:
        return
    r: mail.SendReport = last[1]
    what = "invitation(s)" if r.kind == mail.INVITATION else "reminder(s)"
    where = " as files in the dry-run folder" if r.dry_run else ""
    line = f"{r.sent} {what} sent{where}."
    if r.refused:
        line += f" {r.refused} address(es) refused by the mail server (listed below)."
    if r.error:
        st.error(
            f"Sending stopped: {plain(r.error)}  \n{r.left} message(s) not sent yet: press the send button again "
            "to resume. Nobody who already got this message gets it twice.",
            icon=":material/cloud_off:",
        )
        if r.in_doubt:
            st.warning(
                f"{r.in_doubt} message(s) may or may not have arrived (the connection failed while the server "
                "was taking them). They are not sent again automatically.",
                icon=":material/help:",
            )
    (st.info if r.error else st.success)(line, icon=":material/outgoing_mail:")
    if r.problems:
        with st.expander("Refused addresses"):
            st.dataframe(pd.DataFrame({"server answer": r.problems}), hide_index=True, width="stretch")


def _send(wave: surveys.WaveInfo, kind: str, cfg: MailSettings, actor: str) -> None:
    try:
        key = secret_key(load_settings().database_url)
    except ConfigError as exc:
        st.error(plain(str(exc)))
        return
    bar = st.progress(0.0, text="Preparing…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"{done} of {total} messages handled")

    try:
        report = mail.send(
            data.engine(), wave_id=wave.id, kind=kind, settings=cfg, key=key,
            base_url=load_settings().base_url, actor=actor, progress=progress,
        )  # fmt: skip
    except mail.MailError as exc:
        bar.empty()
        st.error(plain(str(exc)), icon=":material/error:")
        return
    st.session_state[REPORT] = (wave.id, report)
    st.rerun()


def _recipients(wave: surveys.WaveInfo, actor: str) -> None:
    st.markdown("**Add recipients**")
    how = st.radio(
        "Recipients", ["From a CSV file", "Everyone with an account in the wave's departments"],
        horizontal=True, key=f"{P}.how", label_visibility="collapsed",
    )  # fmt: skip
    try:
        key = secret_key(load_settings().database_url)
    except ConfigError as exc:
        st.error(plain(str(exc)))
        return
    if how == "From a CSV file":
        st.caption(
            "Columns email and department; optional language (en, de, fr, es). Malformed rows are listed and "
            "nothing is added until the file is fixed."
        )
        upload = st.file_uploader("CSV file", type=["csv"], key=f"{P}.upload")
        if upload is None:
            return
        with data.reading() as session:
            checked = mail.parse_recipients_csv(
                upload.getvalue().decode("utf-8-sig", errors="replace"),
                departments=mail.wave_departments(session, wave_id=wave.id),
            )
        if checked.problems:
            st.error(f"{len(checked.problems)} row(s) to fix; nothing was added.", icon=":material/error:")
            st.dataframe(
                pd.DataFrame(
                    [(p.row, p.value, p.problem) for p in checked.problems], columns=["row", "value", "problem"]
                ),
                hide_index=True,
                width="stretch",
            )
            return
        add = st.button(f"Add {len(checked.recipients)} recipient(s)", icon=":material/group_add:", key=f"{P}.add")
        if add and _write(
            lambda s: mail.add_recipients(s, wave_id=wave.id, recipients=checked, key=key, actor=actor),
            "{result.added} recipient(s) added; {result.already} already had a link.",
        ):
            st.rerun()
    else:
        with data.reading() as session:
            found = mail.recipients_from_accounts(session, wave_id=wave.id)
        st.caption(f"{len(found.recipients)} active account(s) in the wave's departments.")
        add = bool(found.recipients) and st.button("Add them", icon=":material/group_add:", key=f"{P}.add_accounts")
        if add and _write(
            lambda s: mail.add_recipients(s, wave_id=wave.id, recipients=found, key=key, actor=actor),
            "{result.added} recipient(s) added; {result.already} already had a link.",
        ):
            st.rerun()


def mail_panel(wave: surveys.WaveInfo, actor: str) -> None:
    """E-mail the wave's personal links and reminders (for a draft or open wave)."""
    st.subheader("E-mail invitations and reminders")
    cfg = _settings()
    if cfg is None:
        return
    if not cfg.configured:
        st.info(
            "E-mail is not set up: set KPIALIGN_SMTP_HOST and KPIALIGN_MAIL_FROM (or KPIALIGN_MAIL_DRY_RUN to a folder). "
            "See the README, section E-mail.",
            icon=":material/mail:",
        )
    elif cfg.dry_run_dir is not None:
        st.caption(f"Dry run: messages are written as .eml files to {plain(cfg.dry_run_dir)}; nothing is sent.")
    with data.reading() as session:
        box = mail.outbox(session, wave_id=wave.id, max_reminders=cfg.max_reminders)
        wave_lang = translations.wave_language(session=session, wave_id=wave.id)
    codes = list(i18n.LANGUAGES)
    lang = st.selectbox(
        "Default language of the survey and e-mails",
        codes,
        index=codes.index(wave_lang),
        format_func=i18n.LANGUAGES.get,
        key=f"{P}.lang.{wave.id}",
        width=320,
        help="Used where a recipient has no language of their own and their browser's is not one of these.",
    )
    if lang != wave_lang and _write(
        lambda s: translations.set_wave_language(session=s, wave_id=wave.id, language=lang, actor=actor),
        "Default language saved.",
    ):
        st.rerun()
    c = st.columns(4)
    c[0].metric("To send", box.pending)
    c[1].metric("Sent", box.sent)
    c[2].metric("In doubt", box.in_doubt, help="The connection failed while the server took the message.")
    c[3].metric("Refused", box.failed, help="Addresses the mail server refused for good.")
    _show_report(wave.id)
    can_send = wave.status == "open" and cfg.configured
    if wave.status != "open":
        st.caption("E-mails go out once the wave is open; you can add recipients now.")
    buttons = st.container(horizontal=True)
    if box.pending and buttons.button(
        f"Send {box.pending} invitation(s)", type="primary", icon=":material/send:",
        disabled=not can_send, key=f"{P}.send",
    ):  # fmt: skip
        _send(wave, mail.INVITATION, cfg, actor)
    if box.reminder_round:
        due = "" if box.reminder_due is None else f" ({box.reminder_due} unused link(s))"
        label = f"Send reminder {box.reminder_round} of {box.max_reminders}{due}"
        if buttons.button(label, icon=":material/notifications:", disabled=not can_send, key=f"{P}.remind"):
            _send(wave, mail.REMINDER, cfg, actor)
        st.caption(
            "Reminders go only to links not used yet, each person at most "
            f"{box.max_reminders} times. You never see who has or has not answered."
        )
    if box.in_doubt:
        with st.popover("Send the in-doubt messages again…", icon=":material/replay:"):
            st.markdown(
                "These people may already have the message: sending again can give them a second copy. "
                "Do this only if the mail server's log shows they did not arrive."
            )
            if st.button("Send again next time", key=f"{P}.release") and _write(
                lambda s: mail.release_in_doubt(s, wave_id=wave.id, actor=actor),
                "{result} message(s) will be sent with the next run.",
            ):
                st.rerun()
    _recipients(wave, actor)


def templates_panel(actor: str) -> None:
    """Edit the invitation and reminder e-mails per language."""
    st.subheader("E-mail templates")
    st.caption(
        "Placeholders: {link} (required), {wave}, {closes_on}, {confidentiality}. Everything inserted into the "
        "HTML version is escaped; leave the HTML empty to send plain text only."
    )
    c1, c2 = st.columns(2)
    kind = c1.selectbox("E-mail", list(mail.KINDS), format_func=str.capitalize, key=f"{P}.tpl_kind")
    lang = c2.selectbox("Language", list(i18n.LANGUAGES), format_func=i18n.LANGUAGES.get, key=f"{P}.tpl_lang")
    with data.reading() as session:
        tpl = mail.get_template(session, kind=kind, language=lang)
    st.caption("Edited by HR." if tpl.custom else "The built-in text.")
    with st.form(f"{P}.tpl.{kind}.{lang}"):
        subject = st.text_input("Subject", value=tpl.subject, max_chars=mail.MAX_SUBJECT)
        text_body = st.text_area("Plain text", value=tpl.text_body, height=220, max_chars=mail.MAX_BODY)
        html_body = st.text_area("HTML", value=tpl.html_body, height=160, max_chars=mail.MAX_BODY)
        if st.form_submit_button("Save template", icon=":material/save:") and _write(
            lambda s: mail.save_template(
                s, kind=kind, language=lang, subject=subject, text_body=text_body, html_body=html_body, actor=actor
            ),
            "Template saved.",
        ):
            st.rerun()
    if (
        tpl.custom
        and st.button("Back to the built-in text", key=f"{P}.tpl_reset")
        and _write(lambda s: mail.reset_template(s, kind=kind, language=lang, actor=actor), "Built-in text restored.")
    ):
        st.rerun()


def translations_panel(actor: str) -> None:
    """Review and edit the question translations; stale ones are flagged."""
    st.subheader("Question translations")
    st.caption(
        "When a question's English text changes, its translations are marked stale and respondents see the "
        "English text until someone reviews and saves the translation. Results pool every language."
    )
    langs = [c for c in i18n.LANGUAGES if c != i18n.DEFAULT_LANGUAGE]
    lang = st.selectbox("Language", langs, format_func=i18n.LANGUAGES.get, key=f"{P}.tr_lang", width=320)
    with data.reading() as session:
        frame = translations.translations_frame(session=session, language=lang)
    if frame.empty:
        st.info("There are no active questions yet.", icon=":material/info:")
        return
    counts = frame["status"].value_counts()
    st.caption(
        f"{counts.get('current', 0)} current · {counts.get('stale', 0)} stale · {counts.get('missing', 0)} missing"
    )
    st.dataframe(
        frame[["status", "code", "source", "text"]],
        hide_index=True,
        width="stretch",
        column_config={
            "status": st.column_config.TextColumn("Status", help="current, stale (source changed) or missing"),
            "code": "Code",
            "source": st.column_config.TextColumn("English", width="large"),
            "text": st.column_config.TextColumn(i18n.LANGUAGES[lang], width="large"),
        },
    )
    labels = {int(r.question_id): f"{r.code} · {r.status}" for r in frame.itertuples()}
    qid = st.selectbox("Question", list(labels), format_func=lambda q: labels[q], key=f"{P}.tr_q")
    row = frame.set_index("question_id").loc[qid]
    st.text(f"English: {row['source']}")
    with st.form(f"{P}.tr.{lang}.{qid}"):
        text = st.text_area(i18n.LANGUAGES[lang], value=row["text"], max_chars=translations.MAX_TEXT_CHARS)
        verb = "Save as reviewed" if row["status"] == "stale" else "Save translation"
        if st.form_submit_button(verb, icon=":material/translate:") and _write(
            lambda s: translations.save_translation(session=s, question_id=qid, language=lang, text=text, actor=actor),
            "Translation saved.",
        ):
            st.rerun()
