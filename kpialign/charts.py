"""Altair chart builders for the scorecard pages: a DataFrame in, a chart out.

No Streamlit and no database here. Every chart stays readable at 200 departments: builders
that draw one mark per department take frames the caller has already cut to the top or
bottom N (:func:`top_bottom`), and sizes grow with the number of rows. User text (department
and KPI names) is only ever data for marks and tooltips, never markup.
"""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd

from kpialign.core import dot, periods
from kpialign.core.scoring import ScoringSettings

STATUS_COLOURS = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828", "no score": "#9e9e9e"}
STATUS_ORDER = list(STATUS_COLOURS)
LIKERT_COLOURS = {
    "Strongly disagree": "#c62828",
    "Disagree": "#ef9a9a",
    "Neutral": "#d6d6d6",
    "Agree": "#90caf9",
    "Strongly agree": "#1565c0",
}
ROW_PX = 24


def _status_scale() -> alt.Scale:
    return alt.Scale(domain=STATUS_ORDER, range=[STATUS_COLOURS[s] for s in STATUS_ORDER])


_DEFAULT = ScoringSettings()
ATTAINMENT_COLOURS = ["#c62828", "#f9a825", "#a5d6a7", "#2e7d32"]


def attainment_scale(*, green: float, amber: float) -> alt.Scale:
    """Red below ``amber``, amber to ``green``, green above: the configured status thresholds (0..100)."""
    return alt.Scale(domain=[0, amber, green, 100], range=ATTAINMENT_COLOURS)


def objective_bars(table: pd.DataFrame, *, green: float, amber: float) -> alt.Chart:
    """One bar per objective: % of target attained, coloured by the status thresholds.

    ``table``: code, objective, ``score %`` (0..100), ``KPIs serving``, departments; rows without
    a score are left out.
    """
    df = table.dropna(subset=["score %"]).assign(label=lambda d: d["code"] + " " + d["objective"])
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("score %:Q", scale=alt.Scale(domain=[0, 100]), title="% of target attained"),
            y=alt.Y(
                "label:N",
                sort=df.sort_values("score %", ascending=False)["label"].tolist(),
                title=None,
                axis=alt.Axis(labelLimit=320, labelOverlap=False),
            ),
            color=alt.Color("score %:Q", scale=attainment_scale(green=green, amber=amber), legend=None),
            tooltip=["code:N", "objective:N", "score %:Q", "KPIs serving:Q", "departments:N"],
        )
        .properties(height=alt.Step(28), width="container")
    )


def top_bottom(df: pd.DataFrame, col: str, n: int, *, which: str = "both") -> pd.DataFrame:
    """The ``n`` highest and/or lowest rows by ``col`` (rows without a value last)."""
    ordered = df.sort_values(col, ascending=False, na_position="last")
    if len(ordered) <= n or which == "all":
        return ordered
    if which == "top":
        return ordered.head(n)
    if which == "bottom":
        return ordered.dropna(subset=[col]).tail(n)
    half = max(1, n // 2)
    return pd.concat([ordered.head(half), ordered.dropna(subset=[col]).tail(n - half)]).drop_duplicates()


def score_bars(
    rows: pd.DataFrame, *, green: float = _DEFAULT.green, amber: float = _DEFAULT.amber, title: str = "Alignment score"
) -> alt.Chart:
    """Horizontal bars of the alignment score per department, coloured by status, with the thresholds."""
    df = rows.assign(score=rows["alignment"].round(1), label=rows["department"].astype(str))
    partial = df["partial"].fillna(False).astype(bool)
    df["partial_note"] = np.where(partial, "partial: no " + df["missing"].astype(str) + " (not ranked)", "")
    # A partial score is marked on the bar itself (label, hatched-looking lighter bar) and sorted
    # after the complete ones: it is not comparable with them.
    df["label"] = np.where(partial, df["label"] + " (partial: no " + df["missing"].astype(str) + ")", df["label"])
    df["completeness"] = np.where(partial, "partial (not ranked)", "complete")
    order = df.assign(_p=partial).sort_values(["_p", "score"], ascending=[True, False], na_position="last")["label"]
    order = order.tolist()
    base = alt.Chart(df).encode(
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=220, labelOverlap=False)),
    )
    bars = base.mark_bar().encode(
        x=alt.X("score:Q", title=title + " (0–100)", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("status:N", scale=_status_scale(), legend=alt.Legend(title="Status", orient="bottom")),
        opacity=alt.Opacity(
            "completeness:N",
            scale=alt.Scale(domain=["complete", "partial (not ranked)"], range=[1.0, 0.4]),
            legend=alt.Legend(title="Score", orient="bottom"),
        ),
        tooltip=[
            alt.Tooltip("label:N", title="Department"),
            alt.Tooltip("division:N", title="Division"),
            alt.Tooltip("score:Q", title="Score", format=".1f"),
            alt.Tooltip("status:N", title="Status"),
            alt.Tooltip("partial_note:N", title="Note"),
        ],
    )
    text = base.mark_text(align="left", dx=3, fontSize=11).encode(x="score:Q", text=alt.Text("score:Q", format=".0f"))
    rules = (
        alt.Chart(pd.DataFrame({"x": [amber, green], "what": ["amber from", "green from"]}))
        .mark_rule(strokeDash=[4, 3], color="#555")
        .encode(x="x:Q", tooltip=["what:N", "x:Q"])
    )
    return (bars + text + rules).properties(height=alt.Step(ROW_PX), width="container")


def org_trend(series: pd.DataFrame, *, green: float = _DEFAULT.green, amber: float = _DEFAULT.amber) -> alt.Chart:
    """The organisation's alignment score by month with the status bands behind it."""
    df = series.dropna(subset=["alignment"]).assign(score=lambda d: d["alignment"].round(1))
    df["date"] = pd.to_datetime(df["period"] + "-01")
    lo = float(min(df["score"].min() if len(df) else 0, amber) - 5)
    bands = pd.DataFrame(
        {"y0": [max(lo, 0), amber, green], "y1": [amber, green, 100], "status": ["red", "amber", "green"]}
    )
    band = (
        alt.Chart(bands)
        .mark_rect(opacity=0.12)
        .encode(y="y0:Q", y2="y1:Q", color=alt.Color("status:N", scale=_status_scale(), legend=None))
    )
    line = (
        alt.Chart(df)
        .mark_line(point=True, color="#263238")
        .encode(
            x=alt.X("date:T", title=None, axis=alt.Axis(format="%b %Y")),
            y=alt.Y("score:Q", title="Organisation score", scale=alt.Scale(domain=[max(lo, 0), 100])),
            tooltip=[alt.Tooltip("period:N", title="Month"), alt.Tooltip("score:Q", title="Score", format=".1f"),
                     alt.Tooltip("units:Q", title="Departments scored")],
        )
    )  # fmt: skip
    return (band + line).properties(height=220, width="container")


def quadrant(rows: pd.DataFrame, *, p_cut: float, u_cut: float, label_limit: int = 25) -> alt.Chart:
    """Understanding (x) vs performance (y) per department; size = headcount; quadrant lines."""
    df = rows.dropna(subset=["performance", "understanding"]).assign(
        P=lambda d: (d["performance"] * 100).round(1),
        U=lambda d: (d["understanding"] * 100).round(1),
        label=lambda d: d["department"].astype(str),
    )
    x = alt.X("U:Q", title="Understanding: % favourable", scale=alt.Scale(domain=[0, 100]))
    y = alt.Y("P:Q", title="Performance: % of target attained", scale=alt.Scale(domain=[0, 100]))
    points = (
        alt.Chart(df)
        .mark_circle(opacity=0.8, stroke="#333", strokeWidth=0.5)
        .encode(
            x=x,
            y=y,
            size=alt.Size("headcount:Q", title="Headcount", scale=alt.Scale(range=[40, 600]), legend=None),
            color=alt.Color("status:N", scale=_status_scale(), legend=alt.Legend(title="Status")),
            tooltip=[
                alt.Tooltip("label:N", title="Department"),
                alt.Tooltip("division:N", title="Division"),
                alt.Tooltip("U:Q", title="Understanding %"),
                alt.Tooltip("P:Q", title="Performance %"),
                alt.Tooltip("quadrant:N", title="Quadrant"),
                alt.Tooltip("headcount:Q", title="Headcount"),
            ],
        )
    )
    layers = [points]
    if len(df) <= label_limit:
        layers.append(alt.Chart(df).mark_text(align="left", dx=8, dy=-6, fontSize=11).encode(x=x, y=y, text="label:N"))
    cuts = pd.DataFrame({"U": [u_cut * 100], "P": [p_cut * 100]})
    layers.append(alt.Chart(cuts).mark_rule(strokeDash=[5, 4], color="#555").encode(x="U:Q"))
    layers.append(alt.Chart(cuts).mark_rule(strokeDash=[5, 4], color="#555").encode(y="P:Q"))
    corners = pd.DataFrame(
        {
            "U": [98, 2, 98, 2],
            "P": [98, 98, 2, 2],
            "text": [
                "aligned and delivering",
                "delivering without line of sight",
                "understands but not delivering",
                "at risk",
            ],
            "align": ["right", "left", "right", "left"],
        }
    )
    for align in ("left", "right"):
        sub = corners[corners["align"] == align]
        layers.append(
            alt.Chart(sub)
            .mark_text(align=align, baseline="middle", color="#777", fontStyle="italic", fontSize=11)
            .encode(x="U:Q", y="P:Q", text="text:N")
        )
    return alt.layer(*layers).properties(height=420, width="container")


def dept_objective_heatmap(
    matrix: pd.DataFrame, *, green: float = _DEFAULT.green, amber: float = _DEFAULT.amber
) -> alt.Chart:
    """Departments (rows) x objectives (columns): attainment of the KPIs serving each pair.

    ``matrix``: department, objective (code), title, score (0..1 or NaN), kpis, expected.
    Expected pairs with no serving KPI show as "gap".
    """
    df = matrix.assign(
        pct=lambda d: (d["score"] * 100).round(0),
        label=lambda d: np.where(
            d["kpis"] > 0,
            d["score"].map(lambda v: "" if pd.isna(v) else f"{v * 100:.0f}"),
            np.where(d["expected"], "gap", ""),
        ),
    )
    rows_order = list(dict.fromkeys(df["department"]))
    cols_order = sorted(df["objective"].unique())
    base = alt.Chart(df).encode(
        x=alt.X("objective:N", title=None, sort=cols_order, axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("department:N", title=None, sort=rows_order, axis=alt.Axis(labelLimit=220, labelOverlap=False)),
    )
    rect = base.mark_rect(stroke="white").encode(
        color=alt.Color(
            "pct:Q",
            title="% of target",
            scale=attainment_scale(green=green, amber=amber),
        ),
        tooltip=[
            alt.Tooltip("department:N", title="Department"),
            alt.Tooltip("objective:N", title="Objective"),
            alt.Tooltip("title:N", title="Title"),
            alt.Tooltip("pct:Q", title="% of target"),
            alt.Tooltip("kpis:Q", title="Serving KPIs"),
            alt.Tooltip("expected:N", title="Expected to serve"),
        ],
    )
    gaps = base.mark_rect(fill="#fff3e0", stroke="#e65100", strokeDash=[3, 2]).transform_filter("datum.label == 'gap'")
    text = base.mark_text(fontSize=11).encode(
        text="label:N",
        # isValid: a gap has no pct, and null <= 30 is true in Vega (white text on the pale gap fill)
        color=alt.condition(
            "isValid(datum.pct) && (datum.pct >= 90 || datum.pct <= 30)", alt.value("white"), alt.value("#212121")
        ),
    )
    n_rows = df["department"].nunique()
    return (rect + gaps + text).properties(height=max(120, 28 * n_rows), width="container")


def kpi_trend(
    series: pd.DataFrame,
    *,
    name: str,
    unit: str,
    sen: tuple[float, float] | None,
    missing: list[str],
    band: tuple[float, float] | None = None,
) -> alt.Chart:
    """Actuals of one KPI with its target line, Sen's slope line and the missing periods marked.

    ``series``: period, date (datetime), actual, target. ``sen``: (slope per period,
    intercept at the first period) fitted on the actuals, drawn across the window.
    """
    df = series.copy()
    y_title = f"{name} ({unit})" if unit else name
    layers = []
    if missing:
        miss = pd.DataFrame({"date": pd.to_datetime([periods.first_day(p) for p in missing]), "period": missing})
        layers.append(
            alt.Chart(miss)
            .mark_rule(color="#e57373", strokeDash=[2, 2], strokeWidth=2)
            .encode(x="date:T", tooltip=[alt.Tooltip("period:N", title="No value for")])
        )
    layers.append(
        alt.Chart(df)
        .mark_line(point=True, color="#1565c0")
        .encode(
            x=alt.X("date:T", title=None, axis=alt.Axis(format="%b %y")),
            y=alt.Y("actual:Q", title=y_title, scale=alt.Scale(zero=False)),
            tooltip=[alt.Tooltip("period:N", title="Period"), alt.Tooltip("actual:Q", title="Actual"),
                     alt.Tooltip("target:Q", title="Target")],
        )
    )  # fmt: skip
    if band is not None and not any(pd.isna(v) for v in band):
        layers.insert(
            0,
            alt.Chart(pd.DataFrame({"lo": [band[0]], "hi": [band[1]]}))
            .mark_rect(color="#2e7d32", opacity=0.12)
            .encode(
                y="lo:Q", y2="hi:Q", tooltip=[alt.Tooltip("lo:Q", title="Range from"), alt.Tooltip("hi:Q", title="to")]
            ),
        )
    if df["target"].notna().any():
        layers.append(
            alt.Chart(df.dropna(subset=["target"]))
            .mark_line(interpolate="step-after", strokeDash=[6, 3], color="#2e7d32")
            .encode(x="date:T", y="target:Q", tooltip=[alt.Tooltip("target:Q", title="Target")])
        )
    if sen is not None and not any(math.isnan(v) for v in sen) and len(df) >= 2:
        slope, intercept = sen
        t = np.arange(len(df))
        line = pd.DataFrame({"date": df["date"].to_numpy(), "fit": intercept + slope * t})
        layers.append(
            alt.Chart(line).mark_line(color="#6a1b9a", strokeWidth=2, opacity=0.8).encode(x="date:T", y="fit:Q")
        )
    return alt.layer(*layers).properties(height=220, width="container")


TREND_WIDTH = 360  # px per KPI chart in the grid: two side by side fit the page's main column


def kpi_trend_grid(trends: list[tuple[str, alt.LayerChart]], *, columns: int = 2) -> alt.ConcatChart:
    """The KPI charts of :func:`kpi_trend` as one chart, ``columns`` per row, each titled with its KPI.

    One chart rather than one per KPI: the browser compiles and draws one Vega view, which at ten
    KPIs took the Department page's rendering in Chromium from ~1.8 s to ~1.1 s (bench/README.md).
    Each chart keeps its own axes and scales.
    """
    return alt.concat(
        *[chart.properties(title=name, width=TREND_WIDTH) for name, chart in trends], columns=columns
    ).resolve_scale(x="independent", y="independent")


def likert_diverging(df: pd.DataFrame, *, row: str = "item") -> alt.Chart:
    """The standard diverging stacked bar chart of 5-point answers (neutral split at zero).

    ``df``: ``row`` (bar label, e.g. "LS1 · 2026 Q3"), value (1..5), count, and optionally
    ``marker`` (text at the right end, e.g. "▲ significant").
    """
    labels = list(LIKERT_COLOURS)
    keys = [row]
    d = df.copy()
    d["share"] = d["count"] / d.groupby(keys)["count"].transform("sum")
    d["answer"] = d["value"].map(dict(enumerate(labels, start=1)))
    pieces = []
    for v in range(1, 6):
        part = d[d["value"] == v]
        if v == 3:
            pieces.append(part.assign(side=-1, seg=part["share"] / 2, order=0))
            pieces.append(part.assign(side=1, seg=part["share"] / 2, order=0))
        else:
            pieces.append(part.assign(side=1 if v > 3 else -1, seg=part["share"], order=abs(v - 3)))
    p = pd.concat(pieces, ignore_index=True)
    p = p.sort_values([*keys, "side", "order"])
    p["end"] = p.groupby([*keys, "side"])["seg"].cumsum() * p["side"]
    p["start"] = p["end"] - p["seg"] * p["side"]
    p["pct"] = (p["share"] * 100).round(0)
    order = list(dict.fromkeys(d[row]))
    y = alt.Y(f"{row}:N", title=None, sort=order, axis=alt.Axis(labelLimit=360, labelOverlap=False))
    bars = (
        alt.Chart(p)
        .mark_bar()
        .encode(
            x=alt.X("start:Q", title="Share of answers (disagree ← | → agree)", axis=alt.Axis(format="%"),
                    scale=alt.Scale(domain=[-1, 1])),
            x2="end:Q",
            y=y,
            color=alt.Color("answer:N", scale=alt.Scale(domain=labels, range=list(LIKERT_COLOURS.values())),
                            legend=alt.Legend(title=None, orient="bottom")),
            tooltip=[alt.Tooltip(f"{row}:N", title="Item"), alt.Tooltip("answer:N", title="Answer"),
                     alt.Tooltip("pct:Q", title="% of answers")],
        )
    )  # fmt: skip
    zero = alt.Chart(pd.DataFrame({"x": [0]})).mark_rule(color="#333").encode(x="x:Q")
    layers = [bars, zero]
    if "marker" in d.columns:
        marks = d.drop_duplicates(keys)[[*keys, "marker"]].assign(x=1.0)
        layers.append(
            alt.Chart(marks)
            .mark_text(align="right", dx=-2, fontSize=12, fontWeight="bold")
            .encode(x="x:Q", y=y, text="marker:N")
        )
    return alt.layer(*layers).properties(height=alt.Step(22), width="container")


def items_heatmap(df: pd.DataFrame, *, k: int) -> alt.Chart:
    """Items (rows) x departments (columns) of % favourable; hidden cells say "fewer than k".

    ``df``: item, unit (column label), fav (0..1 or NaN when hidden), n, hidden (bool).
    """
    d = df.assign(
        pct=lambda x: (x["fav"] * 100).round(0),
        label=lambda x: np.where(x["hidden"], "–", x["fav"].map(lambda v: "" if pd.isna(v) else f"{v * 100:.0f}")),
        note=lambda x: np.where(x["hidden"], f"hidden: fewer than {k} responses (or protecting a small group)", ""),
    )
    base = alt.Chart(d).encode(
        x=alt.X(
            "unit:N",
            title=None,
            sort=None,
            axis=alt.Axis(orient="top", labelAngle=-50, labelLimit=160, labelOverlap=False),
        ),
        # 280 px of item text leaves ~30 px a column for 16 columns at 1400 px (full text in the tooltip)
        y=alt.Y("item:N", title=None, sort=None, axis=alt.Axis(labelLimit=280, labelOverlap=False)),
    )
    rect = base.mark_rect(stroke="white").encode(
        color=alt.condition(
            "datum.hidden",
            alt.value("#eeeeee"),
            alt.Color("pct:Q", title="% favourable",
                      scale=alt.Scale(domain=[20, 50, 80], range=["#c62828", "#f5f5f5", "#1565c0"])),
        ),
        tooltip=[alt.Tooltip("item:N", title="Item"), alt.Tooltip("unit:N", title="Group"),
                 alt.Tooltip("pct:Q", title="% favourable"), alt.Tooltip("n:Q", title="Answers"),
                 alt.Tooltip("note:N", title="Privacy")],
    )  # fmt: skip
    text = base.mark_text(fontSize=11).encode(
        text="label:N",
        color=alt.condition(
            "isValid(datum.pct) && (datum.pct >= 72 || datum.pct <= 28)", alt.value("white"), alt.value("#212121")
        ),
    )
    return (rect + text).properties(height=max(120, 30 * d["item"].nunique()), width="container")


def rank_bands(rows: pd.DataFrame) -> alt.Chart:
    """Each department's rank with its 5-95 % band under other weights (Monte Carlo)."""
    df = rows.dropna(subset=["rank"]).assign(label=lambda d: d["department"].astype(str))
    order = df.sort_values(["rank", "label"])["label"].tolist()
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=220, labelOverlap=False))
    band = (
        alt.Chart(df)
        .mark_rule(strokeWidth=6, opacity=0.35, color="#1565c0")
        .encode(x=alt.X("rank_p05:Q", title="Rank (1 = best)", scale=alt.Scale(reverse=False)), x2="rank_p95:Q", y=y)
    )
    point = (
        alt.Chart(df)
        .mark_point(filled=True, color="#0d47a1", size=60)
        .encode(
            x="rank:Q",
            y=y,
            tooltip=[alt.Tooltip("label:N", title="Department"), alt.Tooltip("rank:Q", title="Rank"),
                     alt.Tooltip("rank_p05:Q", title="Best (5 %)"), alt.Tooltip("rank_p95:Q", title="Worst (95 %)"),
                     alt.Tooltip("rank_shift:Q", title="Mean shift", format=".2f")],
        )
    )  # fmt: skip
    return (band + point).properties(height=alt.Step(ROW_PX), width="container")


def participation_bars(shown: pd.DataFrame) -> alt.Chart:
    """Response rate per department, labelled "responded of invited (rate)".

    ``shown``: department, invited, responded, rate (0..1) and label — only the departments whose
    participation may be shown (the caller applies the privacy rules)."""
    base = alt.Chart(shown).encode(
        y=alt.Y("department:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260, labelFontSize=13)),
        x=alt.X(
            "rate:Q",
            title="Response rate",
            axis=alt.Axis(format="%", tickCount=5),
            scale=alt.Scale(domain=[0, 1]),
        ),
        tooltip=["department", "invited", "responded", alt.Tooltip("rate:Q", format=".0%")],
    )
    bars = base.mark_bar(color="#1f5f8b", height=alt.RelativeBandSize(0.7))
    labels = base.mark_text(align="left", dx=6, fontSize=12).encode(text="label:N")
    return (bars + labels).properties(height=alt.Step(34))


MISSING_COLOURS = {"entered": "#4c9a6a", "missing": "#e07b39"}


def missing_periods(status: pd.DataFrame) -> alt.Chart:
    """Which KPI periods have an actual: one cell per KPI and period. ``status``: kpi, period, status
    (``entered`` or ``missing``), periods in display order."""
    return (
        alt.Chart(status)
        .mark_rect(stroke="white", strokeWidth=2)
        .encode(
            x=alt.X("period:N", title="Period", sort=None, axis=alt.Axis(labelAngle=-45, labelOverlap=False)),
            y=alt.Y("kpi:N", title=None, axis=alt.Axis(labelLimit=260, labelOverlap=False)),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(domain=list(MISSING_COLOURS), range=list(MISSING_COLOURS.values())),
                legend=alt.Legend(title="Actual", orient="right"),
            ),
            tooltip=[alt.Tooltip("kpi:N", title="KPI"), "period:N", alt.Tooltip("status:N", title="Actual")],
        )
        # the height includes the rotated period labels and the axis title
        .properties(height=30 * status["kpi"].nunique() + 110)
    )


ALIGNMENT_STATUS = {  # the alignment map's cell states: label and colour
    "served": ("Served as expected", "#2e7d4f"),
    "unexpected": ("Served, not expected", "#7fb8d8"),
    "missing": ("Expected, no KPI", "#e07b39"),
    "mixed": ("Some KPIs pull against it", "#b58900"),
    "conflict": ("Only pulls against it", "#c0392b"),
}


def alignment_heatmap(cells: pd.DataFrame, objectives: pd.DataFrame, *, departments: list[str]) -> alt.Chart:
    """Objectives x departments: each cell's status (served, missing, conflict...) and the number of
    the department's KPIs that serve the objective.

    ``cells``: rows of the alignment matrix (objective_code, objective, department, status, kpis,
    pulling, net_contribution, kpi_names); ``objectives``: code and title, in display order;
    ``departments``: the columns, in order."""
    shown = cells.copy()
    obj_order = objectives[["code", "title"]].assign(label=lambda d: d["code"] + "  " + d["title"].str.slice(0, 40))
    labels = dict(zip(obj_order["code"], obj_order["label"], strict=True))
    shown["objective_label"] = shown["objective_code"].map(labels)
    shown["status_label"] = shown["status"].map(lambda s: ALIGNMENT_STATUS[s][0])
    shown["cell"] = shown.apply(lambda r: str(r["kpis"]) if r["kpis"] else ("–" if r["pulling"] == 0 else "−"), axis=1)
    y_order = [labels[c] for c in obj_order["code"] if labels[c] in set(shown["objective_label"])]
    base = alt.Chart(shown).encode(
        x=alt.X(
            "department:N",
            title=None,
            sort=departments,
            axis=alt.Axis(labelAngle=-40, labelLimit=180, orient="top", labelOverlap=False),
        ),
        y=alt.Y("objective_label:N", title=None, sort=y_order, axis=alt.Axis(labelLimit=320, labelOverlap=False)),
    )
    rects = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color(
            "status_label:N",
            scale=alt.Scale(
                domain=[v[0] for v in ALIGNMENT_STATUS.values()], range=[v[1] for v in ALIGNMENT_STATUS.values()]
            ),
            legend=alt.Legend(title="Status", orient="right"),
        ),
        tooltip=[
            alt.Tooltip("objective_code:N", title="Objective"),
            alt.Tooltip("objective:N", title="Title"),
            alt.Tooltip("department:N", title="Department"),
            alt.Tooltip("status_label:N", title="Status"),
            alt.Tooltip("kpis:Q", title="KPIs serving"),
            alt.Tooltip("pulling:Q", title="KPIs pulling against"),
            alt.Tooltip("net_contribution:Q", title="Net contribution", format=".2f"),
            alt.Tooltip("kpi_names:N", title="KPIs"),
        ],
    )
    text = base.mark_text(fontSize=13, fontWeight="bold").encode(
        text="cell:N",
        color=alt.condition(
            alt.FieldOneOfPredicate("status", ["served", "conflict"]), alt.value("white"), alt.value("#222")
        ),
    )
    # Streamlit fits the whole chart (rotated labels included) into this height: leave room for them.
    return (rects + text).properties(height=40 * shown["objective_label"].nunique() + 130)


def dimension_bars(dims: pd.DataFrame, *, unit: str) -> alt.Chart:
    """% favourable per line-of-sight dimension with its Wilson 95 % interval, and the organisation's
    figure as a tick where ``org_fav`` is given. ``dims``: label, fav, low, high, n (+ org_fav, tag)."""
    df = dims.assign(
        pct=dims["fav"] * 100,
        lo=dims["low"] * 100,
        hi=dims["high"] * 100,
        who=unit,
        tag=dims["tag"].fillna("") if "tag" in dims else "",
    )
    order = df.sort_values("pct", ascending=False)["label"].tolist()
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260))
    x_scale = alt.Scale(domain=[0, 100])
    bars = (
        alt.Chart(df)
        .mark_bar(color="#1565c0", opacity=0.8)
        .encode(
            x=alt.X("pct:Q", title="% favourable (agree or strongly agree)", scale=x_scale),
            y=y,
            tooltip=[
                alt.Tooltip("label:N", title="Dimension"),
                alt.Tooltip("pct:Q", title="% favourable", format=".0f"),
                alt.Tooltip("lo:Q", title="95 % interval from", format=".0f"),
                alt.Tooltip("hi:Q", title="to", format=".0f"),
                alt.Tooltip("n:Q", title="People"),
                alt.Tooltip("tag:N", title="Note"),
            ],
        )
    )
    rules = alt.Chart(df).mark_rule(color="#0d2b52", strokeWidth=2).encode(x="lo:Q", x2="hi:Q", y=y)
    layers = [bars, rules]
    if "org_fav" in df and df["org_fav"].notna().any():
        org = df.assign(org=df["org_fav"] * 100, what="Organisation")
        layers.append(
            alt.Chart(org)
            .mark_tick(color="#f57c00", thickness=3, size=22)
            .encode(
                x=alt.X("org:Q", scale=x_scale),
                y=y,
                tooltip=[alt.Tooltip("org:Q", title="Organisation % favourable", format=".0f")],
            )
        )
    return alt.layer(*layers).properties(height=ROW_PX * 2 * max(len(df), 1))


def review_kpis(series: pd.DataFrame, *, columns: int = 3) -> alt.Chart:
    """Small multiples for a printed review pack: each KPI's actuals (blue) against its target
    (green, dashed), one panel per KPI with its own scale. Fixed size: it is rendered to an image.

    ``series``: kpi (panel title), date (datetime), actual, target.
    """
    df = series.dropna(subset=["actual"]).copy()
    base = alt.Chart().encode(x=alt.X("date:T", title=None, axis=alt.Axis(format="%b %y", labelAngle=0, tickCount=4)))
    actual = base.mark_line(point=alt.OverlayMarkDef(size=14), color="#1565c0", strokeWidth=1.6).encode(
        y=alt.Y("actual:Q", title=None, scale=alt.Scale(zero=False))
    )
    target = (
        base.transform_filter("isValid(datum.target)")
        .mark_line(interpolate="step-after", strokeDash=[5, 3], color="#2e7d32", strokeWidth=1.4)
        .encode(y="target:Q")
    )
    return (
        alt.layer(actual, target, data=df)
        .properties(width=190, height=105)
        .facet(
            facet=alt.Facet("kpi:N", title=None, header=alt.Header(labelFontSize=11, labelLimit=190)), columns=columns
        )
        .resolve_scale(y="independent", x="independent")
        .configure_view(stroke="#dddddd")
        .configure_axis(labelFontSize=9, grid=True, gridColor="#eeeeee")
    )


def review_attainment_rows(series: pd.DataFrame) -> pd.DataFrame:
    """The rows :func:`review_attainment` plots (those with an attainment)."""
    return series.dropna(subset=["attainment_pct"])


def review_attainment(series: pd.DataFrame, *, green: float = 75, amber: float = 60) -> alt.Chart:
    """One compact panel for a printed organisation pack: each KPI's attainment % over time, with
    the target (100 %) and the status thresholds as rules. Fixed size: it is rendered to an image.

    ``series``: kpi (legend label), date (datetime), attainment_pct.
    """
    df = review_attainment_rows(series)
    rules = pd.DataFrame({"y": [100.0, green, amber], "what": ["target", "green from", "amber from"]})
    rule = (
        alt.Chart(rules)
        .mark_rule(strokeDash=[5, 3])
        .encode(
            y="y:Q",
            color=alt.Color(
                "what:N",
                scale=alt.Scale(domain=list(rules["what"]), range=["#2e7d32", "#9e9e9e", "#f9a825"]),
                legend=None,
            ),
        )
    )
    line = (
        alt.Chart(df)
        .mark_line(strokeWidth=1.6)
        .encode(
            x=alt.X("date:T", title=None, axis=alt.Axis(format="%b %y", labelAngle=0, tickCount=6)),
            y=alt.Y("attainment_pct:Q", title="attainment %", scale=alt.Scale(domain=[0, 105], clamp=True)),
            stroke=alt.Stroke("kpi:N", title=None, legend=alt.Legend(orient="right", labelLimit=230, labelFontSize=10)),
        )
    )
    return alt.layer(rule, line).properties(width=380, height=140).configure_view(stroke="#dddddd")


# ---------------------------------------------------------------------- strategy map (DOT)
# Graphviz DOT for st.graphviz_chart: objectives, departments' KPIs (one box per department)
# and the KPI links, coloured by status and marked by evidence. User text goes through
# kpialign.core.dot, which escapes it.

STATUS_FILL = {"green": "#c8e6c9", "amber": "#ffe082", "red": "#ffcdd2", "no score": "#eeeeee"}
EVIDENCE_STYLE = {
    "supported": {"color": "#2e7d32", "style": "solid", "penwidth": "2.5", "word": "supported"},
    "opposite sign": {"color": "#c62828", "style": "solid", "penwidth": "2.5", "word": "opposite sign"},
    "no evidence": {"color": "#616161", "style": "dashed", "penwidth": "1.5", "word": "no evidence"},
    "not enough data": {"color": "#9e9e9e", "style": "dotted", "penwidth": "1.5", "word": "not enough data"},
}


def strategy_map_dot(
    objectives: pd.DataFrame,
    kpis: pd.DataFrame,
    serves: pd.DataFrame,
    links: pd.DataFrame,
) -> str:
    """DOT for the strategy map.

    ``objectives``: objective_id, code, title, score (0..1), status; ``kpis``: kpi_id, name,
    department_id, department, score (points), status; ``serves``: kpi_id, objective_id,
    contribution; ``links``: driver_kpi_id, outcome_kpi_id, expected_lag, evidence, in_cycle.
    Status words are written in the labels too, so the map does not rely on colour alone.
    """
    g = dot.Graph(
        attrs={
            "rankdir": "LR",
            "splines": "true",
            "forcelabels": "true",
            "nodesep": "0.35",
            "ranksep": "1.1",
            "fontname": '"Helvetica"',
        },
        node_defaults={"fontname": '"Helvetica"', "fontsize": "11", "style": '"filled,rounded"', "shape": "box"},
        edge_defaults={"fontname": '"Helvetica"', "fontsize": "9", "arrowsize": "0.7"},
    )
    for r in kpis.itertuples(index=False):
        cluster = dot.node_id("d", r.department_id)
        if cluster not in g.clusters:
            g.cluster(cluster, label=dot.quote(r.department), style='"rounded"', color='"#b0bec5"', fontsize="12")
        score = "no data" if pd.isna(r.score) else f"{r.score:.0f}% of target"
        g.node(
            dot.node_id("k", r.kpi_id),
            cluster,
            label=dot.label(r.name, f"{score} · {r.status}"),
            fillcolor=dot.quote(STATUS_FILL.get(r.status, "#eeeeee")),
            color=dot.quote(STATUS_COLOURS.get(r.status, "#9e9e9e")),
            penwidth="1.5",
        )
    objective_nodes = []
    for r in objectives.itertuples(index=False):
        ident = dot.node_id("o", r.objective_id)
        objective_nodes.append(ident)
        score = "no score" if pd.isna(r.score) else f"{100 * r.score:.0f} · {r.status}"
        g.node(
            ident,
            label=dot.label(f"{r.code} {r.title}", score, max_len=40),
            shape="box",
            style='"filled,bold"',
            fillcolor=dot.quote(STATUS_FILL.get(r.status, "#eeeeee")),
            color=dot.quote("#37474f"),
            fontsize="12",
        )
    g.ranks.append(objective_nodes)
    for r in serves.itertuples(index=False):
        against = r.contribution < 0
        g.edge(
            dot.node_id("k", r.kpi_id),
            dot.node_id("o", r.objective_id),
            color=dot.quote("#c62828" if against else "#b0bec5"),
            style="dashed" if against else "solid",
            label=dot.quote("pulls against" if against else ""),
            fontcolor=dot.quote("#c62828"),
        )
    for r in links.itertuples(index=False):
        style = EVIDENCE_STYLE.get(r.evidence, EVIDENCE_STYLE["not enough data"])
        text = f"lag {r.expected_lag}: {style['word']}" + (" (cycle)" if bool(r.in_cycle) else "")
        g.edge(
            dot.node_id("k", r.driver_kpi_id),
            dot.node_id("k", r.outcome_kpi_id),
            color=dot.quote(style["color"]),
            fontcolor=dot.quote(style["color"]),
            style=style["style"],
            penwidth=style["penwidth"],
            xlabel=dot.quote(text),  # placed beside the edge, clear of nodes and department labels
            # here: links do not rank the KPIs (they would spread departments over many columns and
            # shrink the text); KPIs stay in their department boxes, objectives on the right.
            constraint="false",
        )
    return g.to_dot()


def unit_history(history: pd.DataFrame, *, merge_dates: list[str] | None = None) -> alt.Chart:
    """A unit's performance by month, with each predecessor's series (dashed) before a merge or split.

    ``history``: ``series, kind, period, performance`` (0..1) as built by
    :func:`kpialign.scorecard.history.unit_history`; ``merge_dates`` (``YYYY-MM-DD``) draw rules.
    """
    df = history.dropna(subset=["performance"]).assign(
        score=lambda d: (d["performance"] * 100).round(1), date=lambda d: pd.to_datetime(d["period"] + "-01")
    )
    lines = (
        alt.Chart(df)
        .mark_line(point=True)
        .encode(
            x=alt.X("date:T", title=None, axis=alt.Axis(format="%b %Y")),
            y=alt.Y("score:Q", title="Performance (%)", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=420, columns=1)),
            strokeDash=alt.StrokeDash(
                "kind:N", scale=alt.Scale(domain=["unit", "predecessor"], range=[[1, 0], [5, 3]]), legend=None
            ),
            tooltip=[alt.Tooltip("series:N", title="Series"), alt.Tooltip("period:N", title="Month"),
                     alt.Tooltip("score:Q", title="Performance", format=".1f")],
        )
    )  # fmt: skip
    chart = lines
    if merge_dates:
        rules = pd.DataFrame({"date": pd.to_datetime(merge_dates)})
        chart = lines + alt.Chart(rules).mark_rule(color="#546e7a", strokeDash=[2, 2]).encode(x="date:T")
    return chart.properties(height=320, width="container")


FRESHNESS_COLOURS = {"complete": "#2e7d32", "some missing": "#f9a825", "mostly missing": "#c62828"}


def freshness_bars(fresh: pd.DataFrame) -> alt.Chart:
    """Share of each department's KPIs with a value for the latest period, one bar per department.

    ``fresh``: department, kpis, with_data_latest, share (0..1), status (one of
    :data:`FRESHNESS_COLOURS`); the caller cuts it to the rows worth drawing.
    """
    return (
        alt.Chart(fresh)
        .mark_bar()
        .encode(
            x=alt.X(
                "share:Q",
                title="KPIs with data for the latest period",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            y=alt.Y("department:N", sort="-x", title=None, axis=alt.Axis(labelLimit=240)),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(domain=list(FRESHNESS_COLOURS), range=list(FRESHNESS_COLOURS.values())),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            tooltip=["department", "kpis", "with_data_latest", alt.Tooltip("share:Q", format=".0%")],
        )
    )
