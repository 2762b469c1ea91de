"""Pages stay thin: a page script reads widgets, calls kpialign and renders (issue 12, item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_PAGE_LINES = 180  # "about 150 lines at most": forms go to kpialign/ui/, charts to kpialign/charts.py
PAGES = sorted((ROOT / "pages").glob("*.py"))


def test_the_pages_folder_is_found():
    assert len(PAGES) > 10


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_page_is_longer_than_180_lines(page):
    n = len(page.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_PAGE_LINES, (
        f"{page.name} has {n} lines: move its forms and dialogs into kpialign/ui/ and its charts into "
        "kpialign/charts.py"
    )
