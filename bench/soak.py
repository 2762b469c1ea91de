"""Soak: keep the real portal busy for a while and watch its memory; report whether it plateaus.

    .venv/bin/python bench/soak.py                       # 10 minutes, 8 concurrent sessions, SQLite
    .venv/bin/python bench/soak.py --minutes 2 --sessions 4

One ``streamlit run`` process on a fresh small-demo database. Concurrent sessions over the
websocket protocol (the load test's client; each session is closed after use, so the server
must free it) alternate the two heavy paths: a survey from a personal link (answer every item,
submit) and a leader's sign-in + Overview. Every 10 s the server's resident memory
(``VmRSS`` from ``/proc``, the process and its children) is sampled.

The report: RSS at start, at 25/50/75/100% of the run, the peak, and the slope of a least-squares
line over the second half of the run in MB per minute. "Plateau" means that slope is below
1 MB/min (a leak of one session's state per request would show as a steady climb). Prints; writes
nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load_test as lt

PLATEAU_MB_PER_MIN = 1.0


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its direct children, in MB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(x) for x in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    if len(samples) < 3:
        return float("nan")
    ts = [t for t, _ in samples]
    ms = [m for _, m in samples]
    tbar, mbar = sum(ts) / len(ts), sum(ms) / len(ms)
    den = sum((t - tbar) ** 2 for t in ts)
    return 60 * sum((t - tbar) * (m - mbar) for t, m in zip(ts, ms, strict=True)) / den if den else float("nan")


async def soak(minutes: float, sessions: int, backend: str) -> None:
    with tempfile.TemporaryDirectory(prefix="kpialign-soak-") as tmp:
        workdir = Path(tmp)
        port = lt.free_port()
        base = f"http://127.0.0.1:{port}"
        os.environ["KPIALIGN_BASE_URL"] = base
        url = lt.make_database(backend, workdir)
        _, links, likert = lt.make_links(url, 5_000, f"soak {backend}")
        proc = lt.start_server(url, port, workdir / "streamlit.log")
        samples: list[tuple[float, float]] = []
        done = {"survey": 0, "overview": 0}
        errors: list[str] = []
        t_start = time.monotonic()
        deadline = t_start + minutes * 60

        async def sampler() -> None:
            while time.monotonic() < deadline:
                samples.append((time.monotonic() - t_start, rss_mb(proc.pid)))
                await asyncio.sleep(10)
            samples.append((time.monotonic() - t_start, rss_mb(proc.pid)))

        async def worker(w: int) -> None:
            i = w
            while time.monotonic() < deadline:
                r = lt.Round("soak", 1)
                if i % 2 == 0:
                    await lt.ws_survey_session(base, links.pop(), likert, r)
                    done["survey"] += r.completed
                else:
                    await lt.ws_overview_session(base, r)
                    done["overview"] += r.completed
                errors.extend(r.errors)
                i += 1

        try:
            await asyncio.gather(sampler(), *(worker(w) for w in range(sessions)))
        finally:
            proc.terminate()
            proc.wait(timeout=15)

    ms = [m for _, m in samples]
    second_half = [s for s in samples if s[0] >= minutes * 30]
    slope = slope_mb_per_min(second_half)
    q = [ms[min(len(ms) - 1, round(f * (len(ms) - 1)))] for f in (0, 0.25, 0.5, 0.75, 1.0)]
    print(f"\nSoak on {backend}: {minutes:g} min, {sessions} concurrent sessions, load avg {os.getloadavg()[0]:.1f}")
    print(f"completed: {done['survey']} surveys, {done['overview']} overview visits; errors: {len(errors)}")
    for e in sorted(set(errors))[:5]:
        print(f"  error x{errors.count(e)}: {e}")
    print("server RSS MB at 0/25/50/75/100%: " + " / ".join(f"{m:.0f}" for m in q) + f"; peak {max(ms):.0f}")
    verdict = "plateau" if slope < PLATEAU_MB_PER_MIN else "still growing"
    print(f"slope over the second half: {slope:+.2f} MB/min -> {verdict}")
    print("samples (s, MB): " + ", ".join(f"({t:.0f}, {m:.0f})" for t, m in samples))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    asyncio.run(soak(args.minutes, args.sessions, args.backend))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
