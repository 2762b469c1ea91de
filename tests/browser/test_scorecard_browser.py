"""Chromium opens each Scorecard page of the real portal (small demo) and takes a screenshot."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import open_signed_in, screenshot, wait_for_app, wait_for_drawn

PAGES = [
    ("overview", "Overview", "Alignment overview"),
    ("department", "Department", "Department"),
    ("objectives", "Objectives", "Objectives"),
    ("survey-results", "Survey results", "Survey results"),
    ("how-scores-work", "How scores work", "How scores work"),
]


def _open(page, link: str, heading: str) -> None:
    """Open a page through the sidebar, as a person would, and wait until its charts are drawn."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link, exact=True).click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=30_000)
    wait_for_drawn(page)


def test_scorecard_pages_in_chromium(portal, page):
    open_signed_in(page, portal, "leader")
    for path, link, heading in PAGES:
        _open(page, link, heading)
        assert page.get_by_test_id("stException").count() == 0, path
        if path not in ("how-scores-work",):
            assert page.locator("canvas, svg.marks").count() >= 1, f"{path}: no chart drawn"
        page.set_viewport_size({"width": 1400, "height": 3400})  # the app scrolls inside its container
        wait_for_drawn(page)
        shot = screenshot(page, f"scorecard-{path}")
        page.set_viewport_size({"width": 1400, "height": 1000})
        assert shot.stat().st_size > 20_000


def test_overview_first_render_and_table(portal, page):
    open_signed_in(page, portal, "leader", "overview")
    expect(page.get_by_role("heading", name="Alignment overview", exact=True)).to_be_visible()
    metric = page.get_by_test_id("stMetric").filter(has_text="Organisation score")
    expect(metric).to_be_visible()
    assert metric.get_by_test_id("stMetricValue").inner_text().strip().isdigit()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()


def test_department_page_for_the_small_department(portal, page):
    open_signed_in(page, portal, "leader", "department")
    expect(page.get_by_role("heading", name="Department", exact=True)).to_be_visible()
    page.get_by_role("combobox", name="Department").click()
    page.get_by_role("option", name="Legal (Corporate)").click()
    wait_for_app(page)
    expect(page.get_by_text("No survey figures can be shown for this department")).to_be_visible(timeout=30_000)
    page.set_viewport_size({"width": 1400, "height": 3000})
    wait_for_drawn(page)
    screenshot(page, "scorecard-department-legal")
