"""Dimension scores, strengths and opportunities, and alpha per dimension, against independent references
(statsmodels for Wilson intervals, the two-proportion z-test and Benjamini-Hochberg; pingouin for alpha)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pingouin
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from kpialign.core import dimensions

QUESTIONS = pd.DataFrame(
    {
        "question_id": [1, 2, 3, 4, 5],
        "dimension": ["awareness", "awareness", "line_of_sight", "cross_team", ""],
        "kind": ["likert5", "likert5", "likert5", "likert5", "likert5"],
    }
)


def _counts(unit: int, per_question: dict[int, list[int]]) -> pd.DataFrame:
    rows = [
        {"unit": unit, "question_id": q, "value": v, "count": c}
        for q, counts in per_question.items()
        for v, c in enumerate(counts, start=1)
        if c
    ]
    return pd.DataFrame(rows)


def test_dimension_pools_its_items_and_uses_the_largest_item_count_as_n():
    counts = _counts(1, {1: [1, 2, 3, 10, 4], 2: [0, 2, 5, 8, 3], 3: [2, 2, 2, 2, 2], 5: [0, 0, 0, 9, 9]})
    out = dimensions.dimension_scores(counts, QUESTIONS, keys=["unit"]).set_index("dimension")
    assert set(out.index) == {"awareness", "line_of_sight"}  # an item without a dimension is left out
    aw = out.loc["awareness"]
    assert aw["items"] == 2 and aw["answers"] == 38 and aw["favourable"] == 25 and aw["n"] == 20
    assert aw["fav"] == pytest.approx(25 / 38)
    lo, hi = proportion_confint(round(25 / 38 * 20), 20, method="wilson")
    assert (aw["low"], aw["high"]) == pytest.approx((lo, hi))


def test_two_proportion_p_matches_statsmodels():
    for x1, n1, x2, n2 in [(30, 50, 200, 400), (5, 12, 80, 90), (10, 10, 9, 10)]:
        _, ref = proportions_ztest([x1, x2], [n1, n2])
        assert dimensions.two_proportion_p(x1 / n1, n1, x2 / n2, n2) == pytest.approx(ref)
    assert math.isnan(dimensions.two_proportion_p(0.5, 0, 0.4, 10))


def test_strengths_compare_with_the_rest_of_the_organisation_after_bh():
    unit = _counts(1, {1: [0, 0, 2, 20, 18], 3: [5, 10, 10, 10, 5], 4: [3, 5, 7, 10, 15]})
    rest = _counts(1, {1: [10, 30, 40, 60, 60], 3: [10, 20, 30, 80, 60], 4: [10, 20, 40, 60, 70]})
    org = pd.concat([unit, rest]).groupby(["question_id", "value"], as_index=False)["count"].sum()
    u = dimensions.dimension_scores(unit.drop(columns="unit"), QUESTIONS)
    o = dimensions.dimension_scores(org, QUESTIONS)
    res = dimensions.strengths_and_opportunities(u, o).set_index("dimension")
    assert res.loc["awareness", "label"] == "strength"
    assert res.loc["line_of_sight", "label"] == "opportunity"
    assert res.loc["cross_team", "label"] == ""
    ps = []
    for d, (fu, nu, fr, nr) in {
        "awareness": (38, 40, 120, 200),
        "line_of_sight": (15, 40, 140, 200),
        "cross_team": (25, 40, 130, 200),
    }.items():
        assert res.loc[d, "rest_fav"] == pytest.approx(fr / nr)
        _, p = proportions_ztest([fu, fr], [nu, nr])
        assert res.loc[d, "p"] == pytest.approx(p)
        ps.append((d, p))
    q = multipletests([p for _, p in ps], method="fdr_bh")[1]
    for (d, _), qq in zip(ps, q, strict=True):
        assert res.loc[d, "q"] == pytest.approx(qq)
    assert bool(res.loc["line_of_sight", "significant"])


def test_no_strength_is_named_when_every_dimension_is_below_the_organisation():
    u = pd.DataFrame(
        {"dimension": ["a", "b"], "answers": [10, 10], "favourable": [2, 3], "n": [10, 10], "fav": [0.2, 0.3]}
    )
    o = pd.DataFrame(
        {"dimension": ["a", "b"], "answers": [100, 100], "favourable": [60, 60], "n": [100, 100], "fav": [0.6, 0.6]}
    )
    res = dimensions.strengths_and_opportunities(u, o)
    assert list(res["label"]) == ["", "opportunity"]


def test_alpha_per_dimension_matches_pingouin_and_skips_single_item_dimensions():
    rng = np.random.default_rng(3)
    base = rng.integers(1, 6, size=60)
    items = pd.DataFrame(
        {
            "AW1": np.clip(base + rng.integers(-1, 2, 60), 1, 5),
            "AW2": np.clip(base + rng.integers(-1, 2, 60), 1, 5),
            "LS1": rng.integers(1, 6, 60),
        }
    ).astype(float)
    items.iloc[3, 1] = np.nan
    res = dimensions.dimension_alphas(items, {"AW1": "awareness", "AW2": "awareness", "LS1": "line_of_sight"})
    assert [r.dimension for r in res] == ["awareness"]
    ref, _ = pingouin.cronbach_alpha(items[["AW1", "AW2"]].dropna())
    assert res[0].alpha == pytest.approx(ref) and res[0].n == 59 and res[0].items == 2
    assert res[0].low < res[0].alpha < res[0].high
