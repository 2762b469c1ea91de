"""AppTest: the survey page (personal link and signed in) and the HR waves page."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from kpialign import db
from kpialign.models import Answer, Invitation, Response, SurveyWave
from kpialign.services import accounts, surveys
from tests.app.conftest import new_app
from tests.unit.survey_helpers import KEY, make_wave, seed_org

HR_EMAIL = "hana.hr@staff.test"
EMP_EMAIL = "finn@staff.test"


def survey_org(eng) -> None:
    """Sales, Finance and Tiny with a wave open today; an HR manager and an employee of Finance."""
    depts = seed_org(eng)
    make_wave(eng, depts, name="Autumn pulse", around=date.today())
    with db.write_session(eng) as s:
        accounts.create_user(session=s, email=HR_EMAIL, roles=["hr"], password=None, department="Finance")
        accounts.create_user(session=s, email=EMP_EMAIL, roles=["employee"], password=None, department="Finance")


@pytest.fixture
def survey_url(sqlite_factory, monkeypatch) -> str:
    """A small organisation with a wave open today: Sales answers through links, Finance signed in
    (built once per worker, restored into each test's own database)."""
    monkeypatch.setenv("KPIALIGN_SECRET_KEY", KEY.decode())
    monkeypatch.setenv("KPIALIGN_BASE_URL", "https://kpi.example.org")
    url = sqlite_factory.new_url("survey")
    eng = db.make_engine(url)
    sqlite_factory.restore(eng, survey_org)
    eng.dispose()
    return url


def _tokens(url: str, n: int, dept: str = "Sales") -> list[str]:
    eng = db.make_engine(url)
    with db.write_session(eng) as s:
        wid = surveys.get_wave(session=s, name="Autumn pulse").id
        links = surveys.invite_department(
            session=s, wave_id=wid, department=dept, count=n, key=KEY, base_url="https://x", actor="t"
        )
    eng.dispose()
    return [link.split("token=")[1] for link in links["link"]]


def _count(url: str, model) -> int:
    eng = db.make_engine(url)
    with db.read_session(eng) as s:
        n = len(s.exec(select(model)).all())
    eng.dispose()
    return n


def _texts(at) -> str:
    parts = [e.value for e in [*at.title, *at.success, *at.info, *at.error, *at.caption, *at.markdown, *at.text]]
    return "\n".join(str(p) for p in parts)


def _open_link(url: str, token: str, monkeypatch):
    at = new_app(url, None, monkeypatch)
    at.query_params["token"] = token
    at.run()  # the links point at /survey: the page is reachable only while ?token= is present
    return at.switch_page("pages/survey.py").run()


def test_personal_link_answer_submit_thank_you_then_used(survey_url, monkeypatch):
    token = _tokens(survey_url, 1)[0]
    at = _open_link(survey_url, token, monkeypatch)
    assert not at.exception
    page = _texts(at)
    assert "Confidential, not anonymous" in page and "Autumn pulse" in page
    radios = at.radio
    assert len(radios) >= 10
    assert all("Prefer not to say" in r.options for r in radios), radios[0].options
    assert at.get("progress")[0].proto.text.startswith("0 of ")
    radios[0].set_value(5).run()
    at.radio[1].set_value(0).run()  # prefer not to say
    assert at.get("progress")[0].proto.text.startswith("2 of ")
    at.checkbox(key=next(c.key for c in at.checkbox if c.key.endswith(".pick.0"))).check().run()
    at.text_area[0].input("Clear goals, thanks.").run()
    at.button(key=next(b.key for b in at.button if b.key.endswith(".submit"))).click().run()
    assert not at.exception
    assert "Thank you!" in _texts(at)
    assert _count(survey_url, Response) == 1
    # A rerun of the same session (double click, refresh of the script) shows the thank-you page again.
    at.run()
    assert "Thank you!" in _texts(at) and _count(survey_url, Response) == 1
    # Opening the link again in a new session: a friendly "already used".
    again = _open_link(survey_url, token, monkeypatch)
    assert not again.exception
    assert "already been used" in _texts(again)
    assert not again.radio
    eng = db.make_engine(survey_url)
    with db.read_session(eng) as s:
        answers = s.exec(select(Answer)).all()
        assert len(answers) >= 2  # the 'prefer not to say' item stored nothing
        assert all(a.value != 0 for a in answers if a.value is not None)
    eng.dispose()


def test_unknown_and_closed_links_get_a_friendly_message(survey_url, monkeypatch):
    at = _open_link(survey_url, "not-a-real-token", monkeypatch)
    assert not at.exception and "could not find this survey link" in _texts(at)
    token = _tokens(survey_url, 1)[0]
    eng = db.make_engine(survey_url)
    with db.write_session(eng) as s:
        surveys.close_wave(session=s, wave_id=surveys.get_wave(session=s, name="Autumn pulse").id, actor="t")
    eng.dispose()
    at = _open_link(survey_url, token, monkeypatch)
    assert "survey is closed" in _texts(at)
    assert _count(survey_url, Response) == 0


def test_cached_form_never_lets_a_used_or_closed_link_submit(survey_url, monkeypatch):
    """The page keeps the checked form between reruns (issue 9); submit still checks the link."""
    used, closed = _tokens(survey_url, 2)
    at = _open_link(survey_url, used, monkeypatch)
    late = _open_link(survey_url, closed, monkeypatch)
    assert at.radio and late.radio
    # The same link answered in another tab meanwhile.
    eng = db.make_engine(survey_url)
    with db.write_session(eng) as s:
        surveys.submit_response(session=s, answers={}, token=used, key=KEY)
    at.radio[0].set_value(4).run()
    assert at.radio, "the form is still shown from the cache"
    at.button(key=next(b.key for b in at.button if b.key.endswith(".submit"))).click().run()
    assert not at.exception and "already been used" in _texts(at)
    assert _count(survey_url, Response) == 1
    # The wave closed while the other respondent was answering.
    with db.write_session(eng) as s:
        surveys.close_wave(session=s, wave_id=surveys.get_wave(session=s, name="Autumn pulse").id, actor="t")
    eng.dispose()
    late.radio[0].set_value(5).run()
    late.button(key=next(b.key for b in late.button if b.key.endswith(".submit"))).click().run()
    assert not late.exception and "survey is closed" in _texts(late)
    assert _count(survey_url, Response) == 1
    assert "Thank you!" not in _texts(late)


def test_signed_in_employee_answers_once(survey_url, monkeypatch):
    at = new_app(survey_url, EMP_EMAIL, monkeypatch).run()
    at.switch_page("pages/survey.py").run()
    assert not at.exception
    assert "Autumn pulse" in _texts(at)
    at.radio[0].set_value(4).run()
    at.button(key=next(b.key for b in at.button if b.key.endswith(".submit"))).click().run()
    assert "Thank you!" in _texts(at)
    fresh = new_app(survey_url, EMP_EMAIL, monkeypatch).run()
    fresh.switch_page("pages/survey.py").run()
    assert "answered every open survey" in _texts(fresh)
    assert _count(survey_url, Response) == 1


def test_hr_page_shows_participation_and_makes_links(survey_url, monkeypatch):
    _tokens(survey_url, 5, dept="Finance")
    for t in _tokens(survey_url, 6)[:3]:
        eng = db.make_engine(survey_url)
        with db.write_session(eng) as s:
            surveys.submit_response(session=s, token=t, key=KEY, answers={})
        eng.dispose()
    at = new_app(survey_url, HR_EMAIL, monkeypatch).run()
    at.switch_page("pages/hr_waves.py").run()
    assert not at.exception
    progress = [p.proto.text for p in at.get("progress")]
    assert any("Sales: 3 of 6" in p for p in progress), progress
    assert "Not shown, to protect small groups" in _texts(at)
    before = _count(survey_url, Invitation)
    at.number_input[0].set_value(7)
    at.button(key=next(b.key for b in at.button if "FormSubmitter" in b.id and "invite_dept" in b.id)).click().run()
    assert not at.exception
    assert _count(survey_url, Invitation) == before + 7
    assert "7 personal link(s) made" in _texts(at)
    assert at.get("download_button")


def test_hr_creates_a_draft_wave(survey_url, monkeypatch):
    at = new_app(survey_url, HR_EMAIL, monkeypatch).run()
    at.switch_page("pages/hr_waves.py").run()
    form_inputs = [t for t in at.text_input if t.label == "Name"]
    form_inputs[0].input("Winter pulse")
    dept_select = next(m for m in at.multiselect if m.label == "Departments")
    dept_select.select(dept_select.options[0])
    at.button(key=next(b.key for b in at.button if "FormSubmitter" in b.id and ".create" in b.id)).click().run()
    assert not at.exception, at.exception
    eng = db.make_engine(survey_url)
    with db.read_session(eng) as s:
        w = s.exec(select(SurveyWave).where(SurveyWave.name == "Winter pulse")).one()
        assert (w.status, w.min_group) == ("draft", 5)
    eng.dispose()


def test_survey_page_requires_sign_in_without_a_token(survey_url, monkeypatch):
    at = new_app(survey_url, None, monkeypatch).run()
    assert not at.exception
    assert not at.radio  # the sign-in page, not the survey


def test_a_link_respondent_sees_the_organisations_objectives_after_answering(survey_url, monkeypatch):
    from kpialign.models import Objective

    at = _open_link(survey_url, _tokens(survey_url, 1)[0], monkeypatch)
    at.radio[0].set_value(4).run()
    at.button(key=next(b.key for b in at.button if b.key.endswith(".submit"))).click().run()
    assert not at.exception and "Thank you!" in _texts(at)
    assert "What we are working towards" in [h.value for h in at.subheader]
    assert len(at.dataframe[0].value) == _count(survey_url, Objective) > 0


def test_hr_opens_a_draft_and_closes_the_wave_only_after_each_confirmation(survey_url, monkeypatch):
    eng = db.make_engine(survey_url)
    with db.write_session(eng) as s:
        finance = surveys.get_wave(session=s, name="Autumn pulse").department_ids
        qids = [int(q) for q in surveys.list_questions(session=s)["id"]][:3]
        wid = surveys.create_wave(
            session=s, name="Winter pulse", opens_on=date.today(), closes_on=date.today(), question_ids=qids,
            department_ids=finance, actor=HR_EMAIL,
        )  # fmt: skip

    def status() -> str:
        with db.read_session(eng) as s:
            return s.get(SurveyWave, wid).status

    at = new_app(survey_url, HR_EMAIL, monkeypatch).run()
    at.switch_page("pages/hr_waves.py").run()
    at.selectbox(key="hr_waves.wave").set_value(wid).run()
    at.button(key="hr_waves.open").click().run()
    assert any("questions, departments and privacy thresholds are locked" in i.value for i in at.info)
    assert status() == "draft"  # nothing happens before the confirmation
    at.button(key="hr_waves.open_yes").click().run()
    assert not at.exception and status() == "open"
    assert [s.value for s in at.success] == ["Wave Winter pulse is open\\."]
    at.button(key="hr_waves.close").click().run()
    assert any("Closing is final" in w.value for w in at.warning) and status() == "open"
    at.button(key="hr_waves.close_yes").click().run()
    assert not at.exception and status() == "closed"
    eng.dispose()
