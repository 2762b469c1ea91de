"""Alignment scoring: attainment, performance, understanding, coverage, composite, status,
roll-ups, trends, survey changes, reliability, sensitivity, the gap quadrant and correlation
(DESIGN.md, Scoring 1-12), with :class:`ScoringSettings` (every number of the method).

Pure functions over numpy arrays and pandas DataFrames: no database, no Streamlit. The settings
are stored by :mod:`kpialign.services.settings`; :mod:`kpialign.scorecard.build` fetches the
frames once and runs these functions.

Conventions used throughout:

* Scores P, U, C and attainment are shares 0..1; the alignment score A is 0..100.
* Scoring months are integers ``year * 12 + month - 1`` ("month index",
  :mod:`kpialign.core.periods`). A monthly KPI's value counts in its month; a quarterly KPI's
  value counts in the quarter's last month and the two months after it (it is the latest
  complete quarter then).
* Missing data are NaN and are counted (``n_missing``), never imputed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy import stats as sps

from kpialign.core import periods, privacy, stats
from kpialign.core.errors import Refused

COMPONENTS = ("performance", "understanding", "coverage")
COMPONENT_LETTER = {"performance": "P", "understanding": "U", "coverage": "C"}


class ScoringError(Refused):
    """Bad input to a scoring function or an invalid setting; the message says why."""


ScorecardError = ScoringError  # the name callers used when this lived in kpialign.scorecard.build


# ---------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ScoringSettings:
    """Every number of the scoring method; defaults from DESIGN.md (Scoring)."""

    weight_performance: float = 0.4
    weight_understanding: float = 0.4
    weight_coverage: float = 0.2
    cap: float = 1.0  # attainment cap (1.0: overshooting a target earns nothing extra)
    green: float = 75.0  # status: A >= green is green
    amber: float = 60.0  # status: amber >= amber, red below
    alpha: float = 0.05  # significance level, after Benjamini-Hochberg
    composite: str = "linear"  # or "geometric" (penalises imbalance)
    trend_periods: int = 24  # months (or waves) a trend test looks back from the chosen period
    mc_draws: int = 1000  # Monte Carlo draws of the weights (sensitivity)
    mc_seed: int = 20240601
    mc_concentration: float = 20.0  # Dirichlet concentration around the weights (lower: wider)
    quadrant_performance: float = 0.75  # P at or above this is "delivering"
    quadrant_understanding: float = 0.60  # U at or above this is "understands"
    default_k: int = privacy.DEFAULT_K  # minimum group of a new wave (never below privacy.MIN_K)
    comment_min: int = privacy.COMMENT_MIN  # comment threshold of a new wave (never below privacy.COMMENT_MIN)

    def weights(self) -> np.ndarray:
        return np.array([self.weight_performance, self.weight_understanding, self.weight_coverage], dtype=float)

    def validate(self) -> ScoringSettings:
        w = self.weights()
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ScorecardError("The weights must be zero or positive and add up to more than zero.")
        if not (math.isfinite(self.cap) and self.cap >= 1.0):
            raise ScorecardError("The attainment cap must be at least 1.0 (100 % of target).")
        if not (0 <= self.amber <= self.green <= 100):
            raise ScorecardError("Thresholds must satisfy 0 <= amber <= green <= 100.")
        if not (0 < self.alpha < 0.5):
            raise ScorecardError("The significance level must lie between 0 and 0.5.")
        if self.composite not in ("linear", "geometric"):
            raise ScorecardError("The composite must be 'linear' or 'geometric'.")
        if not (3 <= self.trend_periods <= 240):
            raise ScorecardError("Trend tests need to look back 3 to 240 periods.")
        if not (10 <= self.mc_draws <= 100_000):
            raise ScorecardError("Monte Carlo draws must be between 10 and 100,000.")
        if not (self.mc_concentration > 0 and math.isfinite(self.mc_concentration)):
            raise ScorecardError("The Monte Carlo concentration must be positive.")
        for name in ("quadrant_performance", "quadrant_understanding"):
            if not 0 <= getattr(self, name) <= 1:
                raise ScorecardError(f"{name.replace('_', ' ')} must lie between 0 and 1.")
        if not privacy.MIN_K <= self.default_k <= 1000:
            raise ScorecardError(f"The minimum group size k can be {privacy.MIN_K} to 1000, never lower.")
        if not privacy.COMMENT_MIN <= self.comment_min <= 10_000:
            raise ScorecardError(f"The comment threshold can be {privacy.COMMENT_MIN} to 10,000, never lower.")
        return self

    def normalised_weights(self) -> dict[str, float]:
        w = self.weights()
        return dict(zip(COMPONENTS, (w / w.sum()).tolist(), strict=True))


FIELD_TYPES = {f.name: f.type for f in fields(ScoringSettings)}


def coerce(name: str, raw: Any) -> Any:
    kind = FIELD_TYPES[name]
    try:
        if kind == "int":
            if isinstance(raw, bool) or float(raw) != int(float(raw)):
                raise ValueError
            return int(float(raw))
        if kind == "float":
            return float(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ScorecardError(f"Setting {name} has an invalid value {raw!r}.") from exc


def settings_from_dict(values: dict[str, Any]) -> ScoringSettings:
    """Settings from a dict of field -> value (unknown keys refused), validated."""
    unknown = set(values) - set(FIELD_TYPES)
    if unknown:
        raise ScorecardError(f"Unknown scoring setting(s): {', '.join(sorted(unknown))}.")
    return ScoringSettings(**{k: coerce(k, v) for k, v in values.items()}).validate()


# ---------------------------------------------------------------------------- attainment


def attainment(
    actual: Any,
    target: Any,
    baseline: Any = None,
    polarity: Any = "higher",
    cap: float = 1.0,
    range_low: Any = None,
    range_high: Any = None,
    *,
    clip: bool = True,
) -> Any:
    """Attainment of a KPI value, 0..cap (vectorised; scalars give a float).

    * With a baseline (and target != baseline): ``(actual - baseline) / (target - baseline)``;
      interpolating from baseline to target handles polarity by itself.
    * Without one: ``actual / target`` (higher is better) or ``target / actual`` (lower).
    * ``range``: 1 inside [range_low, range_high], falling linearly to 0 at one range width
      outside (a zero-width range: 1 on the point, else 0).
    * Missing or meaningless inputs (no target, a zero target for "higher") give NaN, which
      the scorecard counts as missing. ``clip=False`` skips the clip to [0, cap] (used for
      trend tests, where the cap would hide movement above target).
    """
    scalar = all(np.ndim(v) == 0 for v in (actual, target, baseline, polarity, range_low, range_high))
    a = np.asarray(actual, dtype=float)
    shape = np.broadcast_shapes(
        a.shape, *(np.shape(v) for v in (target, baseline, polarity, range_low, range_high) if v is not None)
    )

    def arr(v: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(np.nan if v is None else v, dtype=float), shape)

    a = np.broadcast_to(a, shape)
    t, b, lo, hi = arr(target), arr(baseline), arr(range_low), arr(range_high)
    pol = np.broadcast_to(np.asarray(polarity, dtype=object), shape)
    if not np.isin(pol, ["higher", "lower", "range"]).all():
        raise ScorecardError("polarity must be 'higher', 'lower' or 'range'.")
    with np.errstate(divide="ignore", invalid="ignore"):
        interp = (a - b) / (t - b)
        use_interp = np.isfinite(b) & (t != b) & np.isfinite(t)
        higher = np.where(t > 0, a / t, np.nan)
        # lower is better: reaching 0 or below beats any positive target.
        lower = np.where(a > 0, t / a, np.where(np.isfinite(a) & (t >= 0), np.inf, np.nan))
        lower = np.where(t >= 0, lower, np.nan)
        ratio = np.where(pol == "lower", lower, higher)
        width = hi - lo
        dist = np.where(a < lo, lo - a, np.where(a > hi, a - hi, 0.0))
        rng = np.where(width > 0, 1.0 - dist / width, np.where(dist == 0, 1.0, 0.0))
        rng = np.where(np.isfinite(lo) & np.isfinite(hi) & (hi >= lo), rng, np.nan)
        out = np.where(pol == "range", rng, np.where(use_interp, interp, ratio))
    out = np.where(np.isnan(a), np.nan, out)
    if clip:
        out = np.where(pol == "range", np.clip(out, 0.0, 1.0), np.clip(out, 0.0, cap))
    else:
        out = np.where(np.isinf(out), np.nan, out)
    if scalar:
        return float(out)
    return np.asarray(out, dtype=float)


def kpi_attainment(values: pd.DataFrame, kpis: pd.DataFrame, *, cap: float = 1.0) -> pd.DataFrame:
    """Per KPI value: ``attainment`` (clipped) and ``progress`` (unclipped, for trend tests).

    ``values``: kpi_id, period, actual, target (the target in force; NaN: the KPI default).
    ``kpis``: kpi_id, department_id, polarity, baseline, target, range_low, range_high,
    frequency, weight. Adds ``month`` (the scoring month index of the period).
    """
    k = kpis.set_index("kpi_id")
    df = values.join(
        k[["department_id", "polarity", "baseline", "range_low", "range_high", "frequency", "weight"]], on="kpi_id"
    )
    df = df[df["department_id"].notna()].copy()
    target = df["target"].where(df["target"].notna(), df["kpi_id"].map(k["target"]))
    args: dict[str, Any] = dict(
        actual=df["actual"].to_numpy(float),
        target=target.to_numpy(float),
        baseline=df["baseline"].to_numpy(float),
        polarity=df["polarity"].to_numpy(object),
        range_low=df["range_low"].to_numpy(float),
        range_high=df["range_high"].to_numpy(float),
    )
    df["target"] = target
    df["attainment"] = attainment(**args, cap=cap)
    df["progress"] = attainment(**args, cap=cap, clip=False)
    df["month"] = periods.month_index(df["period"])
    df["department_id"] = df["department_id"].astype("int64")
    return df.reset_index(drop=True)


def expand_to_months(att: pd.DataFrame) -> pd.DataFrame:
    """Each value in the scoring months where it counts (quarterly: its last month + 2 after).

    Idempotent: a frame already expanded (``attrs["expanded"]``) is returned as it is.
    """
    if att.attrs.get("expanded"):
        return att
    quarterly = att["frequency"] == "quarterly"
    if not quarterly.any():
        out = att.copy()
        out.attrs["expanded"] = True
        return out
    q = att[quarterly]
    q = pd.concat([q.assign(month=q["month"] + s) for s in range(3)], ignore_index=True)
    out = pd.concat([att[~quarterly], q], ignore_index=True)
    out.attrs["expanded"] = True
    return out


# --------------------------------------------------------------------------- performance


def department_performance(att: pd.DataFrame, kpis: pd.DataFrame, months: Any) -> pd.DataFrame:
    """Performance P per department and month: weighted mean attainment of the KPIs with data.

    Returns one row per (department_id, month) for every department that has active KPIs
    and every month in ``months``: ``performance`` (NaN when no KPI has data),
    ``n_kpis`` (active KPIs with weight > 0), ``n_with_data``, ``n_missing``.
    """
    months = np.asarray(list(months), dtype="int64")
    active = kpis[kpis["weight"] > 0]
    counts = active.groupby("department_id").size().rename("n_kpis")
    grid = pd.MultiIndex.from_product([counts.index, months], names=["department_id", "month"])
    out = pd.DataFrame(index=grid).join(counts, on="department_id")
    if not att.empty:
        a = expand_to_months(att)
        a = a[a["attainment"].notna() & a["kpi_id"].isin(active["kpi_id"]) & a["month"].isin(months)]
        a = a.assign(wa=a["attainment"] * a["weight"])
        g = a.groupby(["department_id", "month"]).agg(wa=("wa", "sum"), w=("weight", "sum"), n=("kpi_id", "nunique"))
        out = out.join(g)
    else:
        out = out.assign(wa=np.nan, w=np.nan, n=np.nan)
    out["performance"] = out["wa"] / out["w"]
    out["n_with_data"] = out["n"].fillna(0).astype("int64")
    out["n_missing"] = out["n_kpis"] - out["n_with_data"]
    return out[["performance", "n_kpis", "n_with_data", "n_missing"]].reset_index()


# ------------------------------------------------------------------------- understanding


def understanding(counts: pd.DataFrame, respondents: pd.DataFrame, picks: pd.DataFrame | None = None) -> pd.DataFrame:
    """Understanding U per wave and department from aggregated counts (no respondent rows).

    ``counts``: wave_id, department_id, question_id, value (1..5, reverse items already
    flipped), count — line-of-sight Likert items only. ``respondents``: wave_id,
    department_id, respondents. ``picks`` (optional): wave_id, department_id, answered,
    knows — the objective-pick item.

    U = favourable answers (4 or 5) / all answers. Its Wilson 95 % interval uses the number
    of respondents as n (one person's answers are not independent, so answers would
    overstate the precision). ``pick_share`` = share of respondents who picked the
    organisation's objectives correctly, with its Wilson interval.
    """
    keys = ["wave_id", "department_id"]
    c = counts.assign(fav=np.where(counts["value"] >= 4, counts["count"], 0))
    g = c.groupby(keys).agg(answers=("count", "sum"), favourable=("fav", "sum"))
    out = respondents.set_index(keys)[["respondents"]].join(g, how="left").fillna({"answers": 0, "favourable": 0})
    out["understanding"] = np.where(
        out["answers"] > 0, out["favourable"] / out["answers"].where(out["answers"] > 0), np.nan
    )
    n = out["respondents"].to_numpy("int64")
    u = out["understanding"].to_numpy(float)
    out["u_low"], out["u_high"] = _wilson_many(
        np.where(np.isnan(u), 0, np.round(u * n)).astype(int), n, valid=~np.isnan(u)
    )
    if picks is not None and not picks.empty:
        p = picks.set_index(keys)[["answered", "knows"]]
        out = out.join(p, how="left")
        out["answered"] = out["answered"].fillna(0).astype("int64")
        out["knows"] = out["knows"].fillna(0).astype("int64")
        ans = out["answered"].to_numpy("int64")
        out["pick_share"] = np.where(ans > 0, out["knows"] / np.maximum(ans, 1), np.nan)
        out["pick_low"], out["pick_high"] = _wilson_many(out["knows"].to_numpy("int64"), ans, valid=ans > 0)
    else:
        out = out.assign(answered=0, knows=0, pick_share=np.nan, pick_low=np.nan, pick_high=np.nan)
    out["answers"] = out["answers"].astype("int64")
    out["favourable"] = out["favourable"].astype("int64")
    return out.reset_index()


def _wilson_many(successes: np.ndarray, n: np.ndarray, *, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low = np.full(len(n), np.nan)
    high = np.full(len(n), np.nan)
    # Memoised over distinct (successes, n): a few hundred distinct pairs at most.
    cache: dict[tuple[int, int], tuple[float, float]] = {}
    for i in np.flatnonzero(valid & (n > 0)):
        key = (int(successes[i]), int(n[i]))
        if key not in cache:
            cache[key] = stats.wilson_interval(*key)
        low[i], high[i] = cache[key]
    return low, high


# ------------------------------------------------------------------------------ coverage


def coverage(
    att: pd.DataFrame, links: pd.DataFrame, expected: pd.DataFrame, departments: Any, months: Any
) -> pd.DataFrame:
    """Coverage C per department and month: share of the objectives the department is expected
    to serve that have at least one of its KPIs linked (contribution > 0) with data that month.

    ``links``: kpi_id, objective_id, contribution. ``expected``: department_id, objective_id.
    A department with no expected objectives has C = NaN (not applicable), ``n_expected`` 0.
    """
    months = np.asarray(list(months), dtype="int64")
    depts = pd.Index(np.asarray(list(departments), dtype="int64"), name="department_id")
    exp_n = expected.groupby("department_id").size().reindex(depts, fill_value=0).rename("n_expected")
    grid = pd.MultiIndex.from_product([depts, months], names=["department_id", "month"])
    out = pd.DataFrame(index=grid).join(exp_n, on="department_id")
    served = pd.Series(0, index=grid, name="n_covered", dtype="int64")
    if not att.empty and not links.empty and not expected.empty:
        a = expand_to_months(att)
        a = a.loc[a["attainment"].notna() & a["month"].isin(months), ["kpi_id", "department_id", "month"]]
        pos = links.loc[links["contribution"] > 0, ["kpi_id", "objective_id"]]
        hits = a.merge(pos, on="kpi_id").merge(expected, on=["department_id", "objective_id"])
        hits = hits.drop_duplicates(["department_id", "month", "objective_id"])
        served = hits.groupby(["department_id", "month"]).size().reindex(grid, fill_value=0).rename("n_covered")
    out = out.join(served)
    out["coverage"] = np.where(
        out["n_expected"] > 0, out["n_covered"] / out["n_expected"].where(out["n_expected"] > 0), np.nan
    )
    return out.reset_index()


# ----------------------------------------------------------------------------- composite


# "", "P", "U", "PU", "C", "PC", "UC", "PUC": the components named by each 3-bit code
_MISSING_LABELS = np.array(
    ["".join(c for c, bit in zip("PUC", (1, 2, 4), strict=True) if code & bit) for code in range(8)]
)


def composite(
    performance: Any,
    understanding: Any,
    coverage: Any,
    settings: ScoringSettings | None = None,
    *,
    method: str | None = None,
) -> pd.DataFrame:
    """Alignment score A = 100 x weighted mean of (P, U, C), 0..100.

    ``linear``: 100 (wP P + wU U + wC C) / (sum of the weights used). ``geometric``:
    100 prod(x_i ^ (w_i / sum w)) — one weak component pulls A down much more.
    A missing component (e.g. U suppressed for privacy) is left out and the remaining
    weights renormalised; the result is then ``partial`` and ``missing`` names what is out
    (only components with a positive weight count: a component weighted 0 is never missing).
    A partial score is not comparable with a complete one (Legal with P alone could outscore
    every department with all three): :func:`rank_bands` does not rank it, and every table,
    chart and export marks it.
    Returns columns ``alignment``, ``partial``, ``missing`` (e.g. "U"), ``n_components``.
    """
    settings = settings or ScoringSettings()
    method = method or settings.composite
    x = np.column_stack([np.asarray(v, dtype=float).ravel() for v in (performance, understanding, coverage)])
    scores = _composite_matrix(x, settings.weights()[None, :], method)[:, 0]
    have = ~np.isnan(x)
    weighted = settings.weights() > 0
    # "missing" names the weighted components a row lacks, looked up by a 3-bit code (P=1, U=2, C=4)
    missing = _MISSING_LABELS[(~have & weighted) @ np.array([1, 2, 4])].tolist()
    n_comp = have.sum(axis=1)
    return pd.DataFrame(
        {
            "alignment": scores,
            "partial": (~have & weighted).any(axis=1) & ~np.isnan(scores),
            "missing": missing,
            "n_components": n_comp,
        }
    )


def _composite_matrix(x: np.ndarray, w: np.ndarray, method: str) -> np.ndarray:
    """A for components x (units x 3) and weight draws w (draws x 3) -> (units x draws)."""
    have = ~np.isnan(x)
    xv = np.where(have, x, 0.0)
    wsum = have.astype(float) @ w.T  # units x draws: weights of the components present
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "linear":
            score = (xv @ w.T) / wsum
        elif method == "geometric":
            logs = np.where(have, np.log(np.where(xv > 0, xv, 1.0)), 0.0)
            zero = have & (xv <= 0)
            score = np.exp((logs @ w.T) / wsum)
            # any present component at 0 with positive weight makes the geometric mean 0
            score = np.where((zero.astype(float) @ (w.T > 0).astype(float)) > 0, 0.0, score)
        else:
            raise ScorecardError("The composite must be 'linear' or 'geometric'.")
    return np.where(wsum > 0, 100.0 * score, np.nan)


def status(score: Any, settings: ScoringSettings | None = None) -> Any:
    """ "green" (>= green), "amber" (>= amber), "red", or "no score" for NaN (vectorised)."""
    settings = settings or ScoringSettings()
    s = np.asarray(score, dtype=float)
    out = np.where(
        np.isnan(s), "no score", np.where(s >= settings.green, "green", np.where(s >= settings.amber, "amber", "red"))
    )
    return str(out) if out.ndim == 0 else out.astype(object)


# ------------------------------------------------------------------------------ roll-ups


def headcount_rollup(values: Any, headcount: Any) -> dict[str, float]:
    """Headcount-weighted mean of the units that have a value; says how much it covers."""
    v = np.asarray(values, dtype=float)
    h = np.asarray(headcount, dtype=float)
    ok = ~np.isnan(v) & (h > 0)
    total = float(h[h > 0].sum())
    covered = float(h[ok].sum())
    value = float(np.sum(v[ok] * h[ok]) / covered) if covered > 0 else math.nan
    return {
        "value": value,
        "units": int(ok.sum()),
        "units_total": len(v),
        "headcount": covered,
        "headcount_total": total,
    }


def objectives_overall(objectives: pd.DataFrame) -> dict[str, Any]:
    """The organisation's strategy attainment: the objective-weighted mean of its top-level objectives.

    ``objectives``: objective_id, parent_id (NaN/None for top level), weight, score (0..1, NaN
    without data), as :func:`objective_rollup` merged with the objectives. Only top-level
    objectives count, because a sub-objective's KPIs already serve its parent (links cascade);
    each is weighted by its **weight** (set on Strategy setup), renormalised over those with
    data. Returns ``value`` (0..1, NaN without data), ``objectives`` (how many counted),
    ``without_data`` (top-level objectives left out) and ``weights`` (objective_id -> share).
    """
    top = objectives[objectives["parent_id"].isna()] if len(objectives) else objectives
    have = top[top["score"].notna() & (top["weight"].astype(float) > 0)] if len(top) else top
    if len(have) == 0:
        return {"value": float("nan"), "objectives": 0, "without_data": len(top), "weights": {}}
    w = have["weight"].astype(float).to_numpy()
    shares = w / w.sum()
    return {
        "value": float(np.dot(shares, have["score"].astype(float).to_numpy())),
        "objectives": len(have),
        "without_data": len(top) - len(have),
        "weights": dict(zip(have["objective_id"].astype(int), shares.round(4).tolist(), strict=True)),
    }


def objective_rollup(
    att_now: pd.DataFrame, links: pd.DataFrame, kpis: pd.DataFrame, objectives: pd.DataFrame
) -> pd.DataFrame:
    """Per objective: contribution-weighted mean attainment of the KPIs that serve it.

    ``att_now``: kpi_id, attainment (the chosen period; KPIs without data absent or NaN).
    Serving KPIs have contribution > 0; KPIs with contribution < 0 pull against the objective
    and are counted as ``n_against`` (a conflict when another KPI serves it). Columns:
    objective_id, score (0..1, NaN: no data), n_kpis, n_with_data, n_against,
    n_departments, departments (ids), gap (no serving KPI at all), conflict.
    """
    obj = objectives[["objective_id"]].copy()
    if links.empty:
        return obj.assign(
            score=np.nan,
            n_kpis=0,
            n_with_data=0,
            n_against=0,
            n_departments=0,
            departments=cast(Any, [[] for _ in range(len(obj))]),
            gap=True,
            conflict=False,
        )
    lk = links.merge(kpis[["kpi_id", "department_id"]], on="kpi_id")
    a = att_now[["kpi_id", "attainment"]].dropna()
    lk = lk.merge(a, on="kpi_id", how="left")
    serve = lk[lk["contribution"] > 0].assign(ca=lambda d: d["contribution"] * d["attainment"])
    has = serve[serve["attainment"].notna()]
    g = pd.DataFrame(
        {
            "n_kpis": serve.groupby("objective_id")["kpi_id"].nunique(),
            "n_with_data": has.groupby("objective_id")["kpi_id"].nunique(),
            "score": has.groupby("objective_id")["ca"].sum() / has.groupby("objective_id")["contribution"].sum(),
            "n_departments": serve.groupby("objective_id")["department_id"].nunique(),
            "n_against": lk[lk["contribution"] < 0].groupby("objective_id")["kpi_id"].nunique(),
        }
    )
    depts = serve.groupby("objective_id")["department_id"].agg(cast(Any, lambda s: sorted(set(int(v) for v in s))))
    out = obj.join(g, on="objective_id")
    for col in ("n_kpis", "n_with_data", "n_departments", "n_against"):
        out[col] = out[col].fillna(0).astype("int64")
    out["departments"] = out["objective_id"].map(depts).apply(lambda v: v if isinstance(v, list) else [])
    out["gap"] = out["n_kpis"] == 0
    out["conflict"] = (out["n_kpis"] > 0) & (out["n_against"] > 0)
    return out


# -------------------------------------------------------------------------------- trends


def wide(frame: pd.DataFrame, *, index: str, columns: str, values: str) -> pd.DataFrame:
    """The mean of ``values`` per ``index`` x ``columns`` (NaN where a pair has no value), by a
    groupby and an unstack: what ``pivot_table(..., dropna=False)`` gives, but only with the rows
    and columns that occur, in about a fifth of the time. Callers reindex to the rows and columns
    they need (the scorecard's trend matrices)."""
    return frame.groupby([index, columns])[values].mean().unstack(columns)


def trend_table(series: pd.DataFrame, *, alpha: float = 0.05, polarity: Any = "higher") -> pd.DataFrame:
    """Mann-Kendall + Sen on every row of ``series`` (units x periods), BH across the rows.

    Returns the :func:`kpialign.core.stats.mann_kendall_batch` columns plus ``q`` (BH-adjusted p
    over this family), ``significant`` (q < alpha) and ``direction`` ("improving",
    "worsening", "no clear trend", "too few periods") from the polarity: a rising series is an
    improvement when higher is better, a worsening when lower is better.
    """
    if series.empty:
        return pd.DataFrame(columns=[*stats.TREND_FIELDS, "p_used", "q", "significant", "direction", "arrow"])
    res = stats.mann_kendall_batch(series, alpha=alpha)
    p = np.where(np.isnan(res["p_exact"]), res["p"], res["p_exact"])
    res["p_used"] = p
    res["q"] = stats.benjamini_hochberg(p)
    res["significant"] = res["q"] < alpha
    res["direction"] = trend_direction(
        res["slope"].to_numpy(float), polarity, res["n"].to_numpy(), res["s"].to_numpy(float)
    )
    res["arrow"] = [arrow(d, sig) for d, sig in zip(res["direction"], res["significant"], strict=True)]
    return res


def trend_direction(slope: Any, polarity: Any = "higher", n: Any = None, s: Any = None) -> np.ndarray:
    """Polarity-aware direction of a trend: "improving" / "worsening" / "no clear trend".

    The sign of Kendall's S (or of Sen's slope when S is not given) times +1 for "higher" and
    "range" (attainment series) and -1 for "lower"; fewer than 3 values: "too few periods".
    """
    slope = np.atleast_1d(np.asarray(slope, dtype=float))
    sign = np.sign(np.asarray(s, dtype=float)) if s is not None else np.sign(slope)
    pol = np.broadcast_to(np.asarray(polarity, dtype=object), slope.shape)
    sign = np.where(pol == "lower", -sign, sign)
    out = np.where(sign > 0, "improving", np.where(sign < 0, "worsening", "no clear trend")).astype(object)
    if n is not None:
        out = np.where(np.asarray(n) < 3, "too few periods", out).astype(object)
    return out


def arrow(direction: str, significant: bool) -> str:
    base = {"improving": "▲", "worsening": "▼"}.get(direction, "–")
    if base == "–":
        return base
    return base + ("*" if significant else "")


def trend_words(direction: str, p: float, q: float | None = None, n: int | None = None) -> str:
    """A trend result in words, e.g. "improving, p = 0.003 (0.012 after BH), 24 periods"."""
    if direction == "too few periods":
        return f"too few periods for a trend test ({n or 0} values)"
    text = direction if direction != "no clear trend" else "no clear trend"
    parts = [f"{text}, {p_phrase(p)}"]
    if q is not None and not math.isnan(q):
        parts.append(f"({p_phrase(q, 'q')} after BH)")
    if n is not None:
        parts.append(f"from {n} periods")
    return " ".join(parts)


def p_phrase(p: float, name: str = "p") -> str:
    """ "p = 0.003", "p < 0.001" or "p n/a"."""
    f = _fmt_p(p)
    return f"{name} {f}" if f.startswith("<") or f == "n/a" else f"{name} = {f}"


def _fmt_p(p: float) -> str:
    if p is None or math.isnan(p):
        return "n/a"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}"


# ------------------------------------------------------------------------ survey changes


def survey_changes(now: pd.DataFrame, before: pd.DataFrame, *, keys: list[str], alpha: float = 0.05) -> pd.DataFrame:
    """Wave-over-wave change per cell: Mann-Whitney U (rank-biserial) and % favourable
    (Newcombe interval, two-proportion test), both BH-corrected across all cells given.

    ``now`` / ``before``: ``keys`` + value (1..5) + count, for the cells that may be shown
    (the caller removes suppressed cells first). ``rank_biserial`` and ``fav_diff`` are
    positive when the newer wave answers higher.
    """
    cols = [
        *keys,
        "n_now",
        "n_before",
        "fav_now",
        "fav_before",
        "fav_diff",
        "fav_diff_low",
        "fav_diff_high",
        "rank_biserial",
        "p_mwu",
        "p_fav",
        "q_mwu",
        "q_fav",
        "significant",
    ]
    if now.empty or before.empty:
        return pd.DataFrame(columns=cols)
    a = _count_matrix(now, keys)
    b = _count_matrix(before, keys)
    common = a.index.intersection(b.index)
    av = a.loc[common].to_numpy()
    bv = b.loc[common].to_numpy()
    rows = []
    for i, key in enumerate(common):
        r = stats.compare_likert(av[i], bv[i])
        rows.append(
            (
                *(key if isinstance(key, tuple) else (key,)),
                r.n_a,
                r.n_b,
                r.fav_a,
                r.fav_b,
                r.fav_diff,
                r.fav_diff_low,
                r.fav_diff_high,
                r.rank_biserial,
                r.p_mwu,
                r.p_fav,
            )
        )
    out = pd.DataFrame(rows, columns=cols[:-3])
    out["q_mwu"] = stats.benjamini_hochberg(out["p_mwu"].to_numpy(float)) if len(out) else []
    out["q_fav"] = stats.benjamini_hochberg(out["p_fav"].to_numpy(float)) if len(out) else []
    out["significant"] = (out["q_mwu"] < alpha) | (out["q_fav"] < alpha)
    return out


def _count_matrix(counts: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    m = counts.groupby([*keys, "value"])["count"].sum().unstack("value", fill_value=0)
    return m.reindex(columns=range(1, 6), fill_value=0)


def reliability(items: pd.DataFrame) -> dict[str, float]:
    """Cronbach's alpha with its Feldt 95 % interval for a respondents x items table."""
    complete = int(items.dropna(axis=0, how="any").shape[0])
    if items.shape[1] < 2 or complete < 2:
        return {"alpha": math.nan, "low": math.nan, "high": math.nan, "n": complete, "items": int(items.shape[1])}
    a, (lo, hi) = stats.cronbach_alpha(items)
    return {"alpha": a, "low": lo, "high": hi, "n": complete, "items": int(items.shape[1])}


# --------------------------------------------------------------------------- sensitivity


def rank_bands(components: pd.DataFrame, settings: ScoringSettings | None = None) -> pd.DataFrame:
    """Seeded Monte Carlo over the weights: each unit's rank band and mean rank shift.

    ``components``: one row per unit with columns performance, understanding, coverage
    (NaN allowed: renormalised as in :func:`composite`). Weight draws come from a Dirichlet
    centred on the configured weights (concentration ``mc_concentration``; a zero weight
    stays zero). Rank 1 is the best; ties share the lower rank ("min"). Returns ``rank``
    (with the configured weights), ``rank_p05``, ``rank_p95``, ``rank_shift`` (mean |rank
    - rank with the configured weights|) and ``draws``. Only complete scores are ranked, among
    themselves: units without a score, and partial ones (a positively weighted component
    missing, see :func:`composite`), get NaN — they are "not ranked".
    """
    settings = settings or ScoringSettings()
    x = components[list(COMPONENTS)].to_numpy(float)
    w0 = settings.weights() / settings.weights().sum()
    rng = np.random.default_rng(settings.mc_seed)
    draws = np.zeros((settings.mc_draws, 3))
    pos = w0 > 0
    draws[:, pos] = rng.dirichlet(w0[pos] * settings.mc_concentration * pos.sum(), size=settings.mc_draws)
    base = _composite_matrix(x, w0[None, :], settings.composite)[:, 0]
    sims = _composite_matrix(x, draws, settings.composite)  # units x draws
    complete = ~(np.isnan(x) & (w0 > 0)[None, :]).any(axis=1)
    scored = ~np.isnan(base) & complete
    out = pd.DataFrame(index=components.index)
    for col in ("rank", "rank_p05", "rank_p95", "rank_shift"):
        out[col] = np.nan
    if scored.any():
        base_rank = _ranks(base[scored][:, None])[:, 0]
        sim_rank = _ranks(sims[scored])
        out.loc[scored, "rank"] = base_rank
        out.loc[scored, "rank_p05"] = np.percentile(sim_rank, 5, axis=1, method="lower")
        out.loc[scored, "rank_p95"] = np.percentile(sim_rank, 95, axis=1, method="higher")
        out.loc[scored, "rank_shift"] = np.abs(sim_rank - base_rank[:, None]).mean(axis=1)
    out["draws"] = settings.mc_draws
    return out


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Column-wise competition ranks (1 = highest score; ties share the best rank)."""
    return sps.rankdata(-scores, axis=0, method="min").astype(float)


# ------------------------------------------------------------------------------- quadrant

QUADRANTS = {
    (True, True): "aligned and delivering",
    (True, False): "understands but not delivering",
    (False, True): "delivering without line of sight",
    (False, False): "at risk",
}


def quadrant(performance: Any, understanding: Any, settings: ScoringSettings | None = None) -> np.ndarray:
    """The understanding-vs-performance quadrant of each unit (DESIGN Scoring 12).

    Units without P or with U suppressed/missing get "not enough data".
    """
    settings = settings or ScoringSettings()
    p = np.asarray(performance, dtype=float)
    u = np.asarray(understanding, dtype=float)
    hi_u = u >= settings.quadrant_understanding
    hi_p = p >= settings.quadrant_performance
    out = np.empty(p.shape, dtype=object)
    for (a, b), label in QUADRANTS.items():
        out[(hi_u == a) & (hi_p == b)] = label
    out[np.isnan(p) | np.isnan(u)] = "not enough data"
    return out


# ----------------------------------------------------------------------------- correlation


@dataclass(frozen=True)
class CorrelationResult:
    """Pearson correlation across units with its Fisher-z 95 % interval and p-value."""

    r: float
    low: float
    high: float
    p: float
    n: int
    spearman: float
    what: str = field(default="")

    def describe(self) -> str:
        if self.n < 4 or math.isnan(self.r):
            return f"not enough departments with both figures (n = {self.n}; at least 4 needed)"
        return f"r = {self.r:.2f} (95 % interval {self.low:.2f} to {self.high:.2f}), {p_phrase(self.p)}, n = {self.n}"


def correlation_with_next(understanding: Any, next_performance: Any, *, what: str = "") -> CorrelationResult:
    """Correlation of understanding in a wave with performance in the following period."""
    u = np.asarray(understanding, dtype=float)
    p = np.asarray(next_performance, dtype=float)
    ok = ~np.isnan(u) & ~np.isnan(p)
    n = int(ok.sum())
    nan = math.nan
    if n < 4 or np.ptp(u[ok]) == 0 or np.ptp(p[ok]) == 0:
        return CorrelationResult(nan, nan, nan, nan, n, nan, what)
    res = sps.pearsonr(u[ok], p[ok])
    ci = res.confidence_interval(0.95)
    rho = float(sps.spearmanr(u[ok], p[ok]).statistic)
    return CorrelationResult(float(res.statistic), float(ci.low), float(ci.high), float(res.pvalue), n, rho, what)
