"""Streamed exports (issue 18): parts of any size give the same bytes, closed-wave counts are read
from storage only when complete, and the CLI hands a file out only after its audit event (both backends)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import delete, update
from sqlmodel import select

from kpialign import db, exports
from kpialign.cli import main
from kpialign.core import csv_out
from kpialign.models import AuditEvent, SurveyWave, WaveAnswerCount, WaveResponseCount

DAY = date(2026, 11, 27)
ALL = frozenset({"hr", "admin"})
CLOSED = "2026 Q3"  # a closed wave of the small demo


def _export(engine, kind: str, **kw) -> exports.ExportFile:
    with db.read_session(engine) as s:
        return exports.prepare_export(s, kind=kind, roles=ALL, today=DAY, **kw)


def test_streamed_parts_of_any_size_give_the_same_bytes_and_report_progress(demo_engine, monkeypatch):
    cases = [("responses", {"wave": CLOSED}), ("kpis", {}), ("kpis", {"period": "2026"}), ("audit", {})]
    whole = {i: _export(demo_engine, kind, **kw) for i, (kind, kw) in enumerate(cases)}
    monkeypatch.setattr(exports, "BATCH_ROWS", 7)
    monkeypatch.setattr(exports, "BATCH_RESPONDENTS", 7)
    monkeypatch.setattr(exports, "BATCH_KPIS", 3)
    for i, (kind, kw) in enumerate(cases):
        heard: list[float] = []
        with db.read_session(demo_engine) as s:
            stream = exports.open_export(s, kind=kind, roles=ALL, today=DAY, **kw)
            chunks = list(stream.chunks(heard.append))
        assert stream.parts.count > 2, kind  # really cut into several parts
        assert b"".join(chunks) == whole[i].data and stream.rows == whole[i].rows, kind
        assert heard == sorted(heard) and heard[-1] == 1.0 and len(heard) == stream.parts.count, kind


def test_results_read_the_stored_closed_wave_counts_only_when_they_are_complete(demo_copy_url):
    engine = db.make_engine(demo_copy_url)
    try:
        before = _export(engine, "results", wave=CLOSED)
        with db.write_session(engine) as s:
            wave_id = s.exec(select(SurveyWave.id).where(SurveyWave.name == CLOSED)).one()
            # Every stored answer count of the wave doubled: the respondents still add up, so the
            # stored counts are what the export reads (the live answers were not touched).
            s.execute(update(WaveAnswerCount).where(WaveAnswerCount.wave_id == wave_id).values(n=WaveAnswerCount.n * 2))
        doubled = _export(engine, "results", wave=CLOSED)
        assert doubled.data != before.data
        n_before = [r[5] for r in csv_out.read_csv_rows(before.data)[1:]]
        n_doubled = [r[5] for r in csv_out.read_csv_rows(doubled.data)[1:]]
        assert any(a and b == str(2 * int(a)) for a, b in zip(n_before, n_doubled, strict=True))
        with db.write_session(engine) as s:
            # One department's stored respondents gone: incomplete, so counted live again.
            one = s.exec(select(WaveResponseCount).where(WaveResponseCount.wave_id == wave_id)).first()
            s.execute(
                delete(WaveResponseCount).where(
                    WaveResponseCount.wave_id == wave_id, WaveResponseCount.department_id == one.department_id
                )
            )
        assert _export(engine, "results", wave=CLOSED).data == before.data
    finally:
        engine.dispose()


def test_cli_streams_to_the_file_only_after_the_audit_event(demo_copy_url, monkeypatch, tmp_path):
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", demo_copy_url)
    engine = db.make_engine(demo_copy_url)
    out = tmp_path / "kpis.csv"
    try:
        assert main(["export", "kpis", "--output", str(out)]) == 0
        with db.read_session(engine) as s:
            event = s.exec(select(AuditEvent).where(AuditEvent.action == "export")).one()
        same = _export(engine, "kpis")
        assert out.read_bytes() == same.data and json.loads(event.detail)["rows"] == same.rows
        assert [p.name for p in tmp_path.iterdir()] == ["kpis.csv"]  # no temporary file left behind

        # The audit event cannot be written: no file is handed out, and nothing is left behind.
        def fail(*_a, **_k):
            raise RuntimeError("audit store down")

        monkeypatch.setattr(exports, "record_export", fail)
        with pytest.raises(RuntimeError):
            main(["export", "kpis", "--output", str(tmp_path / "second.csv")])
        assert [p.name for p in tmp_path.iterdir()] == ["kpis.csv"]
        # A folder that does not exist is a message, not a traceback.
        assert main(["export", "kpis", "--output", str(tmp_path / "no" / "such.csv")]) == 1
    finally:
        engine.dispose()
