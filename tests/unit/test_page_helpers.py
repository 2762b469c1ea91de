"""The plain helpers behind the thin pages: table builders and chart specs, without a running page."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from kpialign import charts
from kpialign.services.kpi_templates import TEMPLATES
from kpialign.ui import department_ui, kpi_data_ui, strategy_forms, users_ui


def test_a_range_kpi_shows_its_target_range_and_a_kpi_without_a_target_a_blank():
    kp = pd.DataFrame(
        {
            "name": ["Temperature", "Sales", "Churn"],
            "unit": ["°C", "k€", "%"],
            "polarity": ["range", "higher", "lower"],
            "period_used": ["2026-10"] * 3,
            "actual": [21.0, 900.0, np.nan],
            "target_used": [np.nan, 1000.0, np.nan],
            "range_low": [19.5, np.nan, np.nan],
            "range_high": [22.0, np.nan, np.nan],
            "attainment": [1.0, 0.9012, np.nan],
        }
    )
    table = department_ui.kpi_table(kp)
    assert table["target"].tolist() == ["19.5 to 22", "1000", ""]
    assert table["attainment %"].tolist()[:2] == [100.0, 90.1]
    assert table["trend"].tolist() == ["–"] * 3  # no trend column yet: a dash, not an error


def test_survey_changes_are_shown_in_points_with_their_interval():
    ch = pd.DataFrame(
        {
            "code": ["LS1"], "text": ["I know our objectives"], "fav_now": [0.62], "fav_before": [0.5],
            "fav_diff": [0.12], "fav_diff_low": [-0.031], "fav_diff_high": [0.254], "q_page": [0.04321],
            "significant_page": [True],
        }
    )  # fmt: skip
    row = department_ui.changes_table(ch).iloc[0]
    assert (row["change (points)"], row["95 % interval"], row["q (BH)"]) == (12.0, "-3.1 to +25.4", 0.043)


def test_missing_kpi_periods_are_marked_per_kpi_and_complete_period():
    kpis = pd.DataFrame({"name": ["Sales", "NPS"], "frequency": ["monthly", "quarterly"]})
    missing = pd.DataFrame({"kpi": ["Sales", "NPS"], "period": ["2026-02", "2026-Q1"]})
    status = kpi_data_ui.period_status(kpis, missing, date(2026, 1, 1), date(2026, 3, 31))
    got = {(k, p): s for k, p, s in zip(status["kpi"], status["period"], status["status"], strict=True)}
    assert got == {
        ("Sales", "2026-01"): "entered",
        ("Sales", "2026-02"): "missing",
        ("Sales", "2026-03"): "entered",
        ("NPS", "2026-Q1"): "missing",
    }


def test_a_kpi_template_fills_the_form_but_leaves_the_department_to_choose():
    template = next(t for t in TEMPLATES if t.key == "on_time_delivery")
    start = strategy_forms.template_start(template)
    assert (start.department_id, start.name, start.unit, start.polarity) == (0, template.name, "%", template.polarity)
    blank = strategy_forms.template_start(None)
    assert (blank.name, blank.polarity, blank.frequency) == ("", "higher", "monthly")


def test_roles_are_listed_by_their_labels():
    assert users_ui.roles_text("kpi_owner, hr") == "KPI owner, HR"
    assert users_ui.roles_text("") == ""


def test_the_alignment_heatmap_colours_every_cell_state_and_keeps_the_objectives_order():
    cells = pd.DataFrame(
        {
            "objective_code": ["O2", "O1"], "objective": ["Save", "Grow"], "department": ["Sales", "Sales"],
            "status": ["missing", "served"], "kpis": [0, 2], "pulling": [0, 0], "net_contribution": [0.0, 1.5],
            "kpi_names": ["", "A, B"],
        }
    )  # fmt: skip
    objectives = pd.DataFrame({"code": ["O1", "O2"], "title": ["Grow", "Save"]})
    spec = charts.alignment_heatmap(cells, objectives, departments=["Sales"]).to_dict()
    rect = spec["layer"][0]["encoding"]
    assert rect["color"]["scale"]["range"] == [c for _, c in charts.ALIGNMENT_STATUS.values()]
    assert rect["y"]["sort"] == ["O1  Grow", "O2  Save"]
    rows = spec["datasets"][spec["data"]["name"]]
    assert sorted(r["cell"] for r in rows) == ["2", "–"]


def test_participation_bars_and_missing_periods_keep_their_fixed_scales():
    shown = pd.DataFrame(
        {"department": ["Sales"], "invited": [10], "responded": [4], "rate": [0.4], "label": ["4 of 10 (40%)"]}
    )
    bars = charts.participation_bars(shown).to_dict()
    assert bars["layer"][0]["encoding"]["x"]["scale"]["domain"] == [0, 1]
    status = pd.DataFrame({"kpi": ["Sales", "NPS"], "period": ["2026-01"] * 2, "status": ["entered", "missing"]})
    cells = charts.missing_periods(status).to_dict()
    assert cells["encoding"]["color"]["scale"]["domain"] == ["entered", "missing"]
    assert cells["height"] == 30 * 2 + 110
