"""Strategy map: objectives, departments' KPIs and the links drawn between them, with their evidence."""

from __future__ import annotations

import streamlit as st

from kpialign import charts
from kpialign.scorecard import links as links_read
from kpialign.ui import auth, links_ui, nav
from kpialign.ui.widgets import plain

user = auth.require(nav.roles_for("pages/strategy_map.py"))
MAX_KPIS = 40  # more boxes than this do not fit a screen readably: filter instead

st.title("Strategy map")
st.caption(
    "Which KPIs serve which objective, and which KPIs are drawn as leading others across departments. "
    "Boxes are coloured by attainment in the latest period; arrows between KPIs show the evidence in the data."
)
d = links_ui.load()
sc = d.sc
if sc.objectives.empty:
    st.info("There are no strategic objectives yet. An admin can add them on the Strategy setup page.")
    st.stop()

objectives = sc.objectives.sort_values("code")
obj_label = dict(zip(objectives["objective_id"], objectives["code"] + " " + objectives["title"], strict=True))
depts = d.departments[d.departments["id"].isin(sc.kpis["department_id"])]
dept_label = dict(zip(depts["id"], depts["path"], strict=True))
many = len(sc.kpis) > MAX_KPIS

c1, c2 = st.columns(2)
chosen_obj = c1.multiselect(
    "Objectives",
    list(obj_label),
    default=list(obj_label)[:1] if many else list(obj_label),
    format_func=lambda i: obj_label[i],
    key="strategy_map.objectives",
)
chosen_dept = c2.multiselect(
    "Departments (none chosen: all)",
    sorted(dept_label, key=lambda i: dept_label[i]),
    format_func=lambda i: dept_label[i],
    key="strategy_map.departments",
    help="Type part of a division's name to pick its departments quickly.",
)
if not chosen_obj:
    st.info("Choose at least one objective.")
    st.stop()

content = links_read.map_content(
    sc,
    d.links,
    objective_ids=chosen_obj,
    department_ids=chosen_dept or None,
    max_kpis=MAX_KPIS,
)
if content.kpis.empty:
    st.info("No KPI of the chosen departments serves the chosen objectives yet.")
else:
    dot_text = charts.strategy_map_dot(content.objectives, content.kpis, content.serves, content.links)
    st.graphviz_chart(dot_text, width="stretch")
    if content.hidden_kpis:
        st.warning(
            f"{content.hidden_kpis} more KPIs match this filter; the map shows {MAX_KPIS} to stay readable. "
            "Choose fewer objectives or some departments.",
            icon=":material/filter_alt:",
        )
st.caption(
    f"Boxes: green at or above {sc.settings.green:.0f} % of target, amber at or above {sc.settings.amber:.0f} %, "
    "red below, grey without data (KPI month "
    f"{sc.period or 'none'}). Arrows between KPIs: solid green = supported, solid red = opposite sign to the "
    "one expected, dashed = no evidence, dotted = not enough data. Red dashed arrows to an objective: the KPI "
    "pulls against it."
)

cycles = d.links[d.links["in_cycle"]] if not d.links.empty else d.links
if not cycles.empty:
    st.info(
        "Some links form a loop (A leads B … leads A). Loops are allowed — feedback is real — but read "
        "their evidence with care: " + plain(", ".join(sorted(set(cycles["driver"]) | set(cycles["outcome"])))),
        icon=":material/sync:",
    )

st.subheader("Evidence for every link")
st.caption(links_ui.EVIDENCE_HELP)
if d.links.empty:
    st.info("No KPI links are drawn yet. Admins, managers and KPI owners can draw them on the KPI links page.")
else:
    table = d.links.assign(sign=d.links["expected_sign"].map({1: "+", -1: "−"}))
    st.dataframe(
        table[
            [
                "driver_department",
                "driver",
                "outcome_department",
                "outcome",
                "expected_lag",
                "sign",
                "evidence",
                "verdict",
                "n",
                "lag_tested",
                "granger_f",
                "p",
                "q_text",
                "best_lag",
                "best_ccf",
                "transformation",
                "ar_order",
                "missing_periods",
            ]
        ],
        hide_index=True,
        column_config={
            "driver_department": "Driver's department",
            "driver": "Driver KPI",
            "outcome_department": "Outcome's department",
            "outcome": "Outcome KPI",
            "expected_lag": st.column_config.NumberColumn("Expected lag", help="periods"),
            "sign": "Expected sign",
            "evidence": "Evidence",
            "verdict": "In words",
            "n": st.column_config.NumberColumn("Common periods"),
            "lag_tested": st.column_config.NumberColumn("Lag tested"),
            "granger_f": st.column_config.NumberColumn("Granger F", format="%.2f"),
            "p": st.column_config.NumberColumn("p", format="%.4f"),
            "q_text": "Adjusted (BH)",
            "best_lag": st.column_config.NumberColumn("Strongest lag"),
            "best_ccf": st.column_config.NumberColumn("Its correlation", format="%.2f"),
            "transformation": "Made stationary by",
            "ar_order": st.column_config.NumberColumn("AR order"),
            "missing_periods": "Missing periods (left out)",
        },
    )
