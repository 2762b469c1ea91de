"""How scores work: the formulas, the current weights and thresholds, what "significant" means."""

from __future__ import annotations

import streamlit as st

from kpialign.core import scoring
from kpialign.services import settings
from kpialign.ui import auth, data, nav

auth.require(nav.roles_for("pages/how_scores_work.py"))


@st.cache_data(max_entries=4, show_spinner=False)
def _settings(version: int, url: str) -> scoring.ScoringSettings:
    with data.reading() as session:
        return settings.load_settings(session=session)


s = _settings(data.version(), str(data.engine().url))
w = s.normalised_weights()

st.title("How scores work")
st.caption("Every number below is the one in force now; an admin can change them (the change is audited).")

st.subheader("1. Attainment of a KPI")
st.markdown(
    "How far a KPI has come from its **baseline** to its **target** in a period, from 0 to "
    f"**{s.cap:g}** (the cap: beating the target earns nothing extra above it).\n\n"
    "- With a baseline: (actual − baseline) / (target − baseline). This handles lower-is-better KPIs by itself.\n"
    "- Without a baseline: actual / target when higher is better, target / actual when lower is better.\n"
    "- Range KPIs: 1 inside the range, falling to 0 at one range-width outside it.\n"
    "- A period-specific target replaces the KPI's default target for that period."
)
st.subheader("2. Performance P, understanding U, coverage C")
st.markdown(
    "- **P**: the weighted mean attainment of a department's KPIs *that have a value* in the period. KPIs "
    "without a value are counted and shown as missing — never filled in.\n"
    "- **U**: the share of favourable answers (agree or strongly agree) to the line-of-sight survey items in "
    "the wave, with a 95 % Wilson interval based on the number of people who answered. Beside it, the share "
    "who picked the organisation's real objectives from a list with decoys.\n"
    "- **C**: the share of the objectives a department is expected to serve that have at least one of its KPIs "
    "linked, with a value in the period."
)
st.subheader("3. The alignment score A")
st.markdown(
    f"A = 100 × ({w['performance']:.2f} P + {w['understanding']:.2f} U + {w['coverage']:.2f} C) "
    f"— currently the **{s.composite}** form"
    + (
        ". The geometric form multiplies the parts instead, so one weak part pulls the score down more."
        if s.composite == "linear"
        else " (the parts are multiplied, so one weak part pulls the score down more)."
    )
    + "\n\nWhen U may not be shown for privacy, the score is **partial**: it uses P and C with their weights "
    "rescaled to add up to one, and it is flagged wherever it appears. A partial score is not comparable "
    "with a complete one, so it is **not ranked**: rankings and rank bands cover complete scores only, and "
    "partial ones are listed after them."
)
st.markdown(
    f"**Status**: :green[green] at {s.green:g} or more, :orange[amber] from {s.amber:g}, :red[red] below {s.amber:g}.\n\n"
    "**Organisation**: the headcount-weighted mean of the departments' scores. **Objective**: the "
    "contribution-weighted mean attainment of the KPIs linked to it (a KPI linked to a sub-objective also "
    "serves its parent). **All objectives together** (Objectives page): the mean of the top-level objectives' "
    "scores weighted by each objective's **weight** (set on Strategy setup; objectives without data are left "
    "out and the weights of the others rescaled)."
)
st.subheader("4. Trends and what “significant” means")
st.markdown(
    f"Every KPI and every department's P, U and A is tested for a trend over the last {s.trend_periods} "
    "periods with the Mann-Kendall test; Sen's slope says how fast it moves. ▲ means improving and ▼ worsening, "
    "whatever the KPI's direction (for a lower-is-better KPI, falling values are ▲).\n\n"
    f"A trend or a change between survey waves is **significant** (marked *) when it would be unlikely to "
    f"arise by chance: its p-value, after the Benjamini-Hochberg correction across all the tests shown on "
    f"the same page, is below {s.alpha:g}. Testing many things at once makes some look significant by luck; "
    "the correction keeps the expected share of false alarms among the marked results at about "
    f"{s.alpha:.0%}. Not significant does not mean “no change” — it means the data cannot tell yet."
)
st.subheader("5. Survey changes and reliability")
st.markdown(
    "Between two waves, each item is compared with the Mann-Whitney test (with the rank-biserial effect size) "
    "and the share favourable with a two-proportion test and a Newcombe 95 % interval. Cronbach's alpha "
    "(with a Feldt interval) shows whether the line-of-sight items measure one thing consistently."
)
st.subheader("6. How robust is a ranking?")
st.markdown(
    f"The weights are a choice. We redraw them {s.mc_draws:,} times around the configured ones (seed "
    f"{s.mc_seed}) and record each department's rank: the 5–95 % rank band and the mean shift show which "
    "positions depend on the weights."
)
st.subheader("7. The quadrant")
st.markdown(
    f"Understanding (U ≥ {s.quadrant_understanding:.0%}) against performance (P ≥ {s.quadrant_performance:.0%}): "
    "*aligned and delivering*, *understands but not delivering*, *delivering without line of sight*, *at risk*."
)
st.subheader("8. Privacy")
st.markdown(
    "Survey results are **confidential, not anonymous**. No figure is computed from fewer than k responses "
    f"(k is set per wave, {s.default_k} by default, never below 3); a department's comments are shown only "
    f"where at least {s.comment_min} people commented (set per wave, never fewer than 10), in random order, "
    "without dates, and every reading is recorded. When a total is shown beside its "
    "parts, more parts are hidden so that a small group can never be worked out by subtraction, and a filter "
    "that would leave a small group outside it is refused. While a wave is open, only participation is shown: "
    "its results, comments and exports appear once it is closed, so nobody can work out one person's answers "
    "by looking before and after they submit."
)
