"""WCAG 2.1 AA in the real portal: axe-core injected into the survey from a personal link at phone
and desktop widths, and a survey done by keyboard alone.

axe-core (npm, installed by ``scripts/ensure_axe.sh`` into ``.cache/axe``) runs with the WCAG
2.0/2.1 A and AA rules; a page passes with no "serious" or "critical" violation. The sign-in page
and the main page of every role are checked in test_pages_browser.py, in the tabs of its walk.
Streamlit issues worked around are described in ``kpialign/ui/a11y.py``.
"""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import (
    TIMEOUT_MS,
    screenshot,
    serious_violations,
    survey_links,
    wait_for_app,
    wait_for_drawn,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def links(survey_portal) -> list[str]:
    """Three personal links to the wave open on the survey portal (English, German, keyboard)."""
    portal, _ = survey_portal
    return survey_links(portal, 3)


@pytest.mark.parametrize(("width", "height", "lang"), [(390, 844, "en"), (1400, 1000, "de")])
def test_the_survey_has_no_serious_violations_on_phone_and_desktop(
    links, browser, shared_context, axe_source, width, height, lang
):
    phone = browser.new_context(viewport={"width": width, "height": height}, is_mobile=True) if width < 500 else None
    page = (phone or shared_context).new_page()  # the desktop: a tab of the shared context
    page.set_viewport_size({"width": width, "height": height})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{links[0 if lang == 'en' else 1]}&lang={lang}")
    page.get_by_role("radiogroup").first.wait_for()
    wait_for_drawn(page)
    assert page.evaluate("document.documentElement.lang") == lang
    found = serious_violations(page, axe_source)
    screenshot(page, f"a11y-survey-{width}-{lang}")
    page.close()
    if phone:
        phone.close()
    assert found == [], json.dumps(found, indent=1)


def _focused(page) -> dict:
    return page.evaluate(
        """() => {
        const e = document.activeElement;
        const group = e && e.closest('[role=radiogroup]');
        const label = e && e.closest('label');
        return {tag: e ? e.tagName : null, type: e ? e.type || null : null,
                group: group ? group.getAttribute('aria-label') : null,
                text: (label ? label.innerText : (e ? e.innerText || e.getAttribute('aria-label') || '' : '')).trim()};
    }"""
    )


def test_a_survey_can_be_completed_with_the_keyboard_only(links, page, axe_source):
    """Tab through the page, answer each agree-scale item with the arrow keys, tick one objective
    with Space, type a comment, submit with Enter; the focus visits the items in page order, and
    the thank-you page passes axe too."""
    page.goto(links[2])
    groups = page.get_by_role("radiogroup")
    groups.first.wait_for()
    wait_for_drawn(page)
    names = [groups.nth(i).get_attribute("aria-label") for i in range(groups.count())]
    assert names[0].startswith("1. ") and all("\\" not in n and "**" not in n for n in names)
    answered: list[str] = []
    ticked = commented = False
    visited = []
    for _ in range(120):
        page.keyboard.press("Tab")
        f = _focused(page)
        visited.append(f)
        if f["group"] and f["group"] not in answered:
            page.keyboard.press("ArrowRight")  # selects the next point of the scale
            answered.append(f["group"])
            wait_for_app(page)
        elif f["type"] == "checkbox" and not ticked and f["text"] not in ("Prefer not to say",):
            page.keyboard.press("Space")
            ticked = True
            wait_for_app(page)
        elif f["tag"] == "TEXTAREA" and not commented:
            page.keyboard.type("Done with the keyboard only.")
            commented = True
        elif f["tag"] == "BUTTON" and "Submit my answers" in f["text"]:
            break
    else:
        pytest.fail(f"never reached Submit; answered {len(answered)} of {len(names)}; focus went {visited[-12:]}")
    assert answered == names  # every item, in page order
    assert ticked and commented
    assert page.get_by_text(f"{len(names) + 1} of {len(names) + 1} answered").count() == 1
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Thank you!").wait_for()
    wait_for_drawn(page)
    screenshot(page, "a11y-survey-keyboard-done")
    found = serious_violations(page, axe_source)  # the thank-you page too
    assert found == [], json.dumps(found, indent=1)
