"""`invite --send` and `remind` on the command line, against a real SMTP server (both backends)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from kpialign import db
from kpialign.cli import main
from kpialign.models import Invitation
from tests.unit.mail_helpers import SENDER, Collector, SmtpServer
from tests.unit.survey_helpers import KEY, make_wave, seed_org


@pytest.fixture
def mail_cli(engine, monkeypatch):
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("KPIALIGN_SECRET_KEY", KEY.decode())
    monkeypatch.setenv("KPIALIGN_BASE_URL", "https://kpi.example.org/")
    monkeypatch.setenv("KPIALIGN_MAIL_FROM", SENDER)
    monkeypatch.setenv("KPIALIGN_SMTP_SECURITY", "none")
    monkeypatch.setenv("KPIALIGN_MAIL_PER_MINUTE", "60000")
    make_wave(engine, seed_org(engine), name="Spring 2026", around=date.today())
    return engine


def test_invite_send_refuses_a_file_with_bad_rows_and_lists_them(mail_cli, tmp_path, capsys):
    f = tmp_path / "people.csv"
    f.write_text("email,department\nann@staff.test,Sales\nbob(at)staff.test,Sales\n,Finance\n", encoding="utf-8")
    assert main(["invite", "--wave", "Spring 2026", "--from-csv", str(f), "--send"]) == 1
    err = capsys.readouterr().err
    assert "row 3: bob(at)staff.test: not a valid e-mail address" in err
    assert "row 4: : no e-mail address" in err
    assert "nothing was added or sent" in err
    with db.read_session(mail_cli) as s:
        assert s.exec(select(Invitation)).first() is None


def test_invite_send_then_resume_then_remind(mail_cli, tmp_path, monkeypatch, capsys):
    f = tmp_path / "people.csv"
    f.write_text(
        "email,department,language\n" + "".join(f"p{i}@staff.test,Sales,fr\n" for i in range(6)), encoding="utf-8"
    )
    first = Collector(fail_after=4)
    with SmtpServer(first) as srv:
        monkeypatch.setenv("KPIALIGN_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("KPIALIGN_SMTP_PORT", str(srv.port))
        assert main(["invite", "--wave", "Spring 2026", "--from-csv", str(f), "--send"]) == 3
    captured = capsys.readouterr()
    assert "4 invitation(s) sent" in captured.out
    assert "2 left: run the same command again to resume" in captured.err
    second = Collector()
    with SmtpServer(second) as srv:
        monkeypatch.setenv("KPIALIGN_SMTP_PORT", str(srv.port))
        assert main(["invite", "--wave", "Spring 2026", "--send"]) == 0
        assert "2 invitation(s) sent" in capsys.readouterr().out
        assert main(["remind", "--wave", "Spring 2026"]) == 0
        assert "6 reminder(s) sent" in capsys.readouterr().out
    assert sorted(first.recipients() + second.recipients()[:2]) == [f"p{i}@staff.test" for i in range(6)]
    assert all(m["Subject"].startswith("Rappel") for m in second.messages[2:])


def test_invite_send_from_accounts_without_accounts_is_refused(mail_cli, capsys):
    assert main(["invite", "--wave", "Spring 2026", "--from-accounts", "--send"]) == 1
    assert "list has no recipients" in capsys.readouterr().err  # seed_org makes no accounts
