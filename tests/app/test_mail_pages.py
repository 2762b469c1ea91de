"""AppTest: the survey in several languages, and the Survey waves page's e-mail and translation parts."""

from __future__ import annotations

import pytest
from sqlmodel import select

from kpialign import db, mail
from kpialign.models import Account, InvitationAddress
from kpialign.services import surveys, translations
from tests.app.conftest import new_app
from tests.app.test_survey_pages import EMP_EMAIL, HR_EMAIL, survey_org
from tests.unit.survey_helpers import KEY


@pytest.fixture
def mail_url(sqlite_factory, tmp_path, monkeypatch) -> str:
    """A small organisation with a wave open today, HR and an employee of Finance (built once per
    worker, restored into each test's own database); mail goes to a dry-run outbox."""
    monkeypatch.setenv("KPIALIGN_SECRET_KEY", KEY.decode())
    monkeypatch.setenv("KPIALIGN_BASE_URL", "https://kpi.example.org")
    monkeypatch.setenv("KPIALIGN_MAIL_FROM", "HR <hr@example.org>")
    monkeypatch.setenv("KPIALIGN_MAIL_DRY_RUN", str(tmp_path / "outbox"))
    url = sqlite_factory.new_url("mail")
    eng = db.make_engine(url)
    sqlite_factory.restore(eng, survey_org)  # the survey pages' organisation
    eng.dispose()
    return url


def _texts(at) -> str:
    parts = [e.value for e in [*at.title, *at.success, *at.info, *at.error, *at.caption, *at.markdown, *at.text]]
    return "\n".join(str(p) for p in parts)


def _link_token(url: str) -> str:
    eng = db.make_engine(url)
    with db.write_session(eng) as s:
        wid = surveys.get_wave(session=s, name="Autumn pulse").id
        links = surveys.invite_department(
            session=s, wave_id=wid, department="Sales", count=1, key=KEY, base_url="x", actor="t"
        )
    eng.dispose()
    return links["link"].iloc[0].split("token=")[1]


def _survey(url: str, monkeypatch, **query):
    at = new_app(url, None, monkeypatch)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    return at.switch_page("pages/survey.py").run()


@pytest.mark.parametrize(
    ("lang", "title", "item"),
    [
        ("de", "Umfrage: Unsere Ziele und Ihre Arbeit", "Ich könnte die wichtigsten Ziele"),
        ("fr", "Enquête : nos objectifs et votre travail", "Je pourrais citer les objectifs"),
        ("es", "Encuesta: nuestros objetivos y su trabajo", "Podría nombrar los objetivos"),
    ],
)
def test_the_link_language_translates_the_page_and_the_questions(mail_url, monkeypatch, lang, title, item):
    at = _survey(mail_url, monkeypatch, token=_link_token(mail_url), lang=lang)
    assert not at.exception
    assert at.title[0].value == title
    assert item in _texts(at)
    assert at.radio[0].label.startswith("1. ") and item in at.radio[0].label


def test_an_unknown_lang_falls_back_silently_to_the_wave_default(mail_url, monkeypatch):
    eng = db.make_engine(mail_url)
    with db.write_session(eng) as s:
        translations.set_wave_language(
            session=s, wave_id=surveys.get_wave(session=s, name="Autumn pulse").id, language="fr", actor="t"
        )
    eng.dispose()
    at = _survey(mail_url, monkeypatch, token=_link_token(mail_url), lang="xx")
    assert not at.exception and not at.error
    assert at.title[0].value == "Enquête : nos objectifs et votre travail"


def test_a_signed_in_employee_sets_a_preferred_language(mail_url, monkeypatch):
    at = new_app(mail_url, EMP_EMAIL, monkeypatch).run()
    at.switch_page("pages/survey.py").run()
    assert not at.exception
    at.selectbox(key="survey.language").set_value("es").run()
    assert not at.exception
    eng = db.make_engine(mail_url)
    with db.read_session(eng) as s:
        assert s.exec(select(Account).where(Account.email == EMP_EMAIL)).one().language == "es"
    eng.dispose()
    again = new_app(mail_url, EMP_EMAIL, monkeypatch).run()
    again.switch_page("pages/survey.py").run()
    assert again.title[0].value == "Encuesta: nuestros objetivos y su trabajo"


def test_hr_adds_recipients_and_sends_invitations_then_a_reminder(mail_url, monkeypatch, tmp_path):
    eng = db.make_engine(mail_url)
    with db.write_session(eng) as s:
        wid = surveys.get_wave(session=s, name="Autumn pulse").id
        rl = mail.parse_recipients_csv("email,department\n" + "".join(f"p{i}@x.test,Sales\n" for i in range(6)))
        mail.add_recipients(s, wave_id=wid, recipients=rl, key=KEY, actor="t")
    at = new_app(mail_url, HR_EMAIL, monkeypatch).run()
    at.switch_page("pages/hr_waves.py").run()
    assert not at.exception
    assert "Dry run" in _texts(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["To send"] == "6" and metrics["Sent"] == "0"
    at.button(key="hr_mail.send").click().run()
    assert not at.exception
    assert "6 invitation(s) sent as files in the dry-run folder" in _texts(at)
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 6
    assert {m.label: m.value for m in at.metric}["Sent"] == "6"
    remind = at.button(key="hr_mail.remind")
    assert "Send reminder 1 of 2 (6 unused link(s))" in remind.label
    remind.click().run()
    assert "6 reminder(s) sent" in _texts(at)
    with db.read_session(eng) as s:
        assert {r.reminders_sent for r in s.exec(select(InvitationAddress)).all()} == {1}
    eng.dispose()


def test_hr_edits_a_translation_and_a_template(mail_url, monkeypatch):
    at = new_app(mail_url, HR_EMAIL, monkeypatch).run()
    at.switch_page("pages/hr_waves.py").run()
    assert not at.exception
    assert "13 current · 0 stale · 0 missing" in _texts(at)
    bad = next(t for t in at.text_area if t.label == "Plain text")
    bad.input("No link in here.")
    at.button(key=next(b.key for b in at.button if "FormSubmitter" in b.id and ".tpl." in b.id)).click().run()
    assert any("must contain" in e.value and "link" in e.value for e in at.error)  # escaped by plain()


def test_a_mail_server_that_refuses_the_connection_is_a_clear_message_and_nothing_is_lost(mail_url, monkeypatch):
    from tests.unit.mail_helpers import free_port

    monkeypatch.delenv("KPIALIGN_MAIL_DRY_RUN")
    monkeypatch.setenv("KPIALIGN_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("KPIALIGN_SMTP_PORT", str(free_port()))
    monkeypatch.setenv("KPIALIGN_SMTP_SECURITY", "none")
    eng = db.make_engine(mail_url)
    with db.write_session(eng) as s:
        wid = surveys.get_wave(session=s, name="Autumn pulse").id
        rl = mail.parse_recipients_csv("email,department\na@x.test,Sales\nb@x.test,Sales\n")
        mail.add_recipients(s, wave_id=wid, recipients=rl, key=KEY, actor="t")
    eng.dispose()
    at = new_app(mail_url, HR_EMAIL, monkeypatch).run()
    at.switch_page("pages/hr_waves.py").run()
    at.button(key="hr_mail.send").click().run()
    assert not at.exception
    shown = " ".join(e.value for e in at.error).replace("\\", "")
    assert "refused the connection" in shown and "2 message(s) not sent yet" in shown
    assert {m.label: m.value for m in at.metric}["To send"] == "2"


def test_a_german_respondent_picks_translated_decoys_and_the_answer_is_scored(mail_url, monkeypatch):
    from kpialign.models import Answer, Question

    at = _survey(mail_url, monkeypatch, token=_link_token(mail_url), lang="de")
    labels = [c.label for c in at.checkbox]
    assert any("Vier\\-Tage\\-Woche" in label for label in labels), labels  # labels are escaped by plain()
    real = next(c for c in at.checkbox if "Grow recurring revenue" in c.label)
    real.check().run()
    at.button(key=next(b.key for b in at.button if b.key.endswith(".submit"))).click().run()
    assert not at.exception
    assert at.title[0].value == "Vielen Dank!"
    eng = db.make_engine(mail_url)
    with db.read_session(eng) as s:
        pick = s.exec(select(Question).where(Question.code == "OBJ_PICK")).one()
        assert s.exec(select(Answer).where(Answer.question_id == pick.id)).one().value == 33
    eng.dispose()
