"""The survey's language in the browser: which one, a picker, and the page's ``lang`` attribute.

Order (:func:`kpialign.core.i18n.resolve_language`): ``?lang=`` on the link, the signed-in
user's preference (``account.language``), the browser (``st.context.locale``), the wave's default.
"""

from __future__ import annotations

import streamlit as st

from kpialign.core import i18n
from kpialign.services import translations
from kpialign.ui import data

_DOC_LANG = "language.document"  # the lang attribute this browser session's page last got


def resolve(*, account_id: int | None, wave_default: str | None = None) -> str:
    account = None
    if account_id is not None:
        with data.reading() as session:
            account = translations.account_language(session=session, account_id=account_id)
    return i18n.resolve_language(
        query=st.query_params.get("lang"),
        account=account,
        browser=st.context.locale,
        wave_default=wave_default,
    )


def set_document_language(lang: str) -> None:
    """Set ``<html lang>`` so screen readers pronounce the page in its language (WCAG 3.1.1).

    Streamlit serves ``<html lang="en">`` and has no option for it; a constant script sets it
    (the value is one of :data:`i18n.LANGUAGES`, nothing else can reach it).
    """
    code = i18n.normalise(lang) or i18n.DEFAULT_LANGUAGE
    st.session_state[_DOC_LANG] = code
    hide = '<style>[data-testid="stElementContainer"]:has(script[data-kpialign-lang]){display:none}</style>'
    st.html(
        f'{hide}<script data-kpialign-lang>document.documentElement.lang = "{code}";</script>',
        unsafe_allow_javascript=True,
    )


def reset_document_language() -> None:
    """Back to English on the portal's other pages, if the survey changed it in this session."""
    if st.session_state.get(_DOC_LANG, i18n.DEFAULT_LANGUAGE) != i18n.DEFAULT_LANGUAGE:
        set_document_language(i18n.DEFAULT_LANGUAGE)


def picker(current: str, *, account_id: int | None, actor: str = "", key: str) -> str:
    """A language menu; the choice goes into ``?lang=`` (and the signed-in user's preference)."""
    codes = list(i18n.LANGUAGES)
    chosen = st.selectbox(
        i18n.text("language", current),
        codes,
        index=codes.index(current),
        format_func=i18n.LANGUAGES.get,
        key=key,
        width=180,
    )
    if chosen != current:
        st.query_params["lang"] = chosen
        if account_id is not None:
            with data.writing(bump=False) as session:
                translations.set_account_language(
                    session=session, account_id=account_id, language=chosen, actor=actor or f"account:{account_id}"
                )
        st.rerun()
    return current
