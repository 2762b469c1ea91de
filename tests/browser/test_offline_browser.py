"""Nothing is loaded from outside the portal's host: a confidential portal works air-gapped and tells
no third party (font or icon CDNs) who visits which page.

One Chromium walk: each demo role signs in through the sign-in page and opens, from the sidebar,
every page no earlier role has opened (so every page is loaded once, some several times), while
every request the browser makes (documents, scripts, fonts, icons, websockets) is recorded.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from kpialign.demo.seed import DEMO_ACCOUNTS
from kpialign.ui import nav
from tests.browser.conftest import sign_in, wait_for_app

pytestmark = pytest.mark.browser


def _walk(page, portal: str, role: str, skip: set[str]) -> list[str]:
    """Sign in as ``role`` and open, from the sidebar, each page it is offered that no earlier role opened."""
    sign_in(page, portal, role)
    opened = []
    for spec in nav.allowed({role}):
        if spec.url_path in skip:
            continue
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=spec.title, exact=True).click()
        want = "/" if spec.default else f"/{spec.url_path}"
        page.wait_for_url(lambda url, want=want: urlsplit(url).path == want)
        wait_for_app(page)
        opened.append(spec.url_path)
    return opened


def test_a_walk_through_every_page_of_every_role_requests_nothing_from_another_host(portal, browser) -> None:
    own = urlsplit(portal).netloc
    requests: list[str] = []
    opened: set[str] = set()
    for role in DEMO_ACCOUNTS:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("request", lambda r: requests.append(r.url))
        page.on("websocket", lambda ws: requests.append(ws.url))
        opened.update(_walk(page, portal, role, skip=opened))
        page.wait_for_timeout(500)  # late favicon and font requests
        context.close()

    foreign = sorted({u for u in requests if urlsplit(u).scheme != "data" and urlsplit(u).netloc != own})
    assert opened == {spec.url_path for spec in nav.PAGES if spec.roles & set(DEMO_ACCOUNTS)}
    assert len(requests) > 50  # the walk really loaded pages, scripts and fonts
    assert foreign == []


def test_the_browser_tab_shows_the_portals_own_icon(portal, page) -> None:
    icons: list[str] = []
    page.on("request", lambda r: icons.append(r.url) if r.resource_type in {"image", "other"} else None)
    page.goto(portal)
    wait_for_app(page)
    page.wait_for_timeout(500)
    href = page.evaluate("() => document.querySelector(\"link[rel~='icon']\")?.href || ''")
    assert urlsplit(href).netloc == urlsplit(portal).netloc or href.startswith("data:image/")
    assert "favicon.png" not in href  # not Streamlit's default crown: the portal's own target icon
