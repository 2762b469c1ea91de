"""Directory import for admins: upload units and people, preview every change, confirm, import."""

from __future__ import annotations

import hashlib
from datetime import date

import streamlit as st

from kpialign.services import directory
from kpialign.ui import auth, data, forms, nav
from kpialign.ui import directory_ui as du
from kpialign.ui.widgets import plain

user = auth.require(nav.roles_for("pages/directory_import.py"))

st.title("Directory import")
st.caption(
    "Keep units, people and roles in step with your HR system. Upload a units file (unit_id, unit_name, "
    "parent_unit_id, headcount) and a people file (email, name, unit_id, roles, manages) — or one file with "
    "all these columns, where rows with an e-mail are people. Roles: employee, kpi_owner, leader, hr, admin, "
    "manager (several separated by |). Everything is checked first; nothing is written until you confirm."
)
c1, c2 = st.columns(2)
c1.download_button(
    "Example units file", directory.EXAMPLE_UNITS.encode(), "units-example.csv", "text/csv", key="dir.ex_u"
)
c2.download_button(
    "Example people file", directory.EXAMPLE_PEOPLE.encode(), "people-example.csv", "text/csv", key="dir.ex_p"
)

if done := st.session_state.pop(du.DONE, None):
    st.success(plain(done), icon=":material/check_circle:")

left, right = st.columns(2)
units_file = left.file_uploader("Units file (or one combined file)", type=["csv", "txt"], key="directory_import.units")
people_file = right.file_uploader("People file (optional)", type=["csv", "txt"], key="directory_import.people")
as_of = st.date_input(
    "Directory as of",
    value=date.today(),
    help="The headcounts are recorded for this date's month; renames and moves take effect on this date.",
    key="directory_import.as_of",
)
if units_file is None and people_file is None:
    st.info("Choose a file to see a preview. Nothing is written until you confirm.", icon=":material/upload:")
    st.stop()
if units_file is None:
    st.warning("Add the units file too: people need the units they belong to.", icon=":material/warning:")
    st.stop()

raw_units = units_file.getvalue()
raw_people = people_file.getvalue() if people_file is not None else None
key = (hashlib.sha256(raw_units + b"\0" + (raw_people or b"")).hexdigest(), as_of, data.version())
cached = st.session_state.get(du.PLAN)
if cached is None or cached[0] != key:
    with st.spinner("Checking the directory…"), data.reading() as session:
        plan = directory.plan_import(session=session, data=raw_units, people=raw_people, as_of=as_of, actor=user.email)
    st.session_state[du.PLAN] = (key, plan)
else:
    plan = cached[1]

if not plan.ok:
    n = len(plan.issues)
    st.error(
        f"The directory has {n} problem{'s' if n != 1 else ''}; nothing was imported. Fix the rows below and upload again.",
        icon=":material/error:",
    )
    du.issues(plan)
    st.stop()

c = du.preview(plan)

deactivate = False
if c["people_missing"] or c["units_missing"]:
    st.warning(
        f"{c['people_missing']} active person(s) and {c['units_missing']} directory unit(s) are not in the file. "
        "They stay active unless you tick the box below.",
        icon=":material/person_off:",
    )
    deactivate = st.checkbox(
        f"Deactivate the {c['people_missing']} person(s) and {c['units_missing']} unit(s) missing from the file",
        key="directory_import.deactivate",
    )
if plan.changes == 0 and not deactivate:
    st.info("The directory is up to date: importing this file changes nothing.", icon=":material/task_alt:")
    st.stop()


def run_import() -> None:
    du.run_import(
        units=raw_units, people=raw_people, as_of=as_of, deactivate=deactivate, actor=user.email,
        filename=" + ".join(f.name for f in (units_file, people_file) if f is not None),
    )  # fmt: skip


label = "Import and deactivate missing…" if deactivate else "Import"
if st.button(label, type="primary", icon=":material/publish:", key="directory_import.go"):
    if deactivate:
        forms.confirm(
            "Deactivate people missing from the file?", message=None, button="Import and deactivate",
            key="directory_import.confirm", on_confirm=run_import,
            subject=f"{c['people_missing']} person(s) will no longer be able to sign in, and {c['units_missing']} "
            "unit(s) will be retired. Their history is kept; importing them again reactivates them.",
        )  # fmt: skip
    else:
        run_import()
