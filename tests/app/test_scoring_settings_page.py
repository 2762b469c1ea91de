"""AppTest: Admin > Scoring settings validates, previews what the Overview would show, saves (audited),
and How scores work then shows the new numbers."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from kpialign import db
from kpialign.demo.seed import DEMO_ACCOUNTS
from kpialign.models import AuditEvent
from tests.app.conftest import new_app
from tests.conftest import sqlite_copy


def _page(url, monkeypatch):
    at = new_app(url, DEMO_ACCOUNTS["admin"], monkeypatch).run()
    return at.switch_page("pages/admin_scoring.py").run()


def test_an_admin_previews_and_saves_a_new_green_threshold(demo_sqlite_url, tmp_path: Path, monkeypatch):
    url = sqlite_copy(demo_sqlite_url, tmp_path / "scoring.db")
    at = _page(url, monkeypatch)
    assert not at.exception
    at.number_input(key="admin_scoring.green").set_value(95.0)
    [preview] = [b for b in at.button if b.label == "Preview"]
    preview.click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    green, amber, _red = (int(x) for x in metrics["Departments green / amber / red"].split(" / "))
    assert green <= 1 and amber >= 5  # at 95 almost nobody is green any more (Legal's partial 100 is)
    assert ["green", "75.0", "95.0"] in at.dataframe[0].value.values.tolist()
    at.button(key="admin_scoring.save").click().run()
    assert not at.exception
    assert any("Saved 1 setting" in s.value for s in at.success)
    eng = db.make_engine(url)
    with db.read_session(eng) as s:
        [event] = s.exec(select(AuditEvent).where(AuditEvent.action == "settings.update")).all()
    eng.dispose()
    assert event.actor == DEMO_ACCOUNTS["admin"] and "95" in event.detail
    at.switch_page("pages/how_scores_work.py").run()
    assert any("green] at 95 or more" in m.value for m in at.markdown)


def test_a_comment_threshold_below_the_floor_cannot_even_be_entered(demo_sqlite_url, tmp_path: Path, monkeypatch):
    at = _page(sqlite_copy(demo_sqlite_url, tmp_path / "s.db"), monkeypatch)
    field = at.number_input(key="admin_scoring.comments")
    assert field.min == 10 and at.number_input(key="admin_scoring.k").min == 3
    at.number_input(key="admin_scoring.amber").set_value(90.0)  # above green (75): refused with a reason
    [preview] = [b for b in at.button if b.label == "Preview"]
    preview.click().run()
    assert not at.exception
    assert any("amber <= green" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "admin_scoring.save"]
