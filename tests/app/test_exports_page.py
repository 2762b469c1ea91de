"""The Exports page (AppTest): roles, audited preparation, and the same bytes as the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlmodel import select

from kpialign import db, exports
from kpialign.cli import main
from kpialign.core import csv_out
from kpialign.models import AuditEvent, SurveyWave
from tests.conftest import sqlite_copy

PAGE = "pages/exports.py"
WAVE = "2026 Q3"


@pytest.fixture
def demo_copy(demo_sqlite_url: str, tmp_path: Path) -> str:
    """The page records audit events: use a private copy of the demo."""
    return sqlite_copy(demo_sqlite_url, tmp_path / "exports-page.db")


def _export_events(url: str) -> list[AuditEvent]:
    eng = db.make_engine(url)
    try:
        with db.read_session(eng) as s:
            return list(s.exec(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id)).all())
    finally:
        eng.dispose()


def _prepare(at, kind: str, **choices):
    at.selectbox(key="exports.kind").select(kind).run()
    for key, value in choices.items():
        widget = at.toggle(key=key) if key == "exports.excel" else at.selectbox(key=key)
        widget.set_value(value).run()
    at.button(key="exports.prepare").click().run()
    assert not at.exception
    return at.session_state["exports.file"]


def test_hr_prepares_results_same_bytes_as_cli(app_as, demo_copy, tmp_path, monkeypatch):
    at = app_as("hr", url=demo_copy)
    at.switch_page(PAGE).run()
    assert not at.exception
    options = at.selectbox(key="exports.kind").options
    assert len(options) == len(exports.allowed_kinds({"hr"})) and "audit" not in " ".join(options).lower()
    assert not at.get("download_button")  # nothing offered before a file is prepared (and audited)

    f = _prepare(at, "results", **{"exports.wave": WAVE, "exports.excel": True})
    assert f.filename.startswith("kpialign-results-2026-Q3-") and f.data.startswith(csv_out.UTF8_BOM)
    assert len(at.get("download_button")) == 1
    events = _export_events(demo_copy)
    assert len(events) == 1 and events[0].actor == "hr@demo.kpialign.test"
    assert json.loads(events[0].detail)["rows"] == f.rows and json.loads(events[0].detail)["filters"] == {"wave": WAVE}

    # The preview is the file itself: suppressed cells are empty there too.
    preview = at.dataframe[0].value
    assert len(preview) == min(f.rows, 50)
    hidden = preview[preview["suppressed"] == "true"]
    assert len(hidden) and (hidden[["n", "pct_favourable", "mean"]] == "").all().all()

    # The command line gives the very same bytes (same function, same day).
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", demo_copy)
    out = tmp_path / "cli.csv"
    assert main(["export", "results", "--wave", WAVE, "--excel", "--output", str(out)]) == 0
    assert out.read_bytes() == f.data
    assert len(_export_events(demo_copy)) == 2


def test_page_and_results_function_hide_the_same_cells(app_as, demo_copy):
    at = app_as("hr", url=demo_copy)
    at.switch_page(PAGE).run()
    f = _prepare(at, "results", **{"exports.wave": WAVE})
    rows = csv_out.read_csv_rows(f.data)
    header, body = rows[0], rows[1:]
    eng = db.make_engine(demo_copy)
    with db.read_session(eng) as s:
        df = exports.results(s, wave=WAVE)
    eng.dispose()
    flags = [r[header.index("suppressed")] == "true" for r in body]
    assert flags == df["suppressed"].tolist()
    assert [r[header.index("n")] for r in body] == ["" if pd.isna(v) else str(int(v)) for v in df["n"].tolist()]


def test_admin_sees_audit_and_recent_exports(app_as, demo_copy):
    at = app_as("admin", url=demo_copy)
    at.switch_page(PAGE).run()
    assert not at.exception
    assert exports.KIND_LABELS["audit"] in at.selectbox(key="exports.kind").options
    f = _prepare(at, "audit")
    assert f.filename.startswith("kpialign-audit-") and f.rows >= 1
    assert [s.value for s in at.subheader] == ["Recent exports"]
    recent = at.dataframe[-1].value
    assert recent["kind"].tolist()[:1] == ["audit"]


def test_bad_period_is_a_message_not_a_traceback(app_as, demo_copy):
    at = app_as("hr", url=demo_copy)
    at.switch_page(PAGE).run()
    at.selectbox(key="exports.kind").select("kpis").run()
    at.text_input(key="exports.period_text").input("2026-13").run()
    at.button(key="exports.prepare").click().run()
    assert not at.exception
    assert at.error and "2026\\-13" in at.error[0].value  # the refusal, shown as plain text (escaped)
    assert not at.get("download_button") and _export_events(demo_copy) == []


def test_leader_cannot_open_exports(app_as):
    at = app_as("leader")
    with pytest.raises(ValueError, match=r"exports\.py"):  # not in a leader's navigation at all
        at.switch_page(PAGE)


def test_results_kinds_offer_only_closed_waves_and_participation_the_open_one_too(app_as, demo_sqlite_url):
    at = app_as("hr", url=demo_sqlite_url)
    at.switch_page(PAGE).run()
    offered = {}
    for kind in ("results", "responses", "comments", "participation"):
        at.selectbox(key="exports.kind").select(kind).run()
        offered[kind] = at.selectbox(key="exports.wave").options
    assert not at.exception
    eng = db.make_engine(demo_sqlite_url)
    with db.read_session(eng) as s:
        status = dict(s.exec(select(SurveyWave.name, SurveyWave.status)).all())
    eng.dispose()
    running = [name for name, st in status.items() if st == "open"]  # results of these cannot be exported
    closed = {name for name, st in status.items() if st == "closed"}
    assert running and set(running) <= set(offered["participation"])
    assert all(set(offered[k]) == closed for k in ("results", "responses", "comments"))
    assert offered["results"] == [w for w in offered["participation"] if w in closed]  # same order, newest first
