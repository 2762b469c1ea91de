"""Objectives: each objective's score, the departments and KPIs that serve it, gaps and conflicts."""

from __future__ import annotations

import streamlit as st

from kpialign.ui import auth, data, nav, objectives_ui, vega
from kpialign.ui import scorecard_ui as ui
from kpialign.ui.widgets import plain

auth.require(nav.roles_for("pages/objectives.py"))

st.title("Objectives")
st.caption("How well the KPIs linked to each strategic objective are doing, and where nobody serves it.")


@st.fragment
def body() -> None:
    period, _wave = ui.filters("objectives", show_wave=False)
    v = objectives_ui.view(data.version(), str(data.engine().url), period)
    if v.empty:
        st.info("No strategic objectives yet. An admin can add them on the Strategy setup page.")
        return
    st.caption(
        f"Computed from the KPI values of {v.period or 'no period'}: contribution-weighted mean attainment of "
        "the KPIs that serve each objective (a KPI linked to a sub-objective also serves its parent)."
    )
    overall = v.overall
    if overall.get("objectives"):
        st.metric(
            "All objectives together",
            ui.pct(overall["value"], 1),
            help="The mean of the top-level objectives' scores, each weighted by its objective weight "
            "(Strategy setup); sub-objectives count through their parent.",
        )
        if overall["without_data"]:
            st.caption(f"{overall['without_data']} top-level objective(s) without data are left out of it.")
    table = v.table
    if v.spec is not None:
        vega.show(v.spec)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={"finding": st.column_config.TextColumn("finding", width="medium")},
    )

    gaps = table[table["finding"].str.startswith("gap")]
    if not gaps.empty:
        st.warning(
            f"{len(gaps)} objective(s) have no KPI serving them: " + plain(", ".join(gaps["code"])),
            icon=":material/warning:",
        )

    st.subheader("KPIs by objective")
    for label, mine in v.kpis:
        with st.expander(label, expanded=False):
            if mine.empty:
                st.text("No KPI is linked to this objective.")
                continue
            st.dataframe(mine, hide_index=True, width="stretch")


body()
