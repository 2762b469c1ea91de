"""Chromium against the real portal: a local sign-in survives a reload, a typed URL and a new tab,
and ends on sign-out, password reset, expiry, or with a forged cookie.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from kpialign import db
from kpialign.config import secret_key
from kpialign.core.security import hash_token, valid_web_token
from kpialign.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD
from kpialign.models import Account, WebSession
from kpialign.services import accounts
from tests.browser.conftest import COOKIE, Portal, screenshot, sign_in, wait_for_app, wait_for_cookie

pytestmark = pytest.mark.browser

RESET_EMAIL = "reset.me@example.com"  # its password is reset by a test, so not a shared demo account
SIGN_IN = "Sign in to kpialign"


@pytest.fixture(scope="module")
def session_portal(scratch_portal: Portal) -> Portal:
    """The shared scratch portal, with an account of this module's own whose password a test resets."""
    eng = db.make_engine(scratch_portal.url)
    with db.write_session(eng) as s:
        accounts.create_user(session=s, email=RESET_EMAIL, roles=["leader"], password=DEMO_PASSWORD, name="Reset Me")
    eng.dispose()
    return scratch_portal


def session_cookie(context) -> dict | None:
    found = [c for c in context.cookies() if c["name"] == COOKIE]
    return found[0] if found else None


def add_cookie(context, portal: Portal, value: str) -> None:
    context.add_cookies([{"name": COOKIE, "value": value, "url": portal.base, "sameSite": "Strict"}])


def expect_signed_in(page, heading: str) -> None:
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("heading", name=heading)).to_be_visible()


def expect_signed_out(page) -> None:
    expect(page.get_by_role("heading", name=SIGN_IN)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def open_page(page, address: str) -> None:
    page.goto(address)
    wait_for_app(page)


def web_session(portal: Portal, email: str, *, started: datetime, hours: float) -> str:
    """A web session made directly in the portal's database (as a sign-in at ``started`` would)."""
    eng = db.make_engine(portal.url)
    try:
        with db.write_session(eng, bump=False) as s:
            account = s.exec(select(Account).where(Account.email == email)).one()
            return accounts.start_web_session(session=s, account_id=account.id, hours=hours, now=started)
    finally:
        eng.dispose()


def test_sign_in_survives_reload_typed_url_and_new_tab(session_portal, page):
    base = session_portal.base
    sign_in(page, base, "leader")
    wait_for_cookie(page, True)
    cookie = session_cookie(page.context)
    assert cookie is not None, "no session cookie after sign-in"
    assert cookie["sameSite"] == "Strict" and cookie["path"] == "/" and not cookie["secure"]
    assert valid_web_token(cookie["value"])
    assert cookie["expires"] > 0  # a persistent cookie (Max-Age), not one that ends with the browser
    # Only the HMAC of the cookie's token is in the database.
    eng = db.make_engine(session_portal.url)
    with db.read_session(eng) as s:
        stored = [w.token_hmac for w in s.exec(select(WebSession))]
    eng.dispose()
    assert hash_token(cookie["value"], secret_key(session_portal.url)) in stored
    assert cookie["value"] not in stored

    # A URL typed into the address bar: a new page load, still signed in, on that page.
    open_page(page, f"{base}/overview")
    expect_signed_in(page, "Alignment overview")
    assert page.url == f"{base}/overview"
    screenshot(page, "session-typed-url-overview")
    page.reload()
    wait_for_app(page)
    expect_signed_in(page, "Alignment overview")
    # A new tab of the same browser.
    tab = page.context.new_page()
    open_page(tab, f"{base}/survey-results")
    expect_signed_in(tab, "Survey results")
    caption = tab.get_by_test_id("stSidebar").get_by_text("Signed in as")
    expect(caption).to_be_visible()
    # A different browser (no cookie) is not signed in.
    # here: a tab of this browser without its cookies sends what a browser that never signed in
    # sends, and shares the rest of this one's storage (the stricter check)
    page.context.clear_cookies()
    stranger = page.context.new_page()
    open_page(stranger, f"{base}/overview")
    expect_signed_out(stranger)


def test_sign_out_ends_the_session_in_every_tab(session_portal, page):
    base = session_portal.base
    sign_in(page, base, "hr")
    wait_for_cookie(page, True)
    token = session_cookie(page.context)["value"]
    tab = page.context.new_page()
    open_page(tab, base)
    expect_signed_in(tab, "Organisation at a glance")
    # here: back to the first tab (Chromium draws no frames for a tab behind another, and each
    # click there waits for Playwright's "stable" check), as a user would switch to it
    page.bring_to_front()
    page.get_by_role("button", name="Sign out").click()
    wait_for_app(page)
    expect_signed_out(page)
    wait_for_cookie(page, False)  # the cookie was cleared
    assert session_cookie(page.context) is None
    page.reload()
    wait_for_app(page)
    expect_signed_out(page)
    screenshot(page, "session-after-sign-out-reload")
    # The other tab, still open, is out on its next rerun.
    tab.bring_to_front()
    tab.get_by_test_id("stSidebarNavLink").filter(has_text="Survey results").click()
    wait_for_app(tab)
    expect_signed_out(tab)
    # The ended token is useless even if the browser (or a thief) still had it.
    add_cookie(page.context, session_portal, token)
    page.bring_to_front()
    open_page(page, base)
    expect_signed_out(page)


def test_forged_or_malformed_cookies_do_not_sign_in(session_portal, page):
    for value in ["A" * 43, '"><script>alert(1)</script>']:  # well-formed but unknown; not a token at all
        page.context.clear_cookies()
        add_cookie(page.context, session_portal, value)
        open_page(page, f"{session_portal.base}/overview")
        expect_signed_out(page)
        expect(page.get_by_role("heading", name="Alignment overview")).to_have_count(0)
    assert page.get_by_test_id("stVegaLiteChart").count() == 0


def test_revoked_and_expired_sessions_do_not_sign_in(session_portal, page):
    base, now = session_portal.base, datetime.now(UTC)
    expired = web_session(session_portal, DEMO_ACCOUNTS["leader"], started=now - timedelta(hours=13), hours=12)
    add_cookie(page.context, session_portal, expired)
    open_page(page, f"{base}/overview")
    expect_signed_out(page)
    # Live in the database, but started longer ago than KPIALIGN_SESSION_HOURS (12): the
    # lifetime counts from the sign-in, not from the reload.
    old = web_session(session_portal, DEMO_ACCOUNTS["leader"], started=now - timedelta(hours=13), hours=14)
    add_cookie(page.context, session_portal, old)
    open_page(page, f"{base}/overview")
    expect_signed_out(page)
    expect(page.get_by_text("Your session has ended. Please sign in again.")).to_be_visible()
    # Revoked by a password reset, while a tab is open: that tab is out on its next rerun.
    live = web_session(session_portal, RESET_EMAIL, started=now, hours=12)
    add_cookie(page.context, session_portal, live)
    open_page(page, f"{base}/overview")
    expect_signed_in(page, "Alignment overview")
    eng = db.make_engine(session_portal.url)
    with db.write_session(eng) as s:
        account = s.exec(select(Account).where(Account.email == RESET_EMAIL)).one()
        accounts.reset_password(session=s, account_id=account.id, actor="admin@example.com")
    eng.dispose()
    page.get_by_test_id("stSidebarNavLink").filter(has_text="Survey results").click()
    wait_for_app(page)
    expect_signed_out(page)
    page.reload()
    wait_for_app(page)
    expect_signed_out(page)
    screenshot(page, "session-revoked")
