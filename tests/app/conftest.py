"""AppTest fixtures: run app.py against a demo database, signed in as a demo account.

Usage::

    def test_something(app_as):
        at = app_as("leader")               # a demo role, or an e-mail address
        at.switch_page("pages/home.py").run()
        assert not at.exception
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from kpialign import db
from kpialign.models import Account

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 60


def account_id(url: str, email: str) -> int:
    eng = db.make_engine(url)
    try:
        with db.read_session(eng) as session:
            account = session.exec(select(Account).where(Account.email == email)).first()
            if account is None:
                raise LookupError(f"no account {email} in {url}")
            return int(account.id)  # type: ignore[arg-type]
    finally:
        eng.dispose()


def new_app(url: str, email: str | None, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """An AppTest of app.py on ``url``, signed in as ``email`` (None: signed out). Not yet run."""
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if email is not None:
        at.session_state["auth.account_id"] = account_id(url, email)
        at.session_state["auth.signed_in_at"] = time.time()
    return at


@pytest.fixture
def app_as(demo_sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., AppTest]]:
    """Factory: ``app_as(role_or_email, url=None)`` -> an AppTest that has run once, signed in."""
    from kpialign.demo.seed import DEMO_ACCOUNTS

    def make(who: str | None, url: str | None = None) -> AppTest:
        email = DEMO_ACCOUNTS.get(who, who) if who else None
        at = new_app(url or demo_sqlite_url, email, monkeypatch)
        return at.run()

    yield make
