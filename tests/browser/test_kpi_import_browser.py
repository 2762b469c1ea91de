"""Browser: a KPI owner uploads a CSV with errors, sees every problem listed, fixes the file and imports it."""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot, sign_in, wait_for_app

pytestmark = pytest.mark.browser

BAD = (
    "kpi;department;period;actual;target\n"
    "First response time;Customer Success;2026-11;3,5;\n"
    "First response time;Customer Success;2026-Q4;3;\n"  # quarter for a monthly KPI
    "Customer retention rate;Customer Success;2026-11;1,234;\n"  # ambiguous decimal comma
    "New bookings;Sales;2026-11;900;\n"  # not this owner's department
)
GOOD = (
    "kpi;department;period;actual;target\n"
    "First response time;Customer Success;2026-11;3,5;\n"
    "Customer retention rate;Customer Success;2026-11;93,4;95\n"
)


def _upload(page, name: str, text: str) -> None:
    page.locator("input[type='file']").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode("utf-8-sig")}]
    )
    wait_for_app(page)


def test_upload_errors_fix_and_import(page, scratch_portal):
    portal = scratch_portal.base
    from playwright.sync_api import expect

    sign_in(page, portal, "kpi_owner")
    # A page load would start a new, signed-out session: navigate inside the app instead.
    page.get_by_role("link", name="Import KPI data").click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Import KPI data")).to_be_visible()

    _upload(page, "november.csv", BAD)
    expect(page.get_by_text("The file has 3 problems; nothing was imported.")).to_be_visible()
    table = page.locator("[data-testid='stDataFrame']").first
    expect(table).to_be_visible()
    screenshot(page, "kpi_import_errors")
    expect(page.get_by_role("button", name="Import")).to_have_count(0)

    # Upload the corrected file in place of the bad one.
    _upload(page, "november-fixed.csv", GOOD)
    expect(page.get_by_text("The file is valid: 2 row(s)")).to_be_visible()
    expect(page.get_by_text("Importing will insert 2 value(s) and update 0; 0 are unchanged.")).to_be_visible()
    screenshot(page, "kpi_import_preview")
    page.get_by_role("button", name="Import 2 row(s)").click()
    wait_for_app(page)
    expect(page.get_by_text("Imported 2 row(s): 2 inserted, 0 updated, 0 unchanged.")).to_be_visible()
    # The file is still there: importing it again would change nothing, and the page says so.
    expect(page.get_by_text("importing changes nothing")).to_be_visible()
    screenshot(page, "kpi_import_done")
