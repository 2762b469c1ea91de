"""The sections of the Department page: headline scores, KPIs with their trend charts, survey items
against the previous wave, and participation. Figures come from the scorecard's department view
(:func:`kpialign.scorecard.views.department_view`), already through the privacy rules."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpialign import charts
from kpialign.scorecard.model import Scorecard
from kpialign.scorecard.views import DepartmentView
from kpialign.services import surveys
from kpialign.ui import data, reviews_ui
from kpialign.ui import scorecard_ui as ui
from kpialign.ui.widgets import plain


def _int_or_blank(value: object) -> str:
    return "" if pd.isna(value) else str(int(value))  # type: ignore[call-overload]


def headline(sc: Scorecard, row: pd.Series) -> None:
    """A, P, U (or why it is hidden) and C, then status, quadrant and rank band in one line."""
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(
        "Alignment score A",
        ui.score_text(row["alignment"]),
        help=("Partial: " + ", ".join(row["missing"]) + " left out, weights renormalised") if row["partial"] else None,
    )
    c2.metric(
        "Performance P", ui.pct(row["performance"]), help=f"{row['n_with_data']} of {row['n_kpis']} KPIs have data"
    )
    if row["u_suppressed"]:
        c3.metric(
            "Understanding U",
            "hidden",
            help=f"Fewer than {sc.wave.k if sc.wave else 5} responses, or hidden to protect a small group",
        )
    else:
        c3.metric(
            "Understanding U",
            ui.pct(row["understanding"]),
            help=f"95 % interval {ui.pct(row['u_low'])} to {ui.pct(row['u_high'])}; {int(row['respondents'] or 0)} responses",
        )
    c3.caption(  # the objective-pick share beside U: knowledge, not only self-report
        f"Picked the objectives: {ui.pct(row['pick_share'])}"
        if not pd.isna(row["pick_share"])
        else "Picked the objectives: hidden or not asked"
    )
    c4.metric(
        "Coverage C", ui.pct(row["coverage"]), help=f"{row['n_covered']} of {row['n_expected']} expected objectives"
    )
    st.text(
        f"Status: {row['status']}   Quadrant: {row['quadrant']}   Rank {_int_or_blank(row['rank'])} "
        f"(band {_int_or_blank(row['rank_p05'])}–{_int_or_blank(row['rank_p95'])})"
    )
    if row["partial"]:
        st.warning(
            "This score is partial: "
            + ("understanding is hidden for privacy; " if "U" in row["missing"] else "")
            + "the remaining components' weights were renormalised.",
            icon=":material/visibility_off:",
        )
    if row["n_missing"]:
        st.caption(f"{row['n_missing']} KPI(s) have no value for {sc.period}: counted as missing, not as zero.")


def kpi_table(kp: pd.DataFrame) -> pd.DataFrame:
    """The department's KPIs as shown: a range KPI's target is "low to high", a missing target blank."""
    return pd.DataFrame(
        {
            "KPI": kp["name"],
            "unit": kp["unit"],
            "polarity": kp["polarity"],
            "period": kp["period_used"],
            "actual": kp["actual"],
            "target": [
                f"{lo:g} to {hi:g}" if p == "range" else ("" if pd.isna(t) else f"{t:g}")
                for p, t, lo, hi in zip(
                    kp["polarity"], kp["target_used"], kp["range_low"], kp["range_high"], strict=True
                )
            ],
            "attainment %": (kp["attainment"] * 100).round(1),
            "trend": kp.get("trend_page", "–"),
            "trend test": kp.get("words", ""),
        }
    )


def kpi_section(view: DepartmentView, dept_id: int) -> None:
    """The KPI table, then one trend chart per KPI with its test and the owner's latest check-in."""
    kp = view.kpis
    if kp.empty:
        st.info("This department has no active KPIs.")
        return
    st.dataframe(kpi_table(kp), hide_index=True, width="stretch")
    st.caption(
        "Attainment: progress from baseline to target (capped); trend: Mann-Kendall on the attainment series, "
        "▲ improving whatever the KPI's polarity; * significant after BH across the tests on this page."
    )
    cols = st.columns(2)
    for i, k in enumerate(kp.itertuples(index=False)):
        with cols[i % 2]:
            st.markdown(f"**{plain(k.name)}**")
            series = view.series[view.series["kpi_id"] == k.kpi_id]
            missing = view.missing.get(k.kpi_id, [])
            if series["actual"].notna().sum() == 0:
                st.info("No values in the trend window.")
                continue
            st.altair_chart(
                charts.kpi_trend(
                    series,
                    name=k.name,
                    unit=k.unit,
                    sen=view.sen.get(k.kpi_id),
                    missing=missing,
                    band=(k.range_low, k.range_high) if k.polarity == "range" else None,
                ),
                width="stretch",
            )
            words = getattr(k, "words", "")
            st.caption(
                f"{words}. Green dashed: target (green band: target range); purple: Sen's slope on the actuals"
                + (f"; red marks: no value for {', '.join(missing)}" if missing else "")
            )
            reviews_ui.checkin_note(dept_id, k.kpi_id)


def favourable_change(ch: pd.DataFrame) -> dict[str, object]:
    """The columns of a survey change (two waves): % favourable now and before, the change and its 95 % interval."""
    return {
        "favourable now %": (ch["fav_now"] * 100).round(1),
        "before %": (ch["fav_before"] * 100).round(1),
        "change (points)": (ch["fav_diff"] * 100).round(1),
        "95 % interval": [
            f"{lo * 100:+.1f} to {hi * 100:+.1f}"
            for lo, hi in zip(ch["fav_diff_low"], ch["fav_diff_high"], strict=True)
        ],
    }


def changes_table(ch: pd.DataFrame) -> pd.DataFrame:
    """Each item's % favourable now and in the previous wave, the change with its interval, and BH's q."""
    return pd.DataFrame(
        {
            "item": ch["code"],
            "question": ch["text"],
            **favourable_change(ch),
            "q (BH)": ch["q_page"].round(3),
            "significant": ch["significant_page"],
        }
    )


def survey_items(sc: Scorecard, view: DepartmentView) -> None:
    """The line-of-sight items of the latest closed wave against the previous one, or why they are hidden."""
    if sc.wave is None:
        st.info("No survey wave has closed yet.")
    elif view.likert.empty:
        st.info(
            f"No survey figures can be shown for this department in {plain(sc.wave.name)}: fewer than {sc.wave.k} "
            "people answered, or its figures are hidden so that a smaller group cannot be worked out from the "
            "division's totals."
        )
    else:
        st.altair_chart(charts.likert_diverging(view.likert, row="item"), width="stretch")
        prev = sc.previous_wave.name if sc.previous_wave else "none"
        st.caption(
            f"Each item in {plain(sc.wave.name)} and the previous wave ({plain(prev)}). ▲/▼: % favourable or the answer "
            "distribution changed significantly (Mann-Whitney, BH across this department's items)."
        )
        if not view.changes.empty:
            st.dataframe(changes_table(view.changes), hide_index=True, width="stretch")


def participation(sc: Scorecard, dept_id: int) -> None:
    """How many of the invited answered the wave, where at least k were invited."""
    if sc.wave is None:
        return
    with data.reading() as session:
        part = surveys.participation(session=session, wave_id=sc.wave.wave_id)
    mine = part[part["department_id"] == dept_id]
    if mine.empty or not bool(mine["shown"].iloc[0]):
        st.caption(f"Participation is shown only where at least {sc.wave.k} people were invited.")
        return
    r = mine.iloc[0]
    st.progress(
        min(float(r["rate"]), 1.0),
        text=f"{int(r['responded'])} of {int(r['invited'])} invited answered {plain(sc.wave.name)} "
        f"({float(r['rate']):.0%})",
    )
