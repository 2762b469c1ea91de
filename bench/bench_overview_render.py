"""Overview render in Chromium: first render (cold server) and second render (warm), small vs enterprise.

Usage::

    .venv/bin/python bench/bench_overview_render.py --enterprise sqlite:////tmp/ent/ent.db
    .venv/bin/python bench/bench_overview_render.py --enterprise URL --small URL --runs 5 --wave-close

Without ``--small`` the small demo (seed 7) is seeded into a temporary directory; without
``--enterprise`` the enterprise demo is seeded too (~1 min, ~700 MB).

For each scale and run: start ``streamlit run app.py`` (a fresh server process: nothing cached in
memory), sign in as the demo leader in Chromium (this renders Home; not timed), then time

- **cold**: ``page.goto(<base>/overview)`` until the department table (``stDataFrame``) is visible
  and the app's script state is ``notRunning`` (the whole script run, charts included, is done);
- **warm**: the same again in the same server process (``st.cache_data`` hit for the scorecard).

Next to the wall time it reports the server process's CPU seconds over the same interval (from
``/proc/<pid>/stat``): on a shared machine the wall time includes waits for a free core, the
server CPU does not (the browser's own work is not in it).

``--wave-close`` also measures, on a private copy of the enterprise database, what closing the
open wave costs (``surveys.close_wave`` + ``scorecard_data.materialise_waves``, as the Survey
waves page does) and then the first Overview render in a fresh server on the new wave.

Prints the medians and the enterprise/small ratio. Not a test: nothing asserts on these numbers.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import sign_in, start_portal, stop_portal  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

READY = "[data-testid='stApp'][data-test-script-state='notRunning']"
TIMEOUT_MS = 180_000


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def render(page, base: str, pid: int) -> tuple[float, float]:
    """Wall and server-CPU seconds from navigating to /overview until the table shows and the run is done."""
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    page.goto(f"{base}/overview")
    page.get_by_role("heading", name="Departments", exact=True).wait_for(timeout=TIMEOUT_MS)
    page.locator("[data-testid='stDataFrame']").first.wait_for(state="visible", timeout=TIMEOUT_MS)
    page.wait_for_selector(READY, timeout=TIMEOUT_MS)
    wall = time.perf_counter() - t0
    return wall, cpu_seconds(pid) - cpu0


def measure(browser, url: str, workdir: Path) -> dict[str, tuple[float, float, float]]:
    """One fresh server: (wall, server CPU, 1-min load average) for the cold and the warm render."""
    base, proc = start_portal(url, workdir, env_extra={"STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"})
    try:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        sign_in(page, base, "leader")
        out = {}
        for what in ("cold", "warm"):
            wall, cpu = render(page, base, proc.pid)
            out[what] = (wall, cpu, os.getloadavg()[0])
            page.goto(f"{base}/")  # leave the page, so the next goto is a fresh load
            page.wait_for_selector(READY, timeout=TIMEOUT_MS)
        ctx.close()
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
from kpialign.scorecard import queries as scorecard_data
from kpialign.services import surveys
from kpialign.db import make_engine, read_session, write_session
engine = make_engine(sys.argv[1])
with read_session(engine) as s:
    w = surveys.list_waves(s)
    open_ids = [int(r.id) for r in w.itertuples() if r.status == "open"]
wave_id = open_ids[0]
t0 = time.perf_counter(); c0 = time.process_time()
with write_session(engine) as s:
    surveys.close_wave(s, wave_id=wave_id, actor="bench")
t1 = time.perf_counter(); c1 = time.process_time()
scorecard_data.materialise_waves(engine, [wave_id])
t2 = time.perf_counter(); c2 = time.process_time()
print(f"{t1 - t0:.3f} {c1 - c0:.3f} {t2 - t1:.3f} {c2 - c1:.3f}")
"""


def wave_close(browser, url: str, workdir: Path) -> None:
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
    first = measure(browser, curl, workdir)
    print("\nClosing the open enterprise wave (2026 Q4) on a copy of the database:")
    print(f"  close_wave:          {close_w:7.3f} s wall  {close_c:7.3f} s CPU")
    print(f"  materialise_waves:   {mat_w:7.3f} s wall  {mat_c:7.3f} s CPU   (load {load:.1f})")
    for what, (w, c, ld) in first.items():
        print(f"  then Overview {what:4s}:  {w:7.3f} s wall  {c:7.3f} s server CPU   (load {ld:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", help="database URL of the small demo (default: seed one)")
    ap.add_argument("--enterprise", help="database URL of the enterprise demo (default: seed one)")
    ap.add_argument("--runs", type=int, default=3, help="fresh servers per scale (default 3)")
    ap.add_argument("--wave-close", action="store_true", help="also time closing a wave and the render after it")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-overview-") as tmp:
        workdir = Path(tmp)
        urls = {
            "small": args.small or seed("small", workdir),
            "enterprise": args.enterprise or seed("enterprise", workdir),
        }
        results: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for run in range(args.runs):  # alternate the scales so both see the same machine load
                for scale, url in urls.items():
                    got = measure(browser, url, workdir)
                    for what, v in got.items():
                        results.setdefault(scale, {}).setdefault(what, []).append(v)
                    print(
                        f"run {run + 1} {scale:10s} "
                        + "  ".join(
                            f"{w}: {v[0]:.2f} s wall {v[1]:.2f} s CPU (load {v[2]:.1f})" for w, v in got.items()
                        ),
                        flush=True,
                    )
            if args.wave_close:
                wave_close(browser, urls["enterprise"], workdir)
            browser.close()

    def med(scale: str, what: str, i: int) -> float:
        return statistics.median(v[i] for v in results[scale][what])

    loads = [v[2] for s in results.values() for w in s.values() for v in w]
    print(f"\nOverview render in Chromium, median of {args.runs} fresh servers per scale")
    print(f"(1-minute load average while measuring: {min(loads):.1f} to {max(loads):.1f}; {os.cpu_count()} cores)\n")
    print("| render | small, wall | enterprise, wall | ratio | small, server CPU | enterprise, server CPU | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for what in ("cold", "warm"):
        sw, ew = med("small", what, 0), med("enterprise", what, 0)
        sc, ec = med("small", what, 1), med("enterprise", what, 1)
        print(
            f"| {what} | {sw:.2f} s | {ew:.2f} s | {ew / sw:.1f}x | {sc:.2f} s | {ec:.2f} s | "
            f"{(ec / sc if sc else float('nan')):.1f}x |"
        )


if __name__ == "__main__":
    main()
