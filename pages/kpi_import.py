"""Import KPI actuals (and period targets) from a CSV file: upload, preview, problems, then import."""

from __future__ import annotations

import streamlit as st

from kpialign.core.errors import Refused
from kpialign.services import kpi_import as csvio
from kpialign.services import strategy
from kpialign.services.measurements import EditScope
from kpialign.ui import auth, data, nav
from kpialign.ui.widgets import import_refusal, plain

user = auth.require(nav.roles_for("pages/kpi_import.py"))
scope = EditScope.for_user(user)
DONE = "kpi_import.done"
EXAMPLE = (
    "kpi,department,period,actual,target\n"
    "Revenue growth rate,Sales,2026-10,4.2,\n"
    "On-time delivery,Operations,2026-Q3,93.5,95\n"
)

st.title("Import KPI data")
st.caption(
    "Upload a CSV file with the columns kpi, department, period (YYYY-MM or YYYY-Qn, matching the "
    "KPI's frequency), actual and optionally target. Comma or semicolon separators, UTF-8 with or "
    "without BOM. The whole file is checked first: if anything is wrong, nothing is imported."
)
if scope.departments is not None:
    if not scope.departments:
        st.warning("You are not the KPI owner of any department, so you cannot import data.")
        st.stop()
    with data.reading() as session:
        depts = strategy.departments_frame(session=session)
    names = depts[depts["id"].isin(scope.departments)]["name"].tolist()
    st.caption("You can import data for: " + plain(", ".join(names)))

st.download_button(
    "Download an example file",
    EXAMPLE.encode("utf-8"),
    file_name="kpi-import-example.csv",
    mime="text/csv",
    icon=":material/download:",
    key="kpi_import.example",
)

if done := st.session_state.pop(DONE, None):
    st.success(plain(done), icon=":material/check_circle:")

uploaded = st.file_uploader("CSV file", type=["csv", "txt"], key="kpi_import.file")
if uploaded is None:
    st.info("Choose a file to see a preview. Nothing is written until you press Import.", icon=":material/upload:")
    st.stop()

raw = uploaded.getvalue()
with data.reading() as session:
    validation = csvio.validate_kpi_csv(session=session, data=raw, scope=scope)
    preview_summary = csvio.import_kpis(session=session, data=raw, scope=scope, dry_run=True) if validation.ok else None

if not validation.ok:
    hint = "Fix the rows listed below and upload the file again."
    import_refusal(csvio.KpiImportError(validation), hint=hint, key="kpi_import.issues")
    st.stop()

assert preview_summary is not None
st.success(
    f"The file is valid: {validation.data_rows} row(s), separator '{validation.delimiter}'.",
    icon=":material/task_alt:",
)
p = preview_summary
if p.changed == 0:
    st.info("Every row is already in the database with these values: importing changes nothing.")
else:
    st.text(f"Importing will insert {p.inserted} value(s) and update {p.updated}; {p.unchanged} are unchanged.")
st.dataframe(
    validation.preview_frame(),
    hide_index=True,
    width="stretch",
    column_config={
        "row": st.column_config.NumberColumn("Row", format="%d"),
        "department": st.column_config.TextColumn("Department"),
        "kpi": st.column_config.TextColumn("KPI"),
        "period": st.column_config.TextColumn("Period"),
        "actual": st.column_config.NumberColumn("Actual"),
        "target": st.column_config.NumberColumn("Target (this period)"),
    },
    key="kpi_import.preview",
)

label = f"Import {validation.data_rows} row(s)"
if st.button(label, type="primary", icon=":material/publish:", key="kpi_import.go"):
    try:
        with data.writing() as session:
            summary = csvio.import_kpis(session=session, data=raw, scope=scope, filename=uploaded.name)
    except csvio.KpiImportError as exc:
        import_refusal(exc)
    except Refused as exc:
        st.error(plain(str(exc)), icon=":material/error:")
    else:
        st.session_state[DONE] = summary.describe()
        st.rerun()
