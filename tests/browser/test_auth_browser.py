"""Chromium against the real portal: role-gated navigation, typed URLs, and user text shown as plain text."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from kpialign import db
from kpialign.demo.seed import DEMO_PASSWORD
from kpialign.models import Department
from kpialign.services import accounts
from kpialign.ui import nav
from tests.browser.conftest import Portal, open_signed_in, screenshot, sign_in, wait_for_app

pytestmark = pytest.mark.browser

MARKDOWN_NAME = "**x** <b>y</b> :red[z] _w_"
MARKDOWN_EMAIL = "markdown.person@example.com"
FORBIDDEN_FOR_EMPLOYEE = [p for p in nav.PAGES if "employee" not in p.roles]
# The scorecard and exports pages (and the admin users page) stand for all forbidden pages in
# the browser; the AppTest matrix in tests/app/test_roles.py covers every page x every role.
_SCORECARD = [p for p in FORBIDDEN_FOR_EMPLOYEE if p.section == "Scorecard"][:1]
TYPED_URL_PAGES = _SCORECARD + [p for p in FORBIDDEN_FOR_EMPLOYEE if p.url_path in {"exports", "users"}]


@pytest.fixture(scope="module")
def auth_portal(scratch_portal: Portal) -> str:
    """The shared scratch portal, with an account of this module's own whose name is Markdown and HTML."""
    eng = db.make_engine(scratch_portal.url)
    with db.write_session(eng) as s:
        department = s.exec(select(Department).order_by(Department.id)).first()
        accounts.create_user(
            session=s,
            email=MARKDOWN_EMAIL,
            roles=["employee"],
            password=DEMO_PASSWORD,  # so that the shared sign_in() helper can sign in as this account
            name=MARKDOWN_NAME,
            department_id=department.id if department else None,
        )
    eng.dispose()
    return scratch_portal.base


def nav_paths(page, base: str) -> set[str]:
    hrefs = [a.get_attribute("href") or "" for a in page.get_by_test_id("stSidebarNavLink").all()]
    return {h.removeprefix(base).strip("/") for h in hrefs}


def test_forbidden_pages_exist_to_be_tested():
    assert FORBIDDEN_FOR_EMPLOYEE, "nav.PAGES has no page an employee may not open"


def test_employee_cannot_reach_other_roles_pages(portal, page):
    base = portal
    open_signed_in(page, base, "employee")
    allowed = {p.url_path for p in nav.PAGES if "employee" in p.roles}
    # An employee's default page (served at "/") is Our strategy, not the organisation's Home.
    defaults = {p.url_path for p in nav.PAGES if p.path == nav.home_for({"employee"})}
    # The navigation lists only the employee's pages (the default page is served at "/").
    assert nav_paths(page, base) == {"" if p in defaults else p for p in allowed}
    for spec in TYPED_URL_PAGES:
        # Typed into the address bar of the running app (client-side navigation, same session):
        page.evaluate(
            "(path) => { window.history.pushState({}, '', path);"
            " window.dispatchEvent(new PopStateEvent('popstate')); }",
            f"/{spec.url_path}",
        )
        page.wait_for_url(f"{base}/")  # sent to the default page ...
        wait_for_app(page)
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()  # ... still signed in
        expect(page.get_by_role("heading", name="Our strategy", exact=True)).to_be_visible()  # the default ran instead
        expect(page.get_by_role("heading", name=spec.title, exact=True)).to_have_count(0)
        assert nav_paths(page, base) == {"" if p in defaults else p for p in allowed}
    screenshot(page, "auth-employee-after-typed-urls")
    # Typed as a new page load: the sign-in survives it (session cookie), and the employee lands
    # on the default page ("page not found"), still with only the employee's pages.
    for spec in TYPED_URL_PAGES:
        page.goto(f"{base}/{spec.url_path}")
        page.wait_for_url(f"{base}/")
        wait_for_app(page)
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        expect(page.get_by_role("heading", name="Our strategy", exact=True)).to_be_visible()  # the default page ran
        expect(page.get_by_role("heading", name=spec.title, exact=True)).to_have_count(0)
        assert nav_paths(page, base) == {"" if p in defaults else p for p in allowed}
    # The same URLs in a browser that is not signed in: the sign-in page, nothing of the page.
    # A tab of the same browser without its cookies sends what such a browser sends (and shares
    # the rest of this one's storage, so it is the stricter check).
    page.context.clear_cookies()
    stranger = page.context.new_page()
    try:
        for spec in TYPED_URL_PAGES:
            stranger.goto(f"{base}/{spec.url_path}")
            wait_for_app(stranger)
            expect(stranger.get_by_role("heading", name="Sign in to kpialign")).to_be_visible()
            expect(stranger.get_by_role("heading", name=spec.title, exact=True)).to_have_count(0)
            assert (
                stranger.get_by_test_id("stDataFrame").count() == 0
                or stranger.get_by_text("Demo accounts").count() == 1
            )
            assert stranger.get_by_test_id("stVegaLiteChart").count() == 0
    finally:
        stranger.close()


def test_wrong_password_is_refused_and_cleared(auth_portal, page):
    page.goto(auth_portal)
    wait_for_app(page)
    page.get_by_role("textbox", name="E-mail").fill(MARKDOWN_EMAIL)
    page.get_by_role("textbox", name="Password").fill("not the right password")
    page.get_by_role("button", name="Sign in").click()
    wait_for_app(page)
    expect(page.get_by_text(accounts.SIGN_IN_FAILED)).to_be_visible()
    expect(page.get_by_role("textbox", name="Password")).to_have_value("")  # the form is cleared on submit
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_user_text_is_shown_as_plain_text(auth_portal, page):
    sign_in(page, auth_portal, MARKDOWN_EMAIL)
    sidebar = page.get_by_test_id("stSidebar")
    caption = sidebar.get_by_test_id("stCaptionContainer").filter(has_text="Signed in as")
    expect(caption).to_have_text(f"Signed in as {MARKDOWN_NAME}")
    # Nothing was turned into markup: no bold, italic, HTML or coloured span inside.
    assert caption.locator("strong, b, em, i, span[class*='color'], [style*='color']").count() == 0
    page.get_by_test_id("stSidebar").get_by_role("link", name="Home", exact=True).click()  # the greeting is on Home
    wait_for_app(page)
    greeting = page.get_by_text(f"Welcome, {MARKDOWN_NAME}.", exact=True)
    expect(greeting).to_be_visible()
    assert greeting.locator("strong, b, em").count() == 0
    screenshot(page, "auth-plain-text-name")
