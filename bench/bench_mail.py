"""E-mail sending throughput: invitations to a real SMTP server on loopback (aiosmtpd), no rate limit.

Each message costs two committed write transactions (claim before the SMTP call, settle after)
plus one SMTP transaction; this measures what that at-most-once design costs per message on
SQLite (and PostgreSQL with KPIALIGN_BENCH_PG_URL, a server URL whose database may be replaced).

    .venv/bin/python bench/bench_mail.py [--n 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kpialign import db, mail
from tests.unit.mail_helpers import Collector, SmtpServer, settings
from tests.unit.survey_helpers import KEY, make_wave, seed_org


def run(url: str, n: int) -> tuple[float, float]:
    eng = db.make_engine(url)
    db.migrate(eng)
    wid = make_wave(eng, seed_org(eng), around=date.today())
    rows = "email,department\n" + "".join(f"p{i}@bench.test,Sales\n" for i in range(n))
    t0 = time.perf_counter()
    with db.write_session(eng) as s:
        mail.add_recipients(s, wave_id=wid, recipients=mail.parse_recipients_csv(rows), key=KEY, actor="bench")
    add_s = time.perf_counter() - t0
    handler = Collector()
    with SmtpServer(handler) as srv:
        cfg = replace(settings(srv.port), per_minute=1e9)
        t0 = time.perf_counter()
        report = mail.send(
            eng, wave_id=wid, kind=mail.INVITATION, settings=cfg, key=KEY, base_url="http://x", actor="b"
        )
        send_s = time.perf_counter() - t0
    assert report.sent == n == len(handler.messages)
    eng.dispose()
    return add_s, send_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    n = ap.parse_args().n
    targets = [("sqlite", f"sqlite:///{tempfile.mkdtemp()}/bench.db")]
    if os.environ.get("KPIALIGN_BENCH_PG_URL"):
        targets.append(("postgresql", os.environ["KPIALIGN_BENCH_PG_URL"]))
    print("| backend | recipients | add (s) | send (s) | messages/s | ms/message |\n|---|---:|---:|---:|---:|---:|")
    for name, url in targets:
        add_s, send_s = run(url, n)
        print(f"| {name} | {n} | {add_s:.2f} | {send_s:.2f} | {n / send_s:.0f} | {1000 * send_s / n:.1f} |")


if __name__ == "__main__":
    main()
