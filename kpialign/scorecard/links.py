"""Links between departments, read side: lead-lag evidence per KPI link, the strategy map's
content, conflicting priorities and a committee's view.

Which series the evidence is computed on — **actuals, not attainment**. Attainment is clipped
to 0..cap, so a KPI above target stops moving and a real association disappears; it also jumps
whenever a period-specific target changes although nothing happened in the business. The link's
expected sign is therefore stated for the actual values ("more leads, more conversions": +1;
"cheaper freight, more complaints": -1), whatever each KPI's polarity.

Alignment: both series are put on the coarser frequency (a monthly KPI linked to a quarterly one
is averaged to quarters, and a quarter with a missing month is missing), then laid on every
period from the later first value to the earlier last value. Periods where either KPI has no
value stay missing (NaN) and are listed; nothing is interpolated. The expected lag is counted
in those periods.

Nothing here imports Streamlit; pages call these functions and charts draw the results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kpialign.core import stats
from kpialign.core.periods import periods_between
from kpialign.core.scoring import expand_to_months, p_phrase, status
from kpialign.scorecard.model import Scorecard

EVIDENCE_SUPPORTED = "supported"
EVIDENCE_NONE = "no evidence"
EVIDENCE_SHORT = "not enough data"
EVIDENCE_OPPOSITE = "opposite sign"
EVIDENCE_KINDS = (EVIDENCE_SUPPORTED, EVIDENCE_OPPOSITE, EVIDENCE_NONE, EVIDENCE_SHORT)
DEFAULT_MAX_LAG = 6


# ------------------------------------------------------------------------------ alignment


@dataclass(frozen=True)
class AlignedPair:
    """Two KPIs' actuals on common periods: ``driver`` and ``outcome`` have NaN where missing."""

    frequency: str
    periods: list[str]
    driver: np.ndarray
    outcome: np.ndarray
    missing: list[str] = field(default_factory=list)  # periods in the window where either is missing

    @property
    def n(self) -> int:
        return int(np.sum(~np.isnan(self.driver) & ~np.isnan(self.outcome)))


def _to_quarters(series: pd.Series) -> pd.Series:
    """Monthly actuals averaged to ``YYYY-Qn``; a quarter with fewer than 3 months is missing."""
    s = series.dropna()
    if s.empty:
        return pd.Series(dtype=float)
    quarter = [f"{p[:4]}-Q{(int(p[5:7]) - 1) // 3 + 1}" for p in s.index]
    grouped = s.groupby(quarter)
    out = grouped.mean()
    return out[grouped.size() == 3]


def align_pair(driver: pd.Series, outcome: pd.Series, *, driver_frequency: str, outcome_frequency: str) -> AlignedPair:
    """Align two period-indexed series of actuals (see the module docstring)."""
    freq = "quarterly" if "quarterly" in (driver_frequency, outcome_frequency) else "monthly"
    d = _to_quarters(driver) if freq == "quarterly" and driver_frequency == "monthly" else driver.dropna()
    o = _to_quarters(outcome) if freq == "quarterly" and outcome_frequency == "monthly" else outcome.dropna()
    if d.empty or o.empty:
        return AlignedPair(freq, [], np.array([]), np.array([]))
    start, end = max(min(d.index), min(o.index)), min(max(d.index), max(o.index))
    if start > end:
        return AlignedPair(freq, [], np.array([]), np.array([]))
    periods = periods_between(start, end)
    dv = d.reindex(periods).to_numpy(float)
    ov = o.reindex(periods).to_numpy(float)
    missing = [p for p, a, b in zip(periods, dv, ov, strict=True) if np.isnan(a) or np.isnan(b)]
    return AlignedPair(freq, periods, dv, ov, missing)


def _month_index(periods: pd.Series) -> np.ndarray:
    return periods.str.slice(0, 4).astype(int).to_numpy() * 12 + periods.str.slice(5, 7).astype(int).to_numpy() - 1


def _quarter_index(periods: pd.Series) -> np.ndarray:
    return periods.str.slice(0, 4).astype(int).to_numpy() * 4 + periods.str.slice(6, 7).astype(int).to_numpy() - 1


def _labels(frequency: str, start: int, end: int) -> list[str]:
    if frequency == "monthly":
        return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(start, end + 1)]
    return [f"{i // 4:04d}-Q{i % 4 + 1}" for i in range(start, end + 1)]


def align_many(links: pd.DataFrame, values: pd.DataFrame, kpis: pd.DataFrame) -> list[AlignedPair]:
    """:func:`align_pair` for every link at once (the same rules, vectorised: one matrix of
    actuals per frequency instead of a pandas reindex per link)."""
    freq = dict(zip(kpis["kpi_id"].astype(int), kpis["frequency"], strict=True))
    ids = sorted(freq)
    row = {k: i for i, k in enumerate(ids)}
    v = values[values["kpi_id"].isin(row)]
    v = v[v["actual"].notna()]
    monthly_mask = v["period"].str.len().eq(7) & ~v["period"].str.contains("Q", regex=False)
    mats: dict[str, tuple[int, np.ndarray]] = {}
    mv, qv = v[monthly_mask], v[~monthly_mask]
    if not mv.empty:
        mi = _month_index(mv["period"])
        lo = int(mi.min()) - int(mi.min()) % 3  # start on a quarter, so months fold into quarters
        m = np.full((len(ids), int(mi.max()) - lo + 3), np.nan)
        m[mv["kpi_id"].map(row).to_numpy(), mi - lo] = mv["actual"].to_numpy(float)
        mats["monthly"] = (lo, m)
    q_lo, q_hi = [], []
    if not qv.empty:
        qi = _quarter_index(qv["period"])
        q_lo.append(int(qi.min()))
        q_hi.append(int(qi.max()))
    if "monthly" in mats:
        lo, m = mats["monthly"]
        q_lo.append(lo // 3)
        q_hi.append((lo + m.shape[1] - 1) // 3)
    if q_lo:
        qlo = min(q_lo)
        q = np.full((len(ids), max(q_hi) - qlo + 1), np.nan)
        if not qv.empty:
            q[qv["kpi_id"].map(row).to_numpy(), _quarter_index(qv["period"]) - qlo] = qv["actual"].to_numpy(float)
        if "monthly" in mats:  # a monthly KPI as quarters: the mean of a full quarter's three months
            lo, m = mats["monthly"]
            folded = m[:, : m.shape[1] // 3 * 3].reshape(len(ids), -1, 3)
            with np.errstate(invalid="ignore"):
                means = folded.mean(axis=2)  # NaN if any month is missing
            monthly_rows = np.array([row[k] for k in ids if freq[k] == "monthly"], dtype=int)
            start = lo // 3 - qlo
            q[monthly_rows, start : start + means.shape[1]] = means[monthly_rows]
        mats["quarterly"] = (qlo, q)
    out = []
    empty = AlignedPair("monthly", [], np.array([]), np.array([]))
    for d, o in zip(links["driver_kpi_id"].astype(int), links["outcome_kpi_id"].astype(int), strict=True):
        f = "quarterly" if "quarterly" in (freq.get(d), freq.get(o)) else "monthly"
        if d not in row or o not in row or f not in mats:
            out.append(AlignedPair(f, [], np.array([]), np.array([])) if f != "monthly" else empty)
            continue
        lo, mat = mats[f]
        a, b = mat[row[d]], mat[row[o]]
        ok_a, ok_b = ~np.isnan(a), ~np.isnan(b)
        if not ok_a.any() or not ok_b.any():
            out.append(AlignedPair(f, [], np.array([]), np.array([])))
            continue
        start = max(int(ok_a.argmax()), int(ok_b.argmax()))
        end = min(len(a) - 1 - int(ok_a[::-1].argmax()), len(b) - 1 - int(ok_b[::-1].argmax()))
        if start > end:
            out.append(AlignedPair(f, [], np.array([]), np.array([])))
            continue
        labels = _labels(f, lo + start, lo + end)
        da, ob = a[start : end + 1].copy(), b[start : end + 1].copy()
        gap = np.isnan(da) | np.isnan(ob)
        out.append(AlignedPair(f, labels, da, ob, [labels[i] for i in np.flatnonzero(gap)]))
    return out


# ------------------------------------------------------------------------------- evidence

EVIDENCE_COLUMNS = [
    "link_id",
    "n",
    "frequency",
    "first_period",
    "last_period",
    "missing_periods",
    "transformation",
    "ar_order",
    "best_lag",
    "best_ccf",
    "lag_tested",
    "granger_f",
    "p",
    "q",
    "q_text",
    "verdict",
    "evidence",
]


def _evidence_kind(verdict: str) -> str:
    v = verdict.lower()
    if v.startswith("supported"):
        return EVIDENCE_SUPPORTED
    if v.startswith("opposite"):
        return EVIDENCE_OPPOSITE
    if v.startswith("not enough"):
        return EVIDENCE_SHORT
    return EVIDENCE_NONE


def link_evidence(
    links: pd.DataFrame, values: pd.DataFrame, kpis: pd.DataFrame, *, alpha: float = 0.05
) -> pd.DataFrame:
    """Lead-lag evidence for every link (``kpialign.core.stats.lead_lag_batch``: the verdicts use the
    Benjamini-Hochberg q across all links passed in, the family a page shows together).

    ``links``: link_id, driver_kpi_id, outcome_kpi_id, expected_lag, expected_sign;
    ``values``: kpi_id, period, actual; ``kpis``: kpi_id, frequency.
    One row per link (:data:`EVIDENCE_COLUMNS`); ``evidence`` is one of :data:`EVIDENCE_KINDS`.
    """
    if links.empty:
        return pd.DataFrame(columns=EVIDENCE_COLUMNS)
    pairs = align_many(links, values, kpis)
    lags = links["expected_lag"].astype(int).to_numpy()
    width = max([len(p.periods) for p in pairs] + [1])
    drivers = np.full((len(pairs), width), np.nan)
    outcomes = np.full((len(pairs), width), np.nan)
    for i, p in enumerate(pairs):  # trailing NaN only shortens a link's window
        drivers[i, : len(p.periods)] = p.driver
        outcomes[i, : len(p.periods)] = p.outcome
    res = stats.lead_lag_batch(
        drivers,
        outcomes,
        max_lag=max(DEFAULT_MAX_LAG, int(lags.max())),
        expected_lag=lags,
        expected_sign=links["expected_sign"].astype(int).to_numpy(),
        alpha=alpha,
    )
    rows = []
    for link_id, pair, r in zip(links["link_id"].astype(int), pairs, res.itertuples(index=False), strict=True):
        best_ccf = np.nan
        if r.best_lag is not None and not pd.isna(r.best_lag) and r.best_lag in r.lags:
            best_ccf = r.ccf[r.lags.index(r.best_lag)]
        rows.append(
            {
                "link_id": link_id,
                "n": int(r.n),
                "frequency": pair.frequency,
                "first_period": pair.periods[0] if pair.periods else None,
                "last_period": pair.periods[-1] if pair.periods else None,
                "missing_periods": ", ".join(pair.missing),
                "transformation": r.transform,
                "ar_order": r.ar_order,
                "best_lag": r.best_lag,
                "best_ccf": best_ccf,
                "lag_tested": r.tested_lag,
                "granger_f": r.f,
                "p": r.p,
                "q": r.q,
                "q_text": "–" if pd.isna(r.q) else p_phrase(float(r.q), "q"),
                "verdict": r.verdict,
                "evidence": _evidence_kind(str(r.verdict)),
            }
        )
    return pd.DataFrame(rows, columns=EVIDENCE_COLUMNS)


def links_with_evidence(links: pd.DataFrame, sc: Scorecard, *, alpha: float | None = None) -> pd.DataFrame:
    """The links frame (``services.kpi_links.links_frame``) joined with their evidence."""
    alpha = sc.settings.alpha if alpha is None else alpha
    values = (
        sc.attainment[["kpi_id", "period", "actual"]]
        if not sc.attainment.empty
        else pd.DataFrame(columns=["kpi_id", "period", "actual"])
    )
    ev = link_evidence(links, values, sc.kpis[["kpi_id", "frequency"]], alpha=alpha)
    return links.merge(ev, on="link_id", how="left")


# ------------------------------------------------------------------------------ map content


@dataclass(frozen=True)
class MapContent:
    """What the strategy map draws after filtering; each frame may be empty."""

    objectives: pd.DataFrame  # objective_id, code, title, score, status
    kpis: pd.DataFrame  # kpi_id, name, department_id, department, attainment, status
    serves: pd.DataFrame  # kpi_id, objective_id, contribution
    links: pd.DataFrame  # link_id, driver_kpi_id, outcome_kpi_id, expected_lag, expected_sign, evidence, in_cycle
    hidden_kpis: int = 0  # KPIs that matched the filter but were left out to keep the map readable


def kpi_status(sc: Scorecard) -> pd.DataFrame:
    """Every KPI with its department, attainment in the period (%) and status colour name."""
    k = sc.kpis.merge(sc.departments[["department_id", "department"]], on="department_id", how="left")
    score = 100.0 * k["attainment"].astype(float)
    return k.assign(score=score, status=status(score.to_numpy(), sc.settings))[
        ["kpi_id", "name", "department_id", "department", "score", "status", "trend", "direction", "significant"]
    ]


def map_content(
    sc: Scorecard,
    links: pd.DataFrame,
    *,
    objective_ids: list[int] | None = None,
    department_ids: list[int] | None = None,
    max_kpis: int = 60,
) -> MapContent:
    """Objectives, KPIs and links for the chosen objectives and departments (None: all).

    A KPI is shown when it serves a chosen objective and belongs to a chosen department, or
    when it is the other end of a link from such a KPI (so a dependency across the filter stays
    visible). At most ``max_kpis`` KPIs are drawn; the rest are counted in ``hidden_kpis``.
    """
    kpis = kpi_status(sc)
    serves = sc.links[sc.links["direct"]][["kpi_id", "objective_id", "contribution"]]
    objectives = sc.objectives[["objective_id", "code", "title", "score"]].copy()
    objectives["status"] = status(100.0 * objectives["score"].astype(float).to_numpy(), sc.settings)
    if objective_ids is not None:
        objectives = objectives[objectives["objective_id"].isin(objective_ids)]
        core = set(serves.loc[serves["objective_id"].isin(objective_ids), "kpi_id"])
    else:
        core = set(kpis["kpi_id"])
    if department_ids is not None:
        core &= set(kpis.loc[kpis["department_id"].isin(department_ids), "kpi_id"])
    touching = links[links["driver_kpi_id"].isin(core) | links["outcome_kpi_id"].isin(core)]
    partners = (set(touching["driver_kpi_id"]) | set(touching["outcome_kpi_id"])) - core
    shown_ids = sorted(core) + sorted(partners)
    hidden = max(0, len(shown_ids) - max_kpis)
    shown_ids = shown_ids[:max_kpis]
    shown = kpis[kpis["kpi_id"].isin(shown_ids)]
    ids = set(shown["kpi_id"])
    shown_links = touching[touching["driver_kpi_id"].isin(ids) & touching["outcome_kpi_id"].isin(ids)]
    shown_serves = serves[serves["kpi_id"].isin(ids) & serves["objective_id"].isin(objectives["objective_id"])]
    return MapContent(
        objectives.reset_index(drop=True),
        shown.reset_index(drop=True),
        shown_serves.reset_index(drop=True),
        shown_links.reset_index(drop=True),
        hidden,
    )


# ------------------------------------------------------------------------------- conflicts


@dataclass(frozen=True)
class Conflicts:
    """Three kinds of conflicting priorities, each with the departments involved."""

    pulling: pd.DataFrame  # (a) objective, kpi, department, contribution, pushed_by
    opposite: pd.DataFrame  # (b) link_id, driver, driver_department, outcome, outcome_department, verdict, q
    diverging: pd.DataFrame  # (c) objective_id, objective, improving, worsening, details

    @property
    def total(self) -> int:
        return len(self.pulling) + len(self.opposite) + len(self.diverging)


def opposite_sign_links(evidence_links: pd.DataFrame) -> pd.DataFrame:
    """(b) Linked pairs whose evidence has the opposite sign to the expected one."""
    cols = [
        "link_id",
        "driver_kpi_id",
        "driver",
        "driver_department_id",
        "driver_department",
        "outcome_kpi_id",
        "outcome",
        "outcome_department_id",
        "outcome_department",
        "expected_sign",
        "expected_lag",
        "verdict",
        "q",
        "q_text",
    ]
    if evidence_links.empty or "evidence" not in evidence_links:
        return pd.DataFrame(columns=cols)
    return evidence_links.loc[evidence_links["evidence"] == EVIDENCE_OPPOSITE, cols].reset_index(drop=True)


DIVERGING_COLUMNS = ["objective_id", "code", "objective", "improving", "worsening", "departments", "details"]


def objective_series(sc: Scorecard) -> pd.DataFrame:
    """Per objective x serving department x month: contribution-weighted mean progress (unclipped
    attainment, so "up" is better whatever the polarity) of the department's KPIs serving it."""
    if sc.attainment.empty or sc.links.empty or sc.month is None:
        return pd.DataFrame(columns=["objective_id", "department_id", "month", "progress"])
    months = expand_to_months(sc.attainment)
    lo = sc.month - sc.settings.trend_periods + 1
    months = months[(months["month"] >= lo) & (months["month"] <= sc.month)]
    serving = sc.links[sc.links["contribution"] > 0][["kpi_id", "objective_id", "contribution"]]
    df = months[["kpi_id", "department_id", "month", "progress"]].merge(serving, on="kpi_id")
    df = df[np.isfinite(df["progress"].astype(float))]
    df = df.assign(wp=df["progress"] * df["contribution"])
    g = df.groupby(["objective_id", "department_id", "month"], as_index=False).agg(
        wp=("wp", "sum"), w=("contribution", "sum")
    )
    return g.assign(progress=g["wp"] / g["w"])[["objective_id", "department_id", "month", "progress"]]


def diverging_objectives(sc: Scorecard) -> pd.DataFrame:
    """(c) Objectives whose serving departments' trends diverge significantly: at least one
    department improves and another worsens on it, each by Mann-Kendall on the series of
    :func:`objective_series`, significant after Benjamini-Hochberg across all objective x
    department series shown."""
    series = objective_series(sc)
    if series.empty:
        return pd.DataFrame(columns=DIVERGING_COLUMNS)
    mat = series.pivot_table(index=["objective_id", "department_id"], columns="month", values="progress")
    res = stats.mann_kendall_batch(mat, alpha=sc.settings.alpha)
    p = np.where(np.isnan(res["p_exact"]), res["p"], res["p_exact"]) if "p_exact" in res else res["p"]
    res = res.assign(p_used=p)
    ok = res["p_used"].notna()
    res["q"] = np.nan
    res.loc[ok, "q"] = stats.benjamini_hochberg(res.loc[ok, "p_used"].to_numpy(float))
    res["significant"] = res["q"] < sc.settings.alpha
    res = res.reset_index()
    names = dict(zip(sc.departments["department_id"], sc.departments["department"], strict=True))
    rows = []
    for oid, grp in res.groupby("objective_id"):
        sig = grp[grp["significant"]]
        up, down = sig[sig["slope"] > 0], sig[sig["slope"] < 0]
        if up.empty or down.empty:
            continue
        obj = sc.objectives.set_index("objective_id").loc[oid]

        def label(frame: pd.DataFrame) -> str:
            return ", ".join(sorted(names.get(int(d), f"#{d}") for d in frame["department_id"]))

        details = "; ".join(
            f"{names.get(int(r.department_id), r.department_id)}: slope {r.slope:+.3f}/month, q = {r.q:.3g}"
            for r in sig.itertuples()
        )
        rows.append(
            {
                "objective_id": int(oid),
                "code": obj["code"],
                "objective": obj["title"],
                "improving": label(up),
                "worsening": label(down),
                "departments": sorted(int(d) for d in sig["department_id"]),
                "details": details,
            }
        )
    return pd.DataFrame(rows, columns=DIVERGING_COLUMNS)


def conflicts(sc: Scorecard, pulling: pd.DataFrame, evidence_links: pd.DataFrame) -> Conflicts:
    """All three kinds; ``pulling`` is ``services.strategy.findings(...).conflicts``."""
    return Conflicts(pulling.reset_index(drop=True), opposite_sign_links(evidence_links), diverging_objectives(sc))


# ------------------------------------------------------------------------------ committees


@dataclass(frozen=True)
class CommitteeView:
    kpis: pd.DataFrame  # the member departments' KPIs serving the committee's objectives
    links: pd.DataFrame  # links with both ends among those departments, with evidence
    conflicts: Conflicts  # restricted to the committee's objectives and departments
    survey: pd.DataFrame  # department, item, text, favourable_pct, answers (closed wave, shown cells only)
    wave: str | None


CROSS_TEAM_DIMENSION = "cross_team"


def committee_view(
    sc: Scorecard,
    *,
    objective_ids: list[int],
    department_ids: list[int],
    evidence_links: pd.DataFrame,
    pulling: pd.DataFrame,
) -> CommitteeView:
    """A committee's scorecard: its departments' KPIs on its objectives, links among them,
    conflicts on them, and the cross-team survey items of the scorecard's (closed) wave."""
    serving = sc.links[sc.links["objective_id"].isin(objective_ids)]
    kpis = kpi_status(sc)
    kpis = kpis[kpis["department_id"].isin(department_ids) & kpis["kpi_id"].isin(serving["kpi_id"])]
    kpis = kpis.merge(
        serving.merge(sc.objectives[["objective_id", "code"]], on="objective_id")
        .groupby("kpi_id")["code"]
        .agg(lambda s: ", ".join(sorted(set(s))))
        .rename("objectives"),
        on="kpi_id",
        how="left",
    )
    links = evidence_links
    if not links.empty:
        links = links[
            links["driver_department_id"].isin(department_ids) & links["outcome_department_id"].isin(department_ids)
        ]
    all_conf = conflicts(sc, pulling, links)
    pull = all_conf.pulling
    if not pull.empty:
        pull = pull[pull["objective_id"].isin(objective_ids)]
    div = all_conf.diverging
    if not div.empty:
        div = div[div["objective_id"].isin(objective_ids)]
    return CommitteeView(
        kpis.reset_index(drop=True),
        links.reset_index(drop=True),
        Conflicts(pull.reset_index(drop=True), all_conf.opposite, div.reset_index(drop=True)),
        cross_team_items(sc, department_ids),
        sc.wave.name if sc.wave is not None else None,
    )


def cross_team_items(sc: Scorecard, department_ids: list[int]) -> pd.DataFrame:
    """% favourable on the cross-team items per department, for the scorecard's wave — closed
    waves only, and only the cells the scorecard's disclosure control lets through."""
    cols = ["department", "item", "text", "favourable_pct", "answers"]
    closed = {w.wave_id for w in sc.waves if w.status == "closed"}
    if sc.wave is None or sc.wave.wave_id not in closed or sc.likert.empty:
        return pd.DataFrame(columns=cols)
    items = sc.questions[sc.questions["dimension"] == CROSS_TEAM_DIMENSION]
    lk = sc.likert[
        (sc.likert["wave_id"] == sc.wave.wave_id)
        & (sc.likert["unit_level"] == "department")
        & sc.likert["unit_id"].isin(department_ids)
        & sc.likert["question_id"].isin(items["question_id"])
    ]
    if lk.empty:
        return pd.DataFrame(columns=cols)
    lk = lk.assign(fav=np.where(lk["value"] >= 4, lk["count"], 0))
    g = lk.groupby(["unit_id", "question_id"], as_index=False).agg(answers=("count", "sum"), fav=("fav", "sum"))
    g["favourable_pct"] = 100.0 * g["fav"] / g["answers"]
    g = g.merge(items[["question_id", "code", "text"]], on="question_id").rename(columns={"code": "item"})
    names = dict(zip(sc.departments["department_id"], sc.departments["department"], strict=True))
    g["department"] = g["unit_id"].map(names)
    return g[cols].sort_values(["item", "department"]).reset_index(drop=True)


def conflict_items(conf: Conflicts, department_ids: dict[str, int]) -> pd.DataFrame:
    """Every conflict as one row to act on: ``kind, label, objective_id, kpi_id, department_ids``
    (the departments involved). ``department_ids`` maps department names to ids."""
    rows = []
    for r in conf.pulling.itertuples(index=False):
        involved = [r.department, *str(r.pushed_by).split(", ")]
        rows.append(
            {
                "kind": "pulls against",
                "label": f"{r.kpi} ({r.department}) pulls against {r.objective_code}, pushed by {r.pushed_by}",
                "objective_id": int(r.objective_id),
                "kpi_id": int(r.kpi_id),
                "department_ids": [department_ids[n] for n in involved if n in department_ids],
            }
        )
    for r in conf.opposite.itertuples(index=False):
        rows.append(
            {
                "kind": "opposite sign",
                "label": f"{r.driver} ({r.driver_department}) -> {r.outcome} ({r.outcome_department}): {r.verdict}",
                "objective_id": None,
                "kpi_id": int(r.outcome_kpi_id),
                "department_ids": sorted({int(r.driver_department_id), int(r.outcome_department_id)}),
            }
        )
    for r in conf.diverging.itertuples(index=False):
        rows.append(
            {
                "kind": "diverging trends",
                "label": f"{r.code} {r.objective}: {r.improving} improving, {r.worsening} worsening",
                "objective_id": int(r.objective_id),
                "kpi_id": None,
                "department_ids": list(r.departments),
            }
        )
    df = pd.DataFrame(rows, columns=["kind", "label", "objective_id", "kpi_id", "department_ids"])
    return df.astype({"objective_id": "Int64", "kpi_id": "Int64"})
