"""Employee survey: from a personal link (``?token=``, no account needed) or signed in.

One phone-friendly page: confidentiality statement, items with "prefer not to say", the
objective pick, an optional comment, a progress indicator, then a thank-you page. Refresh,
back and double clicks cannot create a second response: the link (or the account's
participation row) is claimed in the same transaction as the response is stored.

The token is never logged, printed or stored anywhere but this browser session.
"""

from __future__ import annotations

import hashlib
import time

import streamlit as st

from kpialign.config import ConfigError, load_settings, secret_key
from kpialign.services import surveys
from kpialign.services.question_bank import LIKERT_LABELS
from kpialign.ui import auth, data, nav
from kpialign.ui import line_of_sight as los
from kpialign.ui.widgets import plain

PREFER_NOT = 0
CHOICES = [1, 2, 3, 4, 5, PREFER_NOT]
LABELS = {**LIKERT_LABELS, 3: "Neutral", PREFER_NOT: "Prefer not to say"}
DONE = "survey.done"
FORM_CACHE = "survey.form_cache"  # (marker, checked at, SurveyForm): see _load_form
FORM_TTL_S = 60.0
REFUSED = "survey.refused"  # (marker, reason) of a submit the database refused


def _key() -> bytes:
    try:
        return secret_key(load_settings().database_url)
    except ConfigError:
        st.error("The survey is not available at the moment. Please tell HR.", icon=":material/cloud_off:")
        st.stop()
    raise AssertionError("unreachable")


def _session_marker(kind: str, ident: str) -> str:
    """A per-browser-session marker of a finished survey (a digest, never the token itself)."""
    return hashlib.sha256(f"{kind}:{ident}".encode()).hexdigest()[:16]


def _thank_you(wave_name: str, skipped: int | None = None) -> None:
    st.title("Thank you!")
    st.success("Your answers have been saved.", icon=":material/check_circle:")
    st.text(f"Survey: {wave_name}")
    if skipped:
        st.caption(f"You chose not to answer {skipped} item(s); that is completely fine.")
    st.markdown(
        "Your answers are counted together with your colleagues'. Results are shown only for "
        "groups large enough that nobody can be singled out. You can close this page now."
    )
    los.thank_you_objectives()


def _problem(exc: surveys.LinkProblem) -> None:
    icon = ":material/task_alt:" if exc.reason == "used" else ":material/link_off:"
    st.title("Line-of-sight survey")
    (st.success if exc.reason == "used" else st.info)(str(exc), icon=icon)


def _confidentiality(form: surveys.SurveyForm) -> None:
    with st.container(border=True):
        st.markdown("**Confidential, not anonymous** — what that means for you")
        st.markdown(
            f"""
- **What is stored:** your answers, your department and the day you answered. Not your name,
  e-mail, account, IP address or the time of day, and nothing that links your answers to your link.
- **Who sees what:** leaders and HR see only results of groups of at least {form.wave.min_group}
  people. Comments are shown, unattributed, only where at least {form.wave.comment_min} people
  commented. Nobody — not even an administrator — can see one person's answers.
- **Why not anonymous:** your link is personal, so HR knows it was sent to you and can see how many
  links were used, but never what anyone answered. Please don't put your name or other
  identifying details in the comment.
"""
        )


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


def _render_form(form: surveys.SurveyForm, prefix: str) -> dict | None:
    """Draw the items; return the collected answers when the respondent presses Submit."""
    done, total = _answered(form, prefix)
    progress = st.empty()
    progress.progress(done / total if total else 1.0, text=f"{done} of {total} answered")

    answers: dict[int, int | None] = {}
    picks: set[str] | None = None
    for n, item in enumerate(form.rated_items, start=1):
        if item.kind == "objective_pick":
            st.markdown(f"**{n}. {plain(item.text)}**")
            none = st.checkbox("Prefer not to say", key=f"{prefix}.pick.none")
            chosen = set()
            for i, option in enumerate(item.options):
                if st.checkbox(plain(option), key=f"{prefix}.pick.{i}", disabled=none):
                    chosen.add(option)
            picks = None if none or not chosen else chosen
        else:
            value = st.radio(
                f"**{n}.** {plain(item.text)}",
                CHOICES,
                index=None,
                format_func=LABELS.get,
                horizontal=True,
                key=f"{prefix}.q{item.question_id}",
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
            placeholder="Optional. Please leave out names and anything that identifies you.",
        )

    if done < total:
        st.caption(f"{total - done} item(s) not answered yet; they will count as 'prefer not to say'.")
    if st.button("Submit my answers", type="primary", icon=":material/send:", key=f"{prefix}.submit", width="stretch"):
        return {"answers": answers, "picks": picks, "comment": comment}
    return None


def _submit(collected: dict, **who) -> surveys.Submitted | surveys.LinkProblem | None:
    try:
        with data.writing() as session:
            return surveys.submit_response(
                session,
                answers=collected["answers"],
                objective_picks=collected["picks"],
                comment=collected["comment"],
                **who,
            )
    except surveys.LinkProblem as exc:
        return exc
    except surveys.SurveyError as exc:
        st.error(plain(str(exc)), icon=":material/error:")
        return None


def _load_form(form_loader, marker: str) -> surveys.SurveyForm:
    """The form, checked at most every FORM_TTL_S seconds in this browser session.

    Answering an item reruns the page; re-checking the link and re-reading the wave, its
    questions and the objectives on each of those reruns cost more than the page itself under
    load (issue 9). Nothing is trusted from this cache at submit: :func:`surveys.submit_response`
    checks and claims the link (or the participation) again in its own transaction, so a link
    used in another tab or a wave closed meanwhile is still refused then. Between checks, such a
    change shows up at the latest FORM_TTL_S seconds later, or at submit. Raises
    :class:`surveys.LinkProblem` (never cached: the next rerun checks again).
    """
    cached = st.session_state.get(FORM_CACHE)
    now = time.monotonic()
    if cached and cached[0] == marker and now - cached[1] < FORM_TTL_S:
        return cached[2]
    st.session_state.pop(FORM_CACHE, None)
    with data.reading() as session:
        form = form_loader(session)
    st.session_state[FORM_CACHE] = (marker, now, form)
    return form


def _flow(form_loader, marker: str, who: dict) -> None:
    refused = st.session_state.pop(REFUSED, None)
    if refused and refused[0] == marker:
        _problem(surveys.LinkProblem(refused[1]))
        return
    done = st.session_state.get(DONE, {})
    if marker in done:
        _thank_you(*done[marker])
        return
    try:
        form = _load_form(form_loader, marker)
    except surveys.LinkProblem as exc:
        _problem(exc)
        return
    st.title("Line-of-sight survey")
    st.text(f"{form.wave.name} · {form.department} · open until {form.wave.closes_on:%d %B %Y}")
    st.caption("About 2 minutes. Every item has a 'Prefer not to say' choice.")
    _confidentiality(form)
    _answering(form, marker, who)


@st.fragment
def _answering(form: surveys.SurveyForm, marker: str, who: dict) -> None:
    """The items, progress and Submit. A fragment: answering an item reruns only this part of the
    page, not app.py, the sign-in gate and the header (issue 9). Submit ends with a full rerun."""
    collected = _render_form(form, f"survey.{marker}")
    if collected is None:
        return
    st.session_state.pop(FORM_CACHE, None)  # after a submit, whatever its outcome, check afresh
    result = _submit(collected, **who)
    done = st.session_state.get(DONE, {})
    if isinstance(result, surveys.Submitted):
        st.session_state[DONE] = {**done, marker: (result.wave_name, result.skipped)}
        st.rerun()
    elif isinstance(result, surveys.LinkProblem):
        if result.reason == "used":
            st.session_state[DONE] = {**done, marker: (form.wave.name, None)}
        st.session_state[REFUSED] = (marker, result.reason)  # shown by the full rerun, once
        st.rerun()


token = st.query_params.get("token")
if token:
    # The personal link is the credential: no account needed.
    key = _key()
    _flow(
        lambda session: surveys.check_token(session, token=token, key=key),
        _session_marker("token", surveys.hash_token(token, key)),
        {"token": token, "key": key},
    )
else:
    user = auth.require(nav.roles_for("pages/survey.py"))
    with data.reading() as session:
        waves = surveys.waves_for_account(session, account_id=user.account_id) if user.account_id else None
    if waves is None or waves.empty:
        st.title("Line-of-sight survey")
        st.info(
            "There is no survey for you to answer right now. If you received a personal survey "
            "link by e-mail, please open that link instead.",
            icon=":material/event_available:",
        )
        st.stop()
    open_waves = waves[~waves["answered"]]
    if open_waves.empty:
        st.title("Line-of-sight survey")
        st.success("You have answered every open survey. Thank you!", icon=":material/task_alt:")
        st.stop()
    wave_id = int(open_waves["wave_id"].iloc[0])
    if len(open_waves) > 1:
        names = dict(zip(open_waves["wave_id"].astype(int), open_waves["name"], strict=True))
        wave_id = st.selectbox("Survey", list(names), format_func=lambda w: str(names[w]), key="survey.wave")
    _flow(
        lambda session: surveys.account_form(session, account_id=user.account_id, wave_id=wave_id),
        _session_marker("account", f"{user.account_id}:{wave_id}"),
        {"account_id": user.account_id, "wave_id": wave_id},
    )
