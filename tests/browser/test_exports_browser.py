"""Download a CSV through the real Exports page (Chromium) and check its bytes."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from kpialign import db, exports
from kpialign.core import csv_out
from tests.browser.conftest import open_signed_in, screenshot, wait_for_app

WAVE = "2026 Q3"


def _expected(url: str, kind: str, **kw) -> exports.ExportFile:
    eng = db.make_engine(url)
    try:
        with db.read_session(eng) as s:
            return exports.prepare_export(s, kind=kind, roles={"hr", "admin"}, **kw)
    finally:
        eng.dispose()


def test_hr_downloads_results_csv(page, portal, demo_sqlite_url):
    open_signed_in(page, portal, "hr", "exports")
    expect(page.get_by_role("heading", name="Exports")).to_be_visible()

    page.get_by_label("Survey wave").click()
    page.get_by_role("option", name=WAVE, exact=True).click()
    wait_for_app(page)
    page.get_by_role("button", name="Prepare file").click()
    wait_for_app(page)
    button = page.get_by_role("button", name=re.compile(r"Download kpialign-results-2026-Q3-"))
    expect(button).to_be_visible()
    screenshot(page, "exports-results-prepared")

    with page.expect_download() as info:
        button.click()
    download = info.value
    data = Path(download.path()).read_bytes()

    expected = _expected(demo_sqlite_url, "results", wave=WAVE)
    assert download.suggested_filename == expected.filename
    assert data == expected.data  # the page hands out exactly the export function's bytes
    rows = csv_out.read_csv_rows(data)
    assert rows[0] == exports.RESULTS_COLUMNS
    body = rows[1:]
    hidden = [r for r in body if r[-1] == "true"]
    assert hidden and all(r[5:10] == [""] * 5 for r in hidden)  # suppressed cells are empty
    assert b"\r\n" in data and not data.startswith(csv_out.UTF8_BOM)


def test_excel_flavour_download_has_bom(page, portal, demo_sqlite_url):
    open_signed_in(page, portal, "hr", "exports")
    page.get_by_label("What to export").click()
    page.get_by_role("option", name=exports.KIND_LABELS["kpis"]).click()
    wait_for_app(page)
    page.get_by_text("Excel flavour").click()
    wait_for_app(page)
    page.get_by_role("button", name="Prepare file").click()
    wait_for_app(page)
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile(r"Download kpialign-kpis-")).click()
    data = Path(info.value.path()).read_bytes()
    assert data.startswith(csv_out.UTF8_BOM)
    assert data == _expected(demo_sqlite_url, "kpis", excel=True).data
    screenshot(page, "exports-kpis-prepared")
