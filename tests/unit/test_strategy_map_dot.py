"""The DOT writer escapes user text, and the strategy map's DOT says status and evidence in colour and words."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from kpialign import charts
from kpialign.core import dot

QUOTED = re.compile(r'"(?:[^"\\\n]|\\.)*"')
NASTY = 'Sales "EU" \\N\\G <b>bold</b> ];\n} digraph X { a -> b'


def _outside_quotes(text: str) -> str:
    return QUOTED.sub('""', text)


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash \\N", '"back\\\\slash \\\\N"'),
        ("two\nlines\r\nthree", '"two\\nlines\\nthree"'),
        ("bell\x07tab\x0b", '"belltab"'),
    ],
)
def test_quote_escapes_what_dot_would_interpret(raw, quoted):
    assert dot.quote(raw) == quoted


def test_labels_are_shortened_line_by_line_and_ids_come_only_from_integers():
    assert dot.label("a" * 100, "72% · green", max_len=12) == '"aaaaaaaaaaa…\\n72% · green"'
    assert dot.node_id("k", 12) == "k_12"
    with pytest.raises(ValueError):
        dot.node_id("k", "1; x")  # type: ignore[arg-type]


def _frames(name: str = "Leads"):
    objectives = pd.DataFrame(
        {"objective_id": [1], "code": ["O1"], "title": [NASTY], "score": [0.8], "status": ["green"]}
    )
    kpis = pd.DataFrame(
        {
            "kpi_id": [10, 11, 12, 13],
            "name": [name, "Conversions", "Complaints", "Freight"],
            "department_id": [1, 2, 3, 4],
            "department": [NASTY, "Sales", "Support", "Logistics"],
            "score": [80.0, 65.0, 40.0, np.nan],
            "status": ["green", "amber", "red", "no score"],
        }
    )
    serves = pd.DataFrame({"kpi_id": [10, 13], "objective_id": [1, 1], "contribution": [1.0, -0.4]})
    links = pd.DataFrame(
        {
            "driver_kpi_id": [10, 13, 11, 12],
            "outcome_kpi_id": [11, 12, 12, 10],
            "expected_lag": [2, 1, 0, 3],
            "evidence": ["supported", "opposite sign", "no evidence", "not enough data"],
            "in_cycle": [False, False, True, True],
        }
    )
    return objectives, kpis, serves, links


def test_user_text_cannot_escape_its_label():
    text = charts.strategy_map_dot(*_frames(NASTY))
    outside = _outside_quotes(text)
    assert "digraph X" not in outside and "<b>" not in outside and "EU" not in outside
    assert outside.count("{") == outside.count("}")
    assert outside.count("digraph") == 1  # ours; the others are inside escaped labels
    assert '\\"EU\\"' in text and "\\\\N\\\\G" in text  # quotes and Graphviz escapes neutralised


def test_status_and_evidence_are_shown_in_colour_and_in_words():
    text = charts.strategy_map_dot(*_frames())
    for status in ("green", "amber", "red"):
        assert charts.STATUS_FILL[status] in text and f"· {status}" in text
    assert "no data · no score" in text
    lines = {ln.split("[")[0].strip(): ln for ln in text.splitlines() if "->" in ln}
    assert "style=solid" in lines["k_10 -> k_11"] and "lag 2: supported" in lines["k_10 -> k_11"]
    assert "#c62828" in lines["k_13 -> k_12"] and "opposite sign" in lines["k_13 -> k_12"]
    assert "style=dashed" in lines["k_11 -> k_12"] and "(cycle)" in lines["k_11 -> k_12"]
    assert "style=dotted" in lines["k_12 -> k_10"]
    assert "pulls against" in lines["k_13 -> o_1"]
    assert text.count("subgraph cluster_d_") == 4  # one box per department
