"""E-mail invitations and reminders (kpialign.mail) against a real SMTP server on loopback.

Service rules run on SQLite and PostgreSQL (``engine``); the SMTP server is aiosmtpd, started
by the test, which can refuse, drop or stall after N messages.
"""

from __future__ import annotations

import email
import email.policy
import json
from datetime import date

import pytest
from sqlmodel import select

from kpialign import db, mail
from kpialign.core import i18n
from kpialign.core.security import hash_token
from kpialign.models import AuditEvent, Invitation, InvitationAddress
from kpialign.services import surveys
from tests.unit.mail_helpers import SENDER, Collector, SmtpServer, dry_run_settings, free_port, link_of, settings
from tests.unit.survey_helpers import BASE, KEY, TODAY, likert_answers, make_wave, seed_org


def _csv(n: int, dept: str = "Sales", lang: str = "") -> str:
    rows = [f"person{i}@example.org,{dept},{lang}" for i in range(n)]
    return "email,department,language\n" + "\n".join(rows) + "\n"


def _wave_with_recipients(engine, n: int = 6, lang: str = "") -> int:
    wid = make_wave(engine, seed_org(engine))
    with db.write_session(engine) as s:
        rl = mail.parse_recipients_csv(_csv(n, lang=lang))
        mail.add_recipients(s, wave_id=wid, recipients=rl, key=KEY, actor="hr@example.org")
    return wid


def _send(engine, wid, cfg, kind=mail.INVITATION, **kw):
    return mail.send(
        engine, wave_id=wid, kind=kind, settings=cfg, key=KEY, base_url=BASE, actor="hr@example.org", today=TODAY, **kw
    )


def _states(engine, wid) -> dict[str, int]:
    with db.read_session(engine) as s:
        box = mail.outbox(s, wave_id=wid, max_reminders=2)
    return {"pending": box.pending, "in_doubt": box.in_doubt, "sent": box.sent, "failed": box.failed}


# ------------------------------------------------------------------------------ recipients


def test_malformed_addresses_are_listed_by_row_and_nothing_is_added(engine):
    wid = make_wave(engine, seed_org(engine))
    text = (
        "email,department\n"
        "ok@example.org,Sales\n"
        "not-an-address,Sales\n"
        "two@@example.org,Finance\n"
        "ok@example.org,Finance\n"
        "fine@example.org,Nowhere\n"
        "space in@example.org,Sales\n"
    )
    names = {n: 0 for n in ("Sales", "Finance", "Tiny")}
    rl = mail.parse_recipients_csv(text, departments=names)
    assert [(p.row, p.problem) for p in rl.problems] == [
        (3, "not a valid e-mail address"),
        (4, "not a valid e-mail address"),
        (5, "appears twice (also row 2)"),
        (6, "department not in this wave"),
        (7, "not a valid e-mail address"),
    ]
    assert not rl.ok
    with pytest.raises(mail.MailError, match="5 problem"), db.write_session(engine) as s:
        mail.add_recipients(s, wave_id=wid, recipients=rl, key=KEY, actor="hr")
    with db.read_session(engine) as s:
        assert s.exec(select(InvitationAddress)).all() == []
        assert s.exec(select(Invitation)).all() == []


def test_adding_the_same_list_twice_invites_nobody_twice(engine):
    wid = _wave_with_recipients(engine, 4)
    with db.write_session(engine) as s:
        again = mail.add_recipients(
            s,
            wave_id=wid,
            recipients=mail.parse_recipients_csv(_csv(5).replace("person", "PERSON")),
            key=KEY,
            actor="hr",
        )
    assert (again.added, again.already) == (1, 4)
    assert _states(engine, wid)["pending"] == 5


def test_the_database_keeps_a_seed_and_an_hmac_and_the_server_key_rebuilds_the_link(engine):
    _wave_with_recipients(engine, 1)
    with db.read_session(engine) as s:
        row = s.exec(select(InvitationAddress)).one()
        inv = s.get(Invitation, row.invitation_id)
    token = mail.derive_token(row.token_seed, KEY)
    assert token not in json.dumps([row.model_dump(mode="json"), inv.model_dump(mode="json")])
    assert inv.token_hmac == hash_token(token, KEY)
    assert mail.derive_token(row.token_seed, b"another key") != token
    with db.read_session(engine) as s:
        form = surveys.check_token(session=s, token=token, key=KEY, today=TODAY)
    assert form.department == "Sales"


def test_closing_the_wave_deletes_its_addresses(engine):
    wid = _wave_with_recipients(engine, 3)
    with db.write_session(engine) as s:
        surveys.close_wave(session=s, wave_id=wid, actor="hr")
    with db.read_session(engine) as s:
        assert s.exec(select(InvitationAddress)).all() == []
        assert len(s.exec(select(Invitation)).all()) == 3  # the links (HMACs) stay, for participation


# ------------------------------------------------------------------------------- templates


def test_every_inserted_value_is_html_escaped_and_unknown_placeholders_are_refused(engine):
    tpl = mail.Template(
        "invitation", "en", "Survey {wave}", "Go: {link}\n", '<p><a href="{link}">{wave}</a> {closes_on}</p>'
    )
    msg = mail.build_message(
        tpl,
        to_addr="a@example.org",
        sender=SENDER,
        link='https://x.example/survey?token=a"b&lang=en',
        wave_name='<script>alert(1)</script> & "Q4"',
        closes_on=date(2026, 12, 1),
        min_group=5,
    )
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Q4&quot;" in html
    assert 'href="https://x.example/survey?token=a&quot;b&amp;lang=en"' in html
    assert msg.get_body(("plain",)).get_content().startswith('Go: https://x.example/survey?token=a"b&lang=en')
    assert mail.template_problems("Hi {name}", "no link here", "") == [
        "The plain-text body must contain {link} (the personal survey link).",
        "Unknown placeholder {name}: use {link}, {wave}, {closes_on}, {confidentiality}.",
    ]
    with pytest.raises(mail.MailError), db.write_session(engine) as s:
        mail.save_template(
            s, kind="invitation", language="de", subject="A\nB", text_body="{link}", html_body="", actor="hr"
        )


def test_hr_template_is_used_for_its_language_and_reset_brings_back_the_default(engine):
    with db.write_session(engine) as s:
        mail.save_template(
            s,
            kind="reminder",
            language="fr",
            subject="Petit rappel {wave}",
            text_body="Lien : {link}",
            html_body="",
            actor="hr",
        )
    with db.read_session(engine) as s:
        tpl = mail.get_template(s, kind="reminder", language="fr")
        assert tpl.custom and tpl.subject == "Petit rappel {wave}"
        assert not mail.get_template(s, kind="reminder", language="de").custom
    with db.write_session(engine) as s:
        mail.reset_template(s, kind="reminder", language="fr", actor="hr")
    with db.read_session(engine) as s:
        assert mail.get_template(s, kind="reminder", language="fr") == mail.default_template("reminder", "fr")


@pytest.mark.parametrize("lang", list(i18n.LANGUAGES))
def test_built_in_templates_have_the_link_and_the_confidentiality_statement(lang):
    for kind in mail.KINDS:
        tpl = mail.default_template(kind, lang)
        assert mail.template_problems(tpl.subject, tpl.text_body, tpl.html_body) == []
        assert "{confidentiality}" in tpl.text_body and "{confidentiality}" in tpl.html_body


# --------------------------------------------------------------------------------- sending


def test_invitations_arrive_once_each_with_complete_headers(engine):
    wid = _wave_with_recipients(engine, 5, lang="de")
    handler = Collector()
    with SmtpServer(handler) as srv:
        report = _send(engine, wid, settings(srv.port))
    assert (report.sent, report.error, report.left) == (5, None, 0)
    assert sorted(handler.recipients()) == [f"person{i}@example.org" for i in range(5)]
    msg = handler.messages[0]
    for header in ("From", "To", "Subject", "Date", "Message-ID"):
        assert msg[header], header
    assert msg["From"] == SENDER and msg["Content-Language"] == "de"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Subject"] == "Ihre Meinung zählt: Spring 2026"
    assert "24. März 2026" in msg.get_body(("plain",)).get_content()
    assert len({m["Message-ID"] for m in handler.messages}) == 5
    assert all(env[0] == "hr@example.org" for env in handler.envelopes)
    # The link in the mail opens this person's survey, in the mail's language.
    link = link_of(msg)
    assert link.startswith(f"{BASE}/survey?token=") and link.endswith("&lang=de")
    token = link.split("token=", 1)[1].split("&", 1)[0]
    with db.read_session(engine) as s:
        assert surveys.check_token(session=s, token=token, key=KEY, today=TODAY).department == "Sales"
    assert _states(engine, wid) == {"pending": 0, "in_doubt": 0, "sent": 5, "failed": 0}
    # Sending again sends nothing.
    with SmtpServer(Collector()) as srv:
        assert _send(engine, wid, settings(srv.port)).sent == 0


def test_a_server_that_refuses_after_three_messages_stops_the_run_and_resume_sends_the_rest(engine):
    wid = _wave_with_recipients(engine, 8)
    first = Collector(fail_after=3, mode="refuse")
    with SmtpServer(first) as srv:
        report = _send(engine, wid, settings(srv.port))
    assert report.sent == 3 and report.left == 5 and report.in_doubt == 0
    assert "421" in report.error
    assert _states(engine, wid) == {"pending": 5, "in_doubt": 0, "sent": 3, "failed": 0}
    second = Collector()
    with SmtpServer(second) as srv:
        resumed = _send(engine, wid, settings(srv.port))
    assert resumed.sent == 5 and resumed.error is None
    everyone = first.recipients() + second.recipients()
    assert sorted(everyone) == sorted(set(everyone)) and len(everyone) == 8


def test_a_dropped_connection_leaves_one_message_in_doubt_and_nobody_gets_two_copies(engine):
    wid = _wave_with_recipients(engine, 6)
    first = Collector(fail_after=2, mode="drop")  # the third message arrives, but its answer never does
    with SmtpServer(first) as srv:
        report = _send(engine, wid, settings(srv.port))
    assert (report.sent, report.in_doubt, report.left) == (2, 1, 3)
    assert "dropped the connection" in report.error
    second = Collector()
    with SmtpServer(second) as srv:
        resumed = _send(engine, wid, settings(srv.port))
    assert resumed.sent == 3
    everyone = first.recipients() + second.recipients()
    assert len(everyone) == 6 and len(set(everyone)) == 6
    assert _states(engine, wid) == {"pending": 0, "in_doubt": 1, "sent": 5, "failed": 0}
    with db.write_session(engine) as s:  # HR may release it knowingly
        assert mail.release_in_doubt(s, wave_id=wid, actor="hr") == 1
    assert _states(engine, wid)["pending"] == 1


def test_a_server_that_stops_answering_times_out_with_a_clear_message(engine):
    wid = _wave_with_recipients(engine, 3)
    handler = Collector(fail_after=1, mode="stall")
    with SmtpServer(handler) as srv:
        report = _send(engine, wid, settings(srv.port, timeout_s=0.5))
    assert report.sent == 1 and report.in_doubt == 1 and report.left == 1
    assert "did not answer within 0.5 seconds" in report.error


def test_no_server_listening_is_a_clear_refusal_and_nothing_is_claimed(engine):
    wid = _wave_with_recipients(engine, 2)
    report = _send(engine, wid, settings(free_port()))
    assert report.sent == 0 and report.left == 2
    assert "refused the connection" in report.error
    assert _states(engine, wid)["pending"] == 2


def test_an_address_the_server_rejects_is_marked_failed_and_the_others_are_sent(engine):
    wid = _wave_with_recipients(engine, 4)
    handler = Collector(reject={"person1@example.org"})
    with SmtpServer(handler) as srv:
        report = _send(engine, wid, settings(srv.port))
    assert (report.sent, report.refused, report.error) == (3, 1, None)
    assert "person1@example.org" not in handler.recipients()
    assert _states(engine, wid)["failed"] == 1


def test_reminders_go_only_to_unused_links_at_most_n_times_and_the_audit_has_counts_only(engine):
    wid = _wave_with_recipients(engine, 6)
    with SmtpServer(Collector()) as srv:
        _send(engine, wid, settings(srv.port))
    with db.read_session(engine) as s:
        used_ids = [
            r.invitation_id for r in s.exec(select(InvitationAddress).order_by(InvitationAddress.invitation_id)).all()
        ][:2]
    answered = set()
    with db.write_session(engine) as s:
        for iid in used_ids:
            row = s.get(InvitationAddress, iid)
            answered.add(row.email)
            token = mail.derive_token(row.token_seed, KEY)
            surveys.submit_response(session=s, token=token, key=KEY, answers=likert_answers(engine), today=TODAY)
    got: list[str] = []
    for _ in range(3):  # a third round has nobody left (max 2)
        handler = Collector()
        with SmtpServer(handler) as srv:
            _send(engine, wid, settings(srv.port, max_reminders=2), kind=mail.REMINDER)
        got += handler.recipients()
    assert len(got) == 8 and not answered & set(got)
    assert all(got.count(e) == 2 for e in set(got))
    with db.read_session(engine) as s:
        details = [e.detail for e in s.exec(select(AuditEvent).where(AuditEvent.action.like("mail_%"))).all()]
    assert details and not any("@" in d for d in details)


def test_an_interrupted_reminder_round_is_finished_before_a_new_one_starts(engine):
    wid = _wave_with_recipients(engine, 6)
    with SmtpServer(Collector()) as srv:
        _send(engine, wid, settings(srv.port))
    first = Collector(fail_after=2, mode="refuse")
    with SmtpServer(first) as srv:
        r1 = _send(engine, wid, settings(srv.port), kind=mail.REMINDER)
    assert r1.sent == 2 and r1.left == 4
    with db.read_session(engine) as s:
        assert mail.outbox(s, wave_id=wid, max_reminders=2).reminder_round == 1
    second = Collector()
    with SmtpServer(second) as srv:
        r2 = _send(engine, wid, settings(srv.port), kind=mail.REMINDER)
    assert r2.sent == 4
    assert sorted(first.recipients() + second.recipients()) == [f"person{i}@example.org" for i in range(6)]


def test_reminder_counts_are_hidden_below_the_minimum_group(engine):
    wid = _wave_with_recipients(engine, 3)  # 3 invited < min_group 5
    with db.read_session(engine) as s:
        box = mail.outbox(s, wave_id=wid, max_reminders=2)
    assert box.reminder_due is None and box.pending == 3


def test_dry_run_writes_private_eml_files_and_sends_nothing(engine, tmp_path):
    wid = _wave_with_recipients(engine, 3, lang="es")
    folder = tmp_path / "outbox"
    report = _send(engine, wid, dry_run_settings(folder))
    files = sorted(folder.glob("*.eml"))
    assert report.dry_run and report.sent == 3 and len(files) == 3
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    parsed = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    assert {m["Subject"] for m in parsed} == {"Su opinión cuenta: Spring 2026"}
    assert sorted(m["To"] for m in parsed) == [f"person{i}@example.org" for i in range(3)]


def test_the_rate_limit_spaces_messages_evenly():
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    limiter = mail.RateLimiter(30, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.wait()
    assert slept == [2.0, 2.0, 2.0]


def test_mail_goes_out_only_while_the_wave_is_open(engine):
    depts = seed_org(engine)
    wid = make_wave(engine, depts, open_it=False)
    with db.write_session(engine) as s:
        mail.add_recipients(s, wave_id=wid, recipients=mail.parse_recipients_csv(_csv(2)), key=KEY, actor="hr")
    with pytest.raises(mail.MailError, match="only while a wave is open"):
        _send(engine, wid, settings(free_port()))


def test_an_interrupted_run_is_still_audited_and_what_was_sent_stays_sent(engine, tmp_path):
    wid = _wave_with_recipients(engine, 5)

    class Leave(BaseException):  # like Streamlit stopping a script when the user leaves the page
        pass

    def progress(done: int, total: int) -> None:
        if done == 2:
            raise Leave

    with pytest.raises(Leave):
        _send(engine, wid, dry_run_settings(tmp_path / "out"), progress=progress)
    assert _states(engine, wid) == {"pending": 3, "in_doubt": 0, "sent": 2, "failed": 0}
    with db.read_session(engine) as s:
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "mail_invitations")).one()
    assert json.loads(event.detail)["after"]["sent"] == 2


def test_starttls_against_a_server_without_it_is_refused_before_anything_is_sent(engine):
    wid = _wave_with_recipients(engine, 2)
    handler = Collector()
    with SmtpServer(handler) as srv:
        report = _send(engine, wid, settings(srv.port, security="starttls"))
    assert report.sent == 0 and handler.messages == []
    assert "does not offer STARTTLS" in report.error
    assert _states(engine, wid)["pending"] == 2
