"""Objective weight is used: the organisation's objectives roll up, weighted by it (top level only)."""

from __future__ import annotations

import math

import pandas as pd
from sqlmodel import select

from kpialign import db
from kpialign.core import scoring
from kpialign.models import Objective
from kpialign.scorecard import build as scorecard


def test_top_level_objectives_are_weighted_by_their_weight_and_children_count_through_their_parent() -> None:
    obj = pd.DataFrame(
        {
            "objective_id": [1, 2, 3, 4, 5],
            "parent_id": [None, None, 1, None, None],
            "weight": [1.0, 0.5, 3.0, 2.0, 1.0],
            "score": [0.8, 0.4, 0.1, float("nan"), 0.6],
        }
    )
    out = scoring.objectives_overall(obj)
    expected = (1.0 * 0.8 + 0.5 * 0.4 + 1.0 * 0.6) / (1.0 + 0.5 + 1.0)  # 3 is a child, 4 has no data
    assert math.isclose(out["value"], expected)
    assert (out["objectives"], out["without_data"]) == (3, 1)
    assert math.isclose(sum(out["weights"].values()), 1.0, abs_tol=1e-3)
    assert math.isnan(scoring.objectives_overall(obj.assign(score=float("nan")))["value"])


def test_changing_an_objectives_weight_moves_the_organisations_objective_roll_up(demo_copy_url) -> None:
    engine = db.make_engine(demo_copy_url)
    try:
        with db.read_session(engine) as s:
            before = scorecard.build_scorecard(s)
        top = before.objectives[before.objectives["parent_id"].isna() & before.objectives["score"].notna()]
        best = top.sort_values("score").iloc[-1]
        with db.write_session(engine) as s:
            row = s.exec(select(Objective).where(Objective.id == int(best["objective_id"]))).one()
            row.weight = 10.0
            s.add(row)
        with db.read_session(engine) as s:
            after = scorecard.build_scorecard(s)
    finally:
        engine.dispose()
    b, a = before.organisation["objectives"], after.organisation["objectives"]
    assert b["objectives"] == a["objectives"] >= 3
    assert a["value"] > b["value"]  # more weight on the best objective lifts the whole
    shares = top.assign(weight=lambda d: d["weight"].where(d["objective_id"] != best["objective_id"], 10.0))
    reference = float((shares["weight"] * shares["score"]).sum() / shares["weight"].sum())
    assert math.isclose(a["value"], reference, rel_tol=1e-9)
