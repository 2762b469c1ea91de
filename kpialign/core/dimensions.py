"""Line-of-sight dimension scores: % favourable per unit, reliability per dimension, strengths.

Pure functions over aggregated counts (never one row per respondent, except for Cronbach's
alpha, which needs a respondents x items table without identity). They do no disclosure
control themselves: callers pass only cells that :mod:`kpialign.core.privacy` lets them show
(the scorecard's ``likert`` frame holds exactly those).

Conventions:

- An answer is *favourable* when it is 4 or 5 on the 5-point scale, after reverse-worded items
  are flipped (the scorecard's counts are flipped already).
- A dimension's % favourable pools the answers to all its Likert items. Its Wilson 95 %
  interval takes n = the number of people who answered the dimension, estimated as the largest
  answer count of any of its items: one person's answers to two items are not independent, so
  the number of answers would overstate the precision (the same convention as U).
- Strengths and opportunities compare a unit with *the rest of the organisation* (organisation
  minus the unit, so the two groups are independent) by a two-proportion z-test on the pooled
  proportions with those n, two-sided, without continuity correction; Benjamini-Hochberg across
  the unit's dimensions (the family shown together).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from kpialign.core import stats

FAVOURABLE_FROM = 4
DIMENSION_COLUMNS = ["dimension", "items", "answers", "favourable", "n", "fav", "low", "high"]


def dimension_scores(counts: pd.DataFrame, questions: pd.DataFrame, keys: Sequence[str] = ()) -> pd.DataFrame:
    """% favourable per ``keys`` x dimension with a Wilson 95 % interval.

    ``counts``: ``keys`` + question_id, value (1..5, reverse items flipped), count.
    ``questions``: question_id, dimension, kind; only ``likert5`` items with a dimension count.
    Returns ``keys`` + dimension, items, answers, favourable, n, fav, low, high.
    """
    keys = list(keys)
    cols = [*keys, *DIMENSION_COLUMNS]
    q = questions[(questions["kind"] == "likert5") & (questions["dimension"].fillna("") != "")]
    c = counts.merge(q[["question_id", "dimension"]], on="question_id", how="inner")
    if c.empty:
        return pd.DataFrame(columns=cols)
    c = c.assign(fav=np.where(c["value"] >= FAVOURABLE_FROM, c["count"], 0))
    per_item = c.groupby([*keys, "dimension", "question_id"], as_index=False).agg(
        answers=("count", "sum"), favourable=("fav", "sum")
    )
    out = per_item.groupby([*keys, "dimension"], as_index=False).agg(
        items=("question_id", "nunique"),
        answers=("answers", "sum"),
        favourable=("favourable", "sum"),
        n=("answers", "max"),
    )
    out["fav"] = out["favourable"] / out["answers"]
    lows, highs = [], []
    for fav, n in zip(out["fav"].to_numpy(float), out["n"].to_numpy("int64"), strict=True):
        lo, hi = stats.wilson_interval(round(float(fav) * int(n)), int(n)) if n > 0 else (math.nan, math.nan)
        lows.append(lo)
        highs.append(hi)
    out["low"], out["high"] = lows, highs
    return out[cols].reset_index(drop=True)


def two_proportion_p(f1: float, n1: int, f2: float, n2: int) -> float:
    """Two-sided p of the pooled two-proportion z-test (no continuity correction); NaN if undefined."""
    if n1 <= 0 or n2 <= 0 or math.isnan(f1) or math.isnan(f2):
        return math.nan
    pooled = (f1 * n1 + f2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return float(2.0 * special.ndtr(-abs((f1 - f2) / se)))


def strengths_and_opportunities(unit: pd.DataFrame, organisation: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Each dimension of a unit against the rest of the organisation, BH across the dimensions.

    ``unit`` and ``organisation``: rows of :func:`dimension_scores` (no keys) for the unit and
    for the whole organisation (which includes the unit). Returns dimension, fav, org_fav,
    rest_fav, diff (unit minus rest), p, q, significant, label: ``"strength"`` for the highest
    dimension relative to the organisation and ``"opportunity"`` for the lowest (only when the
    difference points that way), ``""`` otherwise. Sorted from strongest to weakest.
    """
    cols = ["dimension", "fav", "n", "org_fav", "rest_fav", "diff", "p", "q", "significant", "label"]
    m = unit.merge(organisation, on="dimension", suffixes=("", "_org"))
    if m.empty:
        return pd.DataFrame(columns=cols)
    rest_answers = m["answers_org"] - m["answers"]
    rest_fav_n = m["favourable_org"] - m["favourable"]
    m["rest_fav"] = np.where(rest_answers > 0, rest_fav_n / rest_answers.where(rest_answers > 0), np.nan)
    m["rest_n"] = (m["n_org"] - m["n"]).clip(lower=0)
    m["org_fav"] = m["fav_org"]
    m["diff"] = m["fav"] - m["rest_fav"]
    m["p"] = [
        two_proportion_p(f1, int(n1), f2, int(n2))
        for f1, n1, f2, n2 in zip(m["fav"], m["n"], m["rest_fav"], m["rest_n"], strict=True)
    ]
    m["q"] = stats.benjamini_hochberg(m["p"].to_numpy(float))
    m["significant"] = m["q"] < alpha
    m = m.sort_values(["diff", "dimension"], ascending=[False, True], na_position="last").reset_index(drop=True)
    m["label"] = ""
    valid = m["diff"].notna()
    if valid.any():
        top, bottom = m.index[valid][0], m.index[valid][-1]
        if m.loc[top, "diff"] > 0:
            m.loc[top, "label"] = "strength"
        if m.loc[bottom, "diff"] < 0 and bottom != top:
            m.loc[bottom, "label"] = "opportunity"
    return m[cols]


@dataclass(frozen=True, slots=True)
class DimensionAlpha:
    """Cronbach's alpha of one dimension (Feldt 95 % interval); NaN when it cannot be computed."""

    dimension: str
    items: int
    n: int  # complete respondents
    alpha: float
    low: float
    high: float


def dimension_alphas(items: pd.DataFrame, item_dimension: dict[str, str]) -> list[DimensionAlpha]:
    """Cronbach's alpha per dimension that has two or more items in ``items``.

    ``items``: respondents x item codes (reverse items flipped, no identity); ``item_dimension``:
    item code -> dimension. Listwise deletion within each dimension (see
    :func:`kpialign.core.stats.cronbach_alpha`).
    """
    out = []
    by_dim: dict[str, list[str]] = {}
    for code in items.columns:
        dim = item_dimension.get(str(code), "")
        if dim:
            by_dim.setdefault(dim, []).append(code)
    for dim in sorted(by_dim):
        codes = by_dim[dim]
        if len(codes) < 2:
            continue
        sub = items[codes]
        n = int(sub.dropna(axis=0, how="any").shape[0])
        a, (lo, hi) = stats.cronbach_alpha(sub)
        out.append(DimensionAlpha(dim, len(codes), n, a, lo, hi))
    return out
