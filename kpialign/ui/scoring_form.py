"""The admin's Scoring settings: the form (validated by ScoringSettings) and a preview of what the
Overview would show with the candidate settings, beside what it shows now."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from kpialign.core import privacy
from kpialign.core.scoring import ScoringError, ScoringSettings
from kpialign.scorecard import views
from kpialign.scorecard.model import Scorecard

P = "admin_scoring"


def settings_form(current: ScoringSettings) -> ScoringSettings | None:
    """The form; returns the candidate settings when "Preview" is pressed and they are valid."""
    with st.form(f"{P}.form"):
        st.text("Weights of the alignment score A (rescaled to add up to 1)")
        c1, c2, c3 = st.columns(3)
        wp = c1.number_input("Performance P", 0.0, 1.0, float(current.weight_performance), 0.05, key=f"{P}.wp")
        wu = c2.number_input("Understanding U", 0.0, 1.0, float(current.weight_understanding), 0.05, key=f"{P}.wu")
        wc = c3.number_input("Coverage C", 0.0, 1.0, float(current.weight_coverage), 0.05, key=f"{P}.wc")
        composite = st.radio(
            "Form of A", ["linear", "geometric"], index=["linear", "geometric"].index(current.composite),
            horizontal=True, key=f"{P}.composite", help="Geometric: one weak part pulls A down much more.",
        )  # fmt: skip
        c1, c2, c3 = st.columns(3)
        green = c1.number_input("Green from (A ≥)", 0.0, 100.0, float(current.green), 1.0, key=f"{P}.green")
        amber = c2.number_input("Amber from (A ≥)", 0.0, 100.0, float(current.amber), 1.0, key=f"{P}.amber")
        cap = c3.number_input(
            "Attainment cap", 1.0, 3.0, float(current.cap), 0.05, key=f"{P}.cap",
            help="1.0: beating a target earns nothing extra; 1.2: up to 120 % counts.",
        )  # fmt: skip
        c1, c2, c3 = st.columns(3)
        k = c1.number_input(
            "Default minimum group k", privacy.MIN_K, 1000, int(current.default_k), 1, key=f"{P}.k",
            help=f"New waves start with it; never below {privacy.MIN_K}.",
        )  # fmt: skip
        comments = c2.number_input(
            "Default comment threshold", privacy.COMMENT_MIN, 10_000, int(current.comment_min), 1, key=f"{P}.comments",
            help=f"New waves start with it; never below {privacy.COMMENT_MIN}.",
        )  # fmt: skip
        window = c3.number_input(
            "Trend window (periods)", 3, 240, int(current.trend_periods), 1, key=f"{P}.window",
            help="How far back trend tests look from the chosen period.",
        )  # fmt: skip
        if not st.form_submit_button("Preview", icon=":material/preview:"):
            return None
    try:
        return replace(
            current,
            weight_performance=float(wp), weight_understanding=float(wu), weight_coverage=float(wc),
            composite=str(composite), green=float(green), amber=float(amber), cap=float(cap),
            default_k=int(k), comment_min=int(comments), trend_periods=int(window),
        ).validate()  # fmt: skip
    except ScoringError as exc:
        st.error(str(exc), icon=":material/error:")
        return None


def changes(current: ScoringSettings, candidate: ScoringSettings) -> pd.DataFrame:
    old, new = vars(current), vars(candidate)
    rows = [{"setting": k.replace("_", " "), "now": old[k], "new": new[k]} for k in old if old[k] != new[k]]
    return pd.DataFrame(rows, columns=["setting", "now", "new"]).astype(str)


def preview(now: Scorecard, then: Scorecard) -> None:
    """What the Overview shows now and would show with the candidate settings."""
    c1, c2, c3 = st.columns(3)
    a0, a1 = now.organisation["alignment"]["value"], then.organisation["alignment"]["value"]
    c1.metric("Organisation score A", "–" if pd.isna(a1) else f"{a1:.1f}",
              delta=None if pd.isna(a0) or pd.isna(a1) else f"{a1 - a0:+.1f}")  # fmt: skip
    c2.metric("Status", str(then.organisation["status"]), help=f"now: {now.organisation['status']}")
    counts = then.departments["status"].value_counts()
    c3.metric(
        "Departments green / amber / red", " / ".join(str(int(counts.get(s, 0))) for s in ("green", "amber", "red"))
    )
    before = views.scorecard_table(now.departments)[["department", "score", "status", "rank"]]
    after = views.scorecard_table(then.departments)
    table = after.merge(before.rename(columns={"score": "score now", "status": "status now", "rank": "rank now"}),
                        on="department", how="left")  # fmt: skip
    st.dataframe(
        table[["department", "score", "score now", "status", "status now", "partial", "rank", "rank now"]],
        hide_index=True,
        width="stretch",
        column_config={"score": st.column_config.NumberColumn("Score A (new)", format="%.1f")},
    )
