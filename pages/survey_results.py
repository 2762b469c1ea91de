"""Survey results: items x departments of % favourable, wave-over-wave changes, reliability."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpialign import charts
from kpialign.core import privacy
from kpialign.scorecard import build as scorecard
from kpialign.scorecard import views
from kpialign.ui import auth, department_ui, nav, pick_share
from kpialign.ui import scorecard_ui as ui
from kpialign.ui.widgets import plain

user = auth.require(nav.roles_for("pages/survey_results.py"))

st.title("Survey results")
st.caption(
    "Confidential, not anonymous: nobody can see one person's answers, and no figure is shown for a group "
    "smaller than the wave's minimum (k). Some larger groups are hidden too, so that a small group cannot "
    "be worked out by subtracting the others from a total."
)


@st.fragment
def body() -> None:
    _period, wave = ui.filters("survey_results", show_period=False)
    sc = ui.get(None, wave, user=user)
    if sc.wave is None:
        st.info("No survey wave has been opened yet. HR can create one on the Survey waves page.")
        return
    w = sc.wave
    st.caption(
        f"Wave {w.name} ({'open — provisional' if w.status == 'open' else 'closed'}), {w.responses:,} responses; "
        f"cells from fewer than {w.k} responses are hidden."
    )
    c1, c2, c3 = st.columns([1, 2, 2])
    level = c1.radio("Columns", ["Departments", "Divisions"], horizontal=True, key="survey_results.level")
    divisions = sorted({sc.division_names[d] for d in set(sc.division_of.values())})
    div_choice = c2.selectbox("Division", ["All divisions", *divisions], key="survey_results.division")
    search = c3.text_input("Search departments", key="survey_results.search", placeholder="name contains…")
    units = None
    if div_choice != "All divisions":
        div_id = next(i for i, n in sc.division_names.items() if n == div_choice and i in set(sc.division_of.values()))
        try:
            scorecard.check_division_filter(sc, w.wave_id, div_id)
        except privacy.DisclosureRefused as exc:
            st.warning(str(exc), icon=":material/visibility_off:")
            return
        units = [d for d, v in sc.division_of.items() if v == div_id] if level == "Departments" else [div_id]
    lvl = "department" if level == "Departments" else "division"
    heat = views.survey_heatmap(sc, w.wave_id, level=lvl, units=units)
    if search and lvl == "department":
        keep = heat["unit"].str.contains(search, case=False, regex=False) | (heat["unit_level"] == "organisation")
        heat = heat[keep]
    if heat.empty:
        st.info("No answers yet in this wave.")
        return
    n_units = heat.loc[heat["unit_level"] != "organisation", "unit"].nunique()
    max_cols = 15  # beyond ~15 columns the cells get too narrow for their numbers and names at 1400 px
    if n_units > max_cols:
        first = heat.loc[heat["unit_level"] != "organisation", "unit"].drop_duplicates().head(max_cols)
        heat = heat[heat["unit"].isin(first) | (heat["unit_level"] == "organisation")]
        st.caption(
            f"Showing the first {max_cols} of {n_units} departments; choose a division or search to see others, "
            "or show divisions as columns."
        )
    st.subheader("% favourable by item")
    st.altair_chart(charts.items_heatmap(heat, k=w.k), width="stretch")
    hidden = sorted(heat.loc[heat["hidden"] & (heat["unit_level"] != "organisation"), "unit"].unique())
    if hidden:
        st.caption(f"Hidden (fewer than {w.k} responses, or protecting a small group): {plain(', '.join(hidden))}")

    pick_share.pick_share_panel(sc, units if lvl == "department" else None)

    st.subheader("Changes since the previous wave")
    if sc.previous_wave is None or sc.changes.empty:
        st.info("There is no earlier closed wave to compare with.")
    else:
        ch = sc.changes.merge(sc.questions[["question_id", "code"]], on="question_id")
        names = dict(zip(sc.departments["department_id"], sc.departments["department"], strict=True))
        ch = ch.assign(department=ch["department_id"].map(names))
        if units is not None and lvl == "department":
            ch = ch[ch["department_id"].isin(units)]
        sig = ch[ch["significant"]]
        st.caption(
            f"{w.name} vs {sc.previous_wave.name}: {len(ch)} department x item comparisons, Mann-Whitney U and "
            f"two-proportion tests, Benjamini-Hochberg across all of them; {len(sig)} significant at {sc.settings.alpha:g}."
        )
        show = sig if not sig.empty else ch.nsmallest(10, "q_mwu")
        st.dataframe(
            pd.DataFrame(
                {
                    "department": show["department"],
                    "item": show["code"],
                    **department_ui.favourable_change(show),
                    "effect (rank-biserial)": show["rank_biserial"].round(2),
                    "q (BH)": show["q_mwu"].round(3),
                }
            ),
            hide_index=True,
            width="stretch",
        )
        if sig.empty:
            st.caption("No change is significant; the table lists the ten smallest q-values.")

    st.subheader("Reliability of the line-of-sight scale")
    rel = ui.reliability(sc, w)
    if pd.isna(rel["alpha"]):
        st.info("Not enough complete answers to estimate reliability.")
    else:
        st.metric("Cronbach's alpha", f"{rel['alpha']:.2f}", help="Feldt 95 % interval")
        st.caption(
            f"95 % interval {rel['low']:.2f} to {rel['high']:.2f}, from {int(rel['n']):,} complete responses over "
            f"{int(rel['items'])} items (whole organisation). Above 0.7 the items measure one thing consistently."
        )


body()
