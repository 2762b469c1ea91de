"""Every page of every demo role on the read-only portal, in one signed-in tab per role kept for
the module: each role's main page passes axe-core (WCAG 2.1 AA), and nothing is loaded from
outside the portal's host.

Nothing from another host: a confidential portal works air-gapped and tells no third party (font
or icon CDNs) who visits which page. One Chromium walk: the sign-in page is loaded, then each demo
role opens, from the sidebar, every page no earlier role has opened (so every page is loaded
once, some several times), while every request the browser makes (documents, scripts, fonts,
icons, websockets) is recorded; the tabs' earlier visits (the main pages) are recorded too.

axe-core runs with the WCAG 2.0/2.1 A and AA rules; a page passes with no "serious" or "critical"
violation. The survey is checked in test_accessibility.py; Streamlit issues worked around are
described in ``kpialign/ui/a11y.py``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from kpialign.demo.seed import DEMO_ACCOUNTS
from kpialign.ui import nav
from tests.browser.conftest import (
    TIMEOUT_MS,
    open_signed_in,
    screenshot,
    serious_violations,
    wait_for_app,
    wait_for_drawn,
)

pytestmark = pytest.mark.browser

# The page a user of each role lands on for their daily work.
MAIN_PAGES = {
    "employee": "home",
    "kpi_owner": "kpi-data",
    "leader": "overview",
    "hr": "survey-waves",
    "admin": "users",
    "manager": "home",
}
ICON = "link[rel~='icon']"


class Tabs:
    """One tab per demo role (and one signed out) on the portal, kept for the module; every
    request of every tab is recorded in ``requests``."""

    def __init__(self, context, base: str):
        self.context, self.base = context, base
        self.requests: list[str] = []
        self._pages: dict[str, object] = {}

    def _new_page(self):
        # here: one context, its cookies replaced before each tab loads: a tab's Streamlit session
        # reads the cookie once, when it connects, and stays signed in as that role after
        self.context.clear_cookies()
        page = self.context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("websocket", lambda ws: self.requests.append(ws.url))
        return page

    def signed_out(self):
        """The sign-in page, loaded once."""
        if "" not in self._pages:
            page = self._new_page()
            page.goto(self.base)
            page.get_by_role("button", name="Sign in").wait_for()
            wait_for_app(page)
            self._pages[""] = page
        self._pages[""].bring_to_front()
        return self._pages[""]

    def signed_in(self, role: str, path: str = ""):
        """The tab of ``role``, showing ``path`` (its home when empty), brought to the front."""
        if role not in self._pages:
            self._pages[role] = self._new_page()
            open_signed_in(self._pages[role], self.base, role, path)
        elif path and urlsplit(self._pages[role].url).path != f"/{path}":
            self._pages[role].goto(f"{self.base}/{path}")
            self._pages[role].get_by_role("button", name="Sign out").wait_for()
            wait_for_app(self._pages[role])
        # here: Chromium draws no frames for a tab behind another, and every click there waits
        # about 2 s for Playwright's "stable" check (two animation frames): the walk took 60 s
        self._pages[role].bring_to_front()
        return self._pages[role]

    def close(self) -> None:
        for page in self._pages.values():
            page.close()


@pytest.fixture(scope="module")
def tabs(portal, shared_context) -> Iterator[Tabs]:
    kept = Tabs(shared_context, portal)
    yield kept
    kept.close()


def test_the_sign_in_page_has_no_serious_violations(tabs, axe_source):
    page = tabs.signed_out()
    wait_for_drawn(page)
    found = serious_violations(page, axe_source)
    assert found == [], json.dumps(found, indent=1)


def test_the_accessibility_check_reports_every_node_of_a_planted_violation(tabs, axe_source):
    """The control for the checks here: two unnamed buttons (axe's "button-name", critical) are
    found, both of them, so an empty result above means no violation rather than a silent check."""
    page = tabs.signed_out()
    page.evaluate(
        """() => { for (const id of ['planted-a', 'planted-b']) {
            const b = document.createElement('button'); b.id = id; document.body.appendChild(b); } }"""
    )
    try:
        found = serious_violations(page, axe_source)
    finally:
        page.evaluate("() => document.querySelectorAll('#planted-a, #planted-b').forEach((b) => b.remove())")
    named = [v for v in found if v["id"] == "button-name"]
    assert len(named) == 1 and len(named[0]["nodes"]) == 2, json.dumps(found, indent=1)


def test_the_browser_tab_shows_the_portals_own_icon(tabs) -> None:
    page = tabs.signed_out()
    # The page config replaces Streamlit's default icon after the first run: wait (bounded) for
    # it; if it never comes, the assertions below say what is wrong.
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(
            f"() => !document.querySelector(\"{ICON}\")?.href.includes('favicon.png')", timeout=10_000
        )
    href = page.evaluate(f"() => document.querySelector(\"{ICON}\")?.href || ''")
    assert urlsplit(href).netloc == urlsplit(tabs.base).netloc or href.startswith("data:image/")
    assert "favicon.png" not in href  # not Streamlit's default crown: the portal's own target icon


@pytest.mark.parametrize("role", list(MAIN_PAGES))
def test_the_main_page_of_every_role_has_no_serious_violations(tabs, axe_source, role):
    page = tabs.signed_in(role, MAIN_PAGES[role])
    wait_for_drawn(page)
    assert page.get_by_text("You do not have access").count() == 0
    found = serious_violations(page, axe_source)
    screenshot(page, f"a11y-{role}-{MAIN_PAGES[role]}")
    assert found == [], json.dumps(found, indent=1)


def _walk(page, role: str, skip: set[str]) -> list[str]:
    """Open, from the sidebar, each page ``role`` is offered that no earlier role opened."""
    opened = []
    for spec in nav.allowed({role}):
        if spec.url_path in skip:
            continue
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=spec.title, exact=True).click()
        want = "/" if spec.path == nav.home_for({role}) else f"/{spec.url_path}"  # the role's home is served at /
        page.wait_for_url(lambda url, want=want: urlsplit(url).path == want)
        wait_for_app(page)
        opened.append(spec.url_path)
    return opened


def test_a_walk_through_every_page_of_every_role_requests_nothing_from_another_host(tabs) -> None:
    own = urlsplit(tabs.base).netloc
    last = tabs.signed_out()
    opened: set[str] = set()
    for role in DEMO_ACCOUNTS:
        last = tabs.signed_in(role)
        opened.update(_walk(last, role, skip=opened))
    last.wait_for_timeout(500)  # late favicon and font requests

    foreign = sorted({u for u in tabs.requests if urlsplit(u).scheme != "data" and urlsplit(u).netloc != own})
    assert opened == {spec.url_path for spec in nav.PAGES if spec.roles & set(DEMO_ACCOUNTS)}
    assert len(tabs.requests) > 50  # the walk really loaded pages, scripts and fonts
    assert foreign == []
