"""The Overview's shared caches: one entry per data version and scope, never one scope's figures for another.

The caches (``st.cache_data``) live in the process, so the AppTest runs below share them the
way the sessions of one server do.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from kpialign import db
from kpialign.demo.seed import DEMO_ACCOUNTS
from kpialign.models import Department
from kpialign.scorecard import scope
from kpialign.services import accounts
from kpialign.ui import overview_ui
from tests.app.conftest import TIMEOUT, account_id
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
    eng = db.make_engine(demo_url)
    with db.read_session(eng) as s:
        leader = accounts.user_context_by_id(session=s, account_id=account_id(demo_url, DEMO_ACCOUNTS["leader"]))
        manager = accounts.user_context_by_id(session=s, account_id=account_id(demo_url, DEMO_ACCOUNTS["manager"]))
        version = db.data_version(eng)
    eng.dispose()
    assert overview_ui.units_key(leader) is None
    units = overview_ui.units_key(manager)
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
