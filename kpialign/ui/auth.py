"""The sign-in gate: who is signed in, and the role check every page makes before reading data.

A signed-in user is ``st.session_state["auth.account_id"]`` plus ``["auth.signed_in_at"]``
(epoch seconds); the session ends ``KPIALIGN_SESSION_HOURS`` after it. Local accounts get there
through the sign-in form (:func:`kpialign.services.accounts.authenticate_engine`); with an ``[auth]``
section in ``.streamlit/secrets.toml``, an identity-provider sign-in (``st.login``) is mapped to
an account by e-mail on the first rerun after it (:func:`kpialign.services.accounts.oidc_sign_in`).

A local sign-in survives a reload, a typed URL and a new tab of the same browser: it starts a
web session (:func:`kpialign.services.accounts.start_web_session`; only an HMAC of its token is stored)
and the page sets a ``SameSite=Strict`` cookie with the token (:func:`write_cookie`, emitted by
app.py on the next run because the sign-in page reruns at once). A new Streamlit session reads
the cookie (``st.context.cookies``, sent with the websocket handshake) and resumes the web
session with its original sign-in time. Every rerun re-checks the web session, so a sign-out in
another tab, a password reset or a deactivation ends this one too. Streamlit cannot set cookies
from the server, so the cookie is written by a constant script and is not HttpOnly.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import streamlit as st
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import select

from kpialign import db
from kpialign.config import ConfigError, load_settings
from kpialign.core.security import valid_web_token
from kpialign.models import Account
from kpialign.services import accounts
from kpialign.services.accounts import UserContext
from kpialign.ui import data

_KEY = "auth.account_id"
_SINCE = "auth.signed_in_at"
_VIA = "auth.via"
_OIDC_REFUSED = "auth.oidc_refused"  # (email, message) of a refused identity-provider sign-in
_WEB = "auth.web_session"  # this tab's web-session token (local sign-ins)
_COOKIE_SEEN = "auth.cookie_seen"  # the cookie this browser session sent, once tried
_COOKIE_PENDING = "auth.cookie_pending"  # ("set" | "clear", token, max-age seconds), for write_cookie()
_REFUSED = "auth.sign_in_refused"  # SignInRefusal of the last sign-in attempt, shown once by the sign-in page
EMAIL_KEY = "sign_in.email"  # the sign-in form's widgets
PASSWORD_KEY = "sign_in.password"  # noqa: S105 (a widget key, not a password)
ACCESS_DENIED = "You do not have access to this page."
COOKIE = "kpialign_session"

log = logging.getLogger(__name__)


def _https() -> bool:
    return load_settings().base_url.lower().startswith("https://")


def cookie_name() -> str:
    """``__Host-kpialign_session`` on HTTPS (Secure, host-only: a sibling subdomain cannot set it), else plain."""
    return f"__Host-{COOKIE}" if _https() else COOKIE


def sign_in(account_id: int, *, since: float | None = None, via: str = "password") -> None:
    st.session_state[_KEY] = account_id
    st.session_state[_SINCE] = time.time() if since is None else since
    st.session_state[_VIA] = via
    if via == "password":
        _start_web_session(account_id)


@dataclass(frozen=True)
class SignInRefusal:
    """Why the last sign-in attempt did not sign in; ``message`` is safe to show."""

    message: str
    locked: bool = False
    database_down: bool = False


def submit_sign_in() -> None:
    """The sign-in form's ``on_click``: check the password before the run the click starts.

    Streamlit runs a widget's callback before the script, so that run is already signed in:
    app.py builds the signed-in navigation and shows the user's first page at once. (Checked in
    the page, the sign-in needed a run of the sign-in page, then ``st.rerun()`` and a second full
    run: a third of the server's work for a crowd of leaders signing in together, issue 18.)
    A refusal is kept for the sign-in page to show (:func:`sign_in_refusal`); the e-mail stays in
    the form, the password field is emptied (it does not stay in the session's widget state).
    """
    email = str(st.session_state.get(EMAIL_KEY) or "")
    password = str(st.session_state.get(PASSWORD_KEY) or "")
    st.session_state[PASSWORD_KEY] = ""
    try:
        result = accounts.authenticate_engine(engine=data.engine(), email=email, password=password)
    except (OperationalError, DBAPIError) as exc:
        st.session_state[_REFUSED] = SignInRefusal(db.friendly_error(exc), database_down=True)
        return
    if result.ok and result.account_id is not None:
        st.session_state.pop(_REFUSED, None)
        sign_in(result.account_id)
        return
    st.session_state[_REFUSED] = SignInRefusal(result.message, locked=result.locked_until is not None)


def sign_in_refusal() -> SignInRefusal | None:
    """The refusal of the last sign-in attempt, once (the sign-in page shows it under the form)."""
    return st.session_state.pop(_REFUSED, None)


def _start_web_session(account_id: int) -> None:
    """Record the sign-in as a web session and have the next run set the browser's cookie."""
    hours = load_settings().session_hours
    try:
        with data.writing(bump=False) as session:
            token = accounts.start_web_session(session=session, account_id=account_id, hours=hours)
    except (ConfigError, accounts.AccountError) as exc:  # signed in, but only in this tab
        log.warning("sign-in will not survive a reload: %s", exc)
        return
    st.session_state[_WEB] = token
    st.session_state[_COOKIE_PENDING] = ("set", token, int(hours * 3600))


def _forget() -> None:
    for key in (_KEY, _SINCE, _VIA, _WEB):
        st.session_state.pop(key, None)


def sign_out() -> None:
    """End the session (and this browser's web session and cookie); after a single sign-on also ``st.logout``."""
    token = st.session_state.get(_WEB)
    _forget()
    st.session_state.pop(_OIDC_REFUSED, None)
    if token:
        with data.writing(bump=False) as session:
            accounts.end_web_session(session=session, token=token)
        st.session_state[_COOKIE_PENDING] = ("clear", token, 0)
    if oidc_identity() is not None:
        st.logout()


def write_cookie() -> None:
    """Send a pending cookie change to the browser; app.py calls this once per run.

    A constant script: the only variable part is a token that :func:`accounts.valid_web_token`
    has checked (URL-safe base64), so nothing can be injected. "clear" removes the cookie only
    if it still holds the token this tab ended (another tab may have signed in since).
    """
    pending = st.session_state.pop(_COOKIE_PENDING, None)
    if not pending:
        return
    action, token, max_age = pending
    if not valid_web_token(token) or action not in {"set", "clear"}:
        return
    name = cookie_name()
    # Secure when the portal's address is https; else when the page happens to be served over https.
    secure = '"; Secure"' if _https() else '(location.protocol === "https:" ? "; Secure" : "")'
    if action == "set":
        value = f"{name}={token}; Max-Age={max(0, int(max_age))}; Path=/; SameSite=Strict"
        script = f'document.cookie = "{value}" + {secure};'
    else:
        value = f"{name}=; Max-Age=0; Path=/; SameSite=Strict"
        script = f'if (document.cookie.split("; ").includes("{name}={token}")) document.cookie = "{value}" + {secure};'
    # The style hides the element's (empty) container, so the page does not shift by a gap.
    hide = '<style>[data-testid="stElementContainer"]:has(script[data-kpialign-cookie]){display:none}</style>'
    st.html(f"{hide}<script data-kpialign-cookie>{script}</script>", unsafe_allow_javascript=True)


def _resume_from_cookie() -> int | None:
    """A new browser session (reload, typed URL, new tab): resume the web session in the cookie, if live."""
    try:
        token = st.context.cookies.get(cookie_name())
    except Exception:  # no browser (AppTest, scripts)
        return None
    if not isinstance(token, str) or not token or token == st.session_state.get(_COOKIE_SEEN):
        return None  # the handshake's cookie never changes: try it once per session, not after a sign-out
    st.session_state[_COOKIE_SEEN] = token
    info = None
    if valid_web_token(token):
        try:
            with data.reading() as session:
                info = accounts.resume_web_session(session=session, token=token)
        except ConfigError as exc:
            log.warning("cannot resume a sign-in from the cookie: %s", exc)
            return None
    if info is None:  # expired, revoked, forged or malformed: drop it from the browser
        if valid_web_token(token):
            st.session_state[_COOKIE_PENDING] = ("clear", token, 0)
        return None
    st.session_state[_KEY] = info.account_id
    st.session_state[_SINCE] = info.created_at.timestamp()  # the lifetime counts from the sign-in
    st.session_state[_VIA] = "password"
    st.session_state[_WEB] = token
    return info.account_id


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
            session=session,
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
    """The signed-in user, re-read from the database on every run (a deactivated account is out at once).

    Read once per run: app.py's gate and the page's :func:`require` share it
    (:func:`kpialign.ui.data.once_per_run`; a fragment's rerun reads afresh).
    """
    return data.once_per_run("user", _read_user)


def _read_user() -> UserContext | None:
    account_id = st.session_state.get(_KEY)
    if account_id is None:
        account_id = _resume_from_cookie()
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
        token = st.session_state.get(_WEB)
        if token and _web_session_ended(session, token):
            _forget()  # signed out in another tab, password reset, or expired
            st.session_state["auth.expired"] = True
            return None
        return accounts.user_context(session=session, account=account)


def _web_session_ended(session: Any, token: str) -> bool:
    try:
        return accounts.resume_web_session(session=session, token=token) is None
    except ConfigError:  # the key went away: keep the tab signed in, as before web sessions
        return False


def require(roles: frozenset[str] | set[str]) -> UserContext:
    """Stop the page unless the signed-in user holds one of ``roles``. Call before reading any data."""
    user = current_user()
    if user is None or not user.roles.intersection(roles):
        st.error(ACCESS_DENIED, icon=":material/lock:")
        st.stop()
    assert user is not None
    return user
