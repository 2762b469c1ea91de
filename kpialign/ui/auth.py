"""The sign-in gate: who is signed in, and the role check every page makes before reading data.

A signed-in user is ``st.session_state["auth.account_id"]`` plus ``["auth.signed_in_at"]``
(epoch seconds); the session ends ``KPIALIGN_SESSION_HOURS`` after it. Local accounts get there
through the sign-in form (:func:`kpialign.accounts.authenticate_engine`); with an ``[auth]``
section in ``.streamlit/secrets.toml``, an identity-provider sign-in (``st.login``) is mapped to
an account by e-mail on the first rerun after it (:func:`kpialign.accounts.oidc_sign_in`).
"""

from __future__ import annotations

import time
from typing import Any

import streamlit as st
from sqlmodel import select

from kpialign import accounts
from kpialign.accounts import UserContext
from kpialign.config import load_settings
from kpialign.models import Account
from kpialign.ui import data

_KEY = "auth.account_id"
_SINCE = "auth.signed_in_at"
_VIA = "auth.via"
_OIDC_REFUSED = "auth.oidc_refused"  # (email, message) of a refused identity-provider sign-in
ACCESS_DENIED = "You do not have access to this page."


def sign_in(account_id: int, *, since: float | None = None, via: str = "password") -> None:
    st.session_state[_KEY] = account_id
    st.session_state[_SINCE] = time.time() if since is None else since
    st.session_state[_VIA] = via


def _forget() -> None:
    for key in (_KEY, _SINCE, _VIA):
        st.session_state.pop(key, None)


def sign_out() -> None:
    """End the session; after a single sign-on also drop the identity cookie (``st.logout``)."""
    _forget()
    st.session_state.pop(_OIDC_REFUSED, None)
    if oidc_identity() is not None:
        st.logout()


# ------------------------------------------------------------------------------ single sign-on


def oidc_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section (``st.login`` is available)."""
    try:
        return bool(st.secrets.get("auth"))
    except Exception:  # no secrets file, or one that does not parse: no single sign-on
        return False


def oidc_providers() -> list[str | None]:
    """Named providers (``[auth.<name>]``), or ``[None]`` for a single unnamed provider."""
    if not oidc_configured():
        return []
    section = st.secrets["auth"]
    named = [name for name, value in section.items() if hasattr(value, "keys")]
    return named or [None]


def oidc_identity() -> dict[str, Any] | None:
    """The identity-provider claims of the browser's signed-in user, or None."""
    if not oidc_configured():
        return None
    try:
        info = st.user.to_dict()
    except Exception:
        return None
    return info if info.get("is_logged_in") else None


def _oidc_account() -> int | None:
    """Map a logged-in identity to an account (once per session); None if there is none or it is refused."""
    identity = oidc_identity()
    if identity is None:
        return None
    email = str(identity.get("email") or "")
    refused = st.session_state.get(_OIDC_REFUSED)
    if refused and refused[0] == email:
        return None
    issued = identity.get("iat")
    since = float(issued) if isinstance(issued, int | float) else time.time()
    if time.time() - since > load_settings().session_hours * 3600:
        st.session_state["auth.expired"] = True
        st.logout()
        return None
    verified = identity.get("email_verified")
    with data.writing(bump=False) as session:
        result = accounts.oidc_sign_in(
            session,
            email=email or None,
            subject=str(identity.get("sub") or "") or None,
            name=str(identity.get("name") or ""),
            email_verified=verified if isinstance(verified, bool) else None,
            unknown=load_settings().oidc_unknown,
        )
    if not result.ok or result.account_id is None:
        st.session_state[_OIDC_REFUSED] = (email, result.message)
        return None
    sign_in(result.account_id, since=since, via="oidc")
    return result.account_id


def oidc_refusal() -> str | None:
    """Why the identity-provider sign-in of this browser was refused (safe to show), if it was."""
    refused = st.session_state.get(_OIDC_REFUSED)
    return refused[1] if refused else None


# ------------------------------------------------------------------------------------ the gate


def current_user() -> UserContext | None:
    """The signed-in user, re-read from the database on every rerun (a deactivated account is out at once)."""
    account_id = st.session_state.get(_KEY)
    if account_id is None:
        account_id = _oidc_account()
        if account_id is None:
            return None
    lifetime = load_settings().session_hours * 3600
    if time.time() - st.session_state.get(_SINCE, 0) > lifetime:
        via = st.session_state.get(_VIA)
        _forget()
        st.session_state["auth.expired"] = True
        if via == "oidc" and oidc_identity() is not None:
            st.logout()
        return None
    with data.reading() as session:
        account = session.exec(select(Account).where(Account.id == account_id)).first()
        if account is None or not account.active:
            _forget()
            return None
        return accounts.user_context(session, account)


def require(roles: frozenset[str] | set[str]) -> UserContext:
    """Stop the page unless the signed-in user holds one of ``roles``. Call before reading any data."""
    user = current_user()
    if user is None or not user.roles.intersection(roles):
        st.error(ACCESS_DENIED, icon=":material/lock:")
        st.stop()
    assert user is not None
    return user
