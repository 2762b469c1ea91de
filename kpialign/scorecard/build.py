"""Alignment scoring: attainment, performance, understanding, coverage, composite, roll-ups,
trends, survey changes, sensitivity and the gap quadrant (DESIGN.md, Scoring 1-12).

Pure functions over numpy arrays and pandas DataFrames, plus :class:`ScoringSettings`
(stored in the ``setting`` table) and :func:`build_scorecard`, the one function that
reads the repository queries of :mod:`kpialign.scorecard.queries` and runs the pure functions;
the Overview page and ``python -m kpialign scorecard`` both call it, so they show the same
numbers. Nothing here imports Streamlit.

Conventions used throughout:

* Scores P, U, C and attainment are shares 0..1; the alignment score A is 0..100.
* Scoring months are integers ``year * 12 + month - 1`` ("month index"). A monthly KPI's
  value counts in its month; a quarterly KPI's value counts in the quarter's last month
  and the two months after it (it is the latest complete quarter then).
* Missing data are NaN and are counted (``n_missing``), never imputed.
* Every result carries what it was computed from: numbers of KPIs, periods, respondents,
  and whether a survey figure was suppressed for privacy.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from kpialign.core import stats
from kpialign.core.errors import Refused

__all__ = [
    "COMPONENTS",
    "CorrelationResult",
    "ScorecardError",
    "ScoringSettings",
    "attainment",
    "composite",
    "correlation_with_next",
    "coverage",
    "department_performance",
    "headcount_rollup",
    "kpi_attainment",
    "load_settings",
    "month_index",
    "month_label",
    "objective_rollup",
    "quadrant",
    "rank_bands",
    "save_settings",
    "status",
    "survey_changes",
    "trend_direction",
    "trend_table",
    "understanding",
]

COMPONENTS = ("performance", "understanding", "coverage")
COMPONENT_LETTER = {"performance": "P", "understanding": "U", "coverage": "C"}


class ScorecardError(Refused):
    """Bad input to a scoring function or an invalid setting; the message says why."""


# ---------------------------------------------------------------------------- settings

SETTING_PREFIX = "scoring."


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
        return self

    def normalised_weights(self) -> dict[str, float]:
        w = self.weights()
        return dict(zip(COMPONENTS, (w / w.sum()).tolist(), strict=True))


_FIELD_TYPES = {f.name: f.type for f in fields(ScoringSettings)}


def _coerce(name: str, raw: Any) -> Any:
    kind = _FIELD_TYPES[name]
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
    unknown = set(values) - set(_FIELD_TYPES)
    if unknown:
        raise ScorecardError(f"Unknown scoring setting(s): {', '.join(sorted(unknown))}.")
    return ScoringSettings(**{k: _coerce(k, v) for k, v in values.items()}).validate()


def load_settings(session: Any) -> ScoringSettings:
    """The scoring settings stored in the ``setting`` table (``scoring.<field>``), over the defaults."""
    from sqlmodel import select

    from kpialign.models import Setting

    rows = session.exec(select(Setting).where(Setting.key.startswith(SETTING_PREFIX))).all()  # type: ignore[attr-defined]
    values: dict[str, Any] = {}
    for row in rows:
        name = row.key[len(SETTING_PREFIX) :]
        if name in _FIELD_TYPES:
            try:
                values[name] = json.loads(row.value)
            except json.JSONDecodeError as exc:
                raise ScorecardError(f"Setting {row.key} is not valid JSON.") from exc
    return settings_from_dict(values)


def save_settings(session: Any, settings: ScoringSettings, *, actor: str) -> ScoringSettings:
    """Store changed settings and audit the change (in the caller's write transaction)."""
    from sqlmodel import select

    from kpialign import audit
    from kpialign.models import Setting

    settings = replace(settings).validate()
    before = load_settings(session)
    old, new = asdict(before), asdict(settings)
    changed = {k: v for k, v in new.items() if old[k] != v}
    if not changed:
        return settings
    existing = {
        r.key: r
        for r in session.exec(
            select(Setting).where(Setting.key.in_([SETTING_PREFIX + k for k in changed]))  # type: ignore[attr-defined]
        ).all()
    }
    for name, value in changed.items():
        key = SETTING_PREFIX + name
        if key in existing:
            existing[key].value = json.dumps(value)
            session.add(existing[key])
        else:
            session.add(Setting(key=key, value=json.dumps(value)))
    audit.record(
        session,
        actor=actor,
        action="settings.update",
        entity="setting",
        entity_id="scoring",
        before={k: old[k] for k in changed},
        after=changed,
    )
    session.flush()
    return settings


# ------------------------------------------------------------------------------ periods


def month_index(period: Any) -> Any:
    """Month index ``year*12 + month-1`` of ``YYYY-MM``; a quarter ``YYYY-Qn`` maps to its last month.

    Works on one string or a pandas Series (vectorised).
    """
    if isinstance(period, str):
        return int(month_index(pd.Series([period]))[0])
    s = pd.Series(period, dtype="string")
    year = pd.to_numeric(s.str.slice(0, 4), errors="coerce")
    rest = s.str.slice(5)
    is_q = rest.str.upper().str.startswith("Q")
    num = pd.to_numeric(rest.str.upper().str.lstrip("Q"), errors="coerce")
    month = num.where(~is_q, num * 3)
    idx = year * 12 + month - 1
    if idx.isna().any():
        bad = s[idx.isna()].iloc[0]
        raise ScorecardError(f"{bad!r} is not a period: write YYYY-MM or YYYY-Qn.")
    return idx.astype("int64").to_numpy()


def month_label(idx: Any) -> Any:
    """``YYYY-MM`` for a month index (scalar or array)."""
    if np.ndim(idx) == 0:
        i = int(idx)
        return f"{i // 12:04d}-{i % 12 + 1:02d}"
    return [month_label(i) for i in np.asarray(idx)]


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
    args = dict(
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
    df["month"] = month_index(df["period"])
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
    weights renormalised; the result is then ``partial`` and ``missing`` names what is out.
    Returns columns ``alignment``, ``partial``, ``missing`` (e.g. "U"), ``n_components``.
    """
    settings = settings or ScoringSettings()
    method = method or settings.composite
    x = np.column_stack([np.asarray(v, dtype=float).ravel() for v in (performance, understanding, coverage)])
    scores = _composite_matrix(x, settings.weights()[None, :], method)[:, 0]
    have = ~np.isnan(x)
    letters = np.array(["P", "U", "C"])
    missing = ["".join(letters[~row]) for row in have]
    n_comp = have.sum(axis=1)
    return pd.DataFrame(
        {
            "alignment": scores,
            "partial": (n_comp < 3) & (n_comp > 0),
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
            departments=[[] for _ in range(len(obj))],
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
    depts = serve.groupby("objective_id")["department_id"].agg(lambda s: sorted(set(int(v) for v in s)))
    out = obj.join(g, on="objective_id")
    for col in ("n_kpis", "n_with_data", "n_departments", "n_against"):
        out[col] = out[col].fillna(0).astype("int64")
    out["departments"] = out["objective_id"].map(depts).apply(lambda v: v if isinstance(v, list) else [])
    out["gap"] = out["n_kpis"] == 0
    out["conflict"] = (out["n_kpis"] > 0) & (out["n_against"] > 0)
    return out


# -------------------------------------------------------------------------------- trends


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
    res["arrow"] = [_arrow(d, sig) for d, sig in zip(res["direction"], res["significant"], strict=True)]
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


def _arrow(direction: str, significant: bool) -> str:
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
    m = counts.pivot_table(index=keys, columns="value", values="count", aggfunc="sum", fill_value=0)
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
    - rank with the configured weights|) and ``draws``. Units without a score get NaN.
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
    scored = ~np.isnan(base)
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


# =========================================================================== the scorecard
#
# Everything below reads the repository (kpialign.scorecard.queries) once and runs the pure
# functions above. The Overview page and the CLI call build_scorecard / department_scorecard.


@dataclass(frozen=True)
class WaveRef:
    wave_id: int
    name: str
    status: str
    min_group: int
    closes_on: Any
    responses: int

    @property
    def k(self) -> int:
        from kpialign.core import privacy

        return privacy.effective_k(self.min_group)


@dataclass
class Scorecard:
    """The whole scorecard for one period and wave; every frame says what it was computed from."""

    settings: ScoringSettings
    period: str | None  # YYYY-MM
    month: int | None
    wave: WaveRef | None
    previous_wave: WaveRef | None
    waves: list[WaveRef]
    departments: pd.DataFrame  # one row per scored department (see department_scorecard)
    organisation: dict[str, Any]
    org_series: pd.DataFrame  # month, period, alignment, performance, understanding, coverage, units
    panel: pd.DataFrame  # department_id x month: performance, coverage, understanding (as of), alignment
    understanding: pd.DataFrame  # wave_id x department_id: U, interval, respondents, suppressed
    likert: pd.DataFrame  # shown cells only: wave_id, unit_id, unit_level, question_id, value, count
    kpis: pd.DataFrame  # one row per KPI: attainment in the period, trend, q over all KPIs
    attainment: pd.DataFrame  # long: kpi_id, period, month, actual, target, attainment, progress
    objectives: pd.DataFrame
    questions: pd.DataFrame
    changes: pd.DataFrame  # department x question: selected wave vs previous (shown cells only)
    correlation: CorrelationResult
    links: pd.DataFrame = field(default_factory=pd.DataFrame)  # kpi_id, objective_id, contribution (cascaded)
    expected: pd.DataFrame = field(default_factory=pd.DataFrame)  # department_id, objective_id
    division_of: dict[int, int] = field(default_factory=dict)  # department id -> division id
    division_names: dict[int, str] = field(default_factory=dict)
    division_respondents: pd.DataFrame = field(
        default_factory=pd.DataFrame
    )  # wave_id, division_id, respondents, suppressed
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.departments.empty


DEPARTMENT_COLUMNS = [
    "department_id",
    "department",
    "division",
    "headcount",
    "alignment",
    "status",
    "partial",
    "missing",
    "performance",
    "understanding",
    "u_low",
    "u_high",
    "coverage",
    "pick_share",
    "n_kpis",
    "n_with_data",
    "n_missing",
    "respondents",
    "u_suppressed",
    "n_expected",
    "n_covered",
    "trend",
    "trend_direction",
    "trend_p",
    "trend_q",
    "trend_significant",
    "trend_slope",
    "trend_n",
    "p_trend",
    "p_trend_q",
    "p_trend_p",
    "p_trend_direction",
    "u_trend",
    "u_trend_q",
    "u_trend_p",
    "u_trend_direction",
    "rank",
    "rank_p05",
    "rank_p95",
    "rank_shift",
    "quadrant",
    "period",
    "wave",
]


def _wave_refs(frame: pd.DataFrame) -> list[WaveRef]:
    return [
        WaveRef(int(r.wave_id), str(r.name), str(r.status), int(r.min_group), r.closes_on, int(r.responses))
        for r in frame.itertuples(index=False)
    ]


def _month_of_day(day: Any) -> int:
    return int(day.year) * 12 + int(day.month) - 1


def survey_suppression(respondents: pd.DataFrame, depts: pd.DataFrame, waves: list[WaveRef]) -> pd.DataFrame:
    """Which department and division cells of each wave may be shown (kpialign.core.privacy).

    Division totals and an organisation total are shown beside departments, so suppression is
    complementary within each division, then among divisions; a hidden division hides all of
    its departments. Returns wave_id, department_id, respondents, division_id, suppressed,
    division_suppressed.
    """
    from kpialign.core import privacy

    if respondents.empty:
        return respondents.assign(division_id=pd.Series(dtype="int64"), suppressed=True, division_suppressed=True)
    k_of = {w.wave_id: w.k for w in waves}
    cells = respondents.merge(depts[["department_id", "division_id"]], on="department_id")
    parts = []
    # One call per distinct k (usually one): sibling groups are (wave, division), then (wave).
    for k, grp in cells.groupby(cells["wave_id"].map(k_of).fillna(privacy.DEFAULT_K).astype(int)):
        grp = grp.assign(sib=grp["wave_id"].astype(str) + ":" + grp["division_id"].astype(str))
        grp = privacy.suppress_counts(grp, ["wave_id", "department_id"], "respondents", int(k), parent_col="sib")
        div = grp.groupby(["wave_id", "division_id"], as_index=False)["respondents"].sum()
        div = privacy.suppress_counts(div, ["wave_id", "division_id"], "respondents", int(k), parent_col="wave_id")
        hidden = div.loc[div["suppressed"], ["wave_id", "division_id"]].assign(division_suppressed=True)
        grp = grp.drop(columns="sib").merge(hidden, on=["wave_id", "division_id"], how="left")
        grp["division_suppressed"] = grp["division_suppressed"].fillna(False).astype(bool)
        grp["suppressed"] = grp["suppressed"] | grp["division_suppressed"]
        parts.append(grp)
    return pd.concat(parts, ignore_index=True)


def build_scorecard(
    session: Any, *, period: str | None = None, wave: str | None = None, settings: ScoringSettings | None = None
) -> Scorecard:
    """Read the repository and compute the full scorecard for ``period`` (YYYY-MM; default the
    latest month with data) and ``wave`` (a wave name; default the latest closed wave)."""
    from kpialign.scorecard import queries as data

    settings = settings or load_settings(session)
    depts_all = data.departments(session)
    kpis = data.kpis(session)
    waves_frame = data.waves(session)
    waves = _wave_refs(waves_frame)
    objectives = data.objectives(session)
    links = data.links(session)
    expected = data.expected(session)
    questions = data.questions(session)
    notes: list[str] = []

    # --- which units are scored: every active unit with its own people or KPIs, and every leaf
    # (a department with teams below it is scored on its own staff and KPIs; a division with
    # neither is only a roll-up). Headcount is each unit's own staff.
    own = (depts_all["headcount"] > 0) | depts_all["department_id"].isin(kpis["department_id"])
    depts = depts_all[depts_all["is_leaf"] | own].reset_index(drop=True)

    # --- KPI attainment in every period
    values = data.kpi_values(session)
    att = kpi_attainment(values, kpis, cap=settings.cap)
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
        month = int(month_index(period))
    period_label = month_label(month) if month is not None else None

    # --- waves: the selected one, the previous closed one, and which are closed
    wave_ref: WaveRef | None = None
    if wave is not None:
        match = [w for w in waves if w.name == wave]
        if not match:
            raise ScorecardError(f"There is no survey wave named {wave!r}.")
        wave_ref = match[0]
    else:
        closed = [w for w in waves if w.status == "closed"]
        if month is not None:
            closed_by = [w for w in closed if _month_of_day(w.closes_on) <= month]
            closed = closed_by or closed
        wave_ref = closed[-1] if closed else None
    prev_ref = None
    if wave_ref is not None:
        earlier = [w for w in waves if w.status == "closed" and w.closes_on < wave_ref.closes_on]
        prev_ref = earlier[-1] if earlier else None

    # --- survey aggregates (closed waves cached for good), suppression, understanding
    wanted = [w.wave_id for w in waves if w.status == "closed" or (wave_ref and w.wave_id == wave_ref.wave_id)]
    counts = data.survey_counts(session, waves=waves_frame, wave_ids=wanted)
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
    likert_shown = _shown_likert(counts.likert, sup, depts, waves)

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
    d = len(depts)
    for frame, q in ((a_tr, q_all[:d]), (p_tr, q_all[d : 2 * d]), (u_tr, q_all[2 * d :])):
        frame["q"] = q
        frame["significant"] = frame["q"] < settings.alpha
        frame["arrow"] = [_arrow(x, s) for x, s in zip(frame["direction"], frame["significant"], strict=True)]
    rows["trend"] = rows["department_id"].map(a_tr["arrow"])
    rows["trend_direction"] = rows["department_id"].map(a_tr["direction"])
    rows["trend_p"] = rows["department_id"].map(a_tr["p_used"])
    rows["trend_q"] = rows["department_id"].map(a_tr["q"])
    rows["trend_significant"] = rows["department_id"].map(a_tr["significant"]).fillna(False).astype(bool)
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
    rows = rows[DEPARTMENT_COLUMNS].sort_values(
        ["alignment", "department"], ascending=[False, True], na_position="last"
    )
    rows = rows.reset_index(drop=True)

    # --- organisation roll-up and its series
    org = {
        name: headcount_rollup(rows[name], rows["headcount"])
        for name in ("alignment", "performance", "understanding", "coverage")
    }
    org_series = _org_series(panel, depts)
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
        "headcount": int(depts["headcount"].sum()),
    }

    # --- KPIs: attainment now, trend over the window (BH across all KPIs), objectives
    kpi_rows = _kpi_rows(att, kpis, month, settings)
    att_now = kpi_rows[["kpi_id", "attainment"]]
    obj = objective_rollup(att_now, links, kpis, objectives)
    obj = objectives.merge(obj, on="objective_id", how="left")

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
        division_respondents=_division_respondents(sup),
        notes=notes,
    )


def _division_respondents(sup: pd.DataFrame) -> pd.DataFrame:
    if sup.empty:
        return pd.DataFrame(columns=["wave_id", "division_id", "respondents", "suppressed"])
    g = sup.groupby(["wave_id", "division_id"], as_index=False).agg(
        respondents=("respondents", "sum"), suppressed=("division_suppressed", "max")
    )
    return g


def check_division_filter(sc: Scorecard, wave_id: int, division_id: int) -> None:
    """Differencing guard for a division filter beside the organisation total (kpialign.core.privacy).

    Raises :class:`kpialign.core.privacy.DisclosureRefused` when the division itself is too small or
    hidden, or when the rest of the organisation outside it has 0 < n < k respondents.
    """
    from kpialign.core import privacy

    dr = sc.division_respondents
    w = dr[dr["wave_id"] == wave_id]
    k = next((x.k for x in sc.waves if x.wave_id == wave_id), privacy.DEFAULT_K)
    sel = w[w["division_id"] == division_id]
    name = sc.division_names.get(division_id, "this division")
    if sel.empty or bool(sel["suppressed"].iloc[0]):
        raise privacy.DisclosureRefused(f"No survey figures can be shown for {name} in this wave (too few responses).")
    privacy.check_filter(int(sel["respondents"].iloc[0]), int(w["respondents"].sum()), k, label=f"the filter {name}")


def _question_suppression(likert: pd.DataFrame, depts: pd.DataFrame, waves: list[WaveRef]) -> pd.DataFrame:
    """Per-question disclosure control: people may skip an item ("prefer not to say"), so a
    department shown by its respondents can still have fewer than k answers to one question.

    The same two-level complementary suppression as :func:`survey_suppression`, with each
    question's answer count as n: departments within their division, then divisions within
    the wave. Returns wave_id, question_id, department_id, q_suppressed, q_division_suppressed.
    """
    from kpialign.core import privacy

    cols = ["wave_id", "question_id", "department_id", "q_suppressed", "q_division_suppressed"]
    if likert.empty:
        return pd.DataFrame(columns=cols)
    k_of = {w.wave_id: w.k for w in waves}
    ans = likert.groupby(["wave_id", "question_id", "department_id"], as_index=False)["count"].sum()
    ans = ans.merge(depts[["department_id", "division_id"]], on="department_id")
    parts = []
    for k, grp in ans.groupby(ans["wave_id"].map(k_of).fillna(privacy.DEFAULT_K).astype(int)):
        key = ["wave_id", "question_id"]
        wq = grp["wave_id"].astype(str) + ":" + grp["question_id"].astype(str)  # column-wise: fast
        grp = grp.assign(sib=wq + ":" + grp["division_id"].astype(str))
        grp = privacy.suppress_counts(grp, [*key, "department_id"], "count", int(k), parent_col="sib")
        div = grp.groupby([*key, "division_id"], as_index=False)["count"].sum()
        div = div.assign(par=div["wave_id"].astype(str) + ":" + div["question_id"].astype(str))
        div = privacy.suppress_counts(div, [*key, "division_id"], "count", int(k), parent_col="par")
        hidden = div.loc[div["suppressed"], [*key, "division_id"]].assign(q_division_suppressed=True)
        grp = grp.merge(hidden, on=[*key, "division_id"], how="left")
        grp["q_division_suppressed"] = grp["q_division_suppressed"].fillna(False).astype(bool)
        grp["q_suppressed"] = grp["suppressed"] | grp["q_division_suppressed"]
        parts.append(grp[cols])
    return pd.concat(parts, ignore_index=True)


def _shown_likert(likert: pd.DataFrame, sup: pd.DataFrame, depts: pd.DataFrame, waves: list[WaveRef]) -> pd.DataFrame:
    """Likert counts of the cells that may be shown: departments, divisions, organisation.

    A cell is shown only when both the respondent-level suppression (``sup``) and the
    per-question suppression allow it, so no cell rests on fewer than k answers and no hidden
    cell can be recovered by subtraction from a shown total.
    """
    cols = ["wave_id", "unit_id", "unit_level", "question_id", "value", "count"]
    if likert.empty:
        return pd.DataFrame(columns=cols)
    lk = likert.merge(
        sup[["wave_id", "department_id", "division_id", "suppressed", "division_suppressed"]],
        on=["wave_id", "department_id"],
        how="inner",
    )
    lk = lk.merge(
        _question_suppression(likert, depts, waves), on=["wave_id", "question_id", "department_id"], how="left"
    )
    lk[["q_suppressed", "q_division_suppressed"]] = (
        lk[["q_suppressed", "q_division_suppressed"]].fillna(True).astype(bool)
    )
    dept = lk[~lk["suppressed"] & ~lk["q_suppressed"]].rename(columns={"department_id": "unit_id"})
    dept = dept.assign(unit_level="department")
    div = (
        lk[~lk["division_suppressed"] & ~lk["q_division_suppressed"]]
        .groupby(["wave_id", "division_id", "question_id", "value"], as_index=False)["count"]
        .sum()
    )
    div = div.rename(columns={"division_id": "unit_id"}).assign(unit_level="division")
    org = (
        lk.groupby(["wave_id", "question_id", "value"], as_index=False)["count"]
        .sum()
        .assign(unit_id=0, unit_level="organisation")
    )
    # The organisation total needs at least k respondents in the wave and k answers to the question.
    k_of = {w.wave_id: w.k for w in waves}
    tot = sup.groupby("wave_id")["respondents"].sum()
    answers = org.groupby(["wave_id", "question_id"])["count"].transform("sum")
    k_org = org["wave_id"].map(k_of).fillna(5)
    org = org[(org["wave_id"].map(tot).fillna(0) >= k_org) & (answers >= k_org)]
    return pd.concat([dept[cols], div[cols], org[cols]], ignore_index=True)


def _understanding_asof(u_all: pd.DataFrame, waves: list[WaveRef], months: np.ndarray) -> pd.DataFrame:
    """U of each department in each month: from the latest closed wave that closed by then."""
    closed = {w.wave_id: _month_of_day(w.closes_on) for w in waves if w.status == "closed"}
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
    mat = sub.pivot_table(index="department_id", columns="month", values=col, dropna=False)
    mat = mat.reindex(index=pd.Index(list(dept_ids), name="department_id"), columns=window)
    return trend_table(mat, alpha=settings.alpha)


def _wave_trend(
    u_all: pd.DataFrame, waves: list[WaveRef], wave_ref: WaveRef | None, dept_ids: Any, settings: ScoringSettings
) -> pd.DataFrame:
    order = [
        w.wave_id for w in waves if w.status == "closed" and (wave_ref is None or w.closes_on <= wave_ref.closes_on)
    ]
    order = order[-settings.trend_periods :]
    mat = u_all.pivot_table(index="department_id", columns="wave_id", values="understanding", dropna=False)
    mat = mat.reindex(index=pd.Index(list(dept_ids), name="department_id"), columns=order)
    return trend_table(mat, alpha=settings.alpha)


def _org_series(panel: pd.DataFrame, depts: pd.DataFrame) -> pd.DataFrame:
    p = panel.merge(depts[["department_id", "headcount"]], on="department_id")
    out = {"month": sorted(p["month"].unique())}
    frame = pd.DataFrame(out)
    for col in ("alignment", "performance", "understanding", "coverage"):
        ok = p[col].notna() & (p["headcount"] > 0)
        g = p[ok].assign(w=lambda d, c=col: d[c] * d["headcount"]).groupby("month")
        frame[col] = frame["month"].map(g["w"].sum() / g["headcount"].sum())
    frame["units"] = frame["month"].map(p[p["alignment"].notna()].groupby("month").size()).fillna(0).astype("int64")
    frame["period"] = month_label(frame["month"].to_numpy()) if len(frame) else []
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
            else _last_quarter_end(month) - ((_last_quarter_end(month) - lo) // 3) * 3,
            month + 1,
            step,
        )
        mat = sub.pivot_table(index="kpi_id", columns="month", values="progress", dropna=False)
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
        tr["trend"] = [_arrow(d, s) for d, s in zip(tr["direction"], tr["significant"], strict=True)]
        tr = tr.rename(columns={"p_used": "p", "p": "p_normal", "n": "n_periods"})
        out = out.merge(
            tr[["trend", "direction", "p", "q", "significant", "slope", "n_periods"]],
            left_on="kpi_id",
            right_index=True,
            how="left",
        )
    return out


def _last_quarter_end(month: int) -> int:
    """The month index of the last quarter end at or before ``month``."""
    return month - ((month % 12) + 1) % 3


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
        m0 = _month_of_day(w.closes_on)
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
                f"({month_label(m_lo)}" + (f" to {month_label(m_hi)})" if m_hi > m_lo else ")")
            ),
        )
        if res.n >= 4:
            return res
        best = best or res
    return best or CorrelationResult(math.nan, math.nan, math.nan, math.nan, 0, math.nan, "no data")


def department_scorecard(session: Any, period: str | None = None, wave: str | None = None) -> pd.DataFrame:
    """The department table of the Overview page and of ``python -m kpialign scorecard``."""
    return build_scorecard(session, period=period, wave=wave).departments


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
        "" if math.isnan(lo) else (f"{int(lo)}" if lo == hi else f"{int(lo)}–{int(hi)}")
        for lo, hi in zip(d["rank_p05"].astype(float), d["rank_p95"].astype(float), strict=True)
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


def department_view(sc: Scorecard, department_id: int) -> DepartmentView:
    """The Department page: its KPIs with trends (BH across the tests shown on the page)."""
    rows = sc.departments[sc.departments["department_id"] == department_id]
    if rows.empty:
        raise ScorecardError("That department is not part of the scorecard.")
    row = rows.iloc[0]
    s = sc.settings
    kp = sc.kpis[sc.kpis["department_id"] == department_id].copy()
    month = sc.month
    att = sc.attainment[sc.attainment["kpi_id"].isin(kp["kpi_id"])]
    series_parts, sen, missing = [], {}, {}
    for k in kp.itertuples(index=False):
        periods = _window_periods(k.frequency, month, s.trend_periods) if month is not None else []
        have = att[att["kpi_id"] == k.kpi_id].set_index("period")
        frame = pd.DataFrame({"period": periods})
        frame["actual"] = frame["period"].map(have["actual"])
        frame["target"] = frame["period"].map(have["target"]).fillna(k.target)
        frame["kpi_id"] = k.kpi_id
        frame["date"] = (
            pd.to_datetime([_first_day(p) for p in periods]) if periods else pd.Series(dtype="datetime64[ns]")
        )
        series_parts.append(frame)
        missing[k.kpi_id] = frame.loc[frame["actual"].isna(), "period"].tolist()
        vals = frame["actual"].to_numpy(float)
        if np.isfinite(vals).sum() >= 3:
            r = stats.mann_kendall(vals, alpha=s.alpha)
            sen[k.kpi_id] = (r.slope, r.intercept)
    series = pd.concat(series_parts, ignore_index=True) if series_parts else pd.DataFrame()

    # The family on this page: the department's KPI tests and its P, U and A tests.
    comp = pd.DataFrame(
        {
            "what": ["Alignment score A", "Performance P", "Understanding U"],
            "p": [row["trend_p"], _p_of(sc, department_id, "performance"), _p_of(sc, department_id, "understanding")],
        }
    )
    p_all = np.concatenate([kp["p"].to_numpy(float) if "p" in kp else np.array([]), comp["p"].to_numpy(float)])
    q_all = stats.benjamini_hochberg(p_all) if len(p_all) else p_all
    kp["q_page"] = q_all[: len(kp)]
    kp["significant_page"] = kp["q_page"] < s.alpha
    comp["q"] = q_all[len(kp) :]
    comp["significant"] = comp["q"] < s.alpha
    comp["direction"] = [
        row["trend_direction"],
        _dir_of(sc, department_id, "performance"),
        _dir_of(sc, department_id, "understanding"),
    ]
    if "direction" in kp:
        kp["trend_page"] = [
            _arrow(d, bool(x))
            for d, x in zip(kp["direction"].fillna("no clear trend"), kp["significant_page"], strict=True)
        ]
        kp["words"] = [
            trend_words(d, p, q, int(n) if not pd.isna(n) else 0)
            for d, p, q, n in zip(
                kp["direction"].fillna("too few periods"), kp["p"], kp["q_page"], kp["n_periods"], strict=True
            )
        ]

    # Survey items: selected and previous wave, only cells that may be shown.
    lk = sc.likert[(sc.likert["unit_level"] == "department") & (sc.likert["unit_id"] == department_id)]
    names = {w.wave_id: w.name for w in sc.waves}
    ids = [w.wave_id for w in (sc.wave, sc.previous_wave) if w is not None]
    lk = lk[lk["wave_id"].isin(ids)].merge(sc.questions[["question_id", "code", "text"]], on="question_id")
    ch = sc.changes[sc.changes["department_id"] == department_id] if not sc.changes.empty else pd.DataFrame()
    if not ch.empty:
        # BH across this department's items only (the family shown on this page)
        ch = ch.assign(q_page=stats.benjamini_hochberg(ch["p_mwu"].to_numpy(float)))
        ch = ch.assign(significant_page=ch["q_page"] < s.alpha).merge(
            sc.questions[["question_id", "code", "text"]], on="question_id"
        )
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
    panel["period"] = month_label(panel["month"].to_numpy()) if len(panel) else []
    return DepartmentView(row, kp, series, sen, missing, comp, lk, ch, panel)


def _p_of(sc: Scorecard, dept: int, what: str) -> float:
    # p-values of the P and U trends are not kept per department on the row; recompute from q
    col = {"performance": "p_trend_p", "understanding": "u_trend_p"}[what]
    r = sc.departments.loc[sc.departments["department_id"] == dept]
    return float(r[col].iloc[0]) if col in r and len(r) else math.nan


def _dir_of(sc: Scorecard, dept: int, what: str) -> str:
    col = {"performance": "p_trend_direction", "understanding": "u_trend_direction"}[what]
    r = sc.departments.loc[sc.departments["department_id"] == dept]
    return str(r[col].iloc[0]) if col in r and len(r) else "no clear trend"


def _window_periods(frequency: str, month: int, n: int) -> list[str]:
    if frequency == "quarterly":
        end = _last_quarter_end(month)
        ends = range(end - 3 * (max(n // 3, 1) - 1), end + 1, 3)
        return [f"{m // 12:04d}-Q{(m % 12) // 3 + 1}" for m in ends]
    return [month_label(m) for m in range(month - n + 1, month + 1)]


def _first_day(period: str) -> str:
    if "Q" in period:
        year, q = period.split("-Q")
        return f"{year}-{3 * int(q) - 2:02d}-01"
    return period + "-01"


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
