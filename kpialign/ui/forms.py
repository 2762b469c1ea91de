"""Shared form helpers for pages: one audited change with its notice, and one confirmation dialog.

A change runs in one write transaction (:func:`change`); its success notice is kept in
``st.session_state`` and shown on the next run (:func:`show_notice`). A removal that needs a
confirmation keeps the pending removal in ``st.session_state`` (so the dialog stays open across
reruns) and calls :func:`confirm` on every run while it is pending; a confirmation opened by a
button click calls :func:`confirm` once, from the click.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import streamlit as st
from sqlmodel import Session

from kpialign.ui import data
from kpialign.ui.widgets import plain, refusals

UNCHANGED = "Nothing changed."


@dataclass(frozen=True)
class Change:
    """The outcome of :func:`change`: ``ok`` when it was written, with the action's ``result``."""

    ok: bool
    result: Any = None


def change(
    action: Callable[[Session], Any],
    *,
    notice: str,
    success: str | Callable[[Any], str],
    unchanged: str | None = UNCHANGED,
) -> Change:
    """Run ``action(session)`` as one audited change in a write transaction.

    A refusal is shown (and nothing is written). Otherwise the notice for the next run is stored
    under the session-state key ``notice``: ``success`` (or ``success(result)``), or ``unchanged``
    when the action returned False (an action that changed nothing). The caller reruns when it
    wants the notice shown at once.
    """
    result = None
    with refusals() as outcome, data.writing() as session:
        result = action(session)
    if outcome.failed:
        return Change(False)
    if result is False and unchanged is not None:
        st.session_state[notice] = unchanged
    else:
        st.session_state[notice] = success(result) if callable(success) else success
    return Change(True, result)


def show_notice(key: str, *, escape: bool = True) -> None:
    """Show (once) the notice a change stored under ``key``; ``escape=False`` only for our own texts.

    The slot is drawn on every run, notice or not, so the elements below keep their place and a
    tab set below does not jump back to its first tab when the notice comes or goes."""
    slot = st.empty()
    if notice := st.session_state.pop(key, None):
        slot.success(plain(notice) if escape else notice, icon=":material/check_circle:")


def confirm(
    title: str,
    *,
    subject: str,
    message: str | None,
    button: str,
    key: str,
    on_confirm: Callable[[], None],
    on_dismiss: Callable[[], None] | Literal["ignore", "rerun"] = "ignore",
    warn: bool = False,
    icon: str | None = None,
    cancel: str | None = None,
    cancel_key: str | None = None,
) -> None:
    """Open a modal dialog: ``subject`` as plain text, ``message`` (a warning when ``warn``), and
    one primary ``button`` that runs ``on_confirm``; with ``cancel``, a second button beside it
    that closes the dialog. Closing the dialog runs ``on_dismiss``."""

    def body() -> None:
        st.text(subject)
        if message:
            (st.warning if warn else st.info)(message)
        where: list[Any] = st.columns(2) if cancel else [st]
        if where[0].button(button, type="primary", icon=icon, key=key):
            on_confirm()
        if cancel and where[1].button(cancel, key=cancel_key):
            if callable(on_dismiss):
                on_dismiss()
            st.rerun()

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
