"""Scoring formulas (DESIGN.md, Scoring 1-12) against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kpialign.core import periods, scoring, stats
from kpialign.core.scoring import ScoringSettings
from kpialign.scorecard import build as sc
from kpialign.services import settings

# ------------------------------------------------------------------------- attainment


class TestAttainment:
    def test_higher_with_baseline_interpolates(self):
        # baseline 50, target 100, actual 80 -> (80-50)/(100-50) = 0.6
        assert scoring.attainment(80, 100, baseline=50) == pytest.approx(0.6)

    def test_lower_with_baseline_interpolates_by_itself(self):
        # lower is better: baseline 20 days, target 10 days, actual 14 -> (14-20)/(10-20) = 0.6
        assert scoring.attainment(14, 10, baseline=20, polarity="lower") == pytest.approx(0.6)
        # worse than baseline -> 0
        assert scoring.attainment(25, 10, baseline=20, polarity="lower") == 0.0

    def test_cap(self):
        assert scoring.attainment(150, 100, baseline=50) == 1.0
        assert scoring.attainment(150, 100, baseline=50, cap=1.2) == pytest.approx(1.2)
        assert scoring.attainment(120, 100, baseline=50, cap=1.5) == pytest.approx(1.4)

    def test_no_baseline(self):
        assert scoring.attainment(80, 100) == pytest.approx(0.8)
        # lower: target / actual = 10 / 12.5 = 0.8
        assert scoring.attainment(12.5, 10, polarity="lower") == pytest.approx(0.8)
        # lower: reaching 0 beats any target
        assert scoring.attainment(0, 10, polarity="lower") == 1.0
        # higher with a zero target is meaningless -> missing, not 0
        assert math.isnan(scoring.attainment(5, 0))

    def test_range(self):
        # range 95..105 (width 10): inside 1, 100 -> 1; 90 -> 1 - 5/10 = 0.5; 112 -> 1 - 7/10 = 0.3; 120 -> 0
        got = scoring.attainment([100, 90, 112, 120, 80], None, polarity="range", range_low=95, range_high=105)
        assert got == pytest.approx([1.0, 0.5, 0.3, 0.0, 0.0])

    def test_missing_actual_or_target_is_nan(self):
        got = scoring.attainment([np.nan, 5.0], [10.0, np.nan])
        assert np.isnan(got).all()

    def test_vectorised_mixed_polarity(self):
        got = scoring.attainment(
            actual=[80, 14, 100],
            target=[100, 10, np.nan],
            baseline=[np.nan, 20, np.nan],
            polarity=["higher", "lower", "range"],
            range_low=[np.nan, np.nan, 90],
            range_high=[np.nan, np.nan, 110],
        )
        assert got == pytest.approx([0.8, 0.6, 1.0])

    def test_unclipped_progress(self):
        assert scoring.attainment(150, 100, baseline=50, clip=False) == pytest.approx(2.0)
        assert scoring.attainment(30, 100, baseline=50, clip=False) == pytest.approx(-0.4)

    def test_bad_polarity(self):
        with pytest.raises(scoring.ScorecardError):
            scoring.attainment(1, 1, polarity="sideways")


# ------------------------------------------------------------------------- performance


def _kpis(rows):
    cols = [
        "kpi_id",
        "department_id",
        "polarity",
        "baseline",
        "target",
        "range_low",
        "range_high",
        "frequency",
        "weight",
    ]
    return pd.DataFrame(rows, columns=cols)


def test_performance_weighted_and_missing_counted():
    kpis = _kpis(
        [
            (1, 10, "higher", None, 100.0, None, None, "monthly", 2.0),
            (2, 10, "higher", None, 100.0, None, None, "monthly", 1.0),
            (3, 10, "higher", None, 100.0, None, None, "monthly", 1.0),  # never has data
        ]
    )
    values = pd.DataFrame(
        {"kpi_id": [1, 2], "period": ["2025-01", "2025-01"], "actual": [90.0, 60.0], "target": [np.nan, np.nan]}
    )
    att = scoring.kpi_attainment(values, kpis)
    perf = scoring.department_performance(att, kpis, [periods.month_index("2025-01"), periods.month_index("2025-02")])
    jan = perf[perf["month"] == periods.month_index("2025-01")].iloc[0]
    # (2*0.9 + 1*0.6) / 3 = 0.8 -- KPI 3 is missing, not imputed as 0
    assert jan["performance"] == pytest.approx(0.8)
    assert (jan["n_kpis"], jan["n_with_data"], jan["n_missing"]) == (3, 2, 1)
    feb = perf[perf["month"] == periods.month_index("2025-02")].iloc[0]
    assert math.isnan(feb["performance"]) and feb["n_missing"] == 3


def test_period_target_overrides_default_and_quarterly_counts_three_months():
    kpis = _kpis(
        [
            (1, 10, "higher", None, 100.0, None, None, "monthly", 1.0),
            (2, 10, "lower", None, 10.0, None, None, "quarterly", 1.0),
        ]
    )
    values = pd.DataFrame(
        {"kpi_id": [1, 2], "period": ["2025-04", "2025-Q1"], "actual": [100.0, 20.0], "target": [200.0, np.nan]}
    )
    att = scoring.kpi_attainment(values, kpis)
    assert att.set_index("kpi_id")["attainment"].to_dict() == pytest.approx({1: 0.5, 2: 0.5})
    months = [periods.month_index(m) for m in ("2025-02", "2025-03", "2025-04", "2025-05", "2025-06")]
    perf = scoring.department_performance(att, kpis, months).set_index("month")
    # Q1 counts in March, April, May; April also has the monthly value.
    assert perf.loc[periods.month_index("2025-03"), "n_with_data"] == 1
    assert perf.loc[periods.month_index("2025-04"), "performance"] == pytest.approx(0.5)
    assert perf.loc[periods.month_index("2025-04"), "n_with_data"] == 2
    assert perf.loc[periods.month_index("2025-06"), "n_with_data"] == 0
    assert perf.loc[periods.month_index("2025-02"), "n_with_data"] == 0


# ------------------------------------------------------------------------- understanding


def test_understanding_counts_wilson_and_pick():
    counts = pd.DataFrame(
        {
            "wave_id": 1,
            "department_id": 10,
            "question_id": [1, 1, 1, 2, 2],
            "value": [2, 4, 5, 3, 4],
            "count": [2, 5, 3, 4, 6],
        }
    )
    resp = pd.DataFrame({"wave_id": [1], "department_id": [10], "respondents": [10]})
    picks = pd.DataFrame({"wave_id": [1], "department_id": [10], "answered": [8], "knows": [6]})
    u = scoring.understanding(counts, resp, picks).iloc[0]
    # favourable 5 + 3 + 6 = 14 of 20 answers -> 0.7; Wilson on 7 of 10 respondents
    assert u["understanding"] == pytest.approx(0.7)
    lo, hi = (0.39677, 0.89222)  # Wilson 95 % for 7/10 (hand: centre 0.6444, half-width 0.2477)
    assert u["u_low"] == pytest.approx(lo, abs=1e-4) and u["u_high"] == pytest.approx(hi, abs=1e-4)
    assert u["pick_share"] == pytest.approx(0.75)
    assert (u["answers"], u["favourable"], u["respondents"]) == (20, 14, 10)


# ------------------------------------------------------------------------------ coverage


def test_coverage_counts_expected_objectives_with_data():
    kpis = _kpis(
        [
            (1, 10, "higher", None, 100.0, None, None, "monthly", 1.0),
            (2, 10, "higher", None, 100.0, None, None, "monthly", 1.0),
            (3, 20, "higher", None, 100.0, None, None, "monthly", 1.0),
        ]
    )
    values = pd.DataFrame(
        {"kpi_id": [1, 2], "period": ["2025-01", "2025-02"], "actual": [50.0, 50.0], "target": np.nan}
    )
    att = scoring.kpi_attainment(values, kpis)
    links = pd.DataFrame({"kpi_id": [1, 2, 3], "objective_id": [100, 101, 100], "contribution": [1.0, -0.5, 1.0]})
    expected = pd.DataFrame({"department_id": [10, 10, 10], "objective_id": [100, 101, 102]})
    m1 = periods.month_index("2025-01")
    cov = scoring.coverage(att, links, expected, [10, 20], [m1, m1 + 1]).set_index(["department_id", "month"])
    # Jan: objective 100 served with data (KPI 1) -> 1 of 3
    assert cov.loc[(10, m1), "coverage"] == pytest.approx(1 / 3)
    # Feb: KPI 2 has data but pulls against 101 (negative) -> not coverage
    assert cov.loc[(10, m1 + 1), "coverage"] == 0.0
    # department 20 is expected to serve nothing -> not applicable
    assert math.isnan(cov.loc[(20, m1), "coverage"]) and cov.loc[(20, m1), "n_expected"] == 0


# ----------------------------------------------------------------------------- composite


def test_composite_linear():
    out = scoring.composite([0.8], [0.5], [1.0])
    # 100 * (0.4*0.8 + 0.4*0.5 + 0.2*1.0) = 72
    assert out.loc[0, "alignment"] == pytest.approx(72.0)
    assert not out.loc[0, "partial"] and out.loc[0, "missing"] == ""


def test_composite_suppressed_understanding_is_partial_with_renormalised_weights():
    out = scoring.composite([0.8], [np.nan], [1.0])
    # weights 0.4 and 0.2 renormalised: (0.4*0.8 + 0.2*1.0) / 0.6 = 0.8667
    assert out.loc[0, "alignment"] == pytest.approx(100 * (0.32 + 0.2) / 0.6)
    assert out.loc[0, "partial"] and out.loc[0, "missing"] == "U"
    assert out.loc[0, "n_components"] == 2


def test_composite_nothing_is_nan():
    out = scoring.composite([np.nan], [np.nan], [np.nan])
    assert math.isnan(out.loc[0, "alignment"]) and not out.loc[0, "partial"]


def test_composite_geometric_penalises_imbalance():
    lin = scoring.composite([0.9, 0.6], [0.3, 0.6], [0.6, 0.6])
    geo = scoring.composite([0.9, 0.6], [0.3, 0.6], [0.6, 0.6], method="geometric")
    # balanced unit: same both ways
    assert geo.loc[1, "alignment"] == pytest.approx(60.0)
    assert lin.loc[1, "alignment"] == pytest.approx(60.0)
    # 100 * 0.9^0.4 * 0.3^0.4 * 0.6^0.2 = 100 * exp(0.4 ln .9 + 0.4 ln .3 + 0.2 ln .6)
    expected = 100 * math.exp(0.4 * math.log(0.9) + 0.4 * math.log(0.3) + 0.2 * math.log(0.6))
    assert geo.loc[0, "alignment"] == pytest.approx(expected)
    assert lin.loc[0, "alignment"] == pytest.approx(60.0)
    assert geo.loc[0, "alignment"] < lin.loc[0, "alignment"]
    assert scoring.composite([0.0], [0.9], [0.9], method="geometric").loc[0, "alignment"] == 0.0


def test_status_thresholds():
    assert list(scoring.status([75, 74.99, 60, 59.9, np.nan])) == ["green", "amber", "amber", "red", "no score"]
    custom = ScoringSettings(green=80, amber=50)
    assert list(scoring.status([79, 50, 49], custom)) == ["amber", "amber", "red"]


# ------------------------------------------------------------------------------ roll-ups


def test_headcount_rollup():
    r = scoring.headcount_rollup([80, 60, np.nan], [30, 10, 3])
    # (80*30 + 60*10) / 40 = 75; the 3-person unit without a score is not counted
    assert r["value"] == pytest.approx(75.0)
    assert (r["units"], r["units_total"], r["headcount"], r["headcount_total"]) == (2, 3, 40, 43)


def test_objective_rollup_contribution_weighted_with_gaps_and_conflicts():
    kpis = pd.DataFrame({"kpi_id": [1, 2, 3], "department_id": [10, 20, 20]})
    links = pd.DataFrame({"kpi_id": [1, 2, 3], "objective_id": [100, 100, 100], "contribution": [1.0, 0.5, -1.0]})
    objectives = pd.DataFrame({"objective_id": [100, 101]})
    att = pd.DataFrame({"kpi_id": [1, 2, 3], "attainment": [0.9, 0.6, 0.2]})
    out = scoring.objective_rollup(att, links, kpis, objectives).set_index("objective_id")
    # (1*0.9 + 0.5*0.6) / 1.5 = 0.8
    assert out.loc[100, "score"] == pytest.approx(0.8)
    assert out.loc[100, "n_kpis"] == 2 and out.loc[100, "n_against"] == 1 and out.loc[100, "conflict"]
    assert out.loc[100, "departments"] == [10, 20]
    assert out.loc[101, "gap"] and math.isnan(out.loc[101, "score"])


# -------------------------------------------------------------------------------- trends


def test_trend_directions_are_polarity_aware():
    assert list(scoring.trend_direction([1.0, -1.0, 0.0], "higher")) == ["improving", "worsening", "no clear trend"]
    assert list(scoring.trend_direction([1.0, -1.0], "lower")) == ["worsening", "improving"]
    assert list(scoring.trend_direction([1.0], "higher", n=[2])) == ["too few periods"]


def test_trend_table_bh_across_family():
    t = np.arange(12, dtype=float)
    series = pd.DataFrame(
        [t, -t, [5, 3, 6, 2, 7, 4, 5, 3, 6, 4, 5, 4], [1, 2, np.nan, np.nan, np.nan, np.nan] + [np.nan] * 6],
        index=["up", "down", "flat", "short"],
    )
    res = scoring.trend_table(series, alpha=0.05, polarity=["higher", "lower", "higher", "higher"])
    assert res.loc["up", "direction"] == "improving" and res.loc["up", "significant"]
    # falling values of a lower-is-better series improve
    assert res.loc["down", "direction"] == "improving" and res.loc["down", "arrow"] == "▲*"
    assert not res.loc["flat", "significant"]
    assert res.loc["short", "direction"] == "too few periods"
    # BH over the three tested series (n=12 has no exact p: normal p used)
    p = res["p_used"].to_numpy()
    expected_q = stats.benjamini_hochberg(p)
    np.testing.assert_allclose(res["q"].to_numpy(), expected_q)
    ok = ~np.isnan(p)
    m = ok.sum()
    order = np.argsort(p[ok])
    # the smallest p is multiplied by m/1, capped by the later ones
    assert res["q"].to_numpy()[ok][order][0] >= p[ok][order][0]
    assert m == 3


# ------------------------------------------------------------------------ survey changes


def test_survey_changes_match_compare_likert_and_bh():
    now = pd.DataFrame(
        {"d": [1] * 5 + [2] * 5, "value": list(range(1, 6)) * 2, "count": [0, 1, 2, 10, 12, 3, 3, 3, 3, 3]}
    )
    before = pd.DataFrame(
        {"d": [1] * 5 + [2] * 5, "value": list(range(1, 6)) * 2, "count": [4, 6, 5, 5, 2, 3, 3, 3, 3, 3]}
    )
    out = scoring.survey_changes(now, before, keys=["d"]).set_index("d")
    r = stats.compare_likert([0, 1, 2, 10, 12], [4, 6, 5, 5, 2])
    assert out.loc[1, "p_mwu"] == pytest.approx(r.p_mwu)
    assert out.loc[1, "fav_diff"] == pytest.approx(22 / 25 - 7 / 22)
    assert out.loc[1, "q_mwu"] == pytest.approx(min(1.0, r.p_mwu * 2 / 1), rel=1e-9) or out.loc[1, "q_mwu"] >= r.p_mwu
    assert out.loc[1, "significant"] and not out.loc[2, "significant"]
    assert out.loc[2, "fav_diff"] == 0.0


# ----------------------------------------------------------------------------- sensitivity


def test_rank_bands_seeded_and_reproducible():
    comps = pd.DataFrame(
        {
            "performance": [0.9, 0.5, 0.7, 0.72, np.nan],
            "understanding": [0.9, 0.5, 0.72, 0.7, np.nan],
            "coverage": [1.0, 0.5, 0.7, 0.7, np.nan],
        }
    )
    s = ScoringSettings(mc_draws=500, mc_seed=3)
    a = scoring.rank_bands(comps, s)
    b = scoring.rank_bands(comps, s)
    pd.testing.assert_frame_equal(a, b)
    # clear leader and laggard never move; the near-tie swaps places
    assert (a.loc[0, "rank"], a.loc[0, "rank_p05"], a.loc[0, "rank_p95"]) == (1, 1, 1)
    assert (a.loc[1, "rank_p05"], a.loc[1, "rank_p95"]) == (4, 4)
    # units 2 and 3 tie at the configured weights (both rank 2) and swap under other weights
    assert a.loc[2, "rank"] == a.loc[3, "rank"] == 2
    assert (a.loc[2, "rank_p05"], a.loc[2, "rank_p95"]) == (2, 3) == (a.loc[3, "rank_p05"], a.loc[3, "rank_p95"])
    assert a.loc[0, "rank_shift"] == 0 and a.loc[2, "rank_shift"] > 0
    assert math.isnan(a.loc[4, "rank"])
    c = scoring.rank_bands(comps, ScoringSettings(mc_draws=500, mc_seed=4))
    assert not np.allclose(a["rank_shift"].to_numpy()[:4], c["rank_shift"].to_numpy()[:4])


# ------------------------------------------------------------------------------- quadrant


def test_quadrant():
    got = scoring.quadrant([0.9, 0.5, 0.9, 0.5, np.nan, 0.9], [0.7, 0.7, 0.4, 0.4, 0.7, np.nan])
    assert list(got) == [
        "aligned and delivering",
        "understands but not delivering",
        "delivering without line of sight",
        "at risk",
        "not enough data",
        "not enough data",
    ]


# ---------------------------------------------------------------------------- correlation


def test_correlation_with_n_and_interval():
    u = [0.2, 0.4, 0.5, 0.7, 0.9, np.nan]
    p = [0.3, 0.5, 0.4, 0.8, 0.9, 0.5]
    r = scoring.correlation_with_next(u, p)
    assert r.n == 5
    x, y = np.array(u[:5]), np.array(p[:5])
    hand = np.corrcoef(x, y)[0, 1]
    assert r.r == pytest.approx(hand)
    z, se = math.atanh(hand), 1 / math.sqrt(5 - 3)
    assert r.low == pytest.approx(math.tanh(z - 1.959964 * se), abs=1e-5)
    assert r.high == pytest.approx(math.tanh(z + 1.959964 * se), abs=1e-5)
    assert "n = 5" in r.describe()
    few = scoring.correlation_with_next([0.1, 0.2], [0.3, 0.4])
    assert few.n == 2 and math.isnan(few.r) and "not enough" in few.describe()


# ------------------------------------------------------------------------------ settings


def test_settings_validation():
    with pytest.raises(scoring.ScorecardError):
        ScoringSettings(weight_performance=-1).validate()
    with pytest.raises(scoring.ScorecardError):
        ScoringSettings(green=50, amber=60).validate()
    with pytest.raises(scoring.ScorecardError):
        ScoringSettings(cap=0.5).validate()
    with pytest.raises(scoring.ScorecardError):
        scoring.settings_from_dict({"nonsense": 1})
    assert ScoringSettings().normalised_weights() == pytest.approx(
        {"performance": 0.4, "understanding": 0.4, "coverage": 0.2}
    )


def test_settings_round_trip_is_audited(engine):
    from sqlmodel import select

    from kpialign import db
    from kpialign.models import AuditEvent

    with db.read_session(engine) as session:
        assert settings.load_settings(session=session) == ScoringSettings()
    with db.write_session(engine) as session:
        settings.save_settings(
            session=session, settings=ScoringSettings(weight_coverage=0.3, green=80.0), actor="admin@example.org"
        )
    with db.read_session(engine) as session:
        got = settings.load_settings(session=session)
        assert got.weight_coverage == 0.3 and got.green == 80.0 and got.amber == 60.0
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "settings.update")).all()
        assert len(events) == 1 and '"green": 80.0' in events[0].detail
    with db.write_session(engine) as session:  # saving the same again changes nothing
        settings.save_settings(session=session, settings=got, actor="admin@example.org")
    with db.read_session(engine) as session:
        assert len(session.exec(select(AuditEvent).where(AuditEvent.action == "settings.update")).all()) == 1


# ------------------------------------------------------------- per-question suppression


def test_an_organisation_with_survey_results_but_no_kpi_values_still_gets_a_scorecard(demo_copy_url):
    """Right after a directory import and a first survey, no KPI has a value yet: the scorecard
    shows U (partial scores, not ranked) instead of failing in the trend step."""
    from sqlalchemy import text

    from kpialign import db

    engine = db.make_engine(demo_copy_url)
    try:
        with db.write_session(engine) as session:
            session.execute(text("DELETE FROM kpi_checkin"))
            session.execute(text("DELETE FROM kpi_value"))
        with db.read_session(engine) as session:
            card = sc.build_scorecard(session)
        table = card.departments
        assert len(table) > 0
        assert table["performance"].isna().all()
        assert table["understanding"].notna().any()
    finally:
        engine.dispose()
