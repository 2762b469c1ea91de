"""Page view-models of the scorecard: the department table, the department x objective
matrix, one department's page and the survey heat map. Pure functions of a built
:class:`~kpialign.scorecard.model.Scorecard` (no database, no Streamlit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kpialign.core import periods, stats
from kpialign.core.scoring import ScoringError, arrow, trend_words
from kpialign.scorecard.model import Scorecard

# Columns of the department table as the Overview page and the CLI show it (same numbers).
TABLE_COLUMNS = [
    "department",
    "division",
    "headcount",
    "score",
    "status",
    "partial",
    "P",
    "U",
    "picks",
    "C",
    "respondents",
    "trend",
    "trend_q",
    "rank",
    "rank_band",
    "quadrant",
]


def scorecard_table(departments: pd.DataFrame) -> pd.DataFrame:
    """The department table for people: A as 0..100 and P, U, C in percent (1 decimal).

    A hidden survey figure stays empty (None); ``partial`` says which component is missing
    ("no U" when understanding is suppressed for privacy). Both the Overview page and
    ``python -m kpialign scorecard`` render this frame, so they show the same numbers.
    """
    d = departments

    def pct(col: str) -> pd.Series:
        return (d[col] * 100).round(1)

    band = [
        ("not ranked (partial)" if p else "")
        if math.isnan(lo)
        else (f"{int(lo)}" if lo == hi else f"{int(lo)}–{int(hi)}")
        for lo, hi, p in zip(d["rank_p05"].astype(float), d["rank_p95"].astype(float), d["partial"], strict=True)
    ]
    partial = ["no " + ", ".join(m) if p and m else "" for p, m in zip(d["partial"], d["missing"], strict=True)]
    out = pd.DataFrame(
        {
            "department": d["department"],
            "division": d["division"],
            "headcount": d["headcount"].astype("int64"),
            "score": d["alignment"].round(1),
            "status": d["status"],
            "partial": partial,
            "P": pct("performance"),
            "U": pct("understanding"),
            "picks": pct("pick_share"),
            "C": pct("coverage"),
            "respondents": d["respondents"].astype("Int64"),
            "trend": d["trend"].fillna("–"),
            "trend_q": d["trend_q"].round(4),
            "rank": d["rank"].astype("Int64"),
            "rank_band": band,
            "quadrant": d["quadrant"],
        }
    )
    return out[TABLE_COLUMNS].reset_index(drop=True)


# ------------------------------------------------------------------------ views for pages


def department_objective_matrix(sc: Scorecard) -> pd.DataFrame:
    """Departments x objectives: contribution-weighted attainment of the department's KPIs
    serving each objective in the period; expected pairs without a serving KPI are gaps.

    Columns: department_id, department, division, objective_id, objective (code), title,
    score, kpis, expected.
    """
    cols = [
        "department_id",
        "department",
        "division",
        "objective_id",
        "objective",
        "title",
        "score",
        "kpis",
        "expected",
    ]
    links = sc.links
    if links.empty or sc.departments.empty:
        return pd.DataFrame(columns=cols)
    k = sc.kpis[["kpi_id", "department_id", "attainment"]]
    lk = links[links["contribution"] > 0].merge(k, on="kpi_id")
    lk = lk.assign(ca=lk["contribution"] * lk["attainment"], c_has=lk["contribution"].where(lk["attainment"].notna()))
    g = lk.groupby(["department_id", "objective_id"]).agg(
        ca=("ca", "sum"), c=("c_has", "sum"), kpis=("kpi_id", "nunique")
    )
    g["score"] = g["ca"] / g["c"].where(g["c"] > 0)
    g = g.reset_index()
    exp = sc.expected.assign(expected=True)
    m = g.merge(exp, on=["department_id", "objective_id"], how="outer")
    m["expected"] = m["expected"].fillna(False).astype(bool)
    m["kpis"] = m["kpis"].fillna(0).astype("int64")
    d = sc.departments[["department_id", "department", "division"]]
    o = sc.objectives[["objective_id", "code", "title"]].rename(columns={"code": "objective"})
    m = m.merge(d, on="department_id").merge(o, on="objective_id")
    return m[cols].sort_values(["division", "department", "objective"]).reset_index(drop=True)


@dataclass
class DepartmentView:
    """Everything the Department page shows for one department."""

    row: pd.Series
    kpis: pd.DataFrame  # one row per KPI: attainment now, trend with q over this page's family
    series: pd.DataFrame  # kpi_id, period, date, actual, target (trend window, all periods incl. missing)
    sen: dict[int, tuple[float, float]]  # kpi_id -> (slope per period, intercept) on the actuals
    missing: dict[int, list[str]]  # kpi_id -> periods without a value in the window
    component_trends: pd.DataFrame  # P, U, A tests with q over this page's family
    likert: pd.DataFrame  # item, wave, value, count, marker (selected and previous wave, shown cells)
    changes: pd.DataFrame  # per item: fav now / before, diff, interval, q, significant
    panel: pd.DataFrame  # month, period, performance, understanding, coverage, alignment


def kpi_windows(
    kp: pd.DataFrame, att: pd.DataFrame, month: int | None, n_periods: int, *, alpha: float
) -> tuple[pd.DataFrame, dict[int, tuple[float, float]], dict[int, list[str]]]:
    """Each KPI's trend window: the series (kpi_id order of ``kp``, oldest period first), the Sen
    slope and intercept of the KPIs with at least 3 actuals, and the periods without a value.

    ``kp``: kpi_id, frequency, target; ``att``: kpi_id, period, actual, target (one row per
    KPI and period). Built for all KPIs at once (one merge, one Mann-Kendall batch per
    frequency), so a page of 10 KPIs and a pack of 2,000 cost about the same per KPI.
    """
    cols = ["period", "actual", "target", "kpi_id", "date"]
    if kp.empty:
        return pd.DataFrame(), {}, {}
    freqs = kp["frequency"].tolist()
    windows = {f: periods.window_periods(f, month, n_periods) if month is not None else [] for f in set(freqs)}
    lengths = np.array([len(windows[f]) for f in freqs], dtype=np.int64)
    kpi_ids = [int(k) for k in kp["kpi_id"]]
    frame = pd.DataFrame(
        {
            "period": [p for f in freqs for p in windows[f]],
            "kpi_id": np.repeat(kp["kpi_id"].to_numpy(), lengths),
            "default": np.repeat(kp["target"].to_numpy(), lengths),
        }
    )
    have = att[["kpi_id", "period", "actual", "target"]].rename(columns={"target": "period_target"})
    frame = frame.merge(have, on=["kpi_id", "period"], how="left", sort=False)
    frame["target"] = frame["period_target"].fillna(frame["default"])
    day = {p: periods.first_day(p) for w in windows.values() for p in w}
    frame["date"] = pd.to_datetime(frame["period"].map(day)) if len(frame) else pd.Series(dtype="datetime64[ns]")
    series = frame[cols]
    absent = series["actual"].isna().to_numpy()
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    period_list = series["period"].tolist()
    missing = {k: [period_list[j] for j in range(bounds[i], bounds[i + 1]) if absent[j]] for i, k in enumerate(kpi_ids)}
    # here: one Mann-Kendall batch per window length (frequency) instead of one test per KPI
    values = series["actual"].to_numpy(float)
    fitted: dict[int, tuple[float, float]] = {}
    for f, window in windows.items():
        rows = [i for i, g in enumerate(freqs) if g == f and window]
        matrix = np.array([values[bounds[i] : bounds[i + 1]] for i in rows]).reshape(len(rows), len(window))
        enough = np.isfinite(matrix).sum(axis=1) >= 3
        if enough.any():
            result = stats.mann_kendall_batch(matrix[enough], alpha=alpha)
            picked = [i for i, ok in zip(rows, enough, strict=True) if ok]
            for i, slope, intercept in zip(picked, result["slope"], result["intercept"], strict=True):
                fitted[i] = (float(slope), float(intercept))
    sen = {kpi_ids[i]: fitted[i] for i in sorted(fitted)}
    return series, sen, missing


COMPONENTS = ["Alignment score A", "Performance P", "Understanding U"]


def page_trends(
    sc: Scorecard, kp: pd.DataFrame, department_ids: list[int]
) -> tuple[pd.DataFrame, dict[int, pd.DataFrame]]:
    """The trend columns a department's page shows, for the KPIs of one or many departments.

    The family of tests on a department's page is its KPIs' tests and its A, P and U tests:
    Benjamini-Hochberg runs across that family, department by department. Returns ``kp`` (rows
    of ``sc.kpis``, same order and index) with q_page, significant_page and, when the trend
    tests are there, trend_page and words; and for each of ``department_ids`` (those of ``kp``'s
    rows and any without KPIs) the components' tests: what, p, q, significant, direction.
    """
    s = sc.settings
    kp = kp.copy()
    rows = sc.departments.set_index("department_id")
    dept = kp["department_id"].to_numpy()
    p_kpi = kp["p"].to_numpy(float) if "p" in kp else np.full(len(kp), np.nan)
    q_kpi = np.full(len(kp), np.nan)
    comps: dict[int, pd.DataFrame] = {}
    positions = pd.Series(np.arange(len(kp))).groupby(dept, sort=False).indices if len(kp) else {}
    for d in department_ids:
        row = rows.loc[d]
        at = positions.get(d, np.array([], dtype=np.int64))
        comp = pd.DataFrame(
            {"what": COMPONENTS, "p": [row["trend_p"], _p_of(row, "performance"), _p_of(row, "understanding")]}
        )
        p_all = np.concatenate([p_kpi[at] if "p" in kp else np.array([]), comp["p"].to_numpy(float)])
        q_all = stats.benjamini_hochberg(p_all) if len(p_all) else p_all
        q_kpi[at] = q_all[: len(at)]
        comp["q"] = q_all[len(at) :]
        comp["significant"] = comp["q"] < s.alpha
        comp["direction"] = [row["trend_direction"], _dir_of(row, "performance"), _dir_of(row, "understanding")]
        comps[int(d)] = comp
    kp["q_page"] = q_kpi
    kp["significant_page"] = kp["q_page"] < s.alpha
    if "direction" in kp:
        kp["trend_page"] = [
            arrow(d, bool(x))
            for d, x in zip(kp["direction"].fillna("no clear trend"), kp["significant_page"], strict=True)
        ]
        kp["words"] = [
            trend_words(d, p, q, int(n) if not pd.isna(n) else 0)
            for d, p, q, n in zip(
                kp["direction"].fillna("too few periods"), kp["p"], kp["q_page"], kp["n_periods"], strict=True
            )
        ]
    return kp, comps


def page_changes(sc: Scorecard, department_ids: list[int]) -> dict[int, pd.DataFrame]:
    """Each department's survey changes as its page shows them: q_page and significant_page by
    Benjamini-Hochberg across that department's items (the family on its page), code and text."""
    if sc.changes.empty:
        return {d: pd.DataFrame() for d in department_ids}
    mine = sc.changes[sc.changes["department_id"].isin(department_ids)]
    q = np.full(len(mine), np.nan)
    p = mine["p_mwu"].to_numpy(float)
    for at in mine.groupby("department_id", sort=False).indices.values():
        q[at] = stats.benjamini_hochberg(p[at])
    mine = mine.assign(q_page=q)
    merged = mine.assign(significant_page=mine["q_page"] < sc.settings.alpha).merge(
        sc.questions[["question_id", "code", "text"]], on="question_id"
    )
    split = {int(d): g.reset_index(drop=True) for d, g in merged.groupby("department_id", sort=False)}
    none = sc.changes.iloc[0:0]
    return {d: split.get(d, none) for d in department_ids}


def department_view(sc: Scorecard, department_id: int) -> DepartmentView:
    """The Department page: its KPIs with trends (BH across the tests shown on the page)."""
    rows = sc.departments[sc.departments["department_id"] == department_id]
    if rows.empty:
        raise ScoringError("That department is not part of the scorecard.")
    row = rows.iloc[0]
    s = sc.settings
    kp = sc.kpis[sc.kpis["department_id"] == department_id]
    att = sc.attainment[sc.attainment["kpi_id"].isin(kp["kpi_id"])]
    series, sen, missing = kpi_windows(kp, att, sc.month, s.trend_periods, alpha=s.alpha)
    kp, comps = page_trends(sc, kp, [department_id])
    comp = comps[department_id]

    # Survey items: selected and previous wave, only cells that may be shown.
    lk = sc.likert[(sc.likert["unit_level"] == "department") & (sc.likert["unit_id"] == department_id)]
    names = {w.wave_id: w.name for w in sc.waves}
    ids = [w.wave_id for w in (sc.wave, sc.previous_wave) if w is not None]
    lk = lk[lk["wave_id"].isin(ids)].merge(sc.questions[["question_id", "code", "text"]], on="question_id")
    ch = page_changes(sc, [department_id])[department_id]
    marker = {}
    if not ch.empty:
        for r in ch.itertuples(index=False):
            if r.significant_page:
                marker[r.question_id] = "▲ up" if r.fav_diff > 0 else "▼ down"
    lk = lk.assign(
        wave=lk["wave_id"].map(names),
        item=lk["code"] + " · " + lk["wave_id"].map(names),
        marker=[
            marker.get(q, "") if sc.wave and w == sc.wave.wave_id else ""
            for q, w in zip(lk["question_id"], lk["wave_id"], strict=True)
        ],
    )
    order = {w: i for i, w in enumerate(ids)}
    lk = lk.sort_values(["code", "wave_id"], key=lambda c: c.map(order) if c.name == "wave_id" else c)
    panel = sc.panel[sc.panel["department_id"] == department_id].copy()
    panel["period"] = periods.month_label(panel["month"].to_numpy()) if len(panel) else []
    return DepartmentView(row, kp, series, sen, missing, comp, lk, ch, panel)


def _p_of(row: pd.Series, what: str) -> float:
    # p-values of the P and U trends are not kept per department on the row; recompute from q
    col = {"performance": "p_trend_p", "understanding": "u_trend_p"}[what]
    return float(row[col]) if col in row.index else math.nan


def _dir_of(row: pd.Series, what: str) -> str:
    col = {"performance": "p_trend_direction", "understanding": "u_trend_direction"}[what]
    return str(row[col]) if col in row.index else "no clear trend"


def survey_heatmap(
    sc: Scorecard, wave_id: int, *, level: str = "department", units: list[int] | None = None
) -> pd.DataFrame:
    """Items x units (departments or divisions, plus the organisation) of % favourable.

    Every unit surveyed in the wave appears; a hidden unit's cells carry no figure
    (``hidden`` True). Columns: item, code, unit, unit_id, fav, n, hidden.
    """
    names = dict(zip(sc.departments["department_id"], sc.departments["department"], strict=True))
    lk = sc.likert[sc.likert["wave_id"] == wave_id]
    lk = lk[lk["unit_level"].isin([level, "organisation"])]
    q = sc.questions.set_index("question_id")
    fav = (
        lk.assign(f=np.where(lk["value"] >= 4, lk["count"], 0))
        .groupby(["unit_level", "unit_id", "question_id"])
        .agg(n=("count", "sum"), f=("f", "sum"))
    )
    fav = fav.reset_index()
    fav["fav"] = fav["f"] / fav["n"]
    u = sc.understanding[sc.understanding["wave_id"] == wave_id]
    if level == "department":
        all_units = u["department_id"].tolist()
        label = {i: names.get(i, str(i)) for i in all_units}
    else:
        all_units = sorted({_division_id(sc, i) for i in u["department_id"] if i in sc.division_of})
        label = {i: _division_name(sc, i) for i in all_units}
    if level == "department":
        all_units = [i for i in all_units if i in names]
    if units is not None:
        all_units = [i for i in all_units if i in set(units)]
    likert_q = sorted(set(lk["question_id"]) | set(sc.likert["question_id"]))
    grid = pd.MultiIndex.from_product([[level], all_units, likert_q], names=["unit_level", "unit_id", "question_id"])
    org = pd.MultiIndex.from_product([["organisation"], [0], likert_q], names=["unit_level", "unit_id", "question_id"])
    out = (
        pd.DataFrame(index=grid.append(org)).join(fav.set_index(["unit_level", "unit_id", "question_id"])).reset_index()
    )
    out["hidden"] = out["n"].isna()
    out["unit"] = [
        ("All departments" if lv == "organisation" else label.get(i, str(i)))
        for lv, i in zip(out["unit_level"], out["unit_id"], strict=True)
    ]
    out["code"] = out["question_id"].map(q["code"])
    out["item"] = out["code"] + " " + out["question_id"].map(q["text"]).str.slice(0, 60)
    return out[["item", "code", "unit", "unit_id", "unit_level", "fav", "n", "hidden"]]


def _division_id(sc: Scorecard, dept_id: int) -> int:
    return int(sc.division_of.get(dept_id, dept_id))


def _division_name(sc: Scorecard, division_id: int) -> str:
    return str(sc.division_names.get(division_id, division_id))
