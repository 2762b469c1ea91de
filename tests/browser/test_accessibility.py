"""WCAG 2.1 AA in the real portal: axe-core injected into the pages, and a survey done by keyboard alone.

axe-core (npm, installed by ``scripts/ensure_axe.sh`` into ``.cache/axe``) runs with the WCAG
2.0/2.1 A and AA rules; a page passes with no "serious" or "critical" violation. Pages: the
sign-in page, the main page of every role, and the survey from a personal link at phone and
desktop widths. Streamlit issues worked around are described in ``kpialign/ui/a11y.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlmodel import select

from kpialign import db
from kpialign.config import secret_key
from kpialign.models import Department, Question
from kpialign.services import surveys
from tests.browser.conftest import ROOT, screenshot, sign_in, start_portal, stop_portal, wait_for_app
from tests.conftest import IN_CI, sqlite_copy

pytestmark = pytest.mark.browser

AXE = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# The page a user of each role lands on for their daily work.
MAIN_PAGES = {
    "employee": "home",
    "kpi_owner": "kpi-data",
    "leader": "overview",
    "hr": "survey-waves",
    "admin": "users",
    "manager": "home",
}


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        if IN_CI:
            pytest.fail(f"{AXE} is missing and CI=true: run scripts/ensure_axe.sh.")
        pytest.skip("axe-core not installed (scripts/ensure_axe.sh)")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def a11y_portal(demo_sqlite_url, tmp_path_factory) -> Iterator[tuple[str, list[str]]]:
    """The demo portal (one demo account per role) plus a wave open today with personal links."""
    workdir = tmp_path_factory.mktemp("a11y")
    url = sqlite_copy(demo_sqlite_url, workdir / "a11y.db")
    engine = db.make_engine(url)
    with db.write_session(engine) as s:
        dept = s.exec(select(Department).order_by(Department.id)).first()
        qids = [int(q.id) for q in s.exec(select(Question).where(Question.active == True)).all()]  # noqa: E712
        wid = surveys.create_wave(
            session=s,
            name="Accessibility check",
            opens_on=date.today() - timedelta(days=1),
            closes_on=date.today() + timedelta(days=14),
            question_ids=qids,
            department_ids=[int(dept.id)],
            actor="test",
        )
        surveys.open_wave(session=s, wave_id=wid, actor="test")
    base, proc = start_portal(url, workdir)
    with db.write_session(engine) as s:
        links = surveys.invite_department(
            session=s, wave_id=wid, department=int(dept.id), count=6, key=secret_key(url), base_url=base, actor="test"
        )
    engine.dispose()
    yield base, list(links["link"])
    stop_portal(proc)


def serious_violations(page, axe_source: str) -> list[dict]:
    page.add_script_tag(content=axe_source)
    result = page.evaluate("async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:200] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _settle(page) -> None:
    wait_for_app(page)
    page.wait_for_timeout(700)  # charts and tables finish drawing after the script run
    wait_for_app(page)


def test_the_sign_in_page_has_no_serious_violations(a11y_portal, page, axe_source):
    base, _ = a11y_portal
    page.goto(base)
    page.get_by_role("button", name="Sign in").wait_for()
    _settle(page)
    found = serious_violations(page, axe_source)
    assert found == [], json.dumps(found, indent=1)


@pytest.mark.parametrize("role", list(MAIN_PAGES))
def test_the_main_page_of_every_role_has_no_serious_violations(a11y_portal, page, axe_source, role):
    base, _ = a11y_portal
    sign_in(page, base, role)
    page.goto(f"{base}/{MAIN_PAGES[role]}")
    page.get_by_role("button", name="Sign out").wait_for()
    _settle(page)
    assert page.get_by_text("You do not have access").count() == 0
    found = serious_violations(page, axe_source)
    screenshot(page, f"a11y-{role}-{MAIN_PAGES[role]}")
    assert found == [], json.dumps(found, indent=1)


@pytest.mark.parametrize(("width", "height", "lang"), [(390, 844, "en"), (1400, 1000, "de")])
def test_the_survey_has_no_serious_violations_on_phone_and_desktop(
    a11y_portal, browser, axe_source, width, height, lang
):
    _, links = a11y_portal
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=width < 500)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{links[0 if lang == 'en' else 1]}&lang={lang}")
    page.get_by_role("radiogroup").first.wait_for()
    _settle(page)
    assert page.evaluate("document.documentElement.lang") == lang
    found = serious_violations(page, axe_source)
    screenshot(page, f"a11y-survey-{width}-{lang}")
    context.close()
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


def test_a_survey_can_be_completed_with_the_keyboard_only(a11y_portal, page, axe_source):
    """Tab through the page, answer each agree-scale item with the arrow keys, tick one objective
    with Space, type a comment, submit with Enter; the focus visits the items in page order, and
    the thank-you page passes axe too."""
    _, links = a11y_portal
    page.goto(links[2])
    groups = page.get_by_role("radiogroup")
    groups.first.wait_for()
    _settle(page)
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
    _settle(page)
    screenshot(page, "a11y-survey-keyboard-done")
    found = serious_violations(page, axe_source)  # the thank-you page too
    assert found == [], json.dumps(found, indent=1)
