"""Overview: the organisation's alignment score, the department table, and charts in tabs.

Every section comes from kpialign.ui.overview_ui, cached once per data version and scope for
all leaders; only the open tab's chart is sent (tabs that rerun on change).
"""

from __future__ import annotations

import streamlit as st

from kpialign.ui import auth, nav, vega
from kpialign.ui import overview_ui as ov
from kpialign.ui import scorecard_ui as ui

user = auth.require(nav.roles_for("pages/overview.py"))

st.title("Alignment overview")
st.caption(
    "How well each department understands the strategy (survey) and delivers on it (KPIs). "
    "Survey results are confidential, not anonymous: figures from small groups are never shown."
)


@st.fragment
def body() -> None:
    period, wave = ui.filters("overview")
    view = ov.View.of(user, period, wave)
    head = view.headline()
    if head.empty:
        st.info("There are no departments to score yet. An admin can set them up on the Strategy setup page.")
        return
    st.caption(head.computed_from)
    for note in head.notes:
        st.info(note)
    for column, m in zip(st.columns(4), head.metrics, strict=True):
        column.metric(m.label, m.value, delta=m.delta, delta_color=m.delta_color, help=m.help)
    st.badge(f"Status: {head.status}", color=ov.STATUS_BADGE.get(head.status, "gray"))
    if head.trend_caption:
        st.caption(head.trend_caption)
    vega.show(head.trend_spec)

    st.subheader("Departments")
    f1, f2, f3 = st.columns([2, 2, 1])
    division = f1.selectbox("Division", head.divisions, key="overview.division")
    search = f2.text_input("Search departments", key="overview.search", placeholder="name contains…")
    top_n = f3.number_input("Chart rows", min_value=5, max_value=60, value=20, step=5, key="overview.top_n")
    table = view.table(division, search)
    if table.empty:
        st.info("No department matches these filters.")
        return
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "department": st.column_config.TextColumn("Department"),
            "division": st.column_config.TextColumn("Division"),
            "headcount": st.column_config.NumberColumn("People"),
            "score": st.column_config.ProgressColumn("Score A", min_value=0, max_value=100, format="%.1f"),
            "status": ov.STATUS_COLUMN,
            "partial": st.column_config.TextColumn("Partial", help="Components left out (U hidden for privacy)"),
            "P": st.column_config.NumberColumn("P %", format="%.1f"),
            "U": st.column_config.NumberColumn(
                "U %",
                format="%.1f",
                help="None: hidden for privacy (fewer than k responses, or protecting a small group)",
            ),
            "picks": st.column_config.NumberColumn(
                "Picks %",
                format="%.1f",
                help="Share who picked the organisation's objectives (beside U; hidden like U)",
            ),
            "C": st.column_config.NumberColumn("C %", format="%.1f"),
            "respondents": st.column_config.NumberColumn("Responses"),
            "trend": st.column_config.TextColumn("Trend", help="▲ improving ▼ worsening; * significant after BH"),
            "trend_q": st.column_config.NumberColumn("q (BH)", format="%.3f"),
            "rank": st.column_config.NumberColumn("Rank"),
            "rank_band": st.column_config.TextColumn("Rank band", help="5–95 % of ranks under other weights"),
            "quadrant": st.column_config.TextColumn("Quadrant"),
        },
    )
    st.caption(
        f"{len(table)} departments. Trend: Mann-Kendall on the monthly score; * = significant at "
        f"{head.alpha:g} after Benjamini-Hochberg across every trend test on this page. Partial scores leave "
        "out a component and renormalise the weights; they are listed after the complete ones and not ranked."
    )
    which = st.radio("Departments in the charts", list(ov.CHART_ROWS), horizontal=True, key="overview.which")
    # Tracked tabs: only the open tab's chart is computed and sent (the others cost nothing).
    for name, tab in zip(ov.TABS, st.tabs(ov.TABS, key="overview.tab", on_change="rerun"), strict=True):
        if not tab.open:
            continue
        with tab:
            panel = view.panel(division, search, top_n, which, name)
            if panel.info:
                st.info(panel.info)
            if panel.spec is not None:
                vega.show(panel.spec)
            for line in panel.captions:
                st.caption(line)


body()
