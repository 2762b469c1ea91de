"""Browser fixtures: the real portal (``streamlit run``), driven by Chromium.

- ``portal``: base URL of a read-only server started once per session on a private copy of
  the small demo database (SQLite; demo mode is on because the database is the seeded demo);
  ``writable_portal``: the same, once per module, for tests that change data.
- ``page``: a fresh Playwright page (new browser context) per test.
- ``sign_in(page, portal, role_or_email)`` and ``wait_for_app(page)`` helpers.

Chromium is Debian's /usr/bin/chromium. Without it the tests are skipped, except with
``CI=true``, where that is an error.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, IN_CI, sqlite_copy  # noqa: F401  (CHROMIUM* re-exported for scripts)

ROOT = Path(__file__).resolve().parents[2]

SCREENSHOTS = Path(os.environ.get("KPIALIGN_SCREENSHOTS", "/tmp/kpialign-screenshots"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_portal(
    db_url: str, workdir: Path, *, env_extra: dict[str, str] | None = None
) -> tuple[str, subprocess.Popen]:
    """Start ``streamlit run app.py`` on a free loopback port; returns (base_url, process)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "KPIALIGN_DATABASE_URL": db_url,
        "KPIALIGN_BASE_URL": base,
        **(env_extra or {}),
    }
    log = (workdir / f"streamlit-{port}.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
            "--server.port", str(port), "--server.address", "127.0.0.1",
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early; see {log.name}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return base, proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"streamlit did not become healthy; see {log.name}")


def stop_portal(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything in this folder drives Chromium: mark it, so `-m "not browser"` runs the rest."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def portal(demo_sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The read-only portal: a copy of the small demo, started once per test session (per
    xdist worker). Tests that change data use ``writable_portal`` instead, so what one test
    writes never shows up in another's page."""
    workdir = tmp_path_factory.mktemp("portal")
    url = sqlite_copy(demo_sqlite_url, workdir / "portal.db")
    base, proc = start_portal(url, workdir)
    yield base
    stop_portal(proc)


@pytest.fixture(scope="module")
def writable_portal(demo_sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A portal on its own copy of the small demo, started once per module, for tests that write."""
    workdir = tmp_path_factory.mktemp("writable-portal")
    url = sqlite_copy(demo_sqlite_url, workdir / "portal.db")
    base, proc = start_portal(url, workdir)
    yield base
    stop_portal(proc)


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


def wait_for_app(page) -> None:
    """Wait until the script run has finished and the page is idle."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=30_000)
    page.wait_for_timeout(200)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=30_000)


def sign_in(page, base_url: str, who: str) -> None:
    """Sign in through the real sign-in form as a demo role (or an e-mail with the demo password)."""
    from kpialign.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD

    email = DEMO_ACCOUNTS.get(who, who)
    page.goto(base_url)
    wait_for_app(page)
    page.get_by_role("textbox", name="E-mail").fill(email)
    page.get_by_role("textbox", name="Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()
    wait_for_app(page)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
