"""`invite` and `export participation` on the command line (both backends)."""

from __future__ import annotations

import csv
import io

import pytest
from sqlmodel import select

from kpialign import db
from kpialign.cli import main
from kpialign.core.security import hash_token
from kpialign.models import Invitation
from tests.unit.survey_helpers import KEY, make_wave, seed_org


@pytest.fixture
def cli_wave(engine, monkeypatch):
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("KPIALIGN_SECRET_KEY", KEY.decode())
    monkeypatch.setenv("KPIALIGN_BASE_URL", "https://kpi.example.org/")
    depts = seed_org(engine)
    make_wave(engine, depts, name="Spring 2026")
    return engine


def test_invite_department_prints_links_and_stores_only_hmacs(cli_wave, capsys):
    assert main(["invite", "--wave", "Spring 2026", "--department", "Sales", "--count", "6"]) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert len(rows) == 6 and {r["department"] for r in rows} == {"Sales"}
    assert all(r["link"].startswith("https://kpi.example.org/survey?token=") for r in rows)
    tokens = [r["link"].split("token=")[1] for r in rows]
    with db.read_session(cli_wave) as s:
        stored = {i.token_hmac for i in s.exec(select(Invitation)).all()}
    assert stored == {hash_token(t, KEY) for t in tokens}
    assert "shown only now" in captured.err


def test_invite_from_csv(cli_wave, tmp_path, capsys):
    f = tmp_path / "people.csv"
    f.write_text("email,department\nann@staff.test,Sales\nbob@staff.test,Finance\n", encoding="utf-8")
    assert main(["invite", "--wave", "Spring 2026", "--from-csv", str(f)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["email"], r["department"]) for r in rows] == [("ann@staff.test", "Sales"), ("bob@staff.test", "Finance")]


def test_invite_errors_go_to_stderr(cli_wave, capsys):
    assert main(["invite", "--wave", "Nope", "--department", "Sales", "--count", "2"]) == 1
    assert "no survey wave" in capsys.readouterr().err.lower()
    assert main(["invite", "--wave", "Spring 2026", "--department", "Sales"]) == 1
    assert "--count" in capsys.readouterr().err
    assert main(["invite", "--wave", "Spring 2026", "--department", "Nowhere", "--count", "2"]) == 1
    assert "Unknown department" in capsys.readouterr().err
    with db.read_session(cli_wave) as s:
        assert s.exec(select(Invitation)).first() is None


def test_export_participation(cli_wave, capsys):
    assert main(["invite", "--wave", "Spring 2026", "--department", "Sales", "--count", "5"]) == 0
    tokens = [r["link"].split("token=")[1] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))]
    from tests.unit.survey_helpers import submit

    for t in tokens[:2]:
        submit(cli_wave, t)
    assert main(["export", "participation", "--wave", "Spring 2026"]) == 0
    rows = {r["department"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert rows["Sales"]["invited"] == "5" and rows["Sales"]["responded"] == "2" and rows["Sales"]["rate"] == "0.4"
    assert rows["Finance"]["invited"] == "" and rows["Finance"]["shown"] == "false"
    assert main(["export", "participation"]) == 1
