"""Objectives: each objective's score, the departments and KPIs that serve it, gaps and conflicts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpialign import charts
from kpialign.ui import auth, nav
from kpialign.ui import scorecard_ui as ui

auth.require(nav.roles_for("pages/objectives.py"))

st.title("Objectives")
st.caption("How well the KPIs linked to each strategic objective are doing, and where nobody serves it.")


def _names(ids, names: dict, limit: int = 5) -> str:
    """The serving departments, sorted; at 200 departments the first few and how many more."""
    ds = sorted(names.get(d, str(d)) for d in ids)
    if len(ds) <= limit:
        return ", ".join(ds)
    return f"{len(ds)}: " + ", ".join(ds[:limit]) + f" and {len(ds) - limit} more"


@st.fragment
def body() -> None:
    period, _wave = ui.filters("objectives", show_wave=False)
    sc = ui.get(period, None)
    obj = sc.objectives
    if obj.empty:
        st.info("No strategic objectives yet. An admin can add them on the Strategy setup page.")
        return
    st.caption(
        f"Computed from the KPI values of {sc.period or 'no period'}: contribution-weighted mean attainment of "
        "the KPIs that serve each objective (a KPI linked to a sub-objective also serves its parent)."
    )
    overall = sc.organisation.get("objectives", {})
    if overall.get("objectives"):
        st.metric(
            "All objectives together",
            ui.pct(overall["value"], 1),
            help="The mean of the top-level objectives' scores, each weighted by its objective weight "
            "(Strategy setup); sub-objectives count through their parent.",
        )
        if overall["without_data"]:
            st.caption(f"{overall['without_data']} top-level objective(s) without data are left out of it.")
    names = dict(zip(sc.departments["department_id"], sc.departments["department"], strict=True))
    table = pd.DataFrame(
        {
            "code": obj["code"],
            "objective": obj["title"],
            "score %": (obj["score"] * 100).round(1),
            "finding": [
                "gap: no KPI serves it" if g else ("conflict: a KPI pulls against it" if c else "")
                for g, c in zip(obj["gap"], obj["conflict"], strict=True)
            ],
            "KPIs serving": obj["n_kpis"],
            "with data": obj["n_with_data"],
            "departments": [_names(ds, names) for ds in obj["departments"]],
            "pulling against": obj["n_against"],
        }
    )
    if table["score %"].notna().any():
        st.altair_chart(charts.objective_bars(table, green=sc.settings.green, amber=sc.settings.amber), width="stretch")
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={"finding": st.column_config.TextColumn("finding", width="medium")},
    )

    gaps = table[table["finding"].str.startswith("gap")]
    if not gaps.empty:
        st.warning(
            f"{len(gaps)} objective(s) have no KPI serving them: " + ", ".join(gaps["code"]), icon=":material/warning:"
        )

    st.subheader("KPIs by objective")
    kp = sc.kpis.merge(sc.links, on="kpi_id")
    for o in obj.itertuples(index=False):
        mine = kp[kp["objective_id"] == o.objective_id]
        label = f"{o.code} — {o.title}"
        with st.expander(label, expanded=False):
            if mine.empty:
                st.text("No KPI is linked to this objective.")
                continue
            st.dataframe(
                pd.DataFrame(
                    {
                        "KPI": mine["name"],
                        "department": mine["department_id"].map(names),
                        "contribution": mine["contribution"],
                        "via sub-objective": ~mine["direct"].astype(bool),
                        "attainment %": (mine["attainment"] * 100).round(1),
                        "trend": mine["trend"],
                    }
                ).sort_values("contribution", ascending=False),
                hide_index=True,
                width="stretch",
            )


body()
