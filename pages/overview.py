"""Overview: the organisation's alignment score, the department table, quadrant and heatmap."""

from __future__ import annotations

import streamlit as st

from kpialign import charts
from kpialign.scorecard import build as scorecard
from kpialign.ui import auth, nav
from kpialign.ui import scorecard_ui as ui
from kpialign.ui.widgets import plain

user = auth.require(nav.roles_for("pages/overview.py"))

st.title("Alignment overview")
st.caption(
    "How well each department understands the strategy (survey) and delivers on it (KPIs). "
    "Survey results are confidential, not anonymous: figures from small groups are never shown."
)


@st.fragment
def body() -> None:
    period, wave = ui.filters("overview")
    sc = ui.get(period, wave, user=user)
    if sc.empty:
        st.info("There are no departments to score yet. An admin can set them up on the Strategy setup page.")
        return
    st.caption(ui.computed_from(sc))
    for note in sc.notes:
        st.info(note)
    s = sc.settings
    org = sc.organisation
    a = org["alignment"]
    trend = org.get("trend") or {}
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(
        "Organisation score",
        ui.score_text(a["value"]),
        delta=(f"{trend['slope']:+.2f} per month" if trend.get("n", 0) >= 3 else None),
        delta_color="normal" if trend.get("significant") else "off",
        help=(
            f"Headcount-weighted mean of {a['units']} of {a['units_total']} departments "
            f"({a['headcount']:,.0f} of {a['headcount_total']:,.0f} people). Status: {org['status']}. "
            + (scorecard.trend_words(trend["direction"], trend["p_used"], None, int(trend["n"])) if trend else "")
        ),
    )
    c2.metric("Performance P", ui.pct(org["performance"]["value"]), help="Headcount-weighted mean attainment")
    u = org["understanding"]
    c3.metric(
        "Understanding U",
        ui.pct(u["value"]),
        help=f"From {u['units']} departments whose survey figures may be shown ({u['headcount']:,.0f} people).",
    )
    c4.metric(
        "Coverage C", ui.pct(org["coverage"]["value"]), help="Share of expected objectives served by KPIs with data"
    )
    st.badge(
        f"Status: {org['status']}",
        color={"green": "green", "amber": "orange", "red": "red"}.get(str(org["status"]), "gray"),
    )
    if trend:
        st.caption(
            "Organisation trend: " + scorecard.trend_words(trend["direction"], trend["p_used"], None, int(trend["n"]))
        )
    st.altair_chart(charts.org_trend(sc.org_series, green=s.green, amber=s.amber), width="stretch")

    st.subheader("Departments")
    rows = sc.departments
    f1, f2, f3 = st.columns([2, 2, 1])
    divisions = ["All divisions", *sorted(rows["division"].dropna().unique())]
    division = f1.selectbox("Division", divisions, key="overview.division")
    search = f2.text_input("Search departments", key="overview.search", placeholder="name contains…")
    top_n = f3.number_input("Chart rows", min_value=5, max_value=60, value=20, step=5, key="overview.top_n")
    shown = rows
    if division != "All divisions":
        shown = shown[shown["division"] == division]
    if search:
        shown = shown[shown["department"].str.contains(search, case=False, regex=False)]
    if shown.empty:
        st.info("No department matches these filters.")
        return
    table = scorecard.scorecard_table(shown)
    st.dataframe(
        ui.styled_status(table),
        hide_index=True,
        width="stretch",
        column_config={
            "department": st.column_config.TextColumn("Department"),
            "division": st.column_config.TextColumn("Division"),
            "headcount": st.column_config.NumberColumn("People"),
            "score": st.column_config.ProgressColumn("Score A", min_value=0, max_value=100, format="%.1f"),
            "status": st.column_config.TextColumn("Status"),
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
        f"{len(shown)} departments. Trend: Mann-Kendall on the monthly score; * = significant at "
        f"{s.alpha:g} after Benjamini-Hochberg across every trend test on this page. Partial scores leave "
        "out a component and renormalise the weights; they are listed after the complete ones and not ranked."
    )
    which = st.radio(
        "Chart",
        ["Top and bottom", "Top", "Bottom"],
        horizontal=True,
        key="overview.which",
        label_visibility="collapsed",
    )
    cut = charts.top_bottom(shown, "alignment", int(top_n), which={"Top": "top", "Bottom": "bottom"}.get(which, "both"))
    if len(cut) < len(shown):
        st.caption(f"Showing {len(cut)} of {len(shown)} departments; use the filters to see others.")
    st.altair_chart(charts.score_bars(cut, green=s.green, amber=s.amber), width="stretch")

    left, right = st.columns(2)
    with left:
        st.subheader("Understanding vs performance")
        st.altair_chart(
            charts.quadrant(shown, p_cut=s.quadrant_performance, u_cut=s.quadrant_understanding), width="stretch"
        )
        hidden = int(shown["understanding"].isna().sum())
        if hidden:
            st.caption(f"{hidden} department(s) not plotted: no survey figure may be shown for them.")
        st.caption("Correlation of understanding with next period's performance: " + sc.correlation.describe())
        if sc.correlation.what:
            st.caption(sc.correlation.what)
    with right:
        st.subheader("How robust is the ranking?")
        st.altair_chart(charts.rank_bands(cut), width="stretch")
        st.caption(
            f"Bars: 5–95 % of ranks over {s.mc_draws:,} random weightings around the configured weights "
            f"(seed {s.mc_seed}). Long bars: the rank depends on the weights."
        )
        unranked = cut.loc[cut["partial"].fillna(False).astype(bool), "department"].astype(str).tolist()
        if unranked:
            st.caption(
                "Not ranked, partial score (a component is missing, so the score is not comparable): "
                + plain(", ".join(unranked))
            )

    st.subheader("Departments x objectives")
    matrix = scorecard.department_objective_matrix(sc)
    # rows in the same order as the score bars above (best first), not in database order
    position = {d: i for i, d in enumerate(cut["department_id"])}
    matrix = matrix[matrix["department_id"].isin(position)]
    matrix = matrix.assign(_pos=matrix["department_id"].map(position)).sort_values("_pos", kind="stable")
    if matrix.empty:
        st.info("No KPI is linked to an objective yet.")
    else:
        st.altair_chart(charts.dept_objective_heatmap(matrix, green=s.green, amber=s.amber), width="stretch")
        st.caption(
            "Cells: % of target attained by the department's KPIs serving the objective; 'gap': expected but no KPI."
        )


body()
