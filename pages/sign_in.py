"""Sign in with a local account."""

from __future__ import annotations

import streamlit as st
from kpialign.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from sqlmodel import select

from kpialign import accounts
from kpialign.config import load_settings
from kpialign.models import Account
from kpialign.ui import auth, data

st.title("Sign in to kpialign")
if st.session_state.pop("auth.expired", False):
    st.info("Your session has ended. Please sign in again.")

with st.form("sign_in.form"):
    email = st.text_input("E-mail", key="sign_in.email")
    password = st.text_input("Password", type="password", key="sign_in.password")
    submitted = st.form_submit_button("Sign in", type="primary")

if submitted:
    with data.reading() as session:
        account = session.exec(select(Account).where(Account.email == email.strip().lower())).first()
        ok = accounts.verify_password(account.password_hash if account else None, password)
    if account is not None and account.active and ok:
        auth.sign_in(account.id)
        st.rerun()
    st.error("That e-mail and password do not match an active account.")

if load_settings().demo:
    st.divider()
    st.subheader("Demo accounts")
    st.caption(f"Demo mode is on. Every demo account's password is `{DEMO_PASSWORD}`.")
    st.dataframe(
        [{"role": role, "e-mail": email} for role, email in DEMO_ACCOUNTS.items()],
        hide_index=True,
    )
