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
from kpialign.demo.seed import DEMO_ACCOUNTS
from kpialign.models import Account
from kpialign.services import accounts
from kpialign.services.accounts import UserContext

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


def leader_and_manager(url: str) -> tuple[int, UserContext, UserContext]:
    """The data version of ``url`` and the demo leader's and manager's user contexts: what a
    cached section is keyed on, for tests that call the sections as a page calls them."""
    eng = db.make_engine(url)
    try:
        with db.read_session(eng) as s:
            leader = accounts.user_context_by_id(session=s, account_id=account_id(url, DEMO_ACCOUNTS["leader"]))
            manager = accounts.user_context_by_id(session=s, account_id=account_id(url, DEMO_ACCOUNTS["manager"]))
            return db.data_version(eng), leader, manager
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

    def make(who: str | None, url: str | None = None) -> AppTest:
        email = DEMO_ACCOUNTS.get(who, who) if who else None
        at = new_app(url or demo_sqlite_url, email, monkeypatch)
        return at.run()

    yield make
