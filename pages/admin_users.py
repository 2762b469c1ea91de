"""Admin: users, roles, KPI-owner departments, manager units, deactivation and password resets (all audited)."""

from __future__ import annotations

import streamlit as st

from kpialign.models import Role
from kpialign.services import accounts, strategy
from kpialign.ui import auth, data, nav
from kpialign.ui.widgets import refusals

user = auth.require(nav.roles_for("pages/admin_users.py"))

ROLES = [r.value for r in Role]
LABELS = accounts.ROLE_LABELS
REVEAL = "admin_users.reveal"  # (email, password) shown once after a create or reset
NOTICE = "admin_users.notice"

st.title("Users and roles")

with data.reading() as session:
    users = accounts.list_users(session)
    depts = strategy.departments_frame(session, include_retired=False)
dept_names = dict(zip(depts["id"].astype(int), depts["path"], strict=True)) if not depts.empty else {}


def _run(action, success: str) -> None:
    """Run one audited change in a write transaction; refusals are shown, nothing is written."""
    result = None
    with refusals() as outcome, data.writing() as session:
        result = action(session)
    if outcome.failed:
        return
    if isinstance(result, tuple):  # (email, password) to show once
        st.session_state[REVEAL] = result
    st.session_state[NOTICE] = success if result is not False else "Nothing changed."
    st.rerun()


if notice := st.session_state.pop(NOTICE, None):
    st.success(notice, icon=":material/check_circle:")  # our own constant text
if reveal := st.session_state.pop(REVEAL, None):
    with st.container(border=True):
        st.text(f"New password for {reveal[0]} — shown only now; copy it and hand it over safely:")
        st.code(reveal[1], language=None)

# ----------------------------------------------------------------------------- the list
active_n = int(users["active"].sum()) if not users.empty else 0
st.caption(f"{len(users)} accounts, {active_n} active. Every change on this page is recorded in the audit log.")
view = users.assign(
    roles=users["roles"].map(lambda s: ", ".join(LABELS.get(r, r) for r in s.split(", ") if r)),
    created_at=users["created_at"].map(lambda t: t.date() if hasattr(t, "date") else t),
)
st.dataframe(
    view.drop(columns=["id"]),
    hide_index=True,
    width="stretch",
    column_config={
        "email": st.column_config.TextColumn("E-mail"),
        "name": st.column_config.TextColumn("Name"),
        "department": st.column_config.TextColumn("Home department"),
        "roles": st.column_config.TextColumn("Roles"),
        "owner_departments": st.column_config.TextColumn("KPI owner of"),
        "manager_units": st.column_config.TextColumn("Manager of"),
        "sign_in": st.column_config.TextColumn("Signs in with"),
        "active": st.column_config.CheckboxColumn("Active"),
        "created_at": st.column_config.DateColumn("Created"),
    },
)

tab_edit, tab_new = st.tabs(["Change a user", "Create a user"])

# ------------------------------------------------------------------------- change a user
with tab_edit:
    if users.empty:
        st.info("There are no accounts yet.")
    else:
        emails = dict(zip(users["id"].astype(int), users["email"], strict=True))
        account_id = st.selectbox(
            "Account", list(emails), format_func=lambda i: emails[i], key="admin_users.account", index=None
        )
        if account_id is None:
            st.caption("Choose an account to change its roles, deactivate it or reset its password.")
        else:
            row = users.set_index("id").loc[account_id]
            held = [r for r in row["roles"].split(", ") if r]
            with data.reading() as session:
                ctx = accounts.user_context_by_id(session, account_id)
                ctx_units = accounts.manager_units_of(session, account_id)
            with st.form(f"admin_users.roles.{account_id}"):
                st.text(f"Roles of {row['email']}")
                roles = st.multiselect(
                    "Roles", ROLES, default=held, format_func=lambda r: LABELS[r], key=f"admin_users.roles.{account_id}"
                )
                owner = st.multiselect(
                    "KPI owner of (departments)",
                    list(dept_names),
                    default=sorted(d for d in ctx.owner_departments if d in dept_names),
                    format_func=lambda d: dept_names[d],
                    help="Only needed with the KPI owner role: the departments whose KPIs this person keeps.",
                    key=f"admin_users.owner.{account_id}",
                )
                units = st.multiselect(
                    "Manager of (units)",
                    list(dept_names),
                    default=sorted(d for d in ctx_units if d in dept_names),
                    format_func=lambda d: dept_names[d],
                    help="Only needed with the manager role: the units this person leads, each with everything "
                    "below it. Closed units cannot be chosen.",
                    key=f"admin_users.units.{account_id}",
                )
                if st.form_submit_button("Save roles", type="primary", icon=":material/save:"):
                    _run(
                        lambda s: accounts.set_roles(
                            s,
                            account_id=account_id,
                            roles=roles,
                            owner_departments=owner,
                            manager_units=units,
                            actor=user.email,
                        ),
                        "Roles saved.",
                    )

            home_id = ctx.department_id if ctx.department_id in dept_names else None
            with st.form(f"admin_users.home.{account_id}"):
                home = st.selectbox(
                    "Home department",
                    list(dept_names),
                    index=list(dept_names).index(home_id) if home_id is not None else None,
                    format_func=lambda d: dept_names[d],
                    placeholder="No home department: this person can answer no signed-in survey",
                    help="Where this person answers surveys after signing in. Not the KPI-owner scope above.",
                    key=f"admin_users.home.{account_id}",
                )
                if st.form_submit_button("Save home department", icon=":material/home_work:"):
                    _run(
                        lambda s: accounts.set_home_department(
                            session=s, account_id=account_id, department_id=home, actor=user.email
                        ),
                        "Home department saved.",
                    )

            c1, c2 = st.columns(2)
            with c1, st.container(border=True):
                if row["active"]:
                    st.text("Deactivating signs the person out at once and keeps their history.")
                    if st.button(
                        "Deactivate", icon=":material/person_off:", key=f"admin_users.deactivate.{account_id}"
                    ):
                        _run(
                            lambda s: accounts.set_active(s, account_id=account_id, active=False, actor=user.email),
                            "Account deactivated.",
                        )
                else:
                    st.text("This account is deactivated.")
                    if st.button(
                        "Reactivate", icon=":material/person_check:", key=f"admin_users.activate.{account_id}"
                    ):
                        _run(
                            lambda s: accounts.set_active(s, account_id=account_id, active=True, actor=user.email),
                            "Account reactivated.",
                        )
            with c2, st.container(border=True):
                st.text("A new generated password is shown once; it also lifts a sign-in lock.")
                if st.button("Reset password", icon=":material/key:", key=f"admin_users.reset.{account_id}"):
                    _run(
                        lambda s: (
                            row["email"],
                            accounts.reset_password(s, account_id=account_id, actor=user.email),
                        ),
                        "Password reset.",
                    )

# ------------------------------------------------------------------------- create a user
with tab_new, st.form("admin_users.create", clear_on_submit=True):
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
        password = None if sso_only else accounts.generate_password()

        def create(s):
            account = accounts.create_user(
                s,
                email=email,
                roles=roles,
                password=password,
                name=name.strip(),
                department_id=home,
                unit_ids=new_units,
                actor=user.email,
            )
            return (account.email, password) if password else True

        _run(create, "User created.")
