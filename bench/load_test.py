"""Load test: N concurrent browser sessions against the real portal (``streamlit run``).

    .venv/bin/python bench/load_test.py                               # SQLite, N = 10 50 100
    scripts/with_postgres.sh .venv/bin/python bench/load_test.py      # SQLite and PostgreSQL
    .venv/bin/python bench/load_test.py --sessions 10 50 --backends sqlite --flows survey
    .venv/bin/python bench/load_test.py --client browser --sessions 10    # real Chromium pages instead
    .venv/bin/python bench/load_test.py --sessions 50 --flows rerun overview --backends sqlite
    scripts/with_postgres.sh .venv/bin/python bench/load_test.py --backends postgresql --replicas 2 --sessions 100

For each backend a fresh database is seeded with the small demo organisation, a survey wave is
opened for one department and N personal links are made. The portal runs as one
``streamlit run`` process (as in production, no file watcher). Then, for each N:

- **survey**: N sessions open their personal link at the same time, answer every 5-point item
  (each answer is a rerun on the server, as in a browser), and submit.
  Measured per session: *render* (link opened -> form shown), *answer* (click -> rerun done,
  progress text updated), *submit* (click -> thank-you page), and the whole session.
- **overview**: N contexts sign in as the demo leader and open the Overview page (the
  scorecard). Measured: *sign-in* and *overview render*.
- **rerun**: one leader signs in, opens the Overview and reruns it ``--reruns`` times (default
  50) in a row: the server CPU of one warm Overview, averaged over many reruns.

Every round also reports the server's CPU seconds per session (utime + stime of every server
process over the round, from ``/proc``), which a busy machine does not inflate. With
``--replicas R`` (PostgreSQL only) R server processes share the database and the sessions are
spread round-robin over them, as sticky sessions behind a load balancer would be.

Errors are sessions that raised, timed out or showed a Streamlit exception. After every survey
round the database is checked: responses stored == sessions that saw the thank-you page ==
links marked used (no response lost, none duplicated), and every response has all its answers.

Clients: ``--client ws`` (default) speaks Streamlit's websocket protocol (``/_stcore/stream``)
the way the browser does: every rerun request carries the query string, the page and every
widget's value, and a run ends with ``script_finished``; it costs little CPU, so the figures are
the server's. ``--client browser`` drives real Chromium pages (Playwright); on a 2-core machine
the browsers then take most of the CPU and the figures are mostly the client's.
The load average printed with each round shows how busy the machine was (2 cores here).
Prints a table; writes nothing else (the test suite never looks at these numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("KPIALIGN_SECRET_KEY", "load-test-secret-key-not-for-production-0123456789")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-renderer-backgrounding",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
TIMEOUT_MS = 120_000


# ----------------------------------------------------------------------------- setup


def make_database(backend: str, workdir: Path) -> str:
    """A fresh database with the small demo organisation; returns its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from kpialign import db
    from kpialign.demo import seed as demo

    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'load.db'}"
    else:
        admin_url = os.environ.get("KPIALIGN_TEST_DATABASE_URL")
        if not admin_url:
            raise SystemExit("PostgreSQL needs KPIALIGN_TEST_DATABASE_URL (run through scripts/with_postgres.sh)")
        name = f"kpialign_load_{uuid.uuid4().hex[:8]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = db.make_engine(url)
    db.migrate(engine)
    demo.seed_demo(engine, scale="small", seed=7)
    engine.dispose()
    return url


def make_links(url: str, n: int, label: str) -> tuple[int, list[str], int]:
    """Open a new wave for one department and make ``n`` personal links: (wave id, links, items)."""
    from sqlalchemy import select

    from kpialign import db
    from kpialign.config import secret_key
    from kpialign.models import Department, Question
    from kpialign.services import surveys

    engine = db.make_engine(url)
    today = date.today()
    with db.read_session(engine) as s:
        dept = s.execute(select(Department.id).where(Department.parent_id.is_not(None)).order_by(Department.id)).first()
        questions = s.execute(select(Question.id, Question.kind).where(Question.active).order_by(Question.id)).all()
    with db.write_session(engine) as s:
        wave = surveys.create_wave(
            session=s,
            name=f"Load test {label}",
            opens_on=today - timedelta(days=1),
            closes_on=today + timedelta(days=14),
            question_ids=[q.id for q in questions],
            department_ids=[dept[0]],
            actor="load-test",
        )
        surveys.open_wave(session=s, wave_id=wave, actor="load-test")
    base = os.environ["KPIALIGN_BASE_URL"]
    links: list[str] = []
    while len(links) < n:
        with db.write_session(engine) as s:
            batch = surveys.invite_department(
                session=s,
                wave_id=wave,
                department=dept[0],
                count=min(n - len(links), 1000),
                key=secret_key(url),
                base_url=base,
                actor="load-test",
            )
        links += list(batch["link"])
    engine.dispose()
    likert = sum(1 for q in questions if q.kind == "likert5")
    return wave, links, likert


def check_wave(url: str, wave: int) -> dict[str, int]:
    """Responses, used links and responses with a missing answer, for the no-loss check."""
    from sqlalchemy import func, select

    from kpialign import db
    from kpialign.models import Answer, Invitation, Response

    engine = db.make_engine(url)
    with db.read_session(engine) as s:
        responses = s.execute(select(func.count()).select_from(Response).where(Response.wave_id == wave)).scalar_one()
        used = s.execute(
            select(func.count()).select_from(Invitation).where(Invitation.wave_id == wave, Invitation.used)
        ).scalar_one()
        per = s.execute(
            select(func.count(Answer.question_id))
            .select_from(Response)
            .join(Answer, Answer.response_id == Response.id, isouter=True)
            .where(Response.wave_id == wave)
            .group_by(Response.id)
        ).scalars()
        answer_counts = sorted(set(per))
    engine.dispose()
    return {"responses": int(responses), "used": int(used), "answer_counts": answer_counts}


def start_server(url: str, port: int, log: Path, replicas: int = 1) -> subprocess.Popen:
    env = {
        **os.environ,
        "KPIALIGN_DATABASE_URL": url,
        "KPIALIGN_DEMO": "1",
        "KPIALIGN_REPLICAS": str(replicas),
        "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none",
    }
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
            "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
        ],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"the portal did not start; see {log}")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux), in seconds; a busy machine does not inflate it."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------- sessions


@dataclass
class Round:
    flow: str
    n: int
    timings: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    completed: int = 0
    wall: float = 0.0
    check: dict | None = None
    load: float = 0.0  # 1-minute load average at the end of the round (2 cores here)
    server_cpu: float = 0.0  # CPU seconds of every server process over the round (utime + stime)

    def add(self, name: str, seconds: float) -> None:
        self.timings.setdefault(name, []).append(seconds)


async def _idle(page) -> None:
    await page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)


async def _no_exception(page) -> None:
    shown = page.locator("[data-testid='stException']")
    if await shown.count():
        text = " ".join((await shown.first.inner_text()).split())
        raise RuntimeError(f"Streamlit exception shown: {text[:160]}")


async def survey_session(ctx, link: str, likert: int, r: Round) -> None:
    page = await ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        t0 = time.perf_counter()
        await page.goto(link)
        submit = page.get_by_role("button", name="Submit my answers")
        await submit.wait_for()
        await _idle(page)
        t1 = time.perf_counter()
        r.add("render", t1 - t0)
        await _no_exception(page)
        groups = page.get_by_role("radiogroup")
        count = await groups.count()
        if count != likert:
            raise RuntimeError(f"{count} radio groups shown, {likert} expected")
        for i in range(count):
            t = time.perf_counter()
            await groups.nth(i).get_by_text("Agree", exact=True).click()
            await page.get_by_text(f"{i + 1} of ", exact=False).first.wait_for()
            await _idle(page)
            r.add("answer", time.perf_counter() - t)
        t = time.perf_counter()
        await submit.click()
        await page.get_by_role("heading", name="Thank you!").wait_for()
        r.add("submit", time.perf_counter() - t)
        r.add("session", time.perf_counter() - t0)
        await _no_exception(page)
        r.completed += 1
    except Exception as exc:
        r.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
    finally:
        await page.close()


async def overview_session(ctx, base: str, r: Round) -> None:
    from kpialign.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD

    page = await ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        t0 = time.perf_counter()
        await page.goto(base)
        await page.get_by_label("E-mail").wait_for()
        await page.get_by_label("E-mail").fill(DEMO_ACCOUNTS["leader"])
        await page.get_by_role("textbox", name="Password").fill(DEMO_PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("button", name="Sign out").wait_for()
        await _idle(page)
        t1 = time.perf_counter()
        r.add("sign-in", t1 - t0)
        await page.get_by_role("link", name="Overview").click()
        await page.get_by_role("heading", name="Alignment overview").wait_for()
        await _idle(page)
        r.add("overview", time.perf_counter() - t1)
        await _no_exception(page)
        r.completed += 1
    except Exception as exc:
        r.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
    finally:
        await page.close()


async def run_ws_round(flow: str, n: int, *, bases: list[str], links: list[str], likert: int) -> Round:
    """N websocket sessions at once, spread round-robin over the replicas (a session sticks to one)."""
    r = Round(flow, n)
    t0 = time.perf_counter()
    if flow == "survey":
        jobs = [ws_survey_session(bases[i % len(bases)], link, likert, r) for i, link in enumerate(links[:n])]
    else:
        jobs = [ws_overview_session(bases[i % len(bases)], r) for i in range(n)]
    await asyncio.gather(*jobs)
    r.wall = time.perf_counter() - t0
    r.load = os.getloadavg()[0]
    return r


async def run_round(browser, flow: str, n: int, *, base: str, links: list[str], likert: int) -> Round:
    """N pages at once. They share one browser context (its HTTP cache: the portal's JavaScript
    is fetched once), but each page is its own websocket and its own Streamlit session."""
    r = Round(flow, n)
    ctx = await browser.new_context(viewport={"width": 1200, "height": 900})
    t0 = time.perf_counter()
    if flow == "survey":
        jobs = [survey_session(ctx, link, likert, r) for link in links[:n]]
    else:
        jobs = [overview_session(ctx, base, r) for _ in range(n)]
    await asyncio.gather(*jobs)
    r.wall = time.perf_counter() - t0
    r.load = os.getloadavg()[0]
    await ctx.close()
    return r


# ------------------------------------------------------- websocket client (the default)


class WsSession:
    """One Streamlit session over the websocket protocol, the way the browser speaks it.

    Every rerun request carries the full client state (query string, page, all widget values),
    as the browser sends it; a run ends with ``script_finished``. Widgets are found by their
    labels in the elements the server sends.
    """

    def __init__(self, base: str, query: str = "", page: str = ""):
        self.url = base.replace("http://", "ws://") + "/_stcore/stream"
        self.query = query
        self.page = page
        self.values: dict[str, tuple[str, object]] = {}
        self.elements: list = []
        self.fragments: dict[str, str] = {}  # widget id -> id of the st.fragment it belongs to
        self.page_hash = ""  # the current page's script hash, from the navigation message
        self.ws = None

    async def __aenter__(self) -> WsSession:
        import websockets

        # No protocol-level keepalive pings: a browser sends none either (it would only measure
        # how long the busy server takes to answer a ping, and drop the session after 20 s).
        self.ws = await websockets.connect(
            self.url, subprotocols=["streamlit"], max_size=None, open_timeout=60, ping_interval=None
        )
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def run(self, trigger: str | None = None, changed: str | None = None) -> list:
        """Request a rerun (optionally pressing button ``trigger``); return the final run's elements.

        As in the browser, a widget inside an ``st.fragment`` (``changed`` or ``trigger``) asks
        for a rerun of that fragment only; the elements returned are then the fragment's.
        """
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query
        cs.page_name = self.page
        cs.page_script_hash = self.page_hash  # the browser sends both once it knows the page
        for wid, (kind, value) in self.values.items():
            w = cs.widget_states.widgets.add()
            w.id = wid
            setattr(w, kind, value)
        if trigger:
            w = cs.widget_states.widgets.add()
            w.id = trigger
            w.trigger_value = True
        fragment = self.fragments.get(trigger or changed or "")
        if fragment:
            cs.fragment_id = fragment
        await self.ws.send(msg.SerializeToString())
        elements: list = []
        while True:
            fm = ForwardMsg()
            fm.ParseFromString(await asyncio.wait_for(self.ws.recv(), TIMEOUT_MS / 1000))
            kind = fm.WhichOneof("type")
            if kind == "new_session":
                elements = []
            elif kind == "navigation":
                self.page_hash = fm.navigation.page_script_hash
            elif kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                elements.append(fm.delta.new_element)
                if fm.delta.fragment_id:
                    el = fm.delta.new_element
                    wid = getattr(getattr(el, el.WhichOneof("type") or "", None), "id", "")
                    if wid:
                        self.fragments[wid] = fm.delta.fragment_id
            elif kind == "script_finished":
                if fm.script_finished == 2:  # FINISHED_EARLY_FOR_RERUN: st.rerun(), another run follows
                    elements = []
                    continue
                self.elements = elements
                for el in elements:
                    if el.WhichOneof("type") == "exception":
                        raise RuntimeError(f"Streamlit exception shown: {el.exception.message[:160]}")
                return elements

    def find(self, kind: str, label: str | None = None) -> list:
        found = []
        for el in self.elements:
            if el.WhichOneof("type") != kind:
                continue
            sub = getattr(el, kind)
            text = getattr(sub, "label", "") or getattr(sub, "body", "")
            if label is None or label in text:
                found.append(sub)
        return found

    def heading(self, text: str) -> bool:
        return any(text in h.body for h in self.find("heading"))


RERUNS = 50  # --reruns: warm Overview reruns in the "rerun" flow
THINK_S = 0.0  # --think: seconds a respondent takes per item (uniform 0.5x..1.5x), not timed


async def ws_survey_session(base: str, link: str, likert: int, r: Round) -> None:
    import random

    try:
        query = link.split("?", 1)[1]
        async with WsSession(base, query=query, page="survey") as s:
            t0 = time.perf_counter()
            await s.run()
            if not s.find("button", "Submit my answers"):
                raise RuntimeError("the survey form was not shown")
            r.add("render", time.perf_counter() - t0)
            radios = s.find("radio")
            if len(radios) != likert:
                raise RuntimeError(f"{len(radios)} items shown, {likert} expected")
            for radio in radios:  # one rerun per answer, as in the browser
                if THINK_S:
                    await asyncio.sleep(THINK_S * random.uniform(0.5, 1.5))
                t = time.perf_counter()
                s.values[radio.id] = ("string_value", "Agree")
                await s.run(changed=radio.id)
                r.add("answer", time.perf_counter() - t)
            submit = s.find("button", "Submit my answers")[0]
            t = time.perf_counter()
            await s.run(trigger=submit.id)
            if not s.heading("Thank you!"):
                raise RuntimeError("no thank-you page after submitting")
            r.add("submit", time.perf_counter() - t)
            r.add("session", time.perf_counter() - t0)
            r.completed += 1
    except Exception as exc:
        r.errors.append(f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]}")


async def ws_overview_session(base: str, r: Round) -> None:
    from kpialign.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD

    try:
        async with WsSession(base) as s:
            t0 = time.perf_counter()
            await s.run()
            email, password = s.find("text_input", "E-mail"), s.find("text_input", "Password")
            button = s.find("button", "Sign in")
            if not (email and password and button):
                raise RuntimeError("the sign-in form was not shown")
            s.values[email[0].id] = ("string_value", DEMO_ACCOUNTS["leader"])
            s.values[password[0].id] = ("string_value", DEMO_PASSWORD)
            await s.run(trigger=button[0].id)
            s.values.clear()
            if not s.find("button", "Sign out"):
                raise RuntimeError("sign-in failed")
            t1 = time.perf_counter()
            r.add("sign-in", t1 - t0)
            s.page, s.page_hash = "overview", ""
            await s.run()
            if not s.heading("Alignment overview"):
                raise RuntimeError("the Overview page was not shown")
            r.add("overview", time.perf_counter() - t1)
            r.add("flow", time.perf_counter() - t0)  # sign-in + Overview: what the leader waited in all
            r.completed += 1
    except Exception as exc:
        r.errors.append(f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]}")


async def ws_overview_reruns(base: str, reruns: int, pid: int) -> tuple[float, float]:
    """One leader signs in, opens the Overview, then reruns it ``reruns`` times in a row.

    Returns (server CPU seconds per warm rerun, wall seconds per warm rerun): what each further
    leader costs the server once the caches are warm, measured over many reruns.
    """
    from kpialign.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD

    async with WsSession(base) as s:
        await s.run()
        email, password = s.find("text_input", "E-mail"), s.find("text_input", "Password")
        button = s.find("button", "Sign in")
        s.values[email[0].id] = ("string_value", DEMO_ACCOUNTS["leader"])
        s.values[password[0].id] = ("string_value", DEMO_PASSWORD)
        await s.run(trigger=button[0].id)
        s.values.clear()
        s.page, s.page_hash = "overview", ""
        await s.run()
        await s.run()
        if not s.heading("Alignment overview"):
            raise RuntimeError("the Overview page was not shown")
        cpu0, t0 = cpu_seconds(pid), time.perf_counter()
        for _ in range(reruns):
            await s.run()
        return (cpu_seconds(pid) - cpu0) / reruns, (time.perf_counter() - t0) / reruns


# ------------------------------------------------------------------------------ report


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(rows: list[tuple[str, Round]]) -> None:
    print()
    print(
        "| backend | flow | N | completed | errors | wall s | sessions/min | load avg | server CPU s/session "
        "| step | p50 s | p95 s | max s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for backend, r in rows:
        per_min = r.completed / r.wall * 60 if r.wall else 0
        first = True
        for step, values in r.timings.items():
            lead = (
                f"| {backend} | {r.flow} | {r.n} | {r.completed} | {len(r.errors)} | {r.wall:.1f} | {per_min:.0f} "
                f"| {r.load:.1f} | {r.server_cpu / max(r.n, 1):.3f} "
                if first
                else "| | | | | | | | | "
            )
            print(f"{lead}| {step} | {pct(values, 50):.2f} | {pct(values, 95):.2f} | {max(values):.2f} |")
            first = False
        if not r.timings:
            print(
                f"| {backend} | {r.flow} | {r.n} | 0 | {len(r.errors)} | {r.wall:.1f} | 0 | {r.load:.1f} "
                f"| {r.server_cpu / max(r.n, 1):.3f} | - | | | |"
            )
    print()
    for backend, r in rows:
        if r.check is not None:
            c = r.check
            ok = c["responses"] == r.completed == c["used"] and len(c["answer_counts"]) <= 1
            print(
                f"{backend} survey N={r.n}: thank-you pages {r.completed}, responses stored {c['responses']}, "
                f"links used {c['used']}, answers per response {c['answer_counts']} -> "
                f"{'no response lost or duplicated' if ok else 'MISMATCH'}"
            )
        for e in sorted(set(r.errors))[:5]:
            print(f"  {backend} {r.flow} N={r.n} error x{r.errors.count(e)}: {e}")


# -------------------------------------------------------------------------------- main


async def bench_backend(
    backend: str, sessions: list[int], flows: list[str], workdir: Path, client: str, replicas: int = 1
) -> list[tuple[str, Round]]:
    ports = [free_port() for _ in range(replicas)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    os.environ["KPIALIGN_BASE_URL"] = bases[0]
    print(f"[{backend}] seeding the demo organisation...", flush=True)
    url = make_database(backend, workdir)
    procs = [
        start_server(url, port, workdir / f"streamlit-{backend}-{i}.log", replicas=replicas)
        for i, port in enumerate(ports)
    ]
    label = backend if replicas == 1 else f"{backend} x{replicas}"
    rows: list[tuple[str, Round]] = []
    pw = browser = None
    try:
        if client == "browser":
            from playwright.async_api import async_playwright

            pw = await async_playwright().start()
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)

        async def one_round(flow: str, n: int, links: list[str], likert: int, targets: list[str]) -> Round:
            cpu0 = sum(cpu_seconds(p.pid) for p in procs)
            if browser is not None:
                r = await run_round(browser, flow, n, base=targets[0], links=links, likert=likert)
            else:
                r = await run_ws_round(flow, n, bases=targets, links=links, likert=likert)
            r.server_cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu0
            return r

        # Warm up each replica: the first run of each page imports the modules and fills the caches.
        for base in bases:
            _, warm_links, warm_likert = make_links(url, 1, f"{backend} warm-up {uuid.uuid4().hex[:4]}")
            await one_round("overview", 1, [], 0, [base])
            await one_round("survey", 1, warm_links, warm_likert, [base])
        for flow in flows:
            if flow == "rerun":
                cpu, wall = await ws_overview_reruns(bases[0], RERUNS, procs[0].pid)
                print(
                    f"[{label}] warm Overview, {RERUNS} reruns in one session: {cpu:.3f} s server CPU "
                    f"and {wall:.3f} s wall per rerun (load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
        for n in sessions:
            for flow in [f for f in flows if f != "rerun"]:
                links, wave, likert = [], None, 0
                if flow == "survey":
                    wave, links, likert = make_links(url, n, f"{backend} {n} {uuid.uuid4().hex[:4]}")
                print(f"[{label}] {flow} x {n} concurrent sessions ({client})...", flush=True)
                r = await one_round(flow, n, links, likert, bases)
                if wave is not None:
                    r.check = check_wave(url, wave)
                rows.append((label, r))
                print(
                    f"[{label}] {flow} x {n}: {r.completed} completed, {len(r.errors)} errors, {r.wall:.1f} s, "
                    f"server CPU {r.server_cpu:.2f} s ({r.server_cpu / max(n, 1):.3f} s per session)"
                    + (f" (first: {r.errors[0]})" if r.errors else ""),
                    flush=True,
                )
    finally:
        if browser is not None:
            await browser.close()
        if pw is not None:
            await pw.stop()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--backends", nargs="+", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument("--flows", nargs="+", choices=["survey", "overview", "rerun"], default=["survey", "overview"])
    parser.add_argument(
        "--client",
        choices=["ws", "browser"],
        default="ws",
        help="ws: the websocket protocol (light client); browser: Playwright pages in headless Chromium",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="server processes on the same database (PostgreSQL only above 1); sessions spread round-robin",
    )
    parser.add_argument(
        "--think", type=float, default=0.0, help="seconds per survey item a respondent thinks (ws client; default 0)"
    )
    parser.add_argument("--reruns", type=int, default=50, help="warm Overview reruns in the rerun flow (default 50)")
    args = parser.parse_args()
    global THINK_S, RERUNS
    THINK_S = args.think
    RERUNS = args.reruns
    backends = args.backends or (
        ["sqlite", "postgresql"] if os.environ.get("KPIALIGN_TEST_DATABASE_URL") else ["sqlite"]
    )
    if args.replicas > 1 and "sqlite" in backends:
        raise SystemExit("--replicas above 1 needs PostgreSQL (--backends postgresql): SQLite is for one process")
    rows: list[tuple[str, Round]] = []
    with tempfile.TemporaryDirectory(prefix="kpialign-load-") as tmp:
        for backend in backends:
            rows += asyncio.run(
                bench_backend(backend, args.sessions, args.flows, Path(tmp), args.client, args.replicas)
            )
    report(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
