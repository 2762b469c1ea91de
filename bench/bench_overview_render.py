"""First render of the leader pages in Chromium: cold (fresh server) and warm, with the server's CPU.

Usage::

    .venv/bin/python bench/bench_overview_render.py --enterprise sqlite:////tmp/ent/ent.db
    .venv/bin/python bench/bench_overview_render.py --enterprise URL --pages overview home --runs 5
    .venv/bin/python bench/bench_overview_render.py --enterprise sqlite:///ent.db --enterprise-pg postgresql+psycopg://...
    .venv/bin/python bench/bench_overview_render.py --enterprise URL --small URL --scales small enterprise \
        --pages overview --wave-close

Without ``--small`` / ``--enterprise`` the demo of each scale asked for (``--scales``, default
enterprise) is seeded into a temporary directory (enterprise: ~4 min, ~700 MB).

The demo leader signs in once; the browser keeps the sign-in cookie (the web session lives in
the database) and the portal's JavaScript in its cache (every server of a run listens on the
same port, so the origin stays the same, as for a returning leader). For each scale, page
(``--pages``, default every leader page: Overview, Department, Objectives, Survey results,
Alignment map, Strategy map, Reviews, Home) and run:

- a fresh server process (``streamlit run app.py``: nothing cached in memory; the stored
  closed-wave aggregates are in the database, the OS file cache is warm) whose first visitor, a
  signed-out one, opens the sign-in page (not timed: that first run imports pandas, SciPy,
  SQLAlchemy, Altair, ~3 s of CPU once per process whatever the page);
- **cold**: the leader opens ``<base>/<page>`` in a new tab (a new session) until the page's
  title is visible and the app's script state is ``notRunning`` (the whole script run, charts
  and tables included, is done): the first render of that page in the process;
- **warm**: the same again in another new tab (another leader: a new session, shared caches filled);
- **warm from the sidebar**: in a third new tab the leader opens Home, then clicks the page's link in
  the sidebar (timed from the click): how moving between pages feels, without a new tab's start-up.

The ``how-scores-work`` page (static text) is the floor: what any page costs in a new tab.

Next to the wall time it reports the server process's CPU seconds over the same interval (from
``/proc/<pid>/stat``): on a shared machine the wall time includes waits for a free core, the
server CPU does not (the browser's own work is not in it). The browser's work is reported apart:
the tab's main-thread task time (``Performance.getMetrics`` "TaskDuration" over the Chrome DevTools
Protocol: script, style, layout, paint), also a CPU figure a busy machine does not inflate. The sign-in page starts building the
shared scorecard in the background (``kpialign.ui.scorecard_ui.prewarm``), as it does for a leader
who signs in; part of that build may finish before the cold render starts, so the table also
gives the server CPU from the end of the sign-in page to the end of the cold render: the
background build included, nothing hidden.

``--wave-close`` also measures, on a private copy of the enterprise database, what closing the
open wave costs (``surveys.close_wave`` + ``counts.materialise_waves``, as the Survey
waves page does) and then the first Overview render in a fresh server on the new wave.

Prints medians per page (and the enterprise/small ratio with two scales). Not a test: nothing
asserts on these numbers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import free_port, stop_portal  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

READY = "[data-testid='stApp'][data-test-script-state='notRunning']"
TIMEOUT_MS = 180_000


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# url path -> (title, what else must be visible before the render counts as done)
PAGES = {
    # The floor: a page of static text. What a new tab costs whatever the page (Streamlit's
    # JavaScript started from the browser's cache, the websocket, the sign-in from the cookie,
    # the navigation), to read the other pages' figures against.
    "how-scores-work": ("How scores work", None),
    "overview": ("Alignment overview", "[data-testid='stDataFrame']"),
    "department": ("Department", None),
    "objectives": ("Objectives", None),
    "survey-results": ("Survey results", None),
    "alignment-map": ("Alignment map", None),
    "strategy-map": ("Strategy map", None),
    "reviews": ("Reviews", None),
    "home": ("Organisation at a glance", None),
}
# The sidebar link's name where it differs from the page's heading.
NAV_TITLES = {"overview": "Overview", "how-scores-work": "How scores work"}


def _browser_seconds(cdp) -> float:
    """The tab's main-thread task time so far (Chrome DevTools Protocol ``Performance.getMetrics``):
    the browser's own work (script, style, layout, paint), which a busy machine does not inflate."""
    return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "TaskDuration")


def _timed(page, path: str, pid: int, go) -> tuple[float, float, float]:
    """Wall, server-CPU and browser main-thread seconds from ``go()`` until ``path``'s title is visible
    and its run is done."""
    title, extra = PAGES[path]
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    cpu0, browser0 = cpu_seconds(pid), _browser_seconds(cdp)
    t0 = time.perf_counter()
    go()
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=TIMEOUT_MS)
    if extra:
        page.locator(extra).first.wait_for(state="visible", timeout=TIMEOUT_MS)
    page.wait_for_selector(READY, timeout=TIMEOUT_MS)
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    browser = _browser_seconds(cdp) - browser0
    if page.get_by_test_id("stException").count():
        raise RuntimeError(f"{path}: the page shows an exception")
    page.close()
    return wall, cpu, browser


def render(ctx, base: str, path: str, pid: int) -> tuple[float, float, float]:
    """Wall, server-CPU and browser seconds from opening ``<base>/<path>`` in a new page until its run is done."""
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    # Home, the default page, is served at /
    return _timed(page, path, pid, lambda: page.goto(f"{base}/" + ("" if path == "home" else path)))


def from_sidebar(ctx, base: str, path: str, pid: int) -> tuple[float, float, float]:
    """Wall, server-CPU and browser seconds from a click on the page's link in the sidebar of an open
    Home page (a new session whose portal is already running in the tab, as for a leader moving
    between pages) until the page's run is done."""
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(base)
    page.wait_for_selector(READY, timeout=TIMEOUT_MS)
    name = NAV_TITLES.get(path, PAGES[path][0])
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True)
    return _timed(page, path, pid, link.click)


def start_server(url: str, workdir: Path, port: int) -> tuple[str, subprocess.Popen]:
    """``streamlit run app.py`` on ``port`` (the same port for every server of a run: the browser's
    cache of the portal's JavaScript, keyed by origin, then stays warm as it would for a returning
    leader, so the figures are the page's, not a first download of Streamlit's bundle)."""
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "KPIALIGN_DATABASE_URL": url, "KPIALIGN_BASE_URL": base,
           "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}  # fmt: skip
    log = (workdir / f"streamlit-{port}.log").open("a")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return base, proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"streamlit did not become healthy; see {log.name}")


def sign_in_slowly(page, base: str) -> None:
    """tests.browser.conftest.sign_in with this bench's timeouts (its 30 s are too short at enterprise
    scale on a saturated machine: the sign-in page starts the scorecard build in the background)."""
    from kpialign.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD

    page.goto(base)
    page.wait_for_selector(READY, timeout=TIMEOUT_MS)
    page.get_by_role("textbox", name="E-mail").fill(DEMO_ACCOUNTS["leader"])
    page.get_by_role("textbox", name="Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_selector(READY, timeout=TIMEOUT_MS)


def signed_in_state(browser, url: str, workdir: Path, port: int) -> dict:
    """The browser state (the sign-in cookie) of the demo leader, signed in once on a throwaway server."""
    base, proc = start_server(url, workdir, port)
    try:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        sign_in_slowly(page, base)
        state = ctx.storage_state()
        ctx.close()
        return state
    finally:
        stop_portal(proc)


def measure(browser, url: str, workdir: Path, path: str, ctx, port: int) -> dict:
    """One fresh server: (wall, server CPU, 1-min load average) for the cold and the warm render of ``path``.

    Before the timed renders, a signed-out visitor opens the sign-in page: the process's first
    script run imports the portal's modules (pandas, SciPy, SQLAlchemy, Altair: ~3 s of CPU once
    per process, whatever the page), as the first visitor of a new server does. Then the leader
    (``ctx`` holds the sign-in cookie) opens ``path`` twice, each time in a new tab: a new session.
    """
    base, proc = start_server(url, workdir, port)
    try:
        visitor = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = visitor.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(base)
        page.get_by_role("button", name="Sign in").wait_for()
        page.wait_for_selector(READY, timeout=TIMEOUT_MS)
        visitor.close()
        since = cpu_seconds(proc.pid)  # from here on: the background build the sign-in page started
        out = {}
        for what in ("cold", "warm"):
            wall, cpu, browser_s = render(ctx, base, path, proc.pid)
            out[what] = (wall, cpu, os.getloadavg()[0], browser_s)
            if what == "cold":
                out["since"] = (0.0, cpu_seconds(proc.pid) - since, os.getloadavg()[0], 0.0)
        if path != "home":  # Home is where the sidebar click starts
            wall, cpu, browser_s = from_sidebar(ctx, base, path, proc.pid)
            out["sidebar"] = (wall, cpu, os.getloadavg()[0], browser_s)
        return out
    finally:
        stop_portal(proc)


def seed(scale: str, workdir: Path) -> str:
    url = f"sqlite:///{workdir / f'{scale}.db'}"
    env = {**os.environ, "KPIALIGN_DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "kpialign", "seed-demo", "--scale", scale, "--seed", "7"], env=env,
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
    return url


CLOSE = r"""
import sys, time, logging
logging.disable(logging.WARNING)
from kpialign.scorecard import counts
from kpialign.services import surveys
from kpialign.db import make_engine, read_session, write_session
engine = make_engine(sys.argv[1])
with read_session(engine) as s:
    w = surveys.list_waves(session=s)
    open_ids = [int(r.id) for r in w.itertuples() if r.status == "open"]
wave_id = open_ids[0]
t0 = time.perf_counter(); c0 = time.process_time()
with write_session(engine) as s:
    surveys.close_wave(session=s, wave_id=wave_id, actor="bench")
t1 = time.perf_counter(); c1 = time.process_time()
counts.materialise_waves(engine, [wave_id])
t2 = time.perf_counter(); c2 = time.process_time()
print(f"{t1 - t0:.3f} {c1 - c0:.3f} {t2 - t1:.3f} {c2 - c1:.3f}")
"""


def wave_close(browser, url: str, workdir: Path, ctx, port: int) -> None:
    src = Path(url.removeprefix("sqlite:///"))
    copy = workdir / "wave-close.db"
    shutil.copyfile(src, copy)
    for extra in ("-wal", "-shm"):
        if Path(f"{src}{extra}").exists():
            shutil.copyfile(f"{src}{extra}", f"{copy}{extra}")
    curl = f"sqlite:///{copy}"
    res = subprocess.run([sys.executable, "-c", CLOSE, curl], cwd=ROOT, check=True, capture_output=True, text=True)
    close_w, close_c, mat_w, mat_c = (float(x) for x in res.stdout.split())
    load = os.getloadavg()[0]
    first = measure(browser, curl, workdir, "overview", ctx, port)
    print("\nClosing the open enterprise wave (2026 Q4) on a copy of the database:")
    print(f"  close_wave:          {close_w:7.3f} s wall  {close_c:7.3f} s CPU")
    print(f"  materialise_waves:   {mat_w:7.3f} s wall  {mat_c:7.3f} s CPU   (load {load:.1f})")
    for what, (w, c, ld, _b) in first.items():
        print(f"  then Overview {what:4s}:  {w:7.3f} s wall  {c:7.3f} s server CPU   (load {ld:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", help="database URL of the small demo (default: seed one)")
    ap.add_argument("--enterprise", help="database URL of the enterprise demo (default: seed one)")
    ap.add_argument("--scales", nargs="+", choices=["small", "enterprise"], default=["enterprise"])
    ap.add_argument(
        "--enterprise-pg",
        help="URL of the enterprise demo on PostgreSQL: measured too, alternating with the other databases",
    )
    ap.add_argument("--pages", nargs="+", choices=list(PAGES), default=list(PAGES), help="url paths (default: all)")
    ap.add_argument("--runs", type=int, default=3, help="fresh servers per scale and page (default 3)")
    ap.add_argument("--wave-close", action="store_true", help="also time closing a wave and the render after it")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-overview-") as tmp:
        workdir = Path(tmp)
        given = {"small": args.small, "enterprise": args.enterprise}
        urls = {scale: given[scale] or seed(scale, workdir) for scale in args.scales}
        if args.enterprise_pg:
            urls["enterprise-pg"] = args.enterprise_pg
        results: dict[tuple[str, str], dict[str, list[tuple[float, float, float, float]]]] = {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            port = free_port()
            contexts = {
                scale: browser.new_context(
                    viewport={"width": 1400, "height": 1000}, storage_state=signed_in_state(browser, url, workdir, port)
                )
                for scale, url in urls.items()
            }
            for run in range(args.runs):  # alternate pages and scales so all see the same machine load
                for path in args.pages:
                    for scale, url in urls.items():
                        got = measure(browser, url, workdir, path, contexts[scale], port)
                        for what, v in got.items():
                            results.setdefault((scale, path), {}).setdefault(what, []).append(v)
                        print(
                            f"run {run + 1} {scale:10s} {path:15s} "
                            + "  ".join(
                                f"{w}: {v[0]:.2f} s wall {v[1]:.2f} s CPU {v[3]:.2f} s browser (load {v[2]:.1f})"
                                for w, v in got.items()
                                if w != "since"
                            )
                            + f"  (cold, CPU since the sign-in page: {got['since'][1]:.2f} s)",
                            flush=True,
                        )
            if args.wave_close and "enterprise" in urls:
                wave_close(browser, urls["enterprise"], workdir, contexts["enterprise"], port)
            browser.close()

    def med(scale: str, path: str, what: str, i: int) -> float:
        return statistics.median(v[i] for v in results[(scale, path)][what])

    loads = [v[2] for r in results.values() for w in r.values() for v in w]
    print(f"\nFirst render in Chromium, median of {args.runs} fresh servers per page and scale")
    print(f"(1-minute load average while measuring: {min(loads):.1f} to {max(loads):.1f}; {os.cpu_count()} cores)\n")
    print(
        "| scale | page | cold, wall | cold, server CPU | cold, server CPU since the sign-in page | cold, browser "
        "| warm, wall | warm, server CPU | warm, browser "
        "| warm from the sidebar, wall | warm from the sidebar, server CPU | warm from the sidebar, browser |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for scale in urls:
        for path in args.pages:
            print(
                f"| {scale} | {path} | {med(scale, path, 'cold', 0):.2f} s | {med(scale, path, 'cold', 1):.2f} s "
                f"| {med(scale, path, 'since', 1):.2f} s | {med(scale, path, 'cold', 3):.2f} s "
                f"| {med(scale, path, 'warm', 0):.2f} s | {med(scale, path, 'warm', 1):.2f} s "
                f"| {med(scale, path, 'warm', 3):.2f} s "
                + (
                    f"| {med(scale, path, 'sidebar', 0):.2f} s | {med(scale, path, 'sidebar', 1):.2f} s "
                    f"| {med(scale, path, 'sidebar', 3):.2f} s |"
                    if "sidebar" in results[(scale, path)]
                    else "| – | – | – |"
                )
            )
    if {"small", "enterprise"} <= set(urls):
        print("\n| page | render | enterprise / small, wall | enterprise / small, server CPU |")
        print("| --- | --- | ---: | ---: |")
        for path in args.pages:
            for what in ("cold", "warm"):
                sw, ew = med("small", path, what, 0), med("enterprise", path, what, 0)
                sc, ec = med("small", path, what, 1), med("enterprise", path, what, 1)
                print(f"| {path} | {what} | {ew / sw:.1f}x | {(ec / sc if sc else float('nan')):.1f}x |")


if __name__ == "__main__":
    main()
