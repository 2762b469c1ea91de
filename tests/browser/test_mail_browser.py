"""The link in a received e-mail opens the survey in Chromium, in the e-mail's language."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from kpialign import db, mail
from kpialign.models import Department
from kpialign.services import surveys
from tests.browser.conftest import screenshot, wait_for_app
from tests.unit.mail_helpers import Collector, SmtpServer, link_of, settings
from tests.unit.survey_helpers import KEY, make_wave

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def mail_portal(survey_portal) -> tuple[str, str]:
    """The survey portal with a wave of this module's own ("Winter pulse"), open today."""
    portal, _ = survey_portal
    eng = db.make_engine(portal.url)
    with db.read_session(eng) as s:
        departments = {d.name: int(d.id) for d in s.exec(select(Department)).all()}
    make_wave(eng, departments, name="Winter pulse", around=date.today())
    eng.dispose()
    return portal.base, portal.url


def test_the_link_in_a_received_mail_opens_the_survey_in_its_language(mail_portal, page):
    base, url = mail_portal
    eng = db.make_engine(url)
    with db.write_session(eng) as s:
        wid = surveys.get_wave(session=s, name="Winter pulse").id
        people = mail.parse_recipients_csv("email,department,language\nanna@x.test,Sales,de\nben@x.test,Sales,\n")
        mail.add_recipients(s, wave_id=wid, recipients=people, key=KEY, actor="hr")
    handler = Collector()
    with SmtpServer(handler) as srv:
        report = mail.send(
            eng, wave_id=wid, kind=mail.INVITATION, settings=settings(srv.port), key=KEY, base_url=base, actor="hr"
        )
    eng.dispose()
    assert report.sent == 2 and len(handler.messages) == 2
    german = next(m for m in handler.messages if m["To"] == "anna@x.test")
    page.goto(link_of(german))
    page.get_by_role("heading", name="Umfrage: Unsere Ziele und Ihre Arbeit").wait_for()
    wait_for_app(page)
    assert page.evaluate("document.documentElement.lang") == "de"
    page.get_by_role("radiogroup", name="1. Ich könnte die wichtigsten Ziele").wait_for()
    screenshot(page, "mail-link-survey-de")
    english = next(m for m in handler.messages if m["To"] == "ben@x.test")
    assert english["Content-Language"] == "en" and link_of(english).endswith("&lang=en")
