"""The portal starts on the demo database and the home page shows the organisation's real figures."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from kpialign import db
from kpialign.models import Department, Kpi, Objective


def _counts(url: str) -> tuple[int, int, int]:
    eng = db.make_engine(url)
    with db.read_session(eng) as s:
        depts = s.exec(select(func.count()).select_from(Department).where(Department.active)).one()
        objs = s.exec(select(func.count()).select_from(Objective).where(Objective.active)).one()
        kpis = s.exec(select(func.count()).select_from(Kpi).where(Kpi.active)).one()
    eng.dispose()
    return depts, objs, kpis


def test_signed_out_visitor_sees_only_sign_in(app_as):
    at = app_as(None)
    assert not at.exception
    assert any("Sign in" in t.value for t in at.title)
    assert len(at.metric) == 0


def test_home_shows_demo_figures(app_as, demo_sqlite_url):
    at = app_as("leader")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    depts, objs, kpis = _counts(demo_sqlite_url)
    assert metrics["Departments"] == str(depts)
    assert metrics["Strategic objectives"] == str(objs)
    assert metrics["Active KPIs"] == str(kpis)
    assert metrics["Latest KPI month"] != "no data yet"
    texts = " ".join(t.value for t in at.text)
    assert "2026 Q4" in texts  # the demo's open wave is the latest


def test_home_on_an_empty_database_explains_what_to_do(tmp_path, monkeypatch):
    from kpialign.services import accounts
    from tests.app.conftest import new_app

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    eng = db.make_engine(url)
    db.migrate(eng)
    with db.write_session(eng) as s:
        accounts.create_user(session=s, email="boss@example.com", roles=["leader"], password="a-long-password-1")
    eng.dispose()
    at = new_app(url, "boss@example.com", monkeypatch).run()
    assert not at.exception
    assert any("organisation is empty" in i.value for i in at.info)


def test_home_participation_equals_the_hr_pages_total(app_as, demo_sqlite_url):
    from sqlmodel import select

    from kpialign.models import SurveyWave
    from kpialign.services import surveys

    eng = db.make_engine(demo_sqlite_url)
    with db.read_session(eng) as s:
        wave = s.exec(select(SurveyWave).where(SurveyWave.name == "2026 Q4")).one()
        part = surveys.participation(session=s, wave_id=wave.id)
    eng.dispose()
    total = part[part["department"] == "All departments"].iloc[0]
    at = app_as("leader")
    texts = [p.proto.text for p in at.get("progress")]
    assert any(f"{int(total['responded']):,} of {int(total['invited']):,} invited" in t for t in texts), texts
