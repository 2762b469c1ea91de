"""The Overview's shared caches: one entry per data version and scope, never one scope's figures for another.

The caches (``st.cache_data``) live in the process, so the AppTest runs below share them the
way the sessions of one server do.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from kpialign import db
from kpialign.config import load_settings
from kpialign.demo.seed import DEMO_ACCOUNTS
from kpialign.models import Department
from kpialign.scorecard import build, scope
from kpialign.ui import overview_ui, scorecard_ui
from tests.app.conftest import TIMEOUT, account_id, leader_and_manager
from tests.conftest import sqlite_copy

ROOT = Path(__file__).resolve().parents[2]
COMMERCIAL = {"Sales", "Marketing", "Customer Success"}


@pytest.fixture
def demo_copy_sqlite(demo_sqlite_url: str, tmp_path: Path) -> str:
    return sqlite_copy(demo_sqlite_url, tmp_path / "demo-copy.db")


def _overview(url: str, who: str, monkeypatch) -> AppTest:
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", url)
    at = AppTest.from_file(str(ROOT / "pages" / "overview.py"), default_timeout=TIMEOUT)
    at.session_state["auth.account_id"] = account_id(url, DEMO_ACCOUNTS.get(who, who))
    at.session_state["auth.signed_in_at"] = time.time()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _departments(at: AppTest) -> set[str]:
    return set(at.dataframe[0].value["department"].astype(str))


def _charts(at: AppTest) -> list:
    return [e for e in at.main if e.type == "vega_lite_chart"]


def test_a_manager_after_a_leader_gets_their_own_units_and_the_leader_still_gets_all(demo_sqlite_url, monkeypatch):
    leader = _departments(_overview(demo_sqlite_url, "leader", monkeypatch))
    manager = _departments(_overview(demo_sqlite_url, "manager", monkeypatch))
    again = _departments(_overview(demo_sqlite_url, "leader", monkeypatch))
    assert manager == COMMERCIAL
    assert leader == again and leader > COMMERCIAL and len(leader) > len(manager)


def test_the_cache_key_is_the_users_units_and_different_units_get_different_content(demo_url, monkeypatch):
    """On SQLite and PostgreSQL (``demo_url``): the cached sections called as a page calls them."""
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", demo_url)
    version, leader, manager = leader_and_manager(demo_url)
    assert scorecard_ui.units_key(leader) is None
    units = scorecard_ui.units_key(manager)
    assert units == tuple(sorted(scope.visible_units(manager)))
    args = (version, demo_url, None, None)
    everyone = overview_ui._table(*args, None, overview_ui.ALL_DIVISIONS, "")
    theirs = overview_ui._table(*args, units, overview_ui.ALL_DIVISIONS, "")
    assert set(theirs["department"]) == COMMERCIAL
    assert set(everyone["department"]) > COMMERCIAL
    # the whole-organisation correlation is for leaders only, also through the cache
    leaders_tab = overview_ui._panel(*args, None, overview_ui.ALL_DIVISIONS, "", 20, "Top", overview_ui.QUADRANT)
    managers_tab = overview_ui._panel(*args, units, overview_ui.ALL_DIVISIONS, "", 20, "Top", overview_ui.QUADRANT)
    assert any("leaders only" in c for c in managers_tab.captions)
    assert not any("leaders only" in c for c in leaders_tab.captions)


def test_only_the_open_tab_draws_its_chart(demo_sqlite_url, monkeypatch):
    at = _overview(demo_sqlite_url, "leader", monkeypatch)
    assert len(_charts(at)) == 2  # the organisation trend and the open tab (Scores)
    assert at.session_state["overview.tab"] == overview_ui.SCORES
    at.session_state["overview.tab"] = overview_ui.MATRIX
    at.run()
    assert not at.exception
    assert len(_charts(at)) == 2
    assert any("'gap': expected but no KPI" in c.value for c in at.caption)


def test_a_write_makes_the_cached_overview_stale(demo_copy_sqlite, monkeypatch):
    at = _overview(demo_copy_sqlite, "leader", monkeypatch)
    assert "Finance" in _departments(at)
    eng = db.make_engine(demo_copy_sqlite)
    with db.write_session(eng) as s:  # bumps the data version, as every write does
        s.execute(update(Department).where(Department.name == "Finance").values(name="Finance and Control"))
    eng.dispose()
    at.run()
    assert not at.exception
    assert "Finance and Control" in _departments(at) and "Finance" not in _departments(at)


def test_a_chart_drawn_from_a_cached_spec_is_exactly_what_altair_chart_sends():
    def script() -> None:
        import altair as alt
        import pandas as pd
        import streamlit as st

        from kpialign.ui import vega

        df = pd.DataFrame({"unit": ["Sales", "Legal <b>"], "score": [71.5, 64.0]})
        chart = alt.Chart(df).mark_bar().encode(x="score:Q", y="unit:N").properties(width="container")
        st.altair_chart(chart, width="stretch")
        vega.show(vega.spec(chart))

    at = AppTest.from_function(script, default_timeout=TIMEOUT).run()
    assert not at.exception
    direct, cached = (e.proto for e in _charts(at))
    assert direct.spec and len(direct.datasets) == 1
    assert direct == cached


def _counting_builds(monkeypatch, url: str) -> list[dict]:
    """Count the scorecard builds of ``url`` (a background build another test started may still run)."""
    with scorecard_ui._Prebuilt.lock:  # let such a build finish first
        pass
    monkeypatch.setattr(scorecard_ui._Prebuilt, "started_at", time.monotonic())  # and start no other
    builds: list[dict] = []
    real = build.build_scorecard

    def counted(session, **kwargs):
        if str(session.get_bind().engine.url) == url:
            builds.append(kwargs)
        return real(session, **kwargs)

    monkeypatch.setattr(build, "build_scorecard", counted)
    return builds


def test_the_scorecard_built_in_the_background_is_taken_by_the_first_page_and_not_built_again(
    demo_copy_sqlite, monkeypatch
):
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", demo_copy_sqlite)
    eng = db.make_engine(load_settings().database_url)
    version = db.data_version(eng)
    builds = _counting_builds(monkeypatch, str(eng.url))
    scorecard_ui._prewarm(eng, str(eng.url), version)  # what the sign-in page's background thread runs
    assert len(builds) == 1 and scorecard_ui._Prebuilt.key == (str(eng.url), version)
    leader = _departments(_overview(demo_copy_sqlite, "leader", monkeypatch))
    manager = _departments(_overview(demo_copy_sqlite, "manager", monkeypatch))
    eng.dispose()
    assert len(builds) == 1, "the page built the scorecard again"
    assert scorecard_ui._Prebuilt.key is None and scorecard_ui._Prebuilt.value is None  # handed to st.cache_data
    assert manager == COMMERCIAL and leader > COMMERCIAL  # the shared build is cut to each user's scope


def test_the_sign_in_page_starts_one_background_build_per_data_version_and_at_most_one_per_interval(
    demo_copy_sqlite, monkeypatch
):
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", demo_copy_sqlite)
    monkeypatch.setattr(scorecard_ui._Prebuilt, "started_at", float("-inf"))
    monkeypatch.setattr(scorecard_ui._Prebuilt, "built", None)
    started: list[tuple] = []
    done = threading.Event()
    monkeypatch.setattr(scorecard_ui, "_prewarm", lambda *args: (started.append(args), done.set()))
    scorecard_ui.prewarm()
    assert done.wait(10)
    scorecard_ui.prewarm()  # the same data version, and within PREWARM_EVERY_S: nothing more
    eng = db.make_engine(demo_copy_sqlite)
    with db.write_session(eng) as s:  # a new data version, still within the interval
        s.execute(update(Department).where(Department.name == "Finance").values(name="Finance and Control"))
    eng.dispose()
    scorecard_ui.prewarm()
    time.sleep(0.2)
    assert len(started) == 1
    monkeypatch.setattr(scorecard_ui._Prebuilt, "started_at", float("-inf"))  # the interval has passed
    done.clear()
    scorecard_ui.prewarm()
    assert done.wait(10) and len(started) == 2 and started[1][2] > started[0][2]


def test_sessions_missing_the_same_cached_scorecard_together_build_it_once(demo_copy_sqlite, monkeypatch):
    """Streamlit's per-key compute lock: eight sessions arriving together wait for one build."""
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", demo_copy_sqlite)
    url = load_settings().database_url
    eng = db.make_engine(url)
    version = db.data_version(eng)
    eng.dispose()
    builds = _counting_builds(monkeypatch, url)
    start = threading.Barrier(8)
    got: list = []

    def session() -> None:
        start.wait()
        got.append(scorecard_ui.cached_scorecard(version, url, None, None))

    threads = [threading.Thread(target=session) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == 8 and len(builds) == 1
    assert len({sc.period for sc in got}) == 1
