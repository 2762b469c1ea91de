"""Strategy import and export for admins: objectives, KPI definitions and links as CSV files."""

from __future__ import annotations

from datetime import date

import streamlit as st

from kpialign.core.csv_out import export_filename, write_csv
from kpialign.services import directory, strategy_import
from kpialign.ui import auth, data, nav
from kpialign.ui.widgets import import_refusal, plain, refusals

user = auth.require(nav.roles_for("pages/strategy_import.py"))
DONE = "strategy_import.done"
FILES = {
    "objectives": "Objectives (code, title, description, parent, weight, active, serving_departments)",
    "kpis": "KPI definitions (department, name, description, unit, polarity, baseline, target, range_low, "
    "range_high, frequency, weight, owner_email, active)",
    "links": "KPI → objective links (department, kpi, objective, contribution)",
}

st.title("Strategy import and export")
st.caption(
    "Set up or update objectives, KPI definitions and the alignment map from CSV files — or download the "
    "current configuration, edit it in a spreadsheet and upload it again. Departments and owners must exist "
    "(import your directory first). Everything is checked first; nothing is written until you press Import."
)

st.subheader("Download the current configuration")
with data.reading() as session:
    exported = strategy_import.export_strategy(session=session)
    units, _people = directory.export_frames(session=session)
exported = {"units": write_csv(units), **exported}
cols = st.columns(len(exported))
for col, (name, blob) in zip(cols, exported.items(), strict=True):
    col.download_button(
        {"kpis": "KPIs"}.get(name, name.capitalize()),
        blob,
        file_name=export_filename(f"strategy-{name}", None, date.today()),
        mime="text/csv",
        icon=":material/download:",
        key=f"strategy_import.download.{name}",
    )

st.subheader("Import")
if done := st.session_state.pop(DONE, None):
    st.success(plain(done), icon=":material/check_circle:")
uploads = {
    name: st.file_uploader(label, type=["csv", "txt"], key=f"strategy_import.{name}") for name, label in FILES.items()
}
raw = {name: f.getvalue() for name, f in uploads.items() if f is not None}
if not raw:
    st.info(
        "Choose one or more files to see a preview. Nothing is written until you press Import.",
        icon=":material/upload:",
    )
    st.stop()


try:
    with data.reading() as session:
        preview = strategy_import.import_strategy(session=session, actor=user.email, dry_run=True, **raw)
except strategy_import.StrategyImportError as exc:
    import_refusal(exc)
    st.stop()

st.text(preview.describe().replace("Dry run, nothing written — would change", "Importing will change"))
m = st.columns(3)
m[0].metric("Objective rows", preview.rows["objectives"])
m[1].metric("KPI rows", preview.rows["kpis"])
m[2].metric("Link rows", preview.rows["links"])
if preview.changes == 0:
    st.info("The configuration already matches these files: importing changes nothing.", icon=":material/task_alt:")
    st.stop()

if st.button("Import", type="primary", icon=":material/publish:", key="strategy_import.go"):
    bar = st.progress(0.0, text="Importing…")
    # here: a refused import shows its message and every problem (widgets.import_refusal)
    with refusals() as outcome, data.writing() as session:
        plan = strategy_import.import_strategy(
            session=session,
            actor=user.email,
            filename=" + ".join(uploads[n].name for n in raw),
            progress=lambda f, msg: bar.progress(f, text=f"Importing: {msg}"),
            **raw,
        )
    if not outcome.failed:
        st.session_state[DONE] = plan.describe()
        st.rerun()
