"""Chromium walks a quarter: the KPI owner checks in a red KPI, the unit's manager holds the
review and decides an action on it, the Home alert goes away, and the review pack downloads
with the KPI and the action in its text (pdftotext)."""

from __future__ import annotations

import subprocess

import pytest
from playwright.sync_api import expect

from kpialign import db
from kpialign.scorecard import review_brief
from kpialign.services import accounts
from tests.browser.conftest import private_portal, screenshot, sign_in, wait_for_app
from tests.conftest import add_unit_manager, require_pdftotext

MANAGER = "cs.manager@example.org"  # a manager of Customer Success only (the demo manager leads another unit)
KPI = "First response time"  # Customer Success, red in the demo and without an action
ACTION = "Triage rota for incoming tickets"


@pytest.fixture(scope="module")
def walk_portal(demo_sqlite_url, tmp_path_factory):
    """A portal on its own copy of the demo (Customer Success's KPI values must be the demo's: no
    shared portal), with a manager of Customer Success."""
    red: list[str] = []

    def prepare(url: str) -> None:
        account_id = add_unit_manager(url, email=MANAGER, department="Customer Success")
        eng = db.make_engine(url)
        with db.read_session(eng) as s:
            user = accounts.user_context_by_id(session=s, account_id=account_id)
            red.extend(review_brief.red_kpis_without_action(session=s, user=user)["name"])
        eng.dispose()
        assert KPI in red

    with private_portal(demo_sqlite_url, tmp_path_factory.mktemp("walk"), prepare) as started:
        yield started.base, red


def _open(page, link: str) -> None:
    """Follow a sidebar link (a typed URL would start a new session)."""
    page.get_by_role("link", name=link, exact=True).click()
    wait_for_app(page)


def _tab(page, name: str) -> None:
    """Open a tab of the Reviews page (tracked tabs rerun the page) and wait for the run to end."""
    tab = page.get_by_role("tab", name=name)
    if tab.get_attribute("aria-selected") != "true":
        tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    wait_for_app(page)


def _alert(page):
    return page.get_by_test_id("stMetric").filter(has_text="Red KPIs without an action")


def test_a_quarter_from_check_in_to_review_pack(walk_portal, page, tmp_path):
    walk_portal, red = walk_portal
    require_pdftotext()
    owner = page
    owner.set_default_timeout(60_000)
    sign_in(owner, walk_portal, "kpi_owner")
    _open(owner, "KPI data")
    owner.get_by_role("combobox", name="Period").click()
    owner.get_by_role("option", name="2026-09", exact=True).click()
    wait_for_app(owner)
    owner.get_by_role("combobox", name="KPI", exact=True).click()
    owner.get_by_role("option", name=KPI).click()
    owner.get_by_test_id("stRadioGroup").get_by_text("Off track", exact=True).click()
    owner.get_by_label("Analysis: why is it where it is?").fill("Two agents left; tickets wait in one queue.")
    owner.get_by_role("button", name="Save check-in").click()
    expect(owner.get_by_text("Check-in saved for First response time (2026-09)")).to_be_visible()
    owner.close()

    page.context.clear_cookies()  # the same browser, now the manager's
    manager = page.context.new_page()
    manager.set_default_timeout(90_000)
    sign_in(manager, walk_portal, MANAGER)
    _open(manager, "Home")
    expect(_alert(manager)).to_be_visible()
    assert _alert(manager).get_by_test_id("stMetricValue").inner_text() == str(len(red))
    _open(manager, "Reviews")
    _tab(manager, "Record and sign off")
    manager.get_by_role("textbox", name="Summary").fill("Response times are the one red KPI.")
    manager.get_by_role("button", name="Save the review").click()
    expect(manager.get_by_text("The review was saved.")).to_be_visible()
    wait_for_app(manager)
    for name in [KPI] + [n for n in red if n != KPI]:  # an action for every red KPI of the unit
        title = ACTION if name == KPI else f"Bring {name} back on target"
        _tab(manager, "Decide an action")
        manager.get_by_role("textbox", name="Action", exact=True).fill(title)
        manager.get_by_role("combobox", name="About KPI (optional)").click()
        manager.get_by_role("option", name=name, exact=True).click()
        manager.get_by_role("button", name="Add the action").click()
        expect(manager.get_by_text(f"Action added: {title}")).to_be_visible()
        wait_for_app(manager)
        # The tab stays open after the save (it used to jump back to "Prepare").
        expect(manager.get_by_role("tab", name="Decide an action")).to_have_attribute("aria-selected", "true")

    _open(manager, "Home")
    expect(manager.get_by_role("heading", name="Organisation at a glance")).to_be_visible()
    expect(_alert(manager)).to_have_count(0)

    _open(manager, "Reviews")
    _tab(manager, "Review pack")
    manager.get_by_role("button", name="Make this department's pack").click()
    with manager.expect_download() as got:
        manager.get_by_role("button", name="Download the PDF").click()
    pdf = tmp_path / "pack.pdf"
    got.value.save_as(pdf)
    screenshot(manager, "review-pack-ready")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert KPI in text and ACTION in text
    assert "Two agents left; tickets wait in one queue." in text
