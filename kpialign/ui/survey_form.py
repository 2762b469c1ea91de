"""The employee survey's form: confidentiality statement, items with "prefer not to say", the
objective pick, an optional comment, progress, submit, and the thank-you page.

Refresh, back and double clicks cannot create a second response: the link (or the account's
participation row) is claimed in the same transaction as the response is stored
(:func:`kpialign.services.surveys.submit_response`). The token is never logged, printed or stored
anywhere but this browser session.
"""

from __future__ import annotations

import hashlib
import time

import streamlit as st

from kpialign.config import ConfigError, load_settings, secret_key
from kpialign.core import i18n
from kpialign.core.i18n import text as tr
from kpialign.services import surveys, translations
from kpialign.ui import data, language
from kpialign.ui import line_of_sight as los
from kpialign.ui.widgets import plain

PREFER_NOT = 0
CHOICES = [1, 2, 3, 4, 5, PREFER_NOT]
DONE = "survey.done"
FORM_CACHE = "survey.form_cache"  # (marker, checked at, SurveyForm): see _load_form
FORM_TTL_S = 60.0
REFUSED = "survey.refused"  # (marker, reason) of a submit the database refused


def link_key() -> bytes:
    """The server's key for survey links; without one, the survey says so and stops."""
    try:
        return secret_key(load_settings().database_url)
    except ConfigError:
        st.error("The survey is not available at the moment. Please tell HR.", icon=":material/cloud_off:")
        st.stop()
    raise AssertionError("unreachable")


def session_marker(kind: str, ident: str) -> str:
    """A per-browser-session marker of a finished survey (a digest, never the token itself)."""
    return hashlib.sha256(f"{kind}:{ident}".encode()).hexdigest()[:16]


def _thank_you(lang: str, wave_name: str, skipped: int | None = None) -> None:
    st.title(tr("thanks_title", lang))
    st.success(tr("thanks_saved", lang), icon=":material/check_circle:")
    st.text(tr("thanks_survey", lang, wave=wave_name))
    if skipped:
        st.markdown(tr("thanks_skipped", lang, n=skipped))
    st.markdown(tr("thanks_body", lang))
    los.thank_you_objectives()


def _problem(lang: str, exc: surveys.LinkProblem) -> None:
    icon = ":material/task_alt:" if exc.reason == "used" else ":material/link_off:"
    st.title(tr("title", lang))
    message = tr(f"link_{exc.reason}", lang) if f"link_{exc.reason}" in i18n.TEXTS else str(exc)
    (st.success if exc.reason == "used" else st.info)(message, icon=icon)


def _confidentiality(lang: str, form: surveys.SurveyForm) -> None:
    with st.container(border=True):
        st.markdown(tr("conf_title", lang))
        st.markdown(tr("conf_body", lang, k=form.wave.min_group, c=form.wave.comment_min))


def _answered(form: surveys.SurveyForm, prefix: str) -> tuple[int, int]:
    total, done = 0, 0
    for item in form.rated_items:
        total += 1
        if item.kind == "objective_pick":
            picked = any(st.session_state.get(f"{prefix}.pick.{i}") for i in range(len(item.options)))
            done += picked or bool(st.session_state.get(f"{prefix}.pick.none"))
        else:
            done += st.session_state.get(f"{prefix}.q{item.question_id}") is not None
    return done, total


def _render_form(form: surveys.SurveyForm, prefix: str, lang: str) -> dict | None:
    """Draw the items; return the collected answers when the respondent presses Submit.

    Each agree-scale item is a radio group whose accessible name is the plain question text
    (the label is hidden and the question shown above it as escaped Markdown): Streamlit uses a
    widget's raw label as its ``aria-label``, so a visible, escaped label would make screen
    readers read out the escaping backslashes and asterisks.
    """
    labels = {**i18n.likert_labels(lang), PREFER_NOT: tr("prefer_not", lang)}
    done, total = _answered(form, prefix)
    progress = st.empty()
    progress.progress(done / total if total else 1.0, text=tr("progress", lang, done=done, total=total))

    answers: dict[int, int | None] = {}
    picks: set[str] | None = None
    for n, item in enumerate(form.rated_items, start=1):
        if item.kind == "objective_pick":
            st.markdown(f"**{n}\\. {plain(item.text)}**")
            none = st.checkbox(tr("prefer_not", lang), key=f"{prefix}.pick.none")
            chosen = set()
            for i, option in enumerate(item.options):
                label = plain(translations.option_label(option=option, language=lang))
                if st.checkbox(label, key=f"{prefix}.pick.{i}", disabled=none):
                    chosen.add(option)
            picks = None if none or not chosen else chosen
        else:
            st.markdown(f"**{n}\\.** {plain(item.text)}")
            value = st.radio(
                f"{n}. {item.text}",  # the accessible name only: hidden, never rendered
                CHOICES,
                index=None,
                format_func=labels.get,
                horizontal=True,
                key=f"{prefix}.q{item.question_id}",
                label_visibility="collapsed",
            )
            answers[item.question_id] = None if value in (None, PREFER_NOT) else int(value)
        st.divider()

    comment = None
    if form.has_comment:
        text_item = next(i for i in form.items if i.kind == "text")
        comment = st.text_area(
            plain(text_item.text),
            max_chars=surveys.MAX_COMMENT_CHARS,
            key=f"{prefix}.comment",
            placeholder=tr("comment_placeholder", lang),
        )

    if done < total:
        st.markdown(tr("unanswered", lang, n=total - done))
    if st.button(tr("submit", lang), type="primary", icon=":material/send:", key=f"{prefix}.submit", width="stretch"):
        return {"answers": answers, "picks": picks, "comment": comment}
    return None


def _submit(lang: str, collected: dict, **who) -> surveys.Submitted | surveys.LinkProblem | None:
    try:
        with data.writing() as session:
            return surveys.submit_response(
                session=session,
                answers=collected["answers"],
                objective_picks=collected["picks"],
                comment=collected["comment"],
                **who,
            )
    except surveys.LinkProblem as exc:
        return exc
    except surveys.SurveyError as exc:
        st.error(f"{tr('error_prefix', lang)} {plain(str(exc))}", icon=":material/error:")
        return None


def _load_form(form_loader, marker: str, lang_of) -> tuple[surveys.SurveyForm, str]:
    """The form, checked at most every FORM_TTL_S seconds in this browser session.

    Answering an item reruns the page; re-checking the link and re-reading the wave, its
    questions and the objectives on each of those reruns cost more than the page itself under
    load (issue 9). Nothing is trusted from this cache at submit: :func:`surveys.submit_response`
    checks and claims the link (or the participation) again in its own transaction, so a link
    used in another tab or a wave closed meanwhile is still refused then. Between checks, such a
    change shows up at the latest FORM_TTL_S seconds later, or at submit. Raises
    :class:`surveys.LinkProblem` (never cached: the next rerun checks again).
    """
    key = (marker, st.query_params.get("lang"))  # the language picker changes ?lang=
    cached = st.session_state.get(FORM_CACHE)
    now = time.monotonic()
    if cached and cached[0] == key and now - cached[1] < FORM_TTL_S:
        return cached[2], cached[3]
    st.session_state.pop(FORM_CACHE, None)
    with data.reading() as session:
        form = form_loader(session)
        lang = lang_of(translations.wave_language(session=session, wave_id=form.wave.id))
        form = translations.localise_form(session=session, form=form, language=lang)
    st.session_state[FORM_CACHE] = (key, now, form, lang)
    return form, lang


def flow(form_loader, marker: str, who: dict, account_id: int | None = None, actor: str = "") -> None:
    def lang_of(wave_default):
        return language.resolve(account_id=account_id, wave_default=wave_default)

    refused = st.session_state.pop(REFUSED, None)
    if refused and refused[0] == marker:
        language.set_document_language(refused[2])
        _problem(refused[2], surveys.LinkProblem(refused[1]))
        return
    done = st.session_state.get(DONE, {})
    if marker in done:
        language.set_document_language(done[marker][0])
        _thank_you(*done[marker])
        return
    try:
        form, lang = _load_form(form_loader, marker, lang_of)
    except surveys.LinkProblem as exc:
        early = lang_of(None)
        language.set_document_language(early)
        _problem(early, exc)
        return
    language.set_document_language(lang)
    head, pick = st.columns([4, 1], vertical_alignment="bottom")
    head.title(tr("title", lang))
    with pick:
        language.picker(lang, account_id=account_id, actor=actor, key="survey.language")
    closes = i18n.long_date(form.wave.closes_on, lang)
    st.text(f"{form.wave.name} · {form.department} · {tr('open_until', lang, date=closes)}")
    st.markdown(tr("duration", lang))
    _confidentiality(lang, form)
    _answering(form, marker, who, lang)


@st.fragment
def _answering(form: surveys.SurveyForm, marker: str, who: dict, lang: str) -> None:
    """The items, progress and Submit. A fragment: answering an item reruns only this part of the
    page, not app.py, the sign-in gate and the header (issue 9). Submit ends with a full rerun."""
    collected = _render_form(form, f"survey.{marker}", lang)
    if collected is None:
        return
    st.session_state.pop(FORM_CACHE, None)  # after a submit, whatever its outcome, check afresh
    result = _submit(lang, collected, **who)
    done = st.session_state.get(DONE, {})
    if isinstance(result, surveys.Submitted):
        st.session_state[DONE] = {**done, marker: (lang, result.wave_name, result.skipped)}
        st.rerun()
    elif isinstance(result, surveys.LinkProblem):
        if result.reason == "used":
            st.session_state[DONE] = {**done, marker: (lang, form.wave.name, None)}
        st.session_state[REFUSED] = (marker, result.reason, lang)  # shown by the full rerun, once
        st.rerun()
