"""Golden outputs: the scorecard CSV and every export kind on the small demo are byte-identical
to the digests in ``tests/data/golden.json`` (a restructure must not change what users get).

The digests come from the code itself, one set per backend (PostgreSQL sums some floats in
another order, so a few CSV cells differ in the last digit). When a change alters an output on
purpose, regenerate them and say so in the commit message::

    scripts/with_postgres.sh .venv/bin/python -m tests.unit.test_golden_outputs --update

(seeds the small demo, seed 7, into a fresh database of each backend and rewrites the JSON
file; without ``KPIALIGN_TEST_DATABASE_URL`` only the SQLite digests are rewritten).
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from kpialign import db, exports
from kpialign.core import csv_out
from kpialign.demo import seed as demo
from kpialign.models import SurveyWave, WaveStatus
from kpialign.scorecard import build as scorecard
from kpialign.scorecard import views

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden.json"
DAY = date(2026, 11, 27)
ROLES = frozenset({"hr", "admin"})
SCORECARD_PERIODS = (None, "2026-Q2", "2025-12")
PERIOD_KINDS = {"kpis": (None, "2026", "2026-Q1", "2026-03"), "audit": (None,)}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def golden_digests(engine: Engine) -> dict[str, str]:
    """``label -> sha256`` of every output checked (reads only, except closed-wave counts)."""
    out: dict[str, str] = {}
    with db.read_session(engine) as session:
        closed = session.exec(
            select(SurveyWave.name).where(SurveyWave.status == WaveStatus.CLOSED.value).order_by(col(SurveyWave.id))
        ).all()
    for period in SCORECARD_PERIODS:
        with db.read_session(engine) as session:
            sc = scorecard.build_scorecard(session, period=period)
            out[f"scorecard-csv period={period}"] = _sha(csv_out.write_csv(views.scorecard_table(sc.departments)))
    for kind in exports.KINDS:
        if kind in exports.SURVEY_KINDS:
            cases = [{"wave": w} for w in closed]
        elif kind == "scorecard":
            cases = [{}, {"period": "2026-Q2", "wave": closed[0]}]
        else:
            cases = [{"period": p} for p in PERIOD_KINDS[kind]]
        for case in cases:
            with db.read_session(engine) as session:
                export = exports.prepare_export(session, kind=kind, roles=ROLES, today=DAY, **case)
            label = " ".join(f"{k}={v}" for k, v in case.items()) or "default"
            out[f"export {kind} {label}"] = _sha(export.data)
            out[f"export {kind} {label} name"] = export.filename
    return out


@pytest.fixture
def fresh_demo(db_factory) -> Iterator[Engine]:
    """A freshly seeded small demo (seed 7): the shared one collects sign-in audit events."""
    url = db_factory.new_url("golden")
    engine = db.make_engine(url)
    demo.seed_demo(engine, scale="small", seed=7)
    yield engine
    engine.dispose()
    db_factory.drop(url)


def test_scorecard_and_every_export_are_byte_identical_to_the_golden_digests(backend, fresh_demo):
    expected = json.loads(GOLDEN.read_text())[backend]
    actual = golden_digests(fresh_demo)
    assert sorted(actual) == sorted(expected)
    changed = [label for label in expected if actual[label] != expected[label]]
    assert changed == [], f"outputs changed: {changed} (regenerate with --update if on purpose)"


def test_the_scorecard_export_does_not_follow_the_query_plan(backend, fresh_demo):
    """New table statistics change PostgreSQL's plans and so its row order; the scores sum floats
    in row order, so every scorecard query orders its rows (the last digits once moved after
    autovacuum's ANALYZE)."""
    case = {"period": "2026-Q2", "wave": "2025 Q4"}

    def digest() -> str:
        with db.read_session(fresh_demo) as session:
            return _sha(exports.prepare_export(session, kind="scorecard", roles=ROLES, today=DAY, **case).data)

    before = digest()
    with fresh_demo.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    assert digest() == before


def _update() -> None:
    from tests.conftest import PG_ADMIN_URL, DatabaseFactory

    golden = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    backends = ["sqlite", "postgresql"] if PG_ADMIN_URL else ["sqlite"]
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            factory = DatabaseFactory(backend, Path(tmp))
            try:
                engine = db.make_engine(factory.new_url("golden"))
                demo.seed_demo(engine, scale="small", seed=7)
                golden[backend] = golden_digests(engine)
                engine.dispose()
            finally:
                factory.close()
            print(f"{backend}: {len(golden[backend])} digests")
    GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(__doc__)
    _update()
