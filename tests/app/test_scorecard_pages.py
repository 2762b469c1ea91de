"""AppTest tests of the Scorecard pages on the small demo (SQLite)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kpialign import cli

PAGES = [
    "pages/overview.py",
    "pages/department.py",
    "pages/objectives.py",
    "pages/survey_results.py",
    "pages/how_scores_work.py",
]


def _page_app(path: str, url: str, email: str, monkeypatch):
    """Run one page script directly (bypassing the navigation), signed in as ``email``."""
    import time

    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import account_id

    monkeypatch.setenv("KPIALIGN_DATABASE_URL", url)
    at = AppTest.from_file(path, default_timeout=60)
    at.session_state["auth.account_id"] = account_id(url, email)
    at.session_state["auth.signed_in_at"] = time.time()
    return at


def _open(app_as, who: str, page: str):
    at = app_as(who)
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at) -> str:
    parts = [c.value for c in at.caption] + [t.value for t in at.text] + [m.value for m in at.markdown]
    parts += [i.value for i in at.info] + [w.value for w in at.warning]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("page", PAGES)
def test_each_page_renders_for_a_leader(app_as, page):
    at = _open(app_as, "leader", page)
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value


def test_overview_shows_scores_table_and_what_it_was_computed_from(app_as):
    at = _open(app_as, "leader", "pages/overview.py")
    labels = [m.label for m in at.metric]
    assert labels[:4] == ["Organisation score", "Performance P", "Understanding U", "Coverage C"]
    assert at.metric[0].value.isdigit()
    assert "Computed from: KPI month" in _texts(at)
    table = at.dataframe[0].value
    assert {"department", "score", "status", "P", "U", "C", "trend", "rank_band"} <= set(table.columns)
    legal = table.set_index("department").loc["Legal"]
    assert pd.isna(legal["U"]) and legal["partial"] == "no U"


def test_overview_and_cli_show_the_same_numbers(app_as, demo_sqlite_url, monkeypatch, capsys):
    at = _open(app_as, "leader", "pages/overview.py")
    page = at.dataframe[0].value
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", demo_sqlite_url)
    assert cli.main(["scorecard", "--format", "json"]) == 0
    out = pd.DataFrame(json.loads(capsys.readouterr().out)["departments"])
    assert page["department"].tolist() == out["department"].tolist()
    for col in ("score", "P", "U", "C", "rank"):
        np.testing.assert_allclose(page[col].astype(float), out[col].astype(float), equal_nan=True)
    assert page["rank_band"].tolist() == out["rank_band"].tolist()


def test_overview_division_filter_and_search(app_as):
    at = _open(app_as, "leader", "pages/overview.py")
    at.selectbox(key="overview.division").select("Corporate").run()
    assert not at.exception
    assert set(at.dataframe[0].value["division"]) == {"Corporate"}
    at.text_input(key="overview.search").input("fin").run()
    assert at.dataframe[0].value["department"].tolist() == ["Finance"]
    at.text_input(key="overview.search").input("zzz").run()
    assert "No department matches" in _texts(at)


def test_department_page_for_the_small_department_hides_survey(app_as):
    at = _open(app_as, "leader", "pages/department.py")
    options = at.selectbox(key="department.choice").options
    legal = next(o for o in options if o.startswith("Legal"))
    at.selectbox(key="department.choice").select(legal).run()
    assert not at.exception
    u = next(m for m in at.metric if m.label == "Understanding U")
    assert u.value == "hidden"
    text = _texts(at)
    assert "No survey figures can be shown" in text
    assert "partial" in text


def test_department_page_shows_kpis_with_trend_words(app_as):
    at = _open(app_as, "leader", "pages/department.py")
    at.selectbox(key="department.choice").select(
        next(o for o in at.selectbox(key="department.choice").options if o.startswith("Sales"))
    ).run()
    kpis = at.dataframe[1].value
    assert "New bookings" in kpis["KPI"].tolist()
    assert kpis["trend test"].str.contains(r"p [=<] ", regex=True).all()


def test_survey_results_hides_small_groups_and_guards_filters(app_as):
    at = _open(app_as, "hr", "pages/survey_results.py")
    text = _texts(at)
    assert "Hidden (fewer than" in text and "Legal" in text
    assert any(m.label == "Cronbach's alpha" for m in at.metric)
    at.selectbox(key="survey_results.division").select("Corporate").run()
    assert not at.exception


def test_how_scores_work_shows_current_settings(app_as):
    at = _open(app_as, "hr", "pages/how_scores_work.py")
    text = _texts(at)
    assert "0.40 P + 0.40 U + 0.20 C" in text
    assert "Benjamini-Hochberg" in text and "75" in text


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/department.py", "pages/objectives.py"])
def test_hr_and_employees_cannot_open_leader_pages(demo_sqlite_url, monkeypatch, page):
    from pathlib import Path

    from kpialign.demo.seed import DEMO_ACCOUNTS
    from kpialign.ui import nav

    root = Path(__file__).resolve().parents[2]

    for who in ("hr", "employee"):
        assert not nav.roles_for(page).intersection({who}), "not in the navigation for this role"
        at = _page_app(str(root / page), demo_sqlite_url, DEMO_ACCOUNTS[who], monkeypatch).run()
        assert any("do not have access" in e.value for e in at.error)
        assert not at.dataframe and not at.metric
