"""Survey results: items x departments of % favourable, wave-over-wave changes, reliability.

Every section comes from kpialign.ui.survey_results_ui, computed once per data version, wave,
scope and filters, and shared by every leader.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpialign.ui import auth, data, nav, pick_share, vega
from kpialign.ui import scorecard_ui as ui
from kpialign.ui import survey_results_ui as sr

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
    view = sr.View(data.version(), str(data.engine().url), wave, ui.units_key(user))
    head = view.header()
    if head.wave is None:
        st.info("No survey wave has been opened yet. HR can create one on the Survey waves page.")
        return
    st.caption(head.caption)
    c1, c2, c3 = st.columns([1, 2, 2])
    level = c1.radio("Columns", list(sr.LEVELS), horizontal=True, key="survey_results.level")
    division = c2.selectbox("Division", head.divisions, key="survey_results.division")
    search = c3.text_input("Search departments", key="survey_results.search", placeholder="name contains…")
    heat = view.heat(sr.LEVELS[level], division, search)
    if heat.refusal:
        st.warning(heat.refusal, icon=":material/visibility_off:")
        return
    if heat.info:
        st.info(heat.info)
        return
    if heat.cut_note:
        st.caption(heat.cut_note)
    st.subheader("% favourable by item")
    vega.show(heat.spec)
    if heat.hidden_note:
        st.caption(heat.hidden_note)

    cols = heat.units if sr.LEVELS[level] == "department" else None
    pick_share.pick_share_panel(view.picks(cols))

    st.subheader("Changes since the previous wave")
    ch = view.changes(cols)
    if ch.info:
        st.info(ch.info)
    else:
        st.caption(ch.caption)
        st.dataframe(ch.table, hide_index=True, width="stretch")
        if ch.note:
            st.caption(ch.note)

    st.subheader("Reliability of the line-of-sight scale")
    rel = ui.reliability(head.wave)
    if pd.isna(rel["alpha"]):
        st.info("Not enough complete answers to estimate reliability.")
    else:
        st.metric("Cronbach's alpha", f"{rel['alpha']:.2f}", help="Feldt 95 % interval")
        st.caption(
            f"95 % interval {rel['low']:.2f} to {rel['high']:.2f}, from {int(rel['n']):,} complete responses over "
            f"{int(rel['items'])} items (whole organisation). Above 0.7 the items measure one thing consistently."
        )


body()
