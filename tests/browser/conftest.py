"""Browser fixtures: the real portal (``streamlit run``), driven by Chromium.

A portal costs a Streamlit process and its first, slow script runs (imports and caches), so the
modules share as few as they can. Which portal a module uses:

- ``portal``: base URL of the read-only portal, started once per test session (per xdist
  worker) on a private copy of the small demo database (SQLite; demo mode is on because the
  database is the seeded demo). Modules that only read use it.
- ``scratch_portal``: a ``Portal`` (base URL and database URL) on its own demo copy, also once
  per session, for modules that write only what no other module on it reads. Its users and what
  they write: test_session_browser (its own account, web sessions, that account's password),
  test_auth_browser (its own account with a Markdown name, a failed sign-in of that account),
  test_strategy_setup_browser (a "Research" department), test_kpi_import_browser (Customer
  Success values for 2026-11) and test_line_of_sight_browser (closes the demo's open wave). A
  module whose writes another module would see (or that deactivates accounts) starts its own
  with ``private_portal``.
- ``survey_portal``: a small organisation (tests/unit/survey_helpers) with a wave open today and
  no demo accounts, once per session: personal survey links and e-mails.
- ``page``: a new Playwright page per test, without cookies, in one browser context per session
  (``shared_context``: its cache spares Chromium most of the work of loading the portal again).
- ``sign_in(page, base, who)`` signs in through the form; ``open_signed_in(page, base, who,
  path)`` signs in through the form once per portal and person and reuses the session cookie
  after that (a sign-in holds for the whole browser), so a test on a read-only portal pays for
  one page run instead of three. ``wait_for_app(page)`` waits for the script run to end, and
  ``wait_for_drawn(page)`` for the charts, graphs and tables it sent to be drawn.

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kpialign import db
from kpialign.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD
from kpialign.services import surveys
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, IN_CI, sqlite_copy  # noqa: F401  (CHROMIUM* re-exported for scripts)
from tests.unit.survey_helpers import KEY, make_wave, seed_org

ROOT = Path(__file__).resolve().parents[2]

SCREENSHOTS = Path(os.environ.get("KPIALIGN_SCREENSHOTS", "/tmp/kpialign-screenshots"))
AXE = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
COOKIE = "kpialign_session"
# A bound for each wait, generous because a portal's first runs are slow on a loaded machine (two
# xdist workers, each with a portal and a Chromium, on two cores); it only delays a failure.
TIMEOUT_MS = 60_000
SURVEY_WAVE = "Autumn pulse"  # the wave open today on ``survey_portal``


@dataclass(frozen=True)
class Portal:
    base: str
    url: str  # the portal's database


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
        # here: the log is read by tests (a survey token must never be logged): nothing may
        # wait in a buffer while they read it
        "PYTHONUNBUFFERED": "1",
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


def stop_portal(proc: subprocess.Popen, *, graceful: bool = True) -> None:
    """Stop a portal: SIGTERM (Streamlit closes its sessions, a few seconds), or at once with
    ``graceful=False`` for a portal on a throwaway database."""
    if graceful:
        proc.terminate()
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            pass
    proc.kill()
    proc.wait()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything in this folder drives Chromium: mark it, so `-m "not browser"` runs the rest."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@contextmanager
def private_portal(
    demo_sqlite_url: str, workdir: Path, prepare: Callable[[str], None] | None = None
) -> Iterator[Portal]:
    """A portal on its own copy of the small demo; ``prepare(db_url)`` runs before it starts."""
    url = sqlite_copy(demo_sqlite_url, workdir / "portal.db")
    if prepare is not None:
        prepare(url)
    base, proc = start_portal(url, workdir)
    yield Portal(base, url)
    stop_portal(proc, graceful=False)


@pytest.fixture(scope="session")
def portal(demo_sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The read-only portal: a copy of the small demo, started once per test session (per xdist
    worker). Tests that change data use ``scratch_portal`` or ``private_portal`` instead, so
    what one test writes never shows up in another's page."""
    with private_portal(demo_sqlite_url, tmp_path_factory.mktemp("portal")) as started:
        yield started.base


@pytest.fixture(scope="session")
def scratch_portal(demo_sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """The portal for modules that write only what no other module reads (listed above), once per session."""
    with private_portal(demo_sqlite_url, tmp_path_factory.mktemp("scratch-portal")) as started:
        yield started


@pytest.fixture(scope="session")
def survey_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Portal, Path]]:
    """A small organisation with the wave ``SURVEY_WAVE`` open today, no accounts, demo mode off;
    yields (portal, its work folder, where the Streamlit log is)."""
    workdir = tmp_path_factory.mktemp("survey-portal")
    url = f"sqlite:///{workdir / 'survey.db'}"
    eng = db.make_engine(url)
    db.migrate(eng)
    make_wave(eng, seed_org(eng), name=SURVEY_WAVE, around=date.today())
    eng.dispose()
    base, proc = start_portal(url, workdir, env_extra={"KPIALIGN_SECRET_KEY": KEY.decode(), "KPIALIGN_DEMO": "0"})
    yield Portal(base, url), workdir
    stop_portal(proc, graceful=False)


def survey_links(portal: Portal, count: int, *, wave: str = SURVEY_WAVE, department: str = "Sales") -> list[str]:
    """``count`` new personal links to ``wave`` on ``survey_portal``."""
    eng = db.make_engine(portal.url)
    with db.write_session(eng) as s:
        wid = surveys.get_wave(session=s, name=wave).id
        links = surveys.invite_department(
            session=s, wave_id=wid, department=department, count=count, key=KEY, base_url=portal.base, actor="t"
        )
    eng.dispose()
    return [str(link) for link in links["link"]]


@pytest.fixture(scope="session")
def shared_context(browser) -> Iterator[object]:
    """One browser context for the session (per xdist worker). Its cache keeps the portal's
    scripts, compiled: a page in a new context costs Chromium about three times the CPU of the
    same page in a context that has loaded it before."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context
    context.close()


@pytest.fixture
def page(shared_context) -> Iterator[object]:
    """A new page (tab) of the shared context, without cookies (so signed out: cookies are kept
    per host, not per port, so one portal's session cookie would reach the others); the pages the
    test opened are closed after it. A test that needs a browser of its own (another viewport
    or device, or a stranger next to a signed-in user) makes a context."""
    before = list(shared_context.pages)
    shared_context.clear_cookies()
    pg = shared_context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    yield pg
    for opened in shared_context.pages:
        if opened not in before:
            opened.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core (npm, installed by ``scripts/ensure_axe.sh`` into ``.cache/axe``)."""
    if not AXE.exists():
        if IN_CI:
            pytest.fail(f"{AXE} is missing and CI=true: run scripts/ensure_axe.sh.")
        pytest.skip("axe-core not installed (scripts/ensure_axe.sh)")
    return AXE.read_text(encoding="utf-8")


def serious_violations(page, axe_source: str) -> list[dict]:
    """axe-core's WCAG 2.0/2.1 A and AA rules on the page as it is: the "serious" and "critical" ones."""
    page.add_script_tag(content=axe_source)
    # resultTypes: every node of every violation is reported as before; passes and incomplete
    # checks keep one node each instead of all (a third less of axe's time on a large page)
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_TAGS,
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:200] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def wait_for_app(page) -> None:
    """Wait until the script run has finished and the page is idle."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=TIMEOUT_MS)
    page.wait_for_timeout(200)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=TIMEOUT_MS)


# Charts (Vega, drawn as SVG), Graphviz graphs and data grids (a canvas) are drawn in the browser
# after the script run has ended; this is true once each visible one has drawn something (those
# in closed expanders and tabs are drawn only when opened).
_DRAWN = """() => {
    const all = (sel) => [...document.querySelectorAll(sel)].filter((e) => e.checkVisibility());
    return all("[data-testid='stVegaLiteChart']").every((c) => c.querySelector("svg.marks g, canvas"))
        && all("[data-testid='stGraphVizChart']").every((c) => c.querySelector("svg g"))
        && all("[data-testid='stDataFrame']").every((c) => c.querySelector("canvas"));
}"""


def wait_for_drawn(page) -> None:
    """Wait until the run has ended and every chart, graph and data grid on the page has drawn
    (instead of a fixed pause before an axe check or a screenshot)."""
    wait_for_app(page)
    page.wait_for_function(_DRAWN, polling=100, timeout=TIMEOUT_MS)
    # two animation frames: what was drawn is also painted
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def sign_in(page, base_url: str, who: str) -> None:
    """Sign in through the real sign-in form as a demo role (or an e-mail with the demo password)."""
    email = DEMO_ACCOUNTS.get(who, who)
    page.goto(base_url)
    wait_for_app(page)
    page.get_by_role("textbox", name="E-mail").fill(email)
    page.get_by_role("textbox", name="Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()
    wait_for_app(page)


def wait_for_cookie(page, present: bool) -> None:
    """The page writes the session cookie with a script after the run; wait (bounded) until it has."""
    page.wait_for_function(
        "(present) => document.cookie.split('; ').some(c => c.startsWith('kpialign_session=')) === present",
        arg=present,
        timeout=15_000,
    )


def follow_sidebar_link(page, path: str) -> bool:
    """Open the page at ``/path`` of the signed-in ``page`` through its sidebar link and wait for
    the run; False (nothing done) when the sidebar has no such link, as for the role's home,
    which is served at ``/``. A typed URL would load the portal's scripts again and start a
    second Streamlit session (~1.3 s and the renderer's CPU); the link reruns the same session."""
    link = page.get_by_test_id("stSidebarNav").locator(f"a[href$='/{path}']")
    if link.count() != 1:
        return False
    link.click()
    page.wait_for_url(lambda url: urlsplit(url).path == f"/{path}")
    wait_for_app(page)
    return True


# (portal base URL, who) -> the session cookie of a sign-in through the form, per xdist worker.
# Only ``open_signed_in`` uses it, and only tests that never sign out or end sessions call that.
_SESSION_COOKIES: dict[tuple[str, str], list[dict]] = {}


def open_signed_in(page, base_url: str, who: str, path: str = "") -> None:
    """Open ``base_url/path`` in ``page`` signed in as ``who``: through the sign-in form (then the
    sidebar link to ``path``) the first time per portal and person, then with that sign-in's
    session cookie (as a new tab would)."""
    key = (base_url, who)
    if key not in _SESSION_COOKIES:
        sign_in(page, base_url, who)
        wait_for_cookie(page, True)
        _SESSION_COOKIES[key] = [c for c in page.context.cookies() if c["name"] == COOKIE]
        if not path:
            return
        if follow_sidebar_link(page, path):
            return
    else:
        page.context.add_cookies(_SESSION_COOKIES[key])
    page.goto(f"{base_url}/{path}")
    page.get_by_role("button", name="Sign out").wait_for()
    wait_for_app(page)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
