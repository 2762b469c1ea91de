"""AppTest: the Comments page (leaders; managers for their units) on the small demo."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from kpialign import db
from kpialign.demo.seed import DEMO_ACCOUNTS
from kpialign.models import AuditEvent
from tests.app.conftest import new_app
from tests.conftest import sqlite_copy


def test_a_leader_reads_one_departments_comments_as_plain_text_and_the_read_is_audited(
    demo_sqlite_url, tmp_path: Path, monkeypatch
):
    url = sqlite_copy(demo_sqlite_url, tmp_path / "comments.db")
    at = new_app(url, DEMO_ACCOUNTS["leader"], monkeypatch).run()
    at.switch_page("pages/comments.py").run()
    assert not at.exception
    wave = at.selectbox(key="comments.wave")
    assert "2026 Q4" not in wave.options  # the open wave is never offered
    assert wave.value is not None and not at.text  # nothing is read before the button is pressed
    department = at.selectbox(key="comments.department")
    at.button(key="comments.read").click().run()
    assert not at.exception
    texts = [t.value for t in at.text]
    assert len(texts) >= 10  # at least the comment threshold
    assert at.subheader[0].value.endswith(f"{len(texts)} comments")
    assert department.value is not None
    eng = db.make_engine(url)
    with db.read_session(eng) as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "read_comments")).all()
    eng.dispose()
    assert [e.actor for e in events] == [DEMO_ACCOUNTS["leader"]]
    at.run()  # a rerun shows the same texts without a second audited read
    assert len(at.text) == len(texts)
    eng = db.make_engine(url)
    with db.read_session(eng) as s:
        assert len(s.exec(select(AuditEvent).where(AuditEvent.action == "read_comments")).all()) == 1
    eng.dispose()


def test_a_waves_with_no_department_above_the_threshold_says_so(demo_sqlite_url, tmp_path: Path, monkeypatch):
    at = new_app(sqlite_copy(demo_sqlite_url, tmp_path / "c.db"), DEMO_ACCOUNTS["leader"], monkeypatch).run()
    at.switch_page("pages/comments.py").run()
    empty = next(o for o in at.selectbox(key="comments.wave").options if o.endswith("— 0 department(s) with comments"))
    at.selectbox(key="comments.wave").select(empty).run()
    assert not at.exception
    assert any("so no comments can be shown" in i.value for i in at.info)
    assert not at.text
