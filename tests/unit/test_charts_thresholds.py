"""Charts colour attainment by the configured status thresholds, not by fixed numbers."""

from __future__ import annotations

import pandas as pd

from kpialign import charts


def _domain(spec: dict) -> list:
    return spec["encoding"]["color"]["scale"]["domain"]


def test_objective_bars_use_the_thresholds_they_are_given():
    table = pd.DataFrame(
        {
            "code": ["O1", "O2"],
            "objective": ["Grow", "Save"],
            "score %": [82.0, None],
            "KPIs serving": [2, 0],
            "departments": ["Sales", ""],
        }
    )
    spec = charts.objective_bars(table, green=80, amber=50).to_dict()
    assert _domain(spec) == [0, 50, 80, 100]
    assert [r["code"] for r in spec["datasets"][spec["data"]["name"]]] == ["O1"]  # no score, no bar


def test_department_objective_heatmap_uses_the_thresholds_it_is_given():
    matrix = pd.DataFrame(
        {
            "department": ["Sales"],
            "objective": ["O1"],
            "title": ["Grow"],
            "score": [0.7],
            "kpis": [1],
            "expected": [True],
        }
    )
    spec = charts.dept_objective_heatmap(matrix, green=90, amber=65).to_dict()
    rect = spec["layer"][0]
    assert _domain(rect) == [0, 65, 90, 100]
