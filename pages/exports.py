"""Exports: safe CSV files for HR (survey results, participation, KPIs, scorecard) and admins (audit)."""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from kpialign import exports
from kpialign.ui import auth, data, exports_ui, nav
from kpialign.ui.widgets import plain

user = auth.require(nav.roles_for("pages/exports.py"))

st.title("Exports")
st.caption(
    "Survey results are confidential, not anonymous: files follow the same privacy rules as the pages. "
    "Cells computed from fewer than the wave's minimum group are empty, comments appear only for groups "
    "that reach the comment threshold, and responses carry no names, ids or dates. Every export is "
    "recorded in the audit log. Files are UTF-8 CSV; text that a spreadsheet could run as a formula "
    "starts with an apostrophe."
)

kinds = exports.allowed_kinds(user.roles)
kind = st.selectbox(
    "What to export", kinds, format_func=lambda k: exports.KIND_LABELS[k], key="exports.kind", width=520
)

with data.reading() as session:  # results only of closed waves; participation also of the open one
    waves = exports.wave_choices(session, results=kind != "participation")
    periods = exports.period_choices(session)

wave: str | None = None
period: str | None = None
if kind in exports.SURVEY_KINDS:
    if not waves:
        what = "opened" if kind == "participation" else "closed"
        st.info(f"No survey wave has {what} yet, so there is nothing of this kind to export.", icon=":material/info:")
        st.stop()
    wave = st.selectbox("Survey wave", waves, key="exports.wave", width=320)
elif kind == "scorecard":
    if not periods:
        st.info("No KPI values have been recorded yet, so there is no scorecard to export.", icon=":material/info:")
        st.stop()
    period = st.selectbox("Period", periods, key="exports.period", width=320)
    wave = st.selectbox(
        "Survey wave for understanding",
        ["(latest before the period)", *waves],
        key="exports.scorecard_wave",
        width=320,
    )
    wave = None if wave.startswith("(") else wave
else:
    period = (
        st.text_input(
            "Period (optional)",
            key="exports.period_text",
            placeholder="all — or 2026, 2026-09, 2026-Q3",
            help="Only this year, month or quarter" + (" (UTC)" if kind == "audit" else ""),
            width=320,
        ).strip()
        or None
    )

excel = st.toggle(
    "Excel flavour",
    key="exports.excel",
    help="Adds a UTF-8 byte-order mark so that Excel shows accented letters correctly. Other tools do not need it.",
)

selection = (kind, wave, period, excel)
prepared = st.session_state.get("exports.file")
if prepared is not None and st.session_state.get("exports.selection") != selection:
    prepared = None

if st.button("Prepare file", type="primary", icon=":material/description:", key="exports.prepare"):
    # A progress bar while the file is written part by part; recorded in the audit log before it is offered.
    prepared = exports_ui.prepare(kind=kind, actor=user.email, roles=user.roles, wave=wave, period=period, excel=excel)
    st.session_state["exports.file"] = prepared
    st.session_state["exports.selection"] = selection

if prepared is not None:
    st.download_button(
        f"Download {plain(prepared.filename)}",
        data=prepared.data,
        file_name=prepared.filename,
        mime=prepared.mime,
        on_click="ignore",
        type="primary",
        icon=":material/download:",
        key="exports.download",
    )
    st.caption(f"{prepared.rows:,} data rows, {prepared.size:,} bytes. Preview of the file's first rows:")
    # The preview shows the file itself (already through disclosure control). The table's own
    # CSV download is switched off app-wide (client.disableDataExport), so nothing bypasses
    # the audited download above.
    preview = pd.read_csv(io.BytesIO(prepared.data), dtype=str, keep_default_na=False, encoding="utf-8-sig", nrows=50)
    st.dataframe(preview, hide_index=True, width="stretch")

if "admin" in user.roles:
    st.subheader("Recent exports")
    with data.reading() as session:
        recent = exports.export_events(session, limit=20)
    if recent.empty:
        st.caption("No exports yet.")
    else:
        st.dataframe(recent, hide_index=True, width="stretch")
