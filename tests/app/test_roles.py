"""Every page x every role: allowed pages render, forbidden pages are neither reachable nor leak data.

Parametrised over ``kpialign.ui.nav.PAGES`` at collection time, so a page added to the registry
later is covered without touching this file. Two layers are checked:

- navigation: ``st.navigation`` registers only the pages a role may open (``at.switch_page``
  to any other page is refused, exactly as a typed URL falls back to the default page);
- defence in depth: a forbidden page script run directly (bypassing ``app.py``) shows the
  access message and nothing else — no dataframe, chart, metric or text of its own.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from kpialign.models import Role
from kpialign.ui import nav
from kpialign.ui.auth import ACCESS_DENIED
from tests.app.conftest import TIMEOUT, account_id, new_app
from tests.conftest import sqlite_copy

ROOT = Path(__file__).resolve().parents[2]
ROLES = [r.value for r in Role]
# Pages that app.py offers to signed-out visitors (a personal survey link works without an
# account); the survey tests cover them.
PUBLIC_PAGES = {"pages/survey.py"}


@pytest.fixture
def demo_copy_sqlite(demo_sqlite_url: str, tmp_path: Path) -> str:
    """A private, writable copy of the small SQLite demo."""
    return sqlite_copy(demo_sqlite_url, tmp_path / "demo-copy.db")


def element_types(at: AppTest) -> list[str]:
    """The types of all elements shown in the main area and the sidebar."""
    return [n.type for area in (at.main, at.sidebar) for n in area if not isinstance(n, Block)]


def run_page_directly(url: str, page: str, email: str | None, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """Run one page script on its own, bypassing app.py's navigation (as if it were reachable)."""
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", url)
    at = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)
    if email is not None:
        at.session_state["auth.account_id"] = account_id(url, email)
        at.session_state["auth.signed_in_at"] = time.time()
    return at.run()


def assert_denied(at: AppTest) -> None:
    assert not at.exception
    assert [e.value for e in at.error] == [ACCESS_DENIED]
    assert element_types(at) == ["error"], "a forbidden page must show the access message and nothing else"


@pytest.mark.parametrize("role", ROLES)
def test_navigation_offers_exactly_the_allowed_pages(app_as, role):
    at = app_as(role)
    assert not at.exception
    for spec in nav.PAGES:
        if role in spec.roles:
            at.switch_page(spec.path)  # registered: no error
        else:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(spec.path)
    assert at.button(key="app.sign_out").label == "Sign out"


@pytest.mark.parametrize("spec", nav.PAGES, ids=[p.url_path for p in nav.PAGES])
def test_page_for_every_role(spec, app_as, demo_sqlite_url, monkeypatch):
    from kpialign.demo.seed import DEMO_ACCOUNTS

    assert (ROOT / spec.path).is_file(), f"{spec.path} is registered in nav.PAGES but does not exist"
    for role in ROLES:
        if role in spec.roles:
            at = app_as(role)
            at.switch_page(spec.path).run()
            assert not at.exception, f"{spec.path} as {role}: {at.exception}"
            assert ACCESS_DENIED not in [e.value for e in at.error], f"{spec.path} refused {role}"
            assert [t for t in element_types(at) if t not in {"button", "caption"}], f"{spec.path} as {role} is empty"
        else:
            assert_denied(run_page_directly(demo_sqlite_url, spec.path, DEMO_ACCOUNTS[role], monkeypatch))


@pytest.mark.parametrize("spec", [p for p in nav.PAGES if p.path not in PUBLIC_PAGES], ids=lambda p: p.url_path)
def test_signed_out_visitor_reaches_no_page(spec, demo_sqlite_url, monkeypatch):
    at = new_app(demo_sqlite_url, None, monkeypatch).run()
    assert [t.label for t in at.text_input] == ["E-mail", "Password"]  # the sign-in page
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(spec.path)
    assert_denied(run_page_directly(demo_sqlite_url, spec.path, None, monkeypatch))


def test_deactivated_or_expired_session_loses_access(demo_copy_sqlite, monkeypatch):
    from kpialign import db
    from kpialign.demo.seed import DEMO_ACCOUNTS
    from kpialign.services import accounts

    url = demo_copy_sqlite
    admin = account_id(url, DEMO_ACCOUNTS["admin"])
    # Expired: signed in longer ago than KPIALIGN_SESSION_HOURS.
    monkeypatch.setenv("KPIALIGN_SESSION_HOURS", "1")
    at = new_app(url, DEMO_ACCOUNTS["admin"], monkeypatch)
    at.session_state["auth.signed_in_at"] = time.time() - 3601
    at.run()
    assert not at.exception and "Your session has ended. Please sign in again." in [i.value for i in at.info]
    assert "auth.account_id" not in at.session_state
    assert_denied(run_page_directly(url, "pages/admin_users.py", None, monkeypatch))
    # Deactivated while signed in: out on the next rerun.
    monkeypatch.setenv("KPIALIGN_SESSION_HOURS", "12")
    at = new_app(url, DEMO_ACCOUNTS["hr"], monkeypatch).run()
    assert at.button(key="app.sign_out")
    eng = db.make_engine(url)
    with db.write_session(eng) as s:
        accounts.set_active(session=s, account_id=account_id(url, DEMO_ACCOUNTS["hr"]), active=False, actor="test")
    eng.dispose()
    at.run()
    assert not at.exception and not [b for b in at.button if b.key == "app.sign_out"]
    assert admin  # the admin account still exists and is untouched
