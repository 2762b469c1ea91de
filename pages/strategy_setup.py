"""Admin: objectives (a tree), departments (a tree, with headcount), KPIs, links and expected coverage."""

from __future__ import annotations

import streamlit as st

from kpialign.services import kpi_templates
from kpialign.ui import auth, data, forms, nav
from kpialign.ui import strategy_forms as sf

user = auth.require(nav.roles_for("pages/strategy_setup.py"))
with data.reading() as session:
    setup = sf.Setup.load(session, actor=user.email)
objectives, depts, kpis, links = setup.objectives, setup.depts, setup.kpis, setup.links

st.title("Strategy setup")
st.caption(
    "Every change on this page is validated first and recorded in the audit log with the state before and after."
)
forms.show_notice(sf.NOTICE)

# Tracked tabs: the open tab is kept in the session, so saving a form never sends the admin back to "Objectives".
t_obj, t_dept, t_kpi, t_link, t_exp = st.tabs(
    ["Objectives", "Departments", "KPIs", "KPI ↔ objective links", "Expected coverage"],
    key="strategy_setup.tab",
    on_change="rerun",
)

with t_obj:
    if objectives.empty:
        st.info(
            "No objectives yet. Add the organisation's strategic objectives below; a child objective cascades its parent."
        )
    else:
        view = objectives.assign(objective=objectives["depth"].map(lambda d: "    " * d) + objectives["code"])
        st.dataframe(
            view[["objective", "title", "weight", "kpis", "active"]],
            hide_index=True,
            width="stretch",
            column_config={
                "objective": st.column_config.TextColumn("Code (indented under its parent)"),
                "title": "Title",
                "weight": st.column_config.NumberColumn("Weight", format="%.2f"),
                "kpis": st.column_config.NumberColumn("Active KPIs linked"),
                "active": st.column_config.CheckboxColumn("Active"),
            },
            key="strategy_setup.obj_table",
        )
    sf.objective_forms(setup)

with t_dept:
    if depts.empty:
        st.info("No departments yet. Add divisions, departments and teams below.")
    else:
        view = depts.assign(department=depts["depth"].map(lambda d: "    " * d) + depts["name"])
        st.dataframe(
            view[["department", "headcount", "kpis", "active"]],
            hide_index=True,
            width="stretch",
            column_config={
                "department": st.column_config.TextColumn("Department (indented under its parent)"),
                "headcount": st.column_config.NumberColumn("Headcount", format="%d"),
                "kpis": st.column_config.NumberColumn("Active KPIs"),
                "active": st.column_config.CheckboxColumn("Active"),
            },
            key="strategy_setup.dept_table",
        )
    sf.department_forms(setup)

with t_kpi:
    if kpis.empty:
        st.info("No KPIs yet. Start from a template below, or from a blank form.")
    else:
        st.dataframe(
            kpis[sf.KPI_COLUMNS],
            hide_index=True,
            width="stretch",
            column_config=sf.KPI_TABLE_CONFIG,
            key="strategy_setup.kpi_table",
        )
    sf.kpi_forms(setup, {t.key: t for t in kpi_templates.TEMPLATES})

with t_link:
    st.caption(
        "Link a KPI to the objectives it serves. Contribution 1 = serves it fully, 0.5 = partly; "
        "a negative contribution means the KPI pulls against the objective (a trade-off)."
    )
    sf.link_form(setup)
    if links.empty:
        st.info("No links yet.")
    else:
        st.dataframe(
            links[["objective_code", "objective", "department", "kpi", "contribution"]],
            hide_index=True,
            width="stretch",
            column_config={
                "objective_code": "Objective",
                "objective": "Title",
                "department": "Department",
                "kpi": "KPI",
                "contribution": st.column_config.ProgressColumn(
                    "Contribution", min_value=-1.0, max_value=1.0, format="%.2f"
                ),
            },
            key="strategy_setup.link_table",
        )
        sf.link_removal(setup)

with t_exp:
    st.caption(
        "Which objectives each department is expected to serve. The alignment map flags expected "
        "objectives that none of the department's KPIs serves, and coverage in the scorecard counts them."
    )
    if not setup.active_depts or not setup.active_objs:
        st.info("Add departments and objectives first.")
    else:
        edid = st.selectbox(
            "Department",
            setup.active_depts,
            format_func=setup.dept_label.get,
            index=None,
            key="strategy_setup.exp_dept",
        )
        if edid is not None:
            sf.expectation_form(setup, edid)
        if not setup.expectations.empty:
            st.dataframe(
                setup.expectations[["department", "objective_code", "objective"]],
                hide_index=True,
                width="stretch",
                column_config={"department": "Department", "objective_code": "Objective", "objective": "Title"},
                key="strategy_setup.exp_table",
            )

# A pending removal keeps its dialog open across reruns until it is confirmed or dismissed.
sf.confirm_pending(setup)
