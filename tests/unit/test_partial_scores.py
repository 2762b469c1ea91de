"""Partial scores (a weighted component missing, e.g. U hidden for privacy) are not ranked and are marked
everywhere: the demo's Legal (3 people, no U) once ranked first with A = 100."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pandas as pd
import pytest

from kpialign import db, exports
from kpialign.core import scoring
from kpialign.scorecard import build as scorecard
from kpialign.scorecard import views


@pytest.mark.parametrize("weights", [(0.4, 0.4, 0.2), (1, 0, 1), (0, 0, 1)])
def test_missing_names_each_weighted_component_a_row_lacks(weights) -> None:
    values = [np.nan, 0.0, 0.5]
    rows = np.array(list(itertools.product(values, repeat=3)))  # every mix of present and missing
    settings = scoring.ScoringSettings(
        weight_performance=weights[0], weight_understanding=weights[1], weight_coverage=weights[2]
    )
    a = scoring.composite(rows[:, 0], rows[:, 1], rows[:, 2], settings)
    expected = [
        "".join(name for name, value, w in zip("PUC", row, weights, strict=True) if np.isnan(value) and w > 0)
        for row in rows
    ]
    assert a["missing"].tolist() == expected
    assert a["partial"].tolist() == [m != "" and not np.isnan(s) for m, s in zip(expected, a["alignment"], strict=True)]


def test_a_partial_score_is_not_ranked_even_when_it_is_the_highest() -> None:
    comps = pd.DataFrame(
        {
            "performance": [1.0, 0.8, 0.6, 0.9],
            "understanding": [np.nan, 0.7, 0.5, 0.6],
            "coverage": [1.0, 0.9, 0.4, np.nan],
        }
    )
    a = scoring.composite(comps["performance"], comps["understanding"], comps["coverage"])
    assert a["partial"].tolist() == [True, False, False, True]
    assert a["alignment"][0] > a["alignment"][1]  # the partial unit has the highest A...
    bands = scoring.rank_bands(comps, scoring.ScoringSettings(mc_draws=50))
    assert bands["rank"].tolist()[1:3] == [1.0, 2.0]  # ...yet the complete ones are ranked 1 and 2
    assert bands.loc[[0, 3], ["rank", "rank_p05", "rank_p95", "rank_shift"]].isna().all().all()


def test_a_component_weighted_zero_never_makes_a_score_partial() -> None:
    settings = scoring.ScoringSettings(weight_coverage=0.0, mc_draws=20)
    a = scoring.composite([0.8, 0.7], [0.6, 0.9], [np.nan, 0.5], settings)
    assert a["partial"].tolist() == [False, False] and a["missing"].tolist() == ["", ""]
    bands = scoring.rank_bands(pd.DataFrame({"performance": [0.8, 0.7], "understanding": [0.6, 0.9],
                                             "coverage": [np.nan, 0.5]}), settings)  # fmt: skip
    assert sorted(bands["rank"].tolist()) == [1.0, 2.0]


def test_in_the_demo_partial_departments_are_listed_after_complete_ones_and_never_ranked(demo_engine) -> None:
    with db.read_session(demo_engine) as s:
        sc = scorecard.build_scorecard(s)
    d = sc.departments
    legal = d[d["department"] == "Legal"].iloc[0]
    assert bool(legal["partial"]) and "U" in legal["missing"] and pd.isna(legal["rank"])
    partial = d["partial"].astype(bool)
    assert d.loc[partial, "rank"].isna().all()
    ranks = sorted(d.loc[~partial & d["alignment"].notna(), "rank"].astype(int))
    assert ranks[0] == 1 and ranks[-1] <= len(ranks)
    assert not partial.iloc[: (~partial).sum()].any()  # complete scores come first
    table = views.scorecard_table(d).set_index("department")
    assert table.loc["Legal", "rank_band"] == "not ranked (partial)"
    assert table.loc["Legal", "partial"].startswith("no U")


def test_the_scorecard_export_marks_partial_scores_and_leaves_their_rank_empty(demo_engine) -> None:
    export = exports.build_export(demo_engine, kind="scorecard", actor="t", roles=exports.CLI_ROLES)
    df = pd.read_csv(io.BytesIO(export.data)).set_index("department")
    assert str(df.loc["Legal", "partial"]).lower() == "true"
    assert pd.isna(df.loc["Legal", "rank"])
