"""The script that sets and clears the sign-in cookie (AppTest: the page's output, not the browser).

The browser side (the cookie really set, reloads and new tabs signed in) is in
tests/browser/test_session_browser.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from kpialign import db
from kpialign.core.security import valid_web_token
from kpialign.models import WebSession
from kpialign.ui import auth
from tests.app.conftest import new_app
from tests.app.test_sign_in import signed_in, submit_sign_in
from tests.conftest import sqlite_copy


@pytest.fixture
def url(demo_sqlite_url: str, tmp_path: Path) -> str:
    return sqlite_copy(demo_sqlite_url, tmp_path / "demo-copy.db")


def cookie_scripts(at) -> list[str]:
    return [h.value for h in at.html if "data-kpialign-cookie" in h.value]


@pytest.mark.parametrize(
    ("base_url", "name", "secure"),
    [
        ("http://localhost:8501", "kpialign_session", '(location.protocol === "https:" ? "; Secure" : "")'),
        ("https://kpi.example.com", "__Host-kpialign_session", '"; Secure"'),
    ],
)
def test_sign_in_sets_the_cookie(url, monkeypatch, base_url, name, secure):
    from kpialign.demo import seed as demo

    monkeypatch.setenv("KPIALIGN_BASE_URL", base_url)
    monkeypatch.setenv("KPIALIGN_SESSION_HOURS", "2")
    at = new_app(url, None, monkeypatch).run()
    assert cookie_scripts(at) == []
    submit_sign_in(at, demo.DEMO_ACCOUNTS["hr"], demo.DEMO_PASSWORD)
    assert not at.exception and signed_in(at)
    token = at.session_state["auth.web_session"]
    assert valid_web_token(token)
    [script] = cookie_scripts(at)
    assert f'document.cookie = "{name}={token}; Max-Age=7200; Path=/; SameSite=Strict" + {secure};' in script
    with db.read_session(db.make_engine(url)) as s:
        [web] = s.exec(select(WebSession)).all()
        assert token not in web.token_hmac and web.revoked_at is None


def test_a_pending_clear_removes_only_this_tabs_token(url, monkeypatch):
    # What sign-out leaves for the next run. (Sign-out itself is tested in Chromium: in AppTest,
    # the st.rerun() after it brings the signed-in session state back.)
    token = "t" * 43
    at = new_app(url, None, monkeypatch)
    at.session_state["auth.cookie_pending"] = ("clear", token, 0)
    at.run()
    [script] = cookie_scripts(at)
    assert f'if (document.cookie.split("; ").includes("kpialign_session={token}")) ' in script
    assert 'document.cookie = "kpialign_session=; Max-Age=0; Path=/; SameSite=Strict"' in script


def test_the_cookie_is_written_once(url, monkeypatch):
    from kpialign.demo import seed as demo

    at = new_app(url, None, monkeypatch).run()
    submit_sign_in(at, demo.DEMO_ACCOUNTS["leader"], demo.DEMO_PASSWORD)
    assert len(cookie_scripts(at)) == 1
    at.run()
    assert not at.exception and cookie_scripts(at) == []
    assert "auth.account_id" in at.session_state and "Organisation at a glance" in [t.value for t in at.title]


def test_a_malformed_pending_token_writes_nothing(url, monkeypatch):
    at = new_app(url, None, monkeypatch)
    at.session_state["auth.cookie_pending"] = ("set", '"; alert(1); "' + "a" * 40, 60)
    at.run()
    assert not at.exception and cookie_scripts(at) == []
    assert auth.cookie_name() == "kpialign_session"
