"""Chromium opens the real portal, signs in through the form and sees the home page's figures."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import screenshot, sign_in, wait_for_app


def test_home_page_in_chromium(portal, page):
    sign_in(page, portal, "leader")
    expect(page.get_by_role("heading", name="Organisation at a glance")).to_be_visible()
    metric = page.get_by_test_id("stMetric").filter(has_text="Departments")
    expect(metric).to_be_visible()
    value = metric.get_by_test_id("stMetricValue").inner_text()
    assert int(value) >= 8
    expect(page.get_by_text("Latest survey wave")).to_be_visible()
    wait_for_app(page)
    shot = screenshot(page, "home")
    assert shot.stat().st_size > 10_000


def test_health_endpoint(portal):
    import urllib.request

    with urllib.request.urlopen(f"{portal}/_stcore/health", timeout=5) as r:
        assert r.read().decode().strip() == "ok"
