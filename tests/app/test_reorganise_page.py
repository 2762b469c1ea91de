"""The Reorganise page: a rename and a refused merge, with the history table."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from kpialign import db
from kpialign.models import Department
from tests.app.conftest import new_app
from tests.conftest import sqlite_copy

ADMIN = "admin@demo.kpialign.test"


@pytest.fixture
def writable_url(demo_sqlite_url: str, tmp_path: Path) -> str:
    return sqlite_copy(demo_sqlite_url, tmp_path / "reorg-page.db")


def _ids(url):
    eng = db.make_engine(url)
    with db.read_session(eng) as s:
        ids = dict(s.execute(select(Department.name, Department.id)).all())
    eng.dispose()
    return ids


def test_an_admin_renames_a_unit_and_sees_it_in_the_history(writable_url, monkeypatch):
    ids = _ids(writable_url)
    at = new_app(writable_url, ADMIN, monkeypatch).run()
    at.switch_page("pages/reorganise.py").run()
    assert not at.exception
    assert any(
        "no KPIs of its own with data yet" in t.value for t in at.text
    )  # the first unit is a division without KPIs
    at.selectbox(key="reorganise.unit").set_value(ids["Legal"]).run()
    at.text_input[0].set_value("Legal & Compliance")
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert _ids(writable_url).get("Legal & Compliance") == ids["Legal"]
    history = at.dataframe[0].value
    assert history["what"].tolist() == [
        "renamed from Legal to Legal & Compliance",
        "renamed from Customer Care to Customer Success",  # the demo's own history
    ]
    at.selectbox(key="reorganise.unit").set_value(ids["Sales"]).run()
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")  # Sales' performance history


def test_a_refused_merge_says_why_and_changes_nothing(writable_url, monkeypatch):
    ids = _ids(writable_url)
    at = new_app(writable_url, ADMIN, monkeypatch).run()
    at.switch_page("pages/reorganise.py").run()
    at.selectbox(key="reorganise.unit").set_value(ids["Marketing"]).run()
    at.segmented_control(key="reorganise.step").set_value("merge").run()
    at.selectbox[1].set_value(ids["Sales"])
    at.button[0].click().run()
    assert not at.exception
    assert any("open" in e.value for e in at.error)  # the demo's open wave covers both units
    assert _ids(writable_url)["Marketing"] == ids["Marketing"]


def test_the_split_form_lists_the_units_kpis(writable_url, monkeypatch):
    ids = _ids(writable_url)
    at = new_app(writable_url, ADMIN, monkeypatch).run()
    at.switch_page("pages/reorganise.py").run()
    at.selectbox(key="reorganise.unit").set_value(ids["Logistics"]).run()
    at.segmented_control(key="reorganise.step").set_value("split").run()
    assert not at.exception
    assert "Freight cost per order" in at.multiselect[0].options
