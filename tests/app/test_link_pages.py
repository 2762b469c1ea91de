"""AppTest: a revoked survey link gets a plain message; HR reissues a link and withdraws unused ones on Survey waves."""

from __future__ import annotations

from sqlmodel import func, select

from kpialign import db
from kpialign.models import Invitation, Response
from kpialign.services import surveys
from tests.app import test_survey_pages as survey_pages
from tests.app.test_survey_pages import HR_EMAIL, _count, _open_link, _texts, _tokens
from tests.unit.survey_helpers import KEY

survey_url = survey_pages.survey_url  # the same fixture: a wave open today, Sales answers through links


def _hr_waves(url, monkeypatch):
    from tests.app.conftest import new_app

    at = new_app(url, HR_EMAIL, monkeypatch).run()
    return at.switch_page("pages/hr_waves.py").run()


def _invited(url) -> int:
    """Links that count as invited (the participation denominator; the page hides it below k)."""
    eng = db.make_engine(url)
    with db.read_session(eng) as s:
        n = s.exec(select(func.count()).select_from(Invitation).where(Invitation.revoked == False)).one()  # noqa: E712
    eng.dispose()
    return int(n)


def test_the_survey_page_refuses_a_revoked_link_with_a_plain_message(survey_url, monkeypatch):
    old = _tokens(survey_url, 5)[0]
    eng = db.make_engine(survey_url)
    with db.write_session(eng) as s:
        surveys.reissue_link(session=s, link=old, key=KEY, base_url="https://x", actor="hr")
    eng.dispose()
    at = _open_link(survey_url, old, monkeypatch)
    assert not at.exception
    assert "no longer valid" in _texts(at)
    assert not [b for b in at.button if b.label == "Submit"]
    assert _count(survey_url, Response) == 0


def test_hr_reissues_a_lost_link_on_the_survey_waves_page(survey_url, monkeypatch):
    old = _tokens(survey_url, 6)[2]
    invited = _invited(survey_url)
    at = _hr_waves(survey_url, monkeypatch)
    assert not at.exception
    at.text_input(key=next(k for k in (t.key for t in at.text_input) if k and k.startswith("link_admin.old."))).input(
        f"https://kpi.example.org/survey?token={old}"
    )
    [reissue] = [b for b in at.button if b.label == "Reissue link"]
    reissue.click().run()
    assert not at.exception
    assert "New link made" in _texts(at)
    [code] = [c.value for c in at.code if "token=" in c.value]
    assert code.startswith("https://kpi.example.org/survey?token=") and old not in code
    assert _invited(survey_url) == invited == 6
    again = _open_link(survey_url, old, monkeypatch)
    assert "no longer valid" in _texts(again)


def test_hr_withdraws_unused_links_only_after_confirming(survey_url, monkeypatch):
    _tokens(survey_url, 7)
    at = _hr_waves(survey_url, monkeypatch)
    [withdraw] = [b for b in at.button if b.label == "Withdraw unused links"]
    withdraw.click().run()
    assert not at.exception and any("Tick the box" in w.value for w in at.warning)
    assert _invited(survey_url) == 7
    [sure] = [c for c in at.checkbox if c.key and c.key.startswith("link_admin.sure.")]
    sure.check()
    [withdraw] = [b for b in at.button if b.label == "Withdraw unused links"]
    withdraw.click().run()
    assert not at.exception
    assert "7 unused link(s) withdrawn." in _texts(at)
    assert _invited(survey_url) == 0
