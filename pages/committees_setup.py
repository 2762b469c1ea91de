"""Committees setup (admins): cross-functional groups of departments around objectives, with members."""

from __future__ import annotations

import streamlit as st

from kpialign.services import accounts, committees, strategy
from kpialign.ui import auth, data, nav
from kpialign.ui.widgets import refusals

user = auth.require(nav.roles_for("pages/committees_setup.py"))

st.title("Committees setup")
st.caption(
    "A committee brings two or more departments together around one or more objectives. Its members see the "
    "committee's page (leaders and admins see every committee)."
)
with data.reading() as session:
    existing = committees.committees_frame(session=session, user=user, include_retired=True)
    objectives = strategy.objectives_frame(session=session, include_retired=False)
    depts = strategy.departments_frame(session=session, include_retired=False)
    people = accounts.list_users(session=session)
people = people[people["active"].astype(bool)]
obj_label = dict(zip(objectives["id"].astype(int), objectives["code"] + " " + objectives["title"], strict=True))
dept_label = dict(zip(depts["id"].astype(int), depts["path"], strict=True))
person_label = {int(r.id): f"{r.name} ({r.email})" if r.name else r.email for r in people.itertuples(index=False)}

if existing.empty:
    st.info("No committee yet. Create the first one below.")
else:
    st.dataframe(
        existing[["name", "active", "objectives", "departments", "members"]],
        hide_index=True,
        column_config={"name": "Committee", "active": "Active"},
    )

choices = {0: "New committee", **dict(zip(existing["committee_id"].astype(int), existing["name"], strict=True))}
cid = st.selectbox("Create or edit", list(choices), format_func=choices.get, key="committees_setup.pick")
current = None
if cid:
    with data.reading() as session:
        current = committees.committee_info(session=session, user=user, committee_id=int(cid))

with st.form(f"committees_setup.form.{cid}"):
    name = st.text_input("Name", current.name if current else "", max_chars=committees.MAX_NAME)
    description = st.text_area("Purpose", current.description if current else "", max_chars=committees.MAX_DESCRIPTION)
    chosen_obj = st.multiselect(
        "Objectives",
        list(obj_label),
        default=[i for i in (current.objectives["objective_id"].astype(int) if current else []) if i in obj_label],
        format_func=obj_label.get,
    )
    chosen_dept = st.multiselect(
        "Departments",
        list(dept_label),
        default=[i for i in (current.departments["department_id"].astype(int) if current else []) if i in dept_label],
        format_func=dept_label.get,
    )
    chosen_people = st.multiselect(
        "Members",
        list(person_label),
        default=[i for i in (current.members["account_id"].astype(int) if current else []) if i in person_label],
        format_func=person_label.get,
    )
    active = st.checkbox("Active", value=current.active if current else True, disabled=current is None)
    if st.form_submit_button("Save", type="primary"):
        spec = committees.CommitteeInput(name, description, tuple(chosen_obj), tuple(chosen_dept), tuple(chosen_people))
        with refusals() as outcome, data.writing() as session:
            if current is None:
                committees.create_committee(session=session, user=user, committee=spec)
            else:
                committees.update_committee(session=session, user=user, committee_id=int(cid), committee=spec)
                committees.set_committee_active(session=session, user=user, committee_id=int(cid), active=active)
        if not outcome.failed:
            st.success("Saved.")
