"""A new employee answers the survey from a personal link in Chromium, then finds the link used.

Screenshots (phone width 390 px and desktop) go to ``$KPIALIGN_SCREENSHOTS``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from kpialign import db
from tests.browser.conftest import SCREENSHOTS, TIMEOUT_MS, screenshot, survey_links, wait_for_app

pytestmark = pytest.mark.browser


def screenshot_dir():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def _open(page, link: str) -> None:
    """Open a link and wait until the survey script has run (not the first, transient page list)."""
    page.goto(link)
    page.get_by_role("heading", name="Line-of-sight survey").wait_for()
    wait_for_app(page)


def _responses(db_url: str) -> int:
    eng = db.make_engine(db_url)
    with eng.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM response")).scalar_one()
    eng.dispose()
    return int(n)


def test_employee_answers_from_a_personal_link_then_the_link_is_used(survey_portal, browser):
    portal, workdir = survey_portal
    base, db_url = portal.base, portal.url
    link = survey_links(portal, 1)[0]
    before = _responses(db_url)  # the portal is shared with other survey tests
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    _open(page, link)
    page.get_by_text("Confidential, not anonymous").wait_for()
    assert page.get_by_text("Page not found").count() == 0
    screenshot(page, "survey-phone-390")

    page.get_by_role("radiogroup").nth(0).scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir() / "survey-phone-390-first-items.png"))
    groups = page.get_by_role("radiogroup")
    assert groups.count() >= 10
    groups.nth(0).get_by_text("Strongly agree", exact=True).click()
    wait_for_app(page)
    page.get_by_role("radiogroup").nth(1).get_by_text("Prefer not to say", exact=True).click()
    wait_for_app(page)
    page.get_by_text("2 of ").first.wait_for()
    page.get_by_role("radiogroup").nth(2).get_by_text("Agree", exact=True).click()
    wait_for_app(page)
    objective = page.get_by_role("checkbox", name="Prefer not to say")
    objective.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir() / "survey-phone-390-items.png"))
    page.get_by_placeholder("Optional. Please leave out names").fill("More updates on our goals, please.")
    submit = page.get_by_role("button", name="Submit my answers")
    submit.dblclick()  # a double click must not create a second response
    page.get_by_text("Your answers have been saved.").wait_for()
    wait_for_app(page)
    screenshot(page, "survey-thank-you-phone")
    assert _responses(db_url) == before + 1

    page.reload()  # refresh: a new session with the same link
    wait_for_app(page)
    page.get_by_text("already been used").wait_for()
    page.goto(base)  # elsewhere, then the back button to the link
    wait_for_app(page)
    page.go_back()
    wait_for_app(page)
    page.get_by_text("already been used").wait_for()
    assert _responses(db_url) == before + 1

    again = context.new_page()
    again.goto(link)
    wait_for_app(again)
    again.get_by_text("already been used").wait_for()
    screenshot(again, "survey-link-used-phone")
    assert _responses(db_url) == before + 1
    context.close()
    token = link.split("token=")[1]
    logs = " ".join(p.read_text() for p in workdir.glob("streamlit-*.log"))
    assert token not in logs, "the survey token must never be logged"


def test_survey_page_on_a_desktop(survey_portal, page):
    portal, _ = survey_portal
    base = portal.base
    _open(page, survey_links(portal, 1)[0])
    page.get_by_text("Confidential, not anonymous").wait_for()
    assert page.get_by_text("Page not found").count() == 0
    screenshot(page, "survey-desktop")
    page.goto(f"{base}/survey?token=made-up-token")
    wait_for_app(page)
    page.get_by_text("could not find this survey link").wait_for()
    screenshot(page, "survey-unknown-link-desktop")
