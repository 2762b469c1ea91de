"""Soak: keep the real portal busy for a while and watch its memory; report whether it plateaus.

    .venv/bin/python bench/soak.py                       # 10 minutes, 8 concurrent sessions, SQLite
    .venv/bin/python bench/soak.py --minutes 2 --sessions 4
    scripts/with_postgres.sh nice -n 5 .venv/bin/python bench/soak.py --backend postgresql --minutes 30
    .venv/bin/python bench/soak.py --malloc-arena-max 0      # glibc's default arenas (8 per core)

One ``streamlit run`` process on a fresh small-demo database. Concurrent sessions over the
websocket protocol (the load test's client; each session is closed after use, so the server
must free it) alternate the two heavy paths: a survey from a personal link (answer every item,
submit) and a leader's sign-in + Overview. The server runs with ``MALLOC_ARENA_MAX=2`` as
``make run`` starts it (``--malloc-arena-max``). Every 10 s the server's resident memory
(``VmRSS`` from ``/proc``, the process and its children) is sampled, and every 30 s the bytes
held by each ``st.cache_data`` function and by session state (Streamlit's own
``/_stcore/metrics`` endpoint, family ``cache_memory_bytes``): so a growth of RSS can be told
apart from caches filling up.

The report: RSS at start, at 25/50/75/100% of the run, the peak, and the slope of a least-squares
line over the second half of the run in MB per minute. "Plateau" means that slope is below
1 MB/min (a leak of one session's state per request would show as a steady climb). Then the
cache bytes per function at 25/50/75/100 %, and the no-loss check of the survey wave: stored
responses = thank-you pages seen = links used, and every response has all its answers.
Prints; writes nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load_test as lt

PLATEAU_MB_PER_MIN = 1.0


def family(pid: int) -> list[int]:
    """``pid`` and its direct children."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(x) for x in children.read_text().split())] if children.exists() else [pid]


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its direct children, in MB."""
    total = 0
    for p in family(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def cache_bytes(base: str) -> dict[str, int]:
    """Bytes per cache (``st_cache_data`` function, session state, ...) from ``/_stcore/metrics``."""
    try:
        with urllib.request.urlopen(f"{base}/_stcore/metrics?families=cache_memory_bytes", timeout=30) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out: dict[str, int] = defaultdict(int)
    for line in text.splitlines():
        if line.startswith("cache_memory_bytes{"):
            labels, value = line.rsplit(" ", 1)
            kind = labels.split('cache_type="', 1)[1].split('"', 1)[0]
            name = labels.split('cache="', 1)[1].split('"', 1)[0]
            out[f"{kind}:{'.'.join(name.rsplit('.', 2)[-2:])}" if "cache_data" in kind else kind] += int(value)
    return dict(out)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of ``pid`` and of its children, live and reaped."""
    total = 0
    for p in family(pid):
        try:
            text = Path(f"/proc/{p}/stat").read_text()
        except FileNotFoundError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        total += sum(int(x) for x in fields[11 : 15 if p == pid else 13])
    return total / os.sysconf("SC_CLK_TCK")


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    if len(samples) < 3:
        return float("nan")
    ts = [t for t, _ in samples]
    ms = [m for _, m in samples]
    tbar, mbar = sum(ts) / len(ts), sum(ms) / len(ms)
    den = sum((t - tbar) ** 2 for t in ts)
    return 60 * sum((t - tbar) * (m - mbar) for t, m in zip(ts, ms, strict=True)) / den if den else float("nan")


async def soak(minutes: float, sessions: int, backend: str, arena_max: int) -> None:
    with tempfile.TemporaryDirectory(prefix="kpialign-soak-") as tmp:
        workdir = Path(tmp)
        port = lt.free_port()
        base = f"http://127.0.0.1:{port}"
        os.environ["KPIALIGN_BASE_URL"] = base
        url = lt.make_database(backend, workdir)
        wave, links, likert = lt.make_links(url, max(5_000, int(minutes * 250)), f"soak {backend}")
        if arena_max:  # here: as `make run` starts the portal (glibc's malloc arenas; 0 = glibc's default)
            os.environ["MALLOC_ARENA_MAX"] = str(arena_max)
        else:
            os.environ.pop("MALLOC_ARENA_MAX", None)
        proc = lt.start_server(url, port, workdir / "streamlit.log")
        samples: list[tuple[float, float]] = []
        caches: list[tuple[float, dict[str, int]]] = []
        done = {"survey": 0, "overview": 0}
        errors: list[str] = []
        t_start = time.monotonic()
        cpu_start = cpu_seconds(proc.pid)
        deadline = t_start + minutes * 60

        async def sampler() -> None:
            tick = 0
            while time.monotonic() < deadline:
                samples.append((time.monotonic() - t_start, rss_mb(proc.pid)))
                if tick % 3 == 0:
                    caches.append((time.monotonic() - t_start, await asyncio.to_thread(cache_bytes, base)))
                tick += 1
                await asyncio.sleep(10)
            samples.append((time.monotonic() - t_start, rss_mb(proc.pid)))
            caches.append((time.monotonic() - t_start, await asyncio.to_thread(cache_bytes, base)))

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
            cpu = cpu_seconds(proc.pid) - cpu_start
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:  # here: a loaded machine can take longer to shut down
                proc.kill()
                proc.wait()
        stored = lt.check_wave(url, wave)

    ms = [m for _, m in samples]
    second_half = [s for s in samples if s[0] >= minutes * 30]
    slope = slope_mb_per_min(second_half)
    q = [ms[min(len(ms) - 1, round(f * (len(ms) - 1)))] for f in (0, 0.25, 0.5, 0.75, 1.0)]
    arenas = f"MALLOC_ARENA_MAX={arena_max}" if arena_max else "glibc's default malloc arenas"
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nSoak on {backend}: {minutes:g} min, {sessions} concurrent sessions, {arenas}, load avg {load}")
    print(f"completed: {done['survey']} surveys, {done['overview']} overview visits; errors: {len(errors)}")
    sessions_done = max(1, done["survey"] + done["overview"])
    print(f"server CPU: {cpu:.0f} s in all, {cpu / sessions_done:.3f} s per completed session")
    for e in sorted(set(errors))[:5]:
        print(f"  error x{errors.count(e)}: {e}")
    print("server RSS MB at 0/25/50/75/100%: " + " / ".join(f"{m:.0f}" for m in q) + f"; peak {max(ms):.0f}")
    verdict = "plateau" if slope < PLATEAU_MB_PER_MIN else "still growing"
    print(f"slope over the second half: {slope:+.2f} MB/min -> {verdict}")
    lost = done["survey"] - stored["responses"]
    print(
        f"survey wave: {stored['responses']} responses stored, {done['survey']} thank-you pages, "
        f"{stored['used']} links used; answers per response {stored['answer_counts']}; "
        + ("no response lost or duplicated" if lost == 0 and stored["used"] == stored["responses"] else "MISMATCH")
    )
    print("samples (s, MB): " + ", ".join(f"({t:.0f}, {m:.0f})" for t, m in samples))
    if caches:
        picks = [caches[min(len(caches) - 1, round(f * (len(caches) - 1)))] for f in (0.25, 0.5, 0.75, 1.0)]
        names = sorted({n for _, c in caches for n in c}, key=lambda n: -picks[-1][1].get(n, 0))
        print("cache MB at " + " / ".join(f"{t:.0f} s" for t, _ in picks) + ":")
        for n in names:
            print(f"  {n:<48}" + " / ".join(f"{c.get(n, 0) / 1e6:7.1f}" for _, c in picks))
        print("  " + "total".ljust(48) + " / ".join(f"{sum(c.values()) / 1e6:7.1f}" for _, c in picks))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--malloc-arena-max",
        type=int,
        default=2,
        help="MALLOC_ARENA_MAX of the server, as `make run` sets it (0: glibc's default)",
    )
    args = parser.parse_args()
    asyncio.run(soak(args.minutes, args.sessions, args.backend, args.malloc_arena_max))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
