"""The strategy import page: downloads of the current configuration, preview, refusal, import."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from kpialign import db
from kpialign.models import Objective
from tests.app.conftest import new_app
from tests.conftest import sqlite_copy

ADMIN = "admin@demo.kpialign.test"


@pytest.fixture
def writable_url(demo_sqlite_url: str, tmp_path: Path) -> str:
    return sqlite_copy(demo_sqlite_url, tmp_path / "strategy-page.db")


def test_an_admin_downloads_previews_and_imports_objectives(writable_url, monkeypatch):
    at = new_app(writable_url, ADMIN, monkeypatch).run()
    at.switch_page("pages/strategy_import.py").run()
    assert not at.exception
    assert len(at.get("download_button")) == 4
    bad = b"code,title,parent\nOBJ9,New objective,NOPE\n"
    at.file_uploader(key="strategy_import.objectives").set_value(("o.csv", bad, "text/csv")).run()
    assert any("1 problem" in e.value for e in at.error)
    good = b"code,title,parent,serving_departments\nOBJ9,Win in Asia,OBJ1,Sales\n"
    at.file_uploader(key="strategy_import.objectives").set_value(("o.csv", good, "text/csv")).run()
    assert not at.exception and not at.error
    assert any("objectives created" in t.value for t in at.text)
    at.button(key="strategy_import.go").click().run()
    assert not at.exception
    eng = db.make_engine(writable_url)
    with db.read_session(eng) as s:
        assert s.execute(select(Objective.title).where(Objective.code == "OBJ9")).scalar_one() == "Win in Asia"
    eng.dispose()
    at.file_uploader(key="strategy_import.objectives").set_value(("o.csv", good, "text/csv")).run()
    assert any("changes nothing" in i.value for i in at.info)
