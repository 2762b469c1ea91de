"""The directory import page: problems by row, a preview with counts, import, confirmation for deactivation."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from kpialign import db
from kpialign.demo.directory import demo_directory
from kpialign.models import Account, Department
from tests.app.conftest import new_app
from tests.conftest import sqlite_copy

ADMIN = "admin@demo.kpialign.test"


@pytest.fixture
def writable_url(demo_sqlite_url: str, tmp_path: Path) -> str:
    return sqlite_copy(demo_sqlite_url, tmp_path / "dir-page.db")


def _open(url, monkeypatch):
    at = new_app(url, ADMIN, monkeypatch).run()
    at.switch_page("pages/directory_import.py").run()
    assert not at.exception
    return at


def _upload(at, units: bytes, people: bytes | None = None):
    at.file_uploader(key="directory_import.units").set_value(("units.csv", units, "text/csv"))
    if people is not None:
        at.file_uploader(key="directory_import.people").set_value(("people.csv", people, "text/csv"))
    return at.run()


def test_a_bad_directory_is_listed_by_row_and_nothing_can_be_imported(writable_url, monkeypatch):
    at = _open(writable_url, monkeypatch)
    assert any("Choose a file" in i.value for i in at.info)
    units = b"unit_id,unit_name,parent_unit_id\nA,Alpha,B\nB,Beta,A\n"
    at = _upload(at, units)
    assert not at.exception
    assert any("2 problems" in e.value for e in at.error)
    issues = at.dataframe[0].value
    assert issues["row"].tolist() == [2, 3] and all("cycle" in r for r in issues["reason"])
    assert not [b for b in at.button if b.key == "directory_import.go"]


def test_an_admin_previews_then_imports_the_demo_directory(writable_url, monkeypatch):
    units, people = demo_directory("small")
    eng = db.make_engine(writable_url)
    with db.read_session(eng) as s:
        demo_accounts = s.execute(select(func.count()).select_from(Account).where(Account.active)).scalar_one()
    eng.dispose()
    at = _open(writable_url, monkeypatch)
    at = _upload(at, units, people)
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["New units"] == "0" and metrics["Changed units"] == "0"  # the demo's units carry these ids
    assert int(metrics["New people"]) == 225
    assert any("not in the file" in w.value for w in at.warning)  # the demo accounts (the admin is never deactivated)
    at.button(key="directory_import.go").click().run()
    assert not at.exception
    assert any("people: 225 new" in s.value.replace("\\", "").replace("\u200b", "") for s in at.success)
    eng = db.make_engine(writable_url)
    with db.read_session(eng) as s:
        assert (
            s.execute(select(func.count()).select_from(Account).where(Account.active)).scalar_one()
            == demo_accounts + 225
        )
        assert s.execute(select(Department.external_id).where(Department.name == "Sales")).scalar_one() == "U0002"
    eng.dispose()
    at = _upload(at, units, people)  # the same files again
    assert any("changes nothing" in i.value for i in at.info)
