"""The Directory import page's preview and import: what the file changes, and the import itself
(:func:`kpialign.services.directory.import_directory`, which ``python -m kpialign import-org``
calls too) with a progress bar."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from kpialign.services import directory
from kpialign.ui import data
from kpialign.ui.widgets import ISSUE_COLUMNS, refusals

DONE, PLAN = "directory_import.done", "directory_import.plan"
PREVIEW_COLUMNS = {
    "change": st.column_config.TextColumn("Change", width=100),
    "unit_id": st.column_config.TextColumn("Unit id", width=100),
    "unit_name": st.column_config.TextColumn("Unit"),
    "email": st.column_config.TextColumn("E-mail"),
    "name": st.column_config.TextColumn("Name"),
    "what": st.column_config.TextColumn("What changes", width="large"),
}


def issues(plan: Any) -> None:
    """Every problem of the files, one row each."""
    st.dataframe(plan.issues_frame(), hide_index=True, width="stretch", column_config=ISSUE_COLUMNS)


def preview(plan: Any) -> dict[str, int]:
    """What importing would change: counts, then the unit and people changes. Returns the counts."""
    c = plan.counts()
    st.subheader(f"Preview: {len(plan.units)} unit(s) and {len(plan.people)} person(s) in the file")
    m = st.columns(4)
    m[0].metric("New units", c["units_created"])
    m[1].metric("Changed units", c["units_changed"])
    m[2].metric("New people", c["people_created"])
    m[3].metric("Changed people", c["people_changed"])
    st.caption(f"Headcounts recorded for {plan.period}: {c['headcounts_recorded']} unit(s) change.")
    units_tab, people_tab = st.tabs([f"Units ({len(plan.units_frame())})", f"People ({len(plan.people_frame())})"])
    for tab, frame, empty, key in (
        (units_tab, plan.units_frame(), "No unit changes.", "dir.units_preview"),
        (people_tab, plan.people_frame(), "No changes to people.", "dir.people_preview"),
    ):
        with tab:
            if frame.empty:
                st.text(empty)
            else:
                st.dataframe(frame, hide_index=True, width="stretch", column_config=PREVIEW_COLUMNS, key=key)
    return c


def run_import(*, units: bytes, people: bytes | None, filename: str, as_of: date, deactivate: bool, actor: str) -> None:
    """Import with a progress bar; a refusal lists the problems and writes nothing."""
    bar = st.progress(0.0, text="Importing…")
    # here: a refused import shows its message and every problem (widgets.import_refusal)
    with refusals() as outcome, data.writing() as session:
        result = directory.import_directory(
            session=session, data=units, people=people, actor=actor, as_of=as_of, deactivate_missing=deactivate,
            filename=filename, progress=lambda f, msg: bar.progress(min(f, 1.0), text=f"Importing: {msg}"),
        )  # fmt: skip
    if outcome.failed:
        return
    st.session_state.pop(PLAN, None)
    st.session_state[DONE] = result.describe()
    st.rerun()
