"""Evidence for KPI links: series aligned on common periods (gaps explicit), the verdicts on the demo's
planted structure, the strategy map's filtering, conflicts and a committee's view."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kpialign import db
from kpialign.core import stats
from kpialign.scorecard import build
from kpialign.scorecard import links as links_read
from kpialign.services import kpi_links, strategy


def _s(periods, values) -> pd.Series:
    return pd.Series(values, index=periods, dtype=float)


def test_aligns_on_the_overlap_and_lists_every_gap_without_filling_it():
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    driver = _s(months, range(12)).drop("2025-05")
    outcome = _s(months[2:], range(10)).drop("2025-08")
    pair = links_read.align_pair(driver, outcome, driver_frequency="monthly", outcome_frequency="monthly")
    assert pair.periods == months[2:] and pair.frequency == "monthly"
    assert pair.missing == ["2025-05", "2025-08"]
    assert np.isnan(pair.driver[pair.periods.index("2025-05")]) and np.isnan(
        pair.outcome[pair.periods.index("2025-08")]
    )
    assert pair.n == 8
    assert pair.driver[0] == 2 and pair.outcome[0] == 0  # same period, not shifted


def test_a_monthly_kpi_linked_to_a_quarterly_one_is_averaged_to_full_quarters_only():
    months = [f"2025-{m:02d}" for m in range(1, 13)]
    monthly = _s(months, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]).drop("2025-08")
    quarterly = _s(["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"], [10, 20, 30, 40])
    pair = links_read.align_pair(monthly, quarterly, driver_frequency="monthly", outcome_frequency="quarterly")
    assert pair.frequency == "quarterly" and pair.periods == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    assert pair.driver[[0, 1, 3]].tolist() == [2.0, 5.0, 11.0] and np.isnan(pair.driver[2])
    assert pair.missing == ["2025-Q3"] and pair.n == 3


def test_series_that_do_not_overlap_give_nothing_to_test():
    a = _s(["2024-01", "2024-02"], [1, 2])
    b = _s(["2025-01", "2025-02"], [1, 2])
    pair = links_read.align_pair(a, b, driver_frequency="monthly", outcome_frequency="monthly")
    assert pair.periods == [] and pair.n == 0
    empty = links_read.align_pair(a, pd.Series(dtype=float), driver_frequency="monthly", outcome_frequency="monthly")
    assert empty.n == 0


# ------------------------------------------------------------------------ on the demo (both backends)


@pytest.fixture(scope="module")  # here: the demo is read-only, and the tests only read what this returns
def demo(demo_url):
    eng = db.make_engine(demo_url)
    with db.read_session(eng) as s:
        sc = build.build_scorecard(s)
        frame = kpi_links.links_frame(session=s)
        pulling = strategy.findings(session=s).conflicts
    eng.dispose()
    return sc, links_read.links_with_evidence(frame, sc), pulling


def _row(ev: pd.DataFrame, driver: str, outcome: str) -> pd.Series:
    return ev[(ev["driver"] == driver) & (ev["outcome"] == outcome)].iloc[0]


def test_the_demo_planted_lead_is_found_and_the_wrong_sign_is_called_out(demo):
    _sc, ev, _pulling = demo
    assert len(ev) == 12
    leads = _row(ev, "Marketing qualified leads", "Converted marketing leads")
    assert leads["evidence"] == "supported" and leads["verdict"] == "supported at lag 2" and leads["n"] == 24
    freight = _row(ev, "Freight cost per order", "Delivery complaints")
    assert freight["evidence"] == "opposite sign" and freight["best_ccf"] < 0
    quarterly = _row(ev, "First response time", "Net promoter score")
    assert quarterly["evidence"] == "not enough data" and quarterly["frequency"] == "quarterly"
    gaps = _row(ev, "Unplanned downtime", "On-time delivery")
    assert gaps["missing_periods"] == "2025-08, 2026-02" and gaps["n"] == 22
    assert set(ev["evidence"]) == {"supported", "opposite sign", "no evidence", "not enough data"}


def test_q_is_benjamini_hochberg_across_the_links_and_padding_changes_no_result(demo):
    from scipy.stats import false_discovery_control

    sc, ev, _pulling = demo
    tested = ev[ev["p"].notna()]
    assert np.allclose(tested["q"], false_discovery_control(tested["p"].to_numpy(float), method="bh"))
    # The batch pads shorter links with NaN; one link on its own gives the same figures.
    values = sc.attainment[["kpi_id", "period", "actual"]]
    row = _row(ev, "Marketing qualified leads", "Converted marketing leads")
    series = {k: g.set_index("period")["actual"] for k, g in values.groupby("kpi_id")}
    pair = links_read.align_pair(
        series[row["driver_kpi_id"]],
        series[row["outcome_kpi_id"]],
        driver_frequency="monthly",
        outcome_frequency="monthly",
    )
    alone = stats.lead_lag(pair.driver, pair.outcome, expected_lag=2)
    assert alone.p == pytest.approx(row["p"], rel=1e-12) and alone.f == pytest.approx(row["granger_f"], rel=1e-12)


def test_the_map_shows_the_chosen_objectives_kpis_and_their_link_partners_only(demo):
    sc, ev, _pulling = demo
    obj2 = int(sc.objectives.loc[sc.objectives["code"] == "OBJ2", "objective_id"].iloc[0])
    content = links_read.map_content(sc, ev, objective_ids=[obj2])
    serving = set(sc.links.loc[sc.links["direct"] & (sc.links["objective_id"] == obj2), "kpi_id"])
    shown = set(content.kpis["kpi_id"])
    assert serving <= shown and content.objectives["code"].tolist() == ["OBJ2"]
    partners = set(content.kpis.loc[content.kpis["kpi_id"].isin(shown - serving), "name"])
    assert partners == {"Unplanned downtime", "New bookings"}  # not on OBJ2, but linked to its KPIs
    assert set(content.links["driver_kpi_id"]) | set(content.links["outcome_kpi_id"]) <= shown
    assert set(content.kpis["status"]) <= {"green", "amber", "red", "no score"}
    cs = int(sc.departments.loc[sc.departments["department"] == "Customer Success", "department_id"].iloc[0])
    narrow = links_read.map_content(sc, ev, objective_ids=[obj2], department_ids=[cs])
    assert set(narrow.kpis["department"]) >= {"Customer Success"} and len(narrow.kpis) < len(content.kpis)
    capped = links_read.map_content(sc, ev, objective_ids=[obj2], department_ids=[cs], max_kpis=2)
    assert len(capped.kpis) == 2 and capped.hidden_kpis == len(narrow.kpis) - 2


def test_conflicts_of_all_three_kinds_name_the_departments_involved(demo):
    sc, ev, pulling = demo
    conf = links_read.conflicts(sc, pulling, ev)
    assert conf.pulling["kpi"].tolist() == ["Freight cost per order"]
    assert conf.opposite["driver"].tolist() == ["Freight cost per order"]
    assert not conf.diverging.empty
    series = links_read.objective_series(sc)
    for r in conf.diverging.itertuples(index=False):
        assert r.improving and r.worsening
        for dept in r.departments:  # each flagged department's own trend is significant on its own, too
            s = series[(series["objective_id"] == r.objective_id) & (series["department_id"] == dept)]
            assert stats.mann_kendall(s.sort_values("month")["progress"].to_numpy()).p < sc.settings.alpha
    names = dict(zip(sc.departments["department"], sc.departments["department_id"], strict=True))
    items = links_read.conflict_items(conf, names)
    assert set(items["kind"]) == {"pulls against", "opposite sign", "diverging trends"}
    assert all(len(ids) >= 2 for ids in items["department_ids"])


def test_a_committee_sees_its_departments_kpis_links_and_only_shown_closed_wave_cells(demo):
    sc, ev, pulling = demo
    ids = dict(zip(sc.departments["department"], sc.departments["department_id"], strict=True))
    depts = [ids[n] for n in ("Sales", "Marketing", "Customer Success", "Logistics", "Legal")]
    objs = sc.objectives.loc[sc.objectives["code"].isin(["OBJ1", "OBJ2"]), "objective_id"].astype(int).tolist()
    view = links_read.committee_view(sc, objective_ids=objs, department_ids=depts, evidence_links=ev, pulling=pulling)
    assert set(view.kpis["department_id"]) <= set(depts) and "Converted marketing leads" in set(view.kpis["name"])
    assert set(view.links["driver_department_id"]) | set(view.links["outcome_department_id"]) <= set(depts)
    assert "Unplanned downtime" not in set(view.links["driver"])  # Production is not on the committee
    assert view.wave == sc.wave.name and sc.wave.status == "closed"
    assert set(view.survey["item"]) == {"CT1", "CT2"}
    assert "Legal" not in set(view.survey["department"])  # 3 people: always below the threshold
    # % agree recomputed from the scorecard's shown cells for one department and item
    q = int(sc.questions.loc[sc.questions["code"] == "CT1", "question_id"].iloc[0])
    cells = sc.likert[
        (sc.likert["wave_id"] == sc.wave.wave_id)
        & (sc.likert["unit_level"] == "department")
        & (sc.likert["unit_id"] == ids["Sales"])
        & (sc.likert["question_id"] == q)
    ]
    expected = 100 * cells.loc[cells["value"] >= 4, "count"].sum() / cells["count"].sum()
    got = view.survey[(view.survey["department"] == "Sales") & (view.survey["item"] == "CT1")]["favourable_pct"]
    assert got.iloc[0] == pytest.approx(expected)


def test_aligning_all_links_at_once_gives_what_each_pair_gives_alone():
    rng = np.random.default_rng(5)
    months = [f"{2022 + i // 12}-{i % 12 + 1:02d}" for i in range(40)]
    quarters = [f"{2022 + i // 4}-Q{i % 4 + 1}" for i in range(14)]
    rows, freq = [], {}
    for k in range(12):
        monthly = k % 3 != 0
        periods = months if monthly else quarters
        start, stop = rng.integers(0, 6), len(periods) - rng.integers(0, 6)
        freq[k] = "monthly" if monthly else "quarterly"
        for p in periods[start:stop]:
            if rng.random() > 0.1:
                rows.append((k, p, float(rng.normal())))
    values = pd.DataFrame(rows, columns=["kpi_id", "period", "actual"])
    kpis = pd.DataFrame({"kpi_id": list(freq), "frequency": list(freq.values())})
    pairs = [(a, b) for a in range(12) for b in range(12) if a != b]
    links = pd.DataFrame(pairs, columns=["driver_kpi_id", "outcome_kpi_id"])
    many = links_read.align_many(links, values, kpis)
    series = {k: g.set_index("period")["actual"] for k, g in values.groupby("kpi_id")}
    for (a, b), got in zip(pairs, many, strict=True):
        want = links_read.align_pair(series[a], series[b], driver_frequency=freq[a], outcome_frequency=freq[b])
        assert (got.frequency, got.periods, got.missing) == (want.frequency, want.periods, want.missing), (a, b)
        assert np.allclose(got.driver, want.driver, equal_nan=True) and np.allclose(
            got.outcome, want.outcome, equal_nan=True
        )
