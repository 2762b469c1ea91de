"""Browser: Strategy setup keeps the tab the admin works in when a form is saved (tracked tabs and a
fixed notice slot, kpialign.ui.forms.show_notice)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot, sign_in, wait_for_app

pytestmark = pytest.mark.browser


def test_adding_a_department_keeps_the_departments_tab_open_and_shows_the_notice(page, scratch_portal):
    from playwright.sync_api import expect

    sign_in(page, scratch_portal.base, "admin")
    page.get_by_role("link", name="Strategy setup").click()
    wait_for_app(page)
    page.get_by_role("tab", name="Departments").click()
    wait_for_app(page)
    form = page.locator("[data-testid='stForm']").filter(has=page.get_by_role("button", name="Add department"))
    form.get_by_role("textbox", name="Name").fill("Research")
    form.get_by_role("button", name="Add department").click()
    wait_for_app(page)
    expect(page.get_by_text("Department added.")).to_be_visible()
    expect(page.get_by_role("tab", name="Departments")).to_have_attribute("aria-selected", "true")
    screenshot(page, "strategy_setup_department_added")
