"""Chromium: an employee finds their department's KPIs and the objectives they serve on Our strategy,
and once the open wave closes sees its results shared back on Our results."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlmodel import select

from kpialign import db
from kpialign.demo.seed import OPEN_WAVE_NAME
from kpialign.models import SurveyWave
from kpialign.services import surveys
from tests.browser.conftest import screenshot, sign_in, wait_for_app


def test_employee_finds_their_kpis_and_objectives_then_the_results_after_the_wave_closes(scratch_portal, page):
    """On the shared scratch portal: the test closes the demo's open wave, which no other module there reads."""
    base, url = scratch_portal.base, scratch_portal.url
    sign_in(page, base, "employee")
    expect(page.get_by_role("heading", name="Our strategy")).to_be_visible()
    expect(page.get_by_role("heading", name="Sales: our KPIs")).to_be_visible()
    expect(page.get_by_text("New bookings", exact=True)).to_be_visible()
    expect(page.get_by_text("Serves: OBJ1 Grow recurring revenue (strongly)")).to_be_visible()
    expect(page.get_by_text("on target, improving").first).to_be_visible()
    screenshot(page, "our-strategy")

    page.get_by_role("link", name="Our results").click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Sales")).to_be_visible()
    expect(page.get_by_text("Wave 2026 Q3, closed")).to_be_visible()
    expect(page.get_by_text(OPEN_WAVE_NAME)).to_have_count(0)  # an open wave's results are never shared

    eng = db.make_engine(url)
    with db.write_session(eng) as s:
        wave_id = s.exec(select(SurveyWave.id).where(SurveyWave.name == OPEN_WAVE_NAME)).one()
        surveys.close_wave(session=s, wave_id=wave_id, actor="hr@demo.kpialign.test")
    eng.dispose()
    page.reload()
    wait_for_app(page)
    expect(page.get_by_text(f"Wave {OPEN_WAVE_NAME}, closed")).to_be_visible()
    # Sales answered the open wave by signing in and nobody had yet: the nearest unit is named instead
    expect(page.get_by_text("Results for Sales cannot be shown")).to_be_visible()
    expect(page.get_by_text("The nearest unit whose results can be shown is Commercial:")).to_be_visible()
    screenshot(page, "our-results-after-close")
