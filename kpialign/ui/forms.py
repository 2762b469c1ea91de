"""Shared form helpers for pages: the confirmation dialog of a removal.

A page keeps the pending confirmation in ``st.session_state`` (so the dialog stays open across
reruns) and calls :func:`confirm` on every run while it is pending.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st


def confirm(
    title: str,
    *,
    subject: str,
    message: str,
    button: str,
    key: str,
    on_confirm: Callable[[], None],
    on_dismiss: Callable[[], None],
    warn: bool = False,
) -> None:
    """Open a modal dialog: ``subject`` as plain text, ``message`` (a warning when ``warn``), and
    one primary ``button`` that runs ``on_confirm``. Closing the dialog runs ``on_dismiss``."""

    def body() -> None:
        st.text(subject)
        (st.warning if warn else st.info)(message)
        if st.button(button, type="primary", key=key):
            on_confirm()

    st.dialog(title, on_dismiss=on_dismiss)(body)()


def confirm_removal(
    title: str,
    *,
    subject: str,
    history: list[str],
    retire_note: str,
    delete_note: str,
    key: str,
    on_confirm: Callable[[], None],
    on_dismiss: Callable[[], None],
) -> None:
    """A removal that retires what has history (``history`` names it) and deletes the rest."""
    confirm(
        title,
        subject=subject,
        message=f"It has {', '.join(history)}, so it will be retired{retire_note}" if history else delete_note,
        warn=bool(history),
        button="Retire" if history else "Delete",
        key=key,
        on_confirm=on_confirm,
        on_dismiss=on_dismiss,
    )
