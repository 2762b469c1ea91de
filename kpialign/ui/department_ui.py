"""The sections of the Department page: headline scores, KPIs with their trend charts, survey items
against the previous wave, line-of-sight dimensions and participation.

Everything the page shows for one department is computed once per data version, filters, scope
and department (:func:`section`, a ``st.cache_data`` entry) and shared by every leader who opens
it: figures from the scorecard's department view (:func:`kpialign.scorecard.views.department_view`,
already through the privacy rules), charts as Vega-Lite specs (:mod:`kpialign.ui.vega`). A warm
rerun only draws what was computed before; it neither copies the scorecard nor builds a chart.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from kpialign import charts
from kpialign.core import scoring
from kpialign.scorecard import sharing, views
from kpialign.services import surveys
from kpialign.ui import data, reviews_ui, vega
from kpialign.ui import line_of_sight as los
from kpialign.ui import scorecard_ui as ui
from kpialign.ui.widgets import plain


@dataclass(frozen=True)
class Choices:
    """The departments the picker offers (division order), or empty when nothing is scored."""

    labels: list[str]
    ids: list[int]


@st.cache_data(ttl=3600, max_entries=64, show_spinner="Computing the scorecard…")
def _choices(version: int, url: str, period: str | None, wave: str | None, units: ui.Units) -> Choices:
    sc = ui.scoped_scorecard(version, url, period, wave, units)
    if sc.empty:
        return Choices([], [])
    rows = sc.departments.sort_values(["division", "department"])
    labels = [f"{d} ({v})" for d, v in zip(rows["department"], rows["division"], strict=True)]
    return Choices(labels, [int(i) for i in rows["department_id"]])


def choices(version: int, url: str, period: str | None, wave: str | None, units: ui.Units) -> Choices:
    return ui.refusing(lambda: _choices(version, url, period, wave, units))


@dataclass(frozen=True)
class Section:
    """What the Department page shows for one department (Markdown-safe where it is Markdown)."""

    row: pd.Series
    computed_from: str
    period: str | None
    k: int | None  # the selected wave's minimum group (None: no closed wave)
    wave_name: str | None
    previous_name: str | None
    components: pd.DataFrame  # what, result
    kpis: pd.DataFrame  # the KPI table as shown (empty: no active KPI)
    kpi_ids: list[int]  # the table's KPIs, in its order
    trends: vega.Spec | None  # every KPI's trend chart in one grid (None: no KPI has a value)
    no_values: list[str]  # KPIs without a value in the trend window
    likert_spec: vega.Spec | None
    changes: pd.DataFrame
    dimensions: sharing.UnitResult | None
    dimensions_spec: vega.Spec | None
    participation: tuple[int, int, float] | None  # responded, invited, rate (None: not shown)


@st.cache_data(ttl=3600, max_entries=128, show_spinner="Computing the department…")
def _section(
    version: int, url: str, period: str | None, wave: str | None, units: ui.Units, department_id: int
) -> Section:
    sc = ui.scoped_scorecard(version, url, period, wave, units)
    view = views.department_view(sc, department_id)
    row = view.row
    comp = view.component_trends
    components = pd.DataFrame(
        {
            "what": comp["what"],
            "result": [
                scoring.trend_words(d, p, q) for d, p, q in zip(comp["direction"], comp["p"], comp["q"], strict=True)
            ],
        }
    )
    w = sc.wave
    dims = sharing.unit_result(sc, w, "department", department_id, str(row["department"])) if w else None
    dims_ok = dims is not None and not dims.dimensions.empty
    return Section(
        row=row,
        computed_from=ui.computed_from(sc),
        period=sc.period,
        k=w.k if w else None,
        wave_name=w.name if w else None,
        previous_name=sc.previous_wave.name if sc.previous_wave else None,
        components=components,
        kpis=kpi_table(view.kpis) if not view.kpis.empty else pd.DataFrame(),
        kpi_ids=[int(k) for k in view.kpis["kpi_id"]] if not view.kpis.empty else [],
        trends=_trends(view),
        no_values=[
            str(k.name)
            for k in view.kpis.itertuples(index=False)
            if view.series[view.series["kpi_id"] == k.kpi_id]["actual"].notna().sum() == 0
        ],
        likert_spec=vega.spec(charts.likert_diverging(view.likert, row="item")) if not view.likert.empty else None,
        changes=changes_table(view.changes) if not view.changes.empty else pd.DataFrame(),
        dimensions=dims,
        dimensions_spec=vega.spec(charts.dimension_bars(dims.dimensions, unit=dims.unit)) if dims_ok else None,
        participation=_participation(w.wave_id, department_id) if w else None,
    )


def section(
    version: int, url: str, period: str | None, wave: str | None, units: ui.Units, department_id: int
) -> Section:
    return ui.refusing(lambda: _section(version, url, period, wave, units, department_id))


def _trends(view: views.DepartmentView) -> vega.Spec | None:
    """The trend chart of every KPI with a value in the window, as one grid."""
    trends = []
    for k in view.kpis.itertuples(index=False):
        series = view.series[view.series["kpi_id"] == k.kpi_id]
        if series["actual"].notna().sum() == 0:
            continue
        missing = view.missing.get(k.kpi_id, [])
        band = (k.range_low, k.range_high) if k.polarity == "range" else None
        chart = charts.kpi_trend(series, name=k.name, unit=k.unit, sen=view.sen.get(k.kpi_id), missing=missing,
                                 band=band)  # fmt: skip
        trends.append((str(k.name), chart))
    return vega.spec(charts.kpi_trend_grid(trends)) if trends else None


def _participation(wave_id: int, department_id: int) -> tuple[int, int, float] | None:
    with data.reading() as session:
        part = surveys.participation(session=session, wave_id=wave_id)
    mine = part[part["department_id"] == department_id]
    if mine.empty or not bool(mine["shown"].iloc[0]):
        return None
    r = mine.iloc[0]
    return int(r["responded"]), int(r["invited"]), float(r["rate"])


def _int_or_blank(value: object) -> str:
    return "" if pd.isna(value) else str(int(value))  # type: ignore[call-overload]


def headline(sec: Section) -> None:
    """A, P, U (or why it is hidden) and C, then status, quadrant and rank band in one line."""
    row = sec.row
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
            help=f"Fewer than {sec.k or 5} responses, or hidden to protect a small group",
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
        st.caption(f"{row['n_missing']} KPI(s) have no value for {sec.period}: counted as missing, not as zero.")


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


def kpi_section(sec: Section, dept_id: int) -> None:
    """The KPI table, every KPI's trend chart in one grid, then the owners' latest check-ins."""
    if sec.kpis.empty:
        st.info("This department has no active KPIs.")
        return
    st.dataframe(sec.kpis, hide_index=True, width="stretch")
    st.caption(
        "Attainment: progress from baseline to target (capped); trend: Mann-Kendall on the attainment series, "
        "▲ improving whatever the KPI's polarity; * significant after BH across the tests on this page."
    )
    if sec.trends is not None:
        vega.show(sec.trends, width="content")
        st.caption(
            "Blue: actuals; green dashed: target (green band: target range); purple: Sen's slope on the actuals; "
            "red marks: periods without a value. The table's trend test is on each chart's KPI."
        )
    if sec.no_values:
        st.caption("No values in the trend window: " + plain(", ".join(sec.no_values)))
    st.markdown("**Latest check-ins**")
    reviews_ui.checkin_table(dept_id, dict(zip(sec.kpi_ids, sec.kpis["KPI"], strict=True)))


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


def survey_items(sec: Section) -> None:
    """The line-of-sight items of the latest closed wave against the previous one, or why they are hidden."""
    if sec.wave_name is None:
        st.info("No survey wave has closed yet.")
    elif sec.likert_spec is None:
        st.info(
            f"No survey figures can be shown for this department in {plain(sec.wave_name)}: fewer than {sec.k} "
            "people answered, or its figures are hidden so that a smaller group cannot be worked out from the "
            "division's totals."
        )
    else:
        vega.show(sec.likert_spec)
        st.caption(
            f"Each item in {plain(sec.wave_name)} and the previous wave ({plain(sec.previous_name or 'none')}). "
            "▲/▼: % favourable or the answer distribution changed significantly (Mann-Whitney, BH across this "
            "department's items)."
        )
        if not sec.changes.empty:
            st.dataframe(sec.changes, hide_index=True, width="stretch")


def dimensions(sec: Section, department_id: int, *, period: str | None, wave: str | None) -> None:
    """Dimension scores of the department: % favourable, strengths, alpha per dimension."""
    st.subheader("Line-of-sight dimensions")
    if sec.wave_name is None:
        st.info("No survey wave has closed yet.")
        return
    if sec.dimensions is None:
        name = str(sec.row["department"])
        st.info(f"No dimension scores can be shown for {plain(name)} in {plain(sec.wave_name)}: too few responses, "
                "or hidden to protect a small group.")  # fmt: skip
        return
    los.unit_result(sec.dimensions, k=sec.k or 0, spec=sec.dimensions_spec)
    los.alpha_table(department_id, period=period, wave=wave)


def participation(sec: Section) -> None:
    """How many of the invited answered the wave, where at least k were invited."""
    if sec.wave_name is None:
        return
    if sec.participation is None:
        st.caption(f"Participation is shown only where at least {sec.k} people were invited.")
        return
    responded, invited, rate = sec.participation
    st.progress(
        min(rate, 1.0),
        text=f"{responded} of {invited} invited answered {plain(sec.wave_name)} ({rate:.0%})",
    )
