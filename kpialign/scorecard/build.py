"""The scorecard: :func:`build_scorecard` fetches every frame it needs
(:mod:`kpialign.scorecard.queries`) and runs the pure functions of
:mod:`kpialign.core.scoring` and the disclosure rules of :mod:`kpialign.core.privacy`;
the Overview page, the exports and ``python -m kpialign scorecard`` all call it, so they show
the same numbers. Nothing here imports Streamlit.

Every result carries what it was computed from: numbers of KPIs, periods, respondents, and
whether a survey figure was suppressed for privacy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kpialign.core import periods, privacy, stats
from kpialign.core.scoring import (
    COMPONENTS,
    CorrelationResult,
    ScorecardError,
    ScoringSettings,
    arrow,
    composite,
    correlation_with_next,
    coverage,
    department_performance,
    expand_to_months,
    headcount_rollup,
    kpi_attainment,
    objective_rollup,
    objectives_overall,
    quadrant,
    rank_bands,
    status,
    survey_changes,
    trend_direction,
    trend_table,
    understanding,
    wide,
)
from kpialign.scorecard import queries
from kpialign.scorecard.model import DEPARTMENT_COLUMNS, Scorecard, WaveRef
from kpialign.services.headcount import headcount_by_month

# =========================================================================== the scorecard
#
# Everything below reads the repository (kpialign.scorecard.queries) once and runs the pure
# functions above. The Overview page and the CLI call build_scorecard / department_scorecard.


def _wave_refs(frame: pd.DataFrame) -> list[WaveRef]:
    return [
        WaveRef(int(r.wave_id), str(r.name), str(r.status), int(r.min_group), r.closes_on, int(r.responses))
        for r in frame.itertuples(index=False)
    ]


def _k_of(waves: list[WaveRef]) -> dict[int, int]:
    return {w.wave_id: w.k for w in waves}


def survey_suppression(respondents: pd.DataFrame, depts: pd.DataFrame, waves: list[WaveRef]) -> pd.DataFrame:
    """:func:`kpialign.core.privacy.survey_suppression` with each wave's k."""
    return privacy.survey_suppression(respondents, depts, _k_of(waves))


def build_scorecard(
    session: Any, *, period: str | None = None, wave: str | None = None, settings: ScoringSettings | None = None
) -> Scorecard:
    """The full scorecard for ``period`` (YYYY-MM; default the latest month with data) and
    ``wave`` (a wave name; default the latest closed wave): one pass of queries
    (:func:`kpialign.scorecard.queries.fetch_frames`), then :func:`compute_scorecard`."""
    frames = queries.fetch_frames(session, wave=wave, settings=settings)
    return compute_scorecard(frames, period=period, wave=wave)


@dataclass(frozen=True)
class _DepartmentPart:
    """What :func:`_department_part` computes: the department table and what the rest reuses."""

    rows: pd.DataFrame
    panel: pd.DataFrame
    understanding: pd.DataFrame
    suppression: pd.DataFrame
    counts: queries.SurveyCounts
    depts: pd.DataFrame
    attainment: pd.DataFrame
    month: int | None
    period_label: str | None
    wave_ref: WaveRef | None
    prev_ref: WaveRef | None
    waves: list[WaveRef]
    window: np.ndarray
    headcount: pd.DataFrame


def compute_scorecard(
    frames: queries.ScorecardFrames, *, period: str | None = None, wave: str | None = None
) -> Scorecard:
    """The scorecard from fetched frames: pure functions only (no database)."""
    part = _department_part(frames, period=period, wave=wave)
    settings = frames.settings
    depts_all = frames.departments
    kpis = frames.kpis
    objectives = frames.objectives
    links = frames.links
    expected = frames.expected
    questions = frames.questions
    notes: list[str] = []
    rows, panel, u_all, sup, depts, att = (
        part.rows,
        part.panel,
        part.understanding,
        part.suppression,
        part.depts,
        part.attainment,
    )
    month, period_label, wave_ref, prev_ref = part.month, part.period_label, part.wave_ref, part.prev_ref
    waves, window, head = part.waves, part.window, part.headcount
    likert_shown = _shown_likert(part.counts.likert, sup, depts, waves)

    # --- organisation roll-up and its series
    org = {
        name: headcount_rollup(rows[name], rows["headcount"])
        for name in ("alignment", "performance", "understanding", "coverage")
    }
    org_series = _org_series(panel, head)
    org_trend = trend_table(
        org_series.set_index("month")[["alignment"]].T.loc[:, lambda f: f.columns.isin(window)], alpha=settings.alpha
    )
    organisation = {
        "alignment": org["alignment"],
        "performance": org["performance"],
        "understanding": org["understanding"],
        "coverage": org["coverage"],
        "status": status(org["alignment"]["value"], settings),
        "trend": org_trend.iloc[0].to_dict() if len(org_trend) else {},
        "departments": len(rows),
        "headcount": int(rows["headcount"].sum()),
    }

    # --- KPIs: attainment now, trend over the window (BH across all KPIs), objectives
    kpi_rows = _kpi_rows(att, kpis, month, settings)
    att_now = kpi_rows[["kpi_id", "attainment"]]
    obj = objective_rollup(att_now, links, kpis, objectives)
    obj = objectives.merge(obj, on="objective_id", how="left")
    organisation["objectives"] = objectives_overall(obj)

    # --- survey change vs the previous wave (shown cells in both), BH across departments x items
    changes = pd.DataFrame()
    if wave_ref is not None and prev_ref is not None:
        dl = likert_shown[likert_shown["unit_level"] == "department"].rename(columns={"unit_id": "department_id"})
        changes = survey_changes(
            dl[dl["wave_id"] == wave_ref.wave_id],
            dl[dl["wave_id"] == prev_ref.wave_id],
            keys=["department_id", "question_id"],
            alpha=settings.alpha,
        )

    corr = _correlation(u_all, panel, waves, wave_ref, month)
    if month is None:
        notes.append("No KPI values yet: performance and coverage cannot be computed.")
    if wave_ref is None:
        notes.append("No survey wave has closed yet: understanding is not part of the score.")
    return Scorecard(
        settings=settings,
        period=period_label,
        month=month,
        wave=wave_ref,
        previous_wave=prev_ref,
        waves=waves,
        departments=rows,
        organisation=organisation,
        org_series=org_series,
        panel=panel.reset_index(drop=True),
        understanding=u_all,
        likert=likert_shown,
        kpis=kpi_rows,
        attainment=att,
        objectives=obj,
        questions=questions,
        changes=changes,
        correlation=corr,
        links=links,
        expected=expected,
        division_of=dict(zip(depts["department_id"].astype(int), depts["division_id"].astype(int), strict=True)),
        division_names=dict(zip(depts_all["department_id"].astype(int), depts_all["department"], strict=True)),
        division_respondents=privacy.division_respondents(sup),
        notes=notes,
    )


def _department_part(
    frames: queries.ScorecardFrames, *, period: str | None = None, wave: str | None = None
) -> _DepartmentPart:
    """The department table (with its panel, understanding and trends), without the rest of the scorecard."""
    settings = frames.settings
    depts_all = frames.departments
    kpis = frames.kpis
    waves_frame = frames.waves
    waves = _wave_refs(waves_frame)
    links = frames.links
    expected = frames.expected

    # --- which units are scored: every active unit with its own people or KPIs, and every leaf
    # (a department with teams below it is scored on its own staff and KPIs; a division with
    # neither is only a roll-up). Headcount is each unit's own staff.
    own = (depts_all["headcount"] > 0) | depts_all["department_id"].isin(kpis["department_id"])
    depts = depts_all[depts_all["is_leaf"] | own].reset_index(drop=True)

    # --- KPI attainment in every period
    att = kpi_attainment(frames.values, kpis, cap=settings.cap)
    slim = att.loc[att["attainment"].notna(), ["kpi_id", "department_id", "month", "attainment", "weight", "frequency"]]
    att_m = expand_to_months(slim)
    if period is None:
        month = int(att_m["month"].max()) if len(att_m) else None
        if month is not None:
            # the latest month in which most KPIs with any data have a value
            per_month = att_m.groupby("month")["kpi_id"].nunique()
            best = per_month.max()
            month = int(per_month[per_month >= 0.5 * best].index.max())
    else:
        try:
            month = int(periods.month_index(period))
        except periods.PeriodError as exc:
            raise ScorecardError(str(exc)) from exc
    period_label = periods.month_label(month) if month is not None else None

    # --- waves: the selected one, the previous closed one, and which are closed
    wave_ref: WaveRef | None = None
    if wave is not None:
        match = [w for w in waves if w.name == wave]
        if not match:
            raise ScorecardError(f"There is no survey wave named {wave!r}.")
        wave_ref = match[0]
        if not privacy.results_released(wave_ref.status):
            raise ScorecardError(
                f"Survey wave {wave_ref.name} is {wave_ref.status}: its results are shown once it is closed "
                "(while it runs, only participation is shown, on Survey waves)."
            )
    else:
        closed = [w for w in waves if w.status == "closed"]
        if month is not None:
            closed_by = [w for w in closed if periods.month_of_day(w.closes_on) <= month]
            closed = closed_by or closed
        wave_ref = closed[-1] if closed else None
    prev_ref = None
    if wave_ref is not None:
        earlier = [w for w in waves if w.status == "closed" and w.closes_on < wave_ref.closes_on]
        prev_ref = earlier[-1] if earlier else None

    # --- survey aggregates (closed waves cached for good), suppression, understanding
    # Only released (closed) waves: an open wave's figures would change with each submission.
    released = [w.wave_id for w in waves if privacy.results_released(w.status)]
    counts = queries.select_waves(frames.counts, released)
    sup = survey_suppression(counts.respondents, depts, waves)
    u_all = understanding(counts.likert, counts.respondents, counts.picks)
    u_all = u_all.merge(sup[["wave_id", "department_id", "suppressed"]], on=["wave_id", "department_id"], how="left")
    u_all["suppressed"] = u_all["suppressed"].fillna(True).astype(bool)
    hide = [
        "understanding",
        "u_low",
        "u_high",
        "pick_share",
        "pick_low",
        "pick_high",
        "answers",
        "favourable",
        "respondents",
        "answered",
        "knows",
    ]
    for col in hide:
        u_all[col] = u_all[col].astype(float).where(~u_all["suppressed"])
    # The objective-pick share also needs k people who answered the pick item itself.
    k_of = {w.wave_id: w.k for w in waves}
    pick_ok = [
        privacy.item_shown(0 if pd.isna(a) else int(a), k_of.get(int(wid)))
        for a, wid in zip(u_all["answered"], u_all["wave_id"], strict=True)
    ]
    for col in ("pick_share", "pick_low", "pick_high"):
        u_all[col] = u_all[col].where(pick_ok)

    # --- monthly panel: P, C, U as of the latest closed wave, A
    if month is not None:
        first = int(min(att["month"].min(), month - settings.trend_periods + 1)) if len(att) else month
        months = np.arange(max(first, month - 5 * 12), month + 1)
    else:
        months = np.array([], dtype="int64")
    perf = department_performance(att_m, kpis, months)
    cov = coverage(att_m, links, expected, depts["department_id"], months)
    panel = cov.merge(perf, on=["department_id", "month"], how="left")
    panel = panel[panel["department_id"].isin(depts["department_id"])]
    panel["n_kpis"] = panel["n_kpis"].fillna(0).astype("int64")
    panel["n_with_data"] = panel["n_with_data"].fillna(0).astype("int64")
    panel["n_missing"] = panel["n_missing"].fillna(0).astype("int64")
    panel = panel.merge(_understanding_asof(u_all, waves, months), on=["department_id", "month"], how="left")
    comp = composite(panel["performance"], panel["understanding"], panel["coverage"], settings)
    panel = pd.concat([panel.reset_index(drop=True), comp], axis=1)
    # Headcount in force in each month (department_headcount; the current headcount without history).
    head = headcount_by_month(
        history=frames.headcounts, current=depts.set_index("department_id")["headcount"], months=months
    )

    # --- the rows for the chosen period
    now = panel[panel["month"] == month] if month is not None else panel.iloc[0:0]
    rows = depts[["department_id", "department", "division", "headcount"]].merge(
        now.drop(columns=["understanding", "alignment", "partial", "missing", "n_components"]),
        on="department_id",
        how="left",
    )
    u_now = u_all[u_all["wave_id"] == wave_ref.wave_id] if wave_ref is not None else u_all.iloc[0:0]
    rows = rows.merge(
        u_now[["department_id", "understanding", "u_low", "u_high", "pick_share", "respondents", "suppressed"]],
        on="department_id",
        how="left",
    ).rename(columns={"suppressed": "u_suppressed"})
    rows["u_suppressed"] = rows["u_suppressed"].fillna(wave_ref is not None).astype(bool)
    comp_now = composite(rows["performance"], rows["understanding"], rows["coverage"], settings)
    rows = pd.concat([rows, comp_now], axis=1)
    rows["status"] = status(rows["alignment"], settings)
    if month is not None:
        at_month = head[head["month"] == month].set_index("department_id")["headcount"]
        rows["headcount"] = rows["department_id"].map(at_month).fillna(rows["headcount"]).astype("int64")

    # --- trends: A and P over the last trend_periods months, U over the closed waves
    window = months[months > (month if month is not None else 0) - settings.trend_periods]
    a_tr = _panel_trend(panel, "alignment", window, depts["department_id"], settings)
    p_tr = _panel_trend(panel, "performance", window, depts["department_id"], settings)
    u_tr = _wave_trend(u_all, waves, wave_ref, depts["department_id"], settings)
    # One family on the Overview: every department's A, P and U tests together.
    p_all = np.concatenate(
        [a_tr["p_used"].to_numpy(float), p_tr["p_used"].to_numpy(float), u_tr["p_used"].to_numpy(float)]
    )
    q_all = stats.benjamini_hochberg(p_all) if len(p_all) else p_all
    # here: sliced by each family's own length (a database with survey data but no KPI values
    # has no A or P trend rows at all)
    na, np_ = len(a_tr), len(p_tr)
    for frame, q in ((a_tr, q_all[:na]), (p_tr, q_all[na : na + np_]), (u_tr, q_all[na + np_ :])):
        frame["q"] = q
        frame["significant"] = frame["q"] < settings.alpha
        frame["arrow"] = [arrow(x, s) for x, s in zip(frame["direction"], frame["significant"], strict=True)]
    rows["trend"] = rows["department_id"].map(a_tr["arrow"])
    rows["trend_direction"] = rows["department_id"].map(a_tr["direction"])
    rows["trend_p"] = rows["department_id"].map(a_tr["p_used"])
    rows["trend_q"] = rows["department_id"].map(a_tr["q"])
    rows["trend_significant"] = rows["department_id"].map(a_tr["significant"]).eq(True)  # unmapped: not significant
    rows["trend_slope"] = rows["department_id"].map(a_tr["slope"])
    rows["trend_n"] = rows["department_id"].map(a_tr["n"]).fillna(0).astype("int64")
    rows["p_trend"] = rows["department_id"].map(p_tr["arrow"])
    rows["p_trend_q"] = rows["department_id"].map(p_tr["q"])
    rows["p_trend_p"] = rows["department_id"].map(p_tr["p_used"])
    rows["p_trend_direction"] = rows["department_id"].map(p_tr["direction"])
    rows["u_trend_p"] = rows["department_id"].map(u_tr["p_used"])
    rows["u_trend_direction"] = rows["department_id"].map(u_tr["direction"])
    rows["u_trend"] = rows["department_id"].map(u_tr["arrow"])
    rows["u_trend_q"] = rows["department_id"].map(u_tr["q"])

    # --- sensitivity and quadrant
    bands = rank_bands(rows[list(COMPONENTS)], settings)
    rows = pd.concat([rows, bands.drop(columns="draws")], axis=1)
    rows["quadrant"] = quadrant(rows["performance"], rows["understanding"], settings)
    rows["period"] = period_label
    rows["wave"] = wave_ref.name if wave_ref else None
    for col in ("n_kpis", "n_with_data", "n_missing", "n_expected", "n_covered"):
        rows[col] = rows[col].fillna(0).astype("int64")
    # Complete scores first (ranked), then partial ones (not ranked), then no score.
    rows = rows[DEPARTMENT_COLUMNS].sort_values(
        ["partial", "alignment", "department"], ascending=[True, False, True], na_position="last"
    )
    rows = rows.reset_index(drop=True)
    return _DepartmentPart(
        rows=rows,
        panel=panel,
        understanding=u_all,
        suppression=sup,
        counts=counts,
        depts=depts,
        attainment=att,
        month=month,
        period_label=period_label,
        wave_ref=wave_ref,
        prev_ref=prev_ref,
        waves=waves,
        window=window,
        headcount=head,
    )


def check_division_filter(sc: Scorecard, wave_id: int, division_id: int) -> None:
    """The differencing guard for a division filter beside the organisation total
    (:func:`kpialign.core.privacy.check_division_filter`); raises ``DisclosureRefused``."""
    k = next((x.k for x in sc.waves if x.wave_id == wave_id), privacy.DEFAULT_K)
    dr = sc.division_respondents
    privacy.check_division_filter(
        dr[dr["wave_id"] == wave_id], division_id, k, name=sc.division_names.get(division_id, "this division")
    )


def _shown_likert(likert: pd.DataFrame, sup: pd.DataFrame, depts: pd.DataFrame, waves: list[WaveRef]) -> pd.DataFrame:
    """:func:`kpialign.core.privacy.shown_likert` with each wave's k."""
    return privacy.shown_likert(likert, sup, depts, _k_of(waves))


def _understanding_asof(u_all: pd.DataFrame, waves: list[WaveRef], months: np.ndarray) -> pd.DataFrame:
    """U of each department in each month: from the latest closed wave that closed by then."""
    closed = {w.wave_id: periods.month_of_day(w.closes_on) for w in waves if w.status == "closed"}
    u = u_all[u_all["wave_id"].isin(closed)][["wave_id", "department_id", "understanding"]].copy()
    if u.empty or len(months) == 0:
        return pd.DataFrame(columns=["department_id", "month", "understanding"])
    u["from_month"] = u["wave_id"].map(closed).astype("int64")
    u = u.sort_values("from_month")
    depts = u["department_id"].unique()
    grid = pd.DataFrame(
        {
            "department_id": np.repeat(depts, len(months)),
            "month": np.tile(np.asarray(months, dtype="int64"), len(depts)),
        }
    ).sort_values("month")
    m = pd.merge_asof(
        grid,
        u[["department_id", "from_month", "understanding"]],
        left_on="month",
        right_on="from_month",
        by="department_id",
    )
    return m[["department_id", "month", "understanding"]]


def _panel_trend(
    panel: pd.DataFrame, col: str, window: np.ndarray, dept_ids: Any, settings: ScoringSettings
) -> pd.DataFrame:
    sub = panel[panel["month"].isin(window)]
    mat = wide(sub, index="department_id", columns="month", values=col)
    mat = mat.reindex(index=pd.Index(list(dept_ids), name="department_id"), columns=window)
    return trend_table(mat, alpha=settings.alpha)


def _wave_trend(
    u_all: pd.DataFrame, waves: list[WaveRef], wave_ref: WaveRef | None, dept_ids: Any, settings: ScoringSettings
) -> pd.DataFrame:
    order = [
        w.wave_id for w in waves if w.status == "closed" and (wave_ref is None or w.closes_on <= wave_ref.closes_on)
    ]
    order = order[-settings.trend_periods :]
    mat = wide(u_all, index="department_id", columns="wave_id", values="understanding")
    mat = mat.reindex(index=pd.Index(list(dept_ids), name="department_id"), columns=order)
    return trend_table(mat, alpha=settings.alpha)


def _org_series(panel: pd.DataFrame, headcount: pd.DataFrame) -> pd.DataFrame:
    """Headcount-weighted organisation series; each month weighs units by their headcount then."""
    p = panel.merge(headcount, on=["department_id", "month"])
    out = {"month": sorted(p["month"].unique())}
    frame = pd.DataFrame(out)
    for col in ("alignment", "performance", "understanding", "coverage"):
        ok = p[col].notna() & (p["headcount"] > 0)
        g = p[ok].assign(w=lambda d, c=col: d[c] * d["headcount"]).groupby("month")
        frame[col] = frame["month"].map(g["w"].sum() / g["headcount"].sum())
    frame["units"] = frame["month"].map(p[p["alignment"].notna()].groupby("month").size()).fillna(0).astype("int64")
    frame["period"] = periods.month_label(frame["month"].to_numpy()) if len(frame) else []
    return frame


def _kpi_rows(att: pd.DataFrame, kpis: pd.DataFrame, month: int | None, settings: ScoringSettings) -> pd.DataFrame:
    """One row per KPI: value in force in the period, trend over the window (BH over all KPIs)."""
    out = kpis.copy()
    if month is None or att.empty:
        for c in (
            "period_used",
            "actual",
            "target_used",
            "attainment",
            "trend",
            "direction",
            "p",
            "q",
            "significant",
            "slope",
            "n_periods",
        ):
            out[c] = np.nan
        return out
    inforce = expand_to_months(att)
    inforce = inforce[inforce["month"] == month][["kpi_id", "period", "actual", "target", "attainment"]]
    out = out.merge(inforce.rename(columns={"period": "period_used", "target": "target_used"}), on="kpi_id", how="left")
    lo = month - settings.trend_periods + 1
    trend_parts = []
    for freq, step in (("monthly", 1), ("quarterly", 3)):
        ids = kpis.loc[kpis["frequency"] == freq, "kpi_id"]
        if ids.empty:
            continue
        sub = att[att["kpi_id"].isin(ids) & (att["month"] <= month) & (att["month"] >= lo)]
        cols = np.arange(
            month - (month - lo) // step * step
            if freq == "monthly"
            else periods.last_quarter_end(month) - ((periods.last_quarter_end(month) - lo) // 3) * 3,
            month + 1,
            step,
        )
        mat = wide(sub, index="kpi_id", columns="month", values="progress")
        mat = mat.reindex(index=pd.Index(ids.to_numpy(), name="kpi_id"), columns=cols)
        res = stats.mann_kendall_batch(mat, alpha=settings.alpha)
        res["p_used"] = np.where(np.isnan(res["p_exact"]), res["p"], res["p_exact"])
        trend_parts.append(res)
    tr = pd.concat(trend_parts) if trend_parts else pd.DataFrame()
    if not tr.empty:
        tr["q"] = stats.benjamini_hochberg(tr["p_used"].to_numpy(float))
        tr["significant"] = tr["q"] < settings.alpha
        tr["direction"] = trend_direction(
            tr["slope"].to_numpy(float), "higher", tr["n"].to_numpy(), tr["s"].to_numpy(float)
        )
        tr["trend"] = [arrow(d, s) for d, s in zip(tr["direction"], tr["significant"], strict=True)]
        tr = tr.rename(columns={"p_used": "p", "p": "p_normal", "n": "n_periods"})
        out = out.merge(
            tr[["trend", "direction", "p", "q", "significant", "slope", "n_periods"]],
            left_on="kpi_id",
            right_index=True,
            how="left",
        )
    return out


def _correlation(
    u_all: pd.DataFrame, panel: pd.DataFrame, waves: list[WaveRef], wave_ref: WaveRef | None, month: int | None
) -> CorrelationResult:
    """U in a wave vs mean P over the three months after it closed, across departments.

    Uses the selected wave, or the latest earlier closed wave whose next three months have data.
    """
    if wave_ref is None or panel.empty:
        return CorrelationResult(math.nan, math.nan, math.nan, math.nan, 0, math.nan, "no closed wave")
    candidates = [w for w in waves if w.status == "closed" and w.closes_on <= wave_ref.closes_on][::-1]
    best = None
    for w in candidates:
        m0 = periods.month_of_day(w.closes_on)
        after = panel[(panel["month"] > m0) & (panel["month"] <= m0 + 3) & panel["performance"].notna()]
        nxt = after.groupby("department_id")["performance"].mean()
        if after.empty:
            continue
        m_lo, m_hi = int(after["month"].min()), int(after["month"].max())
        u = u_all[u_all["wave_id"] == w.wave_id].set_index("department_id")["understanding"]
        joined = pd.concat([u.rename("u"), nxt.rename("p")], axis=1)
        res = correlation_with_next(
            joined["u"],
            joined["p"],
            what=(
                f"understanding in {w.name} vs mean performance in the months after it closed "
                f"({periods.month_label(m_lo)}" + (f" to {periods.month_label(m_hi)})" if m_hi > m_lo else ")")
            ),
        )
        if res.n >= 4:
            return res
        best = best or res
    return best or CorrelationResult(math.nan, math.nan, math.nan, math.nan, 0, math.nan, "no data")


def department_scorecard(session: Any, period: str | None = None, wave: str | None = None) -> pd.DataFrame:
    """The department table of the Overview page and of ``python -m kpialign scorecard``.

    Only the table's own part of the scorecard is computed (not the KPI trends, objectives,
    survey changes or the per-question cells): the same rows as ``build_scorecard(...).departments``.
    """
    frames = queries.fetch_frames(session, wave=wave)
    return _department_part(frames, period=period, wave=wave).rows
