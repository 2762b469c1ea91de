"""The forms of the admin's Users and roles page: change a user (roles, KPI-owner departments,
manager units, home department, deactivation, password reset) and create a user.

Every change is one audited service call (:mod:`kpialign.services.accounts`, the functions the
CLI's ``create-user`` and the directory import call too) in one write transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import streamlit as st
from sqlmodel import Session

from kpialign.core.security import generate_password
from kpialign.models import Role
from kpialign.services import accounts
from kpialign.ui import data, forms

P = "admin_users"
ROLES = [r.value for r in Role]
LABELS = accounts.ROLE_LABELS
REVEAL = f"{P}.reveal"  # (email, password) shown once after a create or reset
NOTICE = f"{P}.notice"


def run(action: Callable[[Session], Any], success: str) -> None:
    """Run one audited change in a write transaction; refusals are shown, nothing is written.
    An action that returns (email, password) has that password shown once after the rerun."""
    done = forms.change(action, notice=NOTICE, success=success)
    if not done.ok:
        return
    if isinstance(done.result, tuple):
        st.session_state[REVEAL] = done.result
    st.rerun()


def show_reveal() -> None:
    """The password just generated, once, as plain text."""
    if reveal := st.session_state.pop(REVEAL, None):
        with st.container(border=True):
            st.text(f"New password for {reveal[0]} — shown only now; copy it and hand it over safely:")
            st.code(reveal[1], language=None)


def roles_text(roles: str) -> str:
    """A comma-separated list of role values as their labels ("kpi_owner, hr" -> "KPI owner, HR")."""
    return ", ".join(LABELS.get(r, r) for r in roles.split(", ") if r)


def change_user(users: pd.DataFrame, dept_names: Mapping[int, str], actor: str) -> None:
    """Choose an account; change its roles and scopes, its home department, deactivate it or reset its password."""
    emails = dict(zip(users["id"].astype(int), users["email"], strict=True))
    account_id = st.selectbox("Account", list(emails), format_func=lambda i: emails[i], key=f"{P}.account", index=None)
    if account_id is None:
        st.caption("Choose an account to change its roles, deactivate it or reset its password.")
        return
    row = users.set_index("id").loc[account_id]
    held = [r for r in row["roles"].split(", ") if r]
    with data.reading() as session:
        ctx = accounts.user_context_by_id(session=session, account_id=account_id)
        ctx_units = accounts.manager_units_of(session=session, account_id=account_id)
    with st.form(f"{P}.roles.{account_id}"):
        st.text(f"Roles of {row['email']}")
        roles = st.multiselect(
            "Roles", ROLES, default=held, format_func=lambda r: LABELS[r], key=f"{P}.roles.{account_id}"
        )
        owner = st.multiselect(
            "KPI owner of (departments)",
            list(dept_names),
            default=sorted(d for d in ctx.owner_departments if d in dept_names),
            format_func=lambda d: dept_names[d],
            help="Only needed with the KPI owner role: the departments whose KPIs this person keeps.",
            key=f"{P}.owner.{account_id}",
        )
        units = st.multiselect(
            "Manager of (units)",
            list(dept_names),
            default=sorted(d for d in ctx_units if d in dept_names),
            format_func=lambda d: dept_names[d],
            help="Only needed with the manager role: the units this person leads, each with everything "
            "below it. Closed units cannot be chosen.",
            key=f"{P}.units.{account_id}",
        )
        if st.form_submit_button("Save roles", type="primary", icon=":material/save:"):
            run(
                lambda s: accounts.set_roles(
                    session=s,
                    account_id=account_id,
                    roles=roles,
                    owner_departments=owner,
                    manager_units=units,
                    actor=actor,
                ),
                "Roles saved.",
            )

    home_id = ctx.department_id if ctx.department_id in dept_names else None
    with st.form(f"{P}.home.{account_id}"):
        home = st.selectbox(
            "Home department",
            list(dept_names),
            index=list(dept_names).index(home_id) if home_id is not None else None,
            format_func=lambda d: dept_names[d],
            placeholder="No home department: this person can answer no signed-in survey",
            help="Where this person answers surveys after signing in. Not the KPI-owner scope above.",
            key=f"{P}.home.{account_id}",
        )
        if st.form_submit_button("Save home department", icon=":material/home_work:"):
            run(
                lambda s: accounts.set_home_department(
                    session=s, account_id=account_id, department_id=home, actor=actor
                ),
                "Home department saved.",
            )
    _account_actions(account_id, row, actor)


def _account_actions(account_id: int, row: pd.Series, actor: str) -> None:
    c1, c2 = st.columns(2)
    with c1, st.container(border=True):
        if row["active"]:
            st.text("Deactivating signs the person out at once and keeps their history.")
            if st.button("Deactivate", icon=":material/person_off:", key=f"{P}.deactivate.{account_id}"):
                run(
                    lambda s: accounts.set_active(session=s, account_id=account_id, active=False, actor=actor),
                    "Account deactivated.",
                )
        else:
            st.text("This account is deactivated.")
            if st.button("Reactivate", icon=":material/person_check:", key=f"{P}.activate.{account_id}"):
                run(
                    lambda s: accounts.set_active(session=s, account_id=account_id, active=True, actor=actor),
                    "Account reactivated.",
                )
    with c2, st.container(border=True):
        st.text("A new generated password is shown once; it also lifts a sign-in lock.")
        if st.button("Reset password", icon=":material/key:", key=f"{P}.reset.{account_id}"):
            run(
                lambda s: (row["email"], accounts.reset_password(session=s, account_id=account_id, actor=actor)),
                "Password reset.",
            )


def create_user(dept_names: Mapping[int, str], actor: str) -> None:
    """Create an account with roles, a home department and manager units; its password is shown once."""
    with st.form(f"{P}.create", clear_on_submit=True):
        email = st.text_input("E-mail", max_chars=320)
        name = st.text_input("Name", max_chars=200)
        roles = st.multiselect("Roles", ROLES, default=["employee"], format_func=lambda r: LABELS[r])
        home = st.selectbox(
            "Home department",
            list(dept_names),
            index=None,
            format_func=lambda d: dept_names[d],
            help="For a KPI owner, also the department whose KPIs they keep (add more under 'Change a user').",
        )
        new_units = st.multiselect(
            "Manager of (units)",
            list(dept_names),
            format_func=lambda d: dept_names[d],
            help="Only with the manager role: the units this person leads, each with everything below it.",
        )
        sso_only = st.checkbox("Single sign-on only (no local password)")
        if st.form_submit_button("Create user", type="primary", icon=":material/person_add:"):
            password = None if sso_only else generate_password()

            def create(s: Session) -> tuple[str, str] | bool:
                account = accounts.create_user(
                    session=s, email=email, roles=roles, password=password, name=name.strip(), department_id=home,
                    unit_ids=new_units, actor=actor,
                )  # fmt: skip
                return (account.email, password) if password else True

            run(create, "User created.")
