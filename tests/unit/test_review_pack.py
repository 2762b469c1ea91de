"""The review brief, Home alerts and the review packs on the small demo (both backends), and
the ``report`` command."""

from __future__ import annotations

import subprocess
from datetime import date

from sqlmodel import select

from kpialign import db, reports
from kpialign.cli import main
from kpialign.models import Account, Department
from kpialign.scorecard import review_brief
from kpialign.services import accounts, actions
from tests.conftest import require_pdftotext

TODAY = date(2026, 11, 30)


def _dept(session, name: str) -> int:
    return int(session.exec(select(Department.id).where(Department.name == name)).one())


def _user(session, email: str):
    return accounts.user_context(
        session=session, account=session.exec(select(Account).where(Account.email == email)).one()
    )


def _pdf_text(pdf: bytes, tmp_path) -> str:
    require_pdftotext()
    path = tmp_path / "pack.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_the_brief_lists_red_and_amber_kpis_checkins_and_the_demo_review(demo_engine):
    with db.read_session(demo_engine) as s:
        brief = review_brief.prepare_review(session=s, department_id=_dept(s, "Sales"), period="2026-q3", today=TODAY)
    assert brief.period == "2026-Q3" and brief.scored_month == "2026-09"
    assert set(brief.attention["status"]) <= {"red", "amber"} and len(brief.attention) >= 1
    assert (brief.attention["attainment_pct"] < brief.settings.green).all()
    assert brief.kpis["has_checkin"].any()
    assert brief.review is not None and brief.review["status"] == "signed_off" and brief.locked
    assert brief.previous_wave == "2026 Q2" and brief.wave == "2026 Q3"
    assert {"Recovery plan for"} <= {t[:17] for t in brief.open_actions["title"]}


def test_a_small_department_shows_no_survey_change(demo_engine):
    with db.read_session(demo_engine) as s:
        brief = review_brief.prepare_review(session=s, department_id=_dept(s, "Legal"), period="2026-Q3", today=TODAY)
    assert brief.survey_changes.empty and "fewer than" in brief.survey_note


def test_an_action_on_a_red_kpi_clears_its_home_alert(demo_copy_url):
    eng = db.make_engine(demo_copy_url)
    try:
        with db.read_session(eng) as s:
            leader = _user(s, "leader@demo.kpialign.test")
            before = review_brief.home_alerts(session=s, user=leader, today=TODAY)
            red = review_brief.red_kpis_without_action(session=s, user=leader, today=TODAY)
        counts = {a.kind: a.count for a in before}
        assert counts["overdue"] == 1 and counts["red_without_action"] == len(red) >= 2
        first = red.iloc[0]
        with db.write_session(eng) as s:
            actions.create_action(
                session=s, user=leader, title="Fix it", department_id=int(first["department_id"]),
                kpi_id=int(first["kpi_id"]), today=TODAY,
            )  # fmt: skip
        with db.read_session(eng) as s:
            after = {a.kind: a.count for a in review_brief.home_alerts(session=s, user=leader, today=TODAY)}
        assert after["red_without_action"] == counts["red_without_action"] - 1
    finally:
        eng.dispose()


def test_an_employee_sees_only_their_own_overdue_actions_in_alerts(demo_engine):
    with db.read_session(demo_engine) as s:
        employee = _user(s, "employee@demo.kpialign.test")
        assert review_brief.home_alerts(session=s, user=employee, today=TODAY) == []


def test_the_department_pack_holds_the_kpis_checkins_and_actions(demo_engine, tmp_path):
    with db.read_session(demo_engine) as s:
        sales = _dept(s, "Sales")
        pdf = reports.department_pack(s, department_id=sales, period="2026-Q3", today=TODAY)
        brief = review_brief.prepare_review(session=s, department_id=sales, period="2026-Q3", today=TODAY)
    assert pdf.startswith(b"%PDF-")
    text = _pdf_text(pdf, tmp_path)
    assert "Sales — review 2026-Q3" in text
    for name in brief.kpis["name"]:
        assert name in text
    for title in brief.open_actions["title"]:
        assert title in text
    assert "Confidential, not anonymous" in text


def test_the_organisation_pack_has_an_overview_and_a_page_per_department(demo_engine, tmp_path):
    steps = []
    with db.read_session(demo_engine) as s:
        pdf = reports.organisation_pack(s, period="2026-Q3", today=TODAY, progress=lambda d, t, n: steps.append((d, t)))
        n = len(review_brief.build_for(s, "2026-Q3").departments)
    text = _pdf_text(pdf, tmp_path)
    assert text.count("— review 2026-Q3") == n
    assert steps[-1] == (2 * n, 2 * n)
    assert "Organisation review pack — 2026-Q3" in text


def test_the_report_command_writes_a_pack_and_refuses_an_unknown_department(demo_url, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", demo_url)
    out = tmp_path / "sales.pdf"
    assert main(["report", "--department", "sales", "--period", "2026-Q3", "--output", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF-")
    assert main(["report", "--department", "Nowhere", "--period", "2026-Q3"]) == 1
    assert "no department named 'Nowhere'" in capsys.readouterr().err
    assert main(["report", "--organisation", "--period", "2026-13"]) == 1
