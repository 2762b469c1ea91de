"""Admin: users, roles, KPI-owner departments, manager units, deactivation and password resets (all audited)."""

from __future__ import annotations

import streamlit as st

from kpialign.services import accounts, strategy
from kpialign.ui import auth, data, forms, nav
from kpialign.ui import users_ui as uu

user = auth.require(nav.roles_for("pages/admin_users.py"))

st.title("Users and roles")

with data.reading() as session:
    users = accounts.list_users(session=session)
    depts = strategy.departments_frame(session=session, include_retired=False)
dept_names = dict(zip(depts["id"].astype(int), depts["path"], strict=True)) if not depts.empty else {}

forms.show_notice(uu.NOTICE, escape=False)  # our own constant texts
uu.show_reveal()

# ----------------------------------------------------------------------------- the list
active_n = int(users["active"].sum()) if not users.empty else 0
st.caption(f"{len(users)} accounts, {active_n} active. Every change on this page is recorded in the audit log.")
view = users.assign(
    roles=users["roles"].map(uu.roles_text),
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
with tab_edit:
    if users.empty:
        st.info("There are no accounts yet.")
    else:
        uu.change_user(users, dept_names, user.email)
with tab_new:
    uu.create_user(dept_names, user.email)
