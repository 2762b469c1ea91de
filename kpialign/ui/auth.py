"""The sign-in gate: who is signed in, and the role check every page makes before reading data."""

from __future__ import annotations

import time

import streamlit as st
from sqlmodel import select

from kpialign import accounts
from kpialign.accounts import UserContext
from kpialign.config import load_settings
from kpialign.models import Account
from kpialign.ui import data

_KEY = "auth.account_id"
_SINCE = "auth.signed_in_at"


def sign_in(account_id: int) -> None:
    st.session_state[_KEY] = account_id
    st.session_state[_SINCE] = time.time()


def sign_out() -> None:
    for key in (_KEY, _SINCE):
        st.session_state.pop(key, None)


def current_user() -> UserContext | None:
    """The signed-in user, re-read from the database on every rerun (a deactivated account is out at once)."""
    account_id = st.session_state.get(_KEY)
    if account_id is None:
        return None
    lifetime = load_settings().session_hours * 3600
    if time.time() - st.session_state.get(_SINCE, 0) > lifetime:
        sign_out()
        st.session_state["auth.expired"] = True
        return None
    with data.reading() as session:
        account = session.exec(select(Account).where(Account.id == account_id)).first()
        if account is None or not account.active:
            sign_out()
            return None
        return accounts.user_context(session, account)


def require(roles: frozenset[str] | set[str]) -> UserContext:
    """Stop the page unless the signed-in user holds one of ``roles``. Call before reading any data."""
    user = current_user()
    if user is None or not user.roles.intersection(roles):
        st.error("You do not have access to this page.", icon=":material/lock:")
        st.stop()
    assert user is not None
    return user
