"""The Department and Survey results pages' shared caches: one entry per data version, filters and
scope, never one scope's figures for another, and a warm rerun builds no chart.

The caches (``st.cache_data``) live in the process, so the AppTest runs below share them the
way the sessions of one server do.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from kpialign import charts, db
from kpialign.core.scoring import ScoringError
from kpialign.demo.seed import DEMO_ACCOUNTS
from kpialign.scorecard import review_brief
from kpialign.services import measurements
from kpialign.ui import department_ui, reviews_ui, scorecard_ui
from kpialign.ui import survey_results_ui as sr
from tests.app.conftest import TIMEOUT, account_id, leader_and_manager

ROOT = Path(__file__).resolve().parents[2]
COMMERCIAL = {"Sales", "Marketing", "Customer Success"}


def _page(url: str, who: str, page: str, monkeypatch) -> AppTest:
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", url)
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=TIMEOUT)
    at.session_state["auth.account_id"] = account_id(url, DEMO_ACCOUNTS.get(who, who))
    at.session_state["auth.signed_in_at"] = time.time()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _keys(url: str, monkeypatch) -> tuple[int, scorecard_ui.Units, scorecard_ui.Units, dict[str, int]]:
    """The data version, the leader's and the manager's units keys, and department ids by name
    (the sections read the database the portal is configured with; the URL is part of their key)."""
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", url)
    version, leader, manager = leader_and_manager(url)
    args = (version, url, None, None)
    everyone = department_ui._choices(*args, scorecard_ui.units_key(leader))
    ids = {label.split(" (")[0]: i for label, i in zip(everyone.labels, everyone.ids, strict=True)}
    return version, scorecard_ui.units_key(leader), scorecard_ui.units_key(manager), ids


def test_a_managers_department_sections_hold_only_their_units_and_the_leaders_cells(demo_url, monkeypatch):
    """On SQLite and PostgreSQL: the cached sections called as the page calls them."""
    version, everyone, theirs, ids = _keys(demo_url, monkeypatch)
    assert everyone is None and theirs is not None
    args = (version, demo_url, None, None)
    offered = department_ui._choices(*args, theirs)
    assert {label.split(" (")[0] for label in offered.labels} == COMMERCIAL
    # a department outside the manager's units has no section under their key: nothing to cache or show
    with pytest.raises(ScoringError):
        department_ui._section(*args, theirs, ids["Finance"])
    # inside, the manager's section shows the cells the leaders' view shows, no other figure
    mine = department_ui._section(*args, theirs, ids["Sales"])
    leaders = department_ui._section(*args, everyone, ids["Sales"])
    assert str(mine.row["department"]) == "Sales"
    for column in ["alignment", "performance", "understanding", "coverage", "u_suppressed", "respondents"]:
        assert str(mine.row[column]) == str(leaders.row[column]), column
    assert not mine.kpis.empty
    assert mine.kpis.reset_index(drop=True).equals(leaders.kpis.reset_index(drop=True))
    assert mine.changes.reset_index(drop=True).equals(leaders.changes.reset_index(drop=True))


def test_a_managers_survey_results_sections_hold_only_their_departments(demo_url, monkeypatch):
    version, everyone, theirs, _ids = _keys(demo_url, monkeypatch)
    leaders_view = sr.View(version, demo_url, None, everyone)
    managers_view = sr.View(version, demo_url, None, theirs)
    assert managers_view.header().divisions == [sr.ALL_DIVISIONS, "Commercial"]
    assert len(leaders_view.header().divisions) > 2
    theirs_picks = set(managers_view.picks(None)["department"])
    assert theirs_picks == COMMERCIAL
    assert set(leaders_view.picks(None)["department"]) > COMMERCIAL
    changes = managers_view.changes(None)
    if not changes.info:  # the demo has an earlier closed wave: only the manager's departments compared
        assert set(changes.table["department"]) <= COMMERCIAL


def test_a_second_leader_on_the_department_page_builds_no_chart(demo_sqlite_url, monkeypatch):
    calls: list[str] = []
    for name in ["kpi_trend", "likert_diverging", "dimension_bars"]:
        real = getattr(charts, name)
        monkeypatch.setattr(
            charts, name, lambda *a, _real=real, _name=name, **k: (calls.append(_name), _real(*a, **k))[1]
        )
    department_ui._choices.clear()  # another test file in this worker may have filled the cache
    department_ui._section.clear()
    first = _page(demo_sqlite_url, "leader", "department.py", monkeypatch)
    drawn = [e for e in first.main if e.type == "vega_lite_chart"]
    assert drawn and "kpi_trend" in calls  # the first visitor of this data version builds the charts
    calls.clear()
    second = _page(demo_sqlite_url, "leader", "department.py", monkeypatch)
    assert calls == []  # the second draws the cached specs
    assert [e.proto.spec for e in second.main if e.type == "vega_lite_chart"] == [e.proto.spec for e in drawn]


def test_a_second_leader_on_survey_results_builds_no_chart(demo_sqlite_url, monkeypatch):
    calls: list[int] = []
    real = charts.items_heatmap
    monkeypatch.setattr(charts, "items_heatmap", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    sr._heat.clear()  # another test file in this worker may have filled the cache
    first = _page(demo_sqlite_url, "leader", "survey_results.py", monkeypatch)
    assert calls == [1]
    second = _page(demo_sqlite_url, "leader", "survey_results.py", monkeypatch)
    assert calls == [1]  # the second leader draws the cached heatmap
    heatmaps = [[e.proto.spec for e in at.main if e.type == "vega_lite_chart"] for at in (first, second)]
    assert len(heatmaps[0]) == 1 and heatmaps[0] == heatmaps[1]


@pytest.mark.parametrize("quarter", ["latest", "earlier"])
def test_the_reviews_page_brief_from_the_shared_scorecard_equals_the_brief_built_alone(
    demo_sqlite_url, monkeypatch, quarter
):
    """The Reviews page prepares a brief from the cached scorecard of the review's month (shared by
    every department and leader, and with the default scorecard when that month is the latest);
    it must equal the brief the review pack builds on its own scorecard (build_for)."""
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", demo_sqlite_url)
    eng = db.make_engine(demo_sqlite_url)
    version, _everyone, _theirs, ids = _keys(demo_sqlite_url, monkeypatch)
    with db.read_session(eng) as s:
        latest = measurements.latest_periods(session=s)["monthly"]
    year, month = int(latest[:4]), int(latest[5:])
    q = (month - 1) // 3 + 1
    period = f"{year}-Q{q}" if quarter == "latest" else (f"{year}-Q{q - 1}" if q > 1 else f"{year - 1}-Q4")
    today = date.today()
    for name in ["Sales", "Finance"]:
        shared = reviews_ui.brief(version, demo_sqlite_url, ids[name], period, today)
        with db.read_session(eng) as s:
            alone = review_brief.prepare_review(session=s, department_id=ids[name], period=period, today=today)
        assert shared.scored_month == alone.scored_month and shared.department == name
        assert shared.scores == alone.scores and shared.notes == alone.notes
        for frame in ["kpis", "series", "attainment", "survey_changes", "open_actions", "overdue_actions"]:
            pd.testing.assert_frame_equal(getattr(shared, frame), getattr(alone, frame), obj=frame)
        assert shared.sen == alone.sen and (shared.wave, shared.previous_wave) == (alone.wave, alone.previous_wave)
    eng.dispose()
