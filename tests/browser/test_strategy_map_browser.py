"""Chromium draws the strategy map (Graphviz in the browser), the conflicts page and a committee's page."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import open_signed_in, screenshot, wait_for_app, wait_for_drawn


def _open(page, link: str, heading: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link, exact=True).click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=30_000)


def _tall_screenshot(page, name: str) -> int:
    page.set_viewport_size({"width": 1400, "height": 3000})  # the app scrolls inside its container
    wait_for_drawn(page)
    shot = screenshot(page, name)
    page.set_viewport_size({"width": 1400, "height": 1000})
    return shot.stat().st_size


def test_the_strategy_map_is_drawn_with_kpis_links_and_evidence(portal, page):
    open_signed_in(page, portal, "leader", "strategy-map")
    expect(page.get_by_role("heading", name="Strategy map", exact=True)).to_be_visible()
    svg = page.get_by_test_id("stGraphVizChart").locator("svg").first
    expect(svg).to_be_visible(timeout=30_000)
    text = svg.text_content() or ""
    for expected in ("Converted marketing leads", "Delivery complaints", "lag 2: supported", "opposite sign"):
        assert expected in text, expected
    assert svg.locator("g.node").count() >= 30 and svg.locator("g.edge").count() >= 40
    assert svg.locator("g.cluster").count() >= 8  # one box per department
    assert page.get_by_test_id("stException").count() == 0
    assert _tall_screenshot(page, "strategy-map") > 50_000

    # Filtering to one department leaves a smaller map: its KPIs and their link partners.
    before = svg.locator("g.node").count()
    page.get_by_role("combobox", name="Departments (none chosen: all)").click()
    page.keyboard.type("Logistics")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    wait_for_app(page)
    svg = page.get_by_test_id("stGraphVizChart").locator("svg").first
    expect(svg).to_be_visible(timeout=30_000)
    assert 0 < svg.locator("g.node").count() < before
    assert "Delivery complaints" in (svg.text_content() or "")  # the partner of Freight cost per order
    _tall_screenshot(page, "strategy-map-logistics")


def test_conflicts_and_the_committee_page_render(portal, page):
    open_signed_in(page, portal, "leader", "conflicts")
    expect(page.get_by_role("heading", name="Conflicting priorities", exact=True)).to_be_visible()
    expect(page.get_by_text("Links whose data contradict the expected direction")).to_be_visible()
    assert page.get_by_test_id("stException").count() == 0
    _tall_screenshot(page, "conflicts")
    _open(page, "Committees", "Committee")
    expect(page.get_by_test_id("stGraphVizChart").locator("svg").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Working across teams (survey)")).to_be_visible()
    assert page.get_by_test_id("stException").count() == 0
    _tall_screenshot(page, "committee")
