"""The link in a received e-mail opens the survey in Chromium, in the e-mail's language."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from kpialign import db, mail
from kpialign.services import surveys
from tests.browser.conftest import screenshot, start_portal, stop_portal, wait_for_app
from tests.unit.mail_helpers import Collector, SmtpServer, link_of, settings
from tests.unit.survey_helpers import KEY, make_wave, seed_org

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def mail_portal(tmp_path_factory) -> Iterator[tuple[str, str]]:
    workdir = tmp_path_factory.mktemp("mail-portal")
    url = f"sqlite:///{workdir / 'mail.db'}"
    eng = db.make_engine(url)
    db.migrate(eng)
    make_wave(eng, seed_org(eng), name="Winter pulse", around=date.today())
    eng.dispose()
    base, proc = start_portal(url, workdir, env_extra={"KPIALIGN_SECRET_KEY": KEY.decode(), "KPIALIGN_DEMO": "0"})
    yield base, url
    stop_portal(proc)


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
