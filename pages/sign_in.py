"""Sign in: single sign-on (when configured) and local accounts, with throttling."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import DBAPIError, OperationalError

from kpialign.services import accounts, portal
from kpialign.ui import auth, data
from kpialign.ui.widgets import plain

st.title("Sign in to kpialign")
if st.session_state.pop("auth.expired", False):
    st.info("Your session has ended. Please sign in again.", icon=":material/schedule:")

if auth.oidc_configured():
    refusal = auth.oidc_refusal()
    if refusal:
        st.error(plain(refusal), icon=":material/block:")
        if st.button("Sign in with another account", key="sign_in.oidc_logout"):
            auth.sign_out()
    else:
        for provider in auth.oidc_providers():
            label = "Sign in with single sign-on" if provider is None else f"Sign in with {plain(provider.title())}"
            if st.button(label, type="primary", icon=":material/badge:", key=f"sign_in.oidc.{provider or 'default'}"):
                st.login(provider)
    st.caption("Or sign in with a local kpialign account:")

# clear_on_submit: the typed password does not stay in the session's widget state.
with st.form("sign_in.form", clear_on_submit=True):
    email = st.text_input(
        "E-mail", value=st.session_state.get("sign_in.last_email", ""), max_chars=320, autocomplete="username"
    )
    password = st.text_input("Password", type="password", max_chars=1024, autocomplete="current-password")
    submitted = st.form_submit_button("Sign in", type="primary" if not auth.oidc_configured() else "secondary")

if submitted:
    st.session_state["sign_in.last_email"] = email
    try:
        result = accounts.authenticate_engine(engine=data.engine(), email=email, password=password)
    except (OperationalError, DBAPIError) as exc:
        data.show_db_error(exc)
        st.stop()
    if result.ok and result.account_id is not None:
        auth.sign_in(result.account_id)
        st.rerun()
    st.error(result.message, icon=":material/lock:" if result.locked_until else ":material/error:")

with data.reading() as session:
    demo_database, first_run = portal.is_demo(session=session), not portal.has_accounts(session=session)

if first_run:
    st.info(
        "This portal has no accounts yet. Create the first admin on the server's command line "
        "(a password is printed once), then sign in here:",
        icon=":material/person_add:",
    )
    st.code(portal.FIRST_ADMIN_COMMAND, language="sh")

if demo_database:  # demo mode follows the database: only the seeded demo lists its public accounts
    from kpialign.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD

    st.divider()
    st.subheader("Demo accounts")
    st.caption(f"Demo mode is on. Every demo account's password is `{DEMO_PASSWORD}`.")
    st.dataframe(
        [{"role": role, "e-mail": email} for role, email in DEMO_ACCOUNTS.items()],
        hide_index=True,
    )
