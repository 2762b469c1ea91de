"""Demo mode follows the database: the demo accounts and their public password are listed only on
the seeded demo, whatever the environment says; an empty database says how to create the first admin."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpialign import db
from kpialign.demo import seed as demo
from kpialign.services import accounts
from tests.app.conftest import new_app
from tests.conftest import sqlite_copy


def _texts(at) -> str:
    parts = [e.value for kind in ("info", "code", "caption", "subheader", "markdown") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


@pytest.fixture
def empty_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    eng = db.make_engine(url)
    db.migrate(eng)
    eng.dispose()
    return url


@pytest.mark.parametrize("env", [None, "1"])
def test_the_seeded_demo_lists_its_accounts_without_any_environment_switch(demo_sqlite_url, tmp_path, monkeypatch, env):
    if env is None:
        monkeypatch.delenv("KPIALIGN_DEMO", raising=False)
    else:
        monkeypatch.setenv("KPIALIGN_DEMO", env)
    at = new_app(sqlite_copy(demo_sqlite_url, tmp_path / "demo.db"), None, monkeypatch).run()
    assert not at.exception
    assert "Demo accounts" in [h.value for h in at.subheader]
    assert set(demo.DEMO_ACCOUNTS.values()) <= set(at.dataframe[0].value["e-mail"])
    assert demo.DEMO_PASSWORD in _texts(at)
    assert "no accounts yet" not in _texts(at)


def test_a_real_database_never_shows_the_demo_password_even_with_kpialign_demo_set(empty_url, monkeypatch):
    monkeypatch.setenv("KPIALIGN_DEMO", "1")  # what make run used to force on every database
    eng = db.make_engine(empty_url)
    with db.write_session(eng) as s:
        accounts.create_user(session=s, email="boss@example.org", roles=["admin"], password="a-long-passphrase-here")
    eng.dispose()
    at = new_app(empty_url, None, monkeypatch).run()
    assert not at.exception
    assert "Demo accounts" not in [h.value for h in at.subheader] and not at.dataframe
    assert demo.DEMO_PASSWORD not in _texts(at)
    assert "no accounts yet" not in _texts(at)


def test_an_empty_database_says_how_to_create_the_first_admin(empty_url, monkeypatch):
    monkeypatch.setenv("KPIALIGN_DEMO", "1")
    at = new_app(empty_url, None, monkeypatch).run()
    assert not at.exception
    assert "no accounts yet" in _texts(at)
    assert [c.value for c in at.code] == ["python -m kpialign create-user you@example.com --role admin"]
    assert demo.DEMO_PASSWORD not in _texts(at) and not at.dataframe
