"""Directory import in a real browser: upload two files, see the preview, confirm deactivation in the dialog."""

from __future__ import annotations

import pytest

from kpialign.demo.directory import demo_directory
from tests.browser.conftest import follow_sidebar_link, private_portal, screenshot, sign_in, wait_for_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def directory_portal(demo_sqlite_url, tmp_path_factory):
    """A portal on its own demo copy: the import deactivates every account not in the file (all the
    demo's but the admin's), so it may not run on a portal other modules sign in to."""
    with private_portal(demo_sqlite_url, tmp_path_factory.mktemp("directory")) as started:
        yield started.base


def test_an_admin_imports_the_directory_and_confirms_deactivation_in_a_dialog(page, directory_portal, tmp_path):
    portal = directory_portal
    units, people = demo_directory("small")
    (tmp_path / "units.csv").write_bytes(units.replace(b"Marketing", b"Brand & Marketing"))
    (tmp_path / "people.csv").write_bytes(people)
    sign_in(page, portal, "admin")
    assert follow_sidebar_link(page, "directory-import")
    uploads = page.locator("[data-testid='stFileUploaderDropzoneInput']")
    uploads.nth(0).set_input_files(str(tmp_path / "units.csv"))
    wait_for_app(page)
    uploads.nth(1).set_input_files(str(tmp_path / "people.csv"))
    wait_for_app(page)
    page.get_by_text("Preview: 11 unit(s) and 225 person(s) in the file").wait_for()
    page.get_by_text("renamed from Marketing").first.wait_for(state="attached")  # a data-grid cell (canvas)
    page.get_by_text("Deactivate the").click()
    wait_for_app(page)
    page.get_by_role("button", name="Import and deactivate missing").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("will no longer be able to sign in").wait_for()
    screenshot(page, "directory-import-dialog")
    dialog.get_by_role("button", name="Import and deactivate").click()
    wait_for_app(page)
    page.get_by_text("people: 225 new, 0 changed").wait_for()
    page.get_by_text("The directory is up to date").wait_for()
