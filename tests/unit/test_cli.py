"""The command line: init-db, create-user, errors on stderr with non-zero exits."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from sqlmodel import select

from kpialign import db
from kpialign.cli import main
from kpialign.core.security import verify_password
from kpialign.models import Account, AccountRole, AuditEvent


@pytest.fixture
def cli_db(engine, monkeypatch):
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return engine


def test_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "kpialign", "--help"], capture_output=True, text=True, check=True)
    for command in ("init-db", "seed-demo", "create-user"):
        assert command in out.stdout


def test_init_db_on_empty_sqlite_file(tmp_path, monkeypatch, capsys):
    path = tmp_path / "new" / "k.db"
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", f"sqlite:///{path}")
    assert main(["init-db"]) == 0
    assert path.exists()
    eng = db.make_engine(f"sqlite:///{path}")
    assert db.has_schema(eng) and db.is_empty(eng)
    assert main(["init-db"]) == 0  # idempotent


def test_create_user_with_generated_password(cli_db, capsys):
    assert main(["create-user", "Admin@Example.com", "--role", "admin"]) == 0
    out = capsys.readouterr().out
    assert "admin@example.com" in out
    password = out.strip().splitlines()[-1].split(": ", 1)[1]
    assert len(password) >= 12
    with db.read_session(cli_db) as s:
        account = s.exec(select(Account).where(Account.email == "admin@example.com")).one()
        assert account.password_hash.startswith("$argon2id$")
        assert password not in account.password_hash
        roles = s.exec(select(AccountRole.role).where(AccountRole.account_id == account.id)).all()
        assert roles == ["admin"]
        assert s.exec(select(AuditEvent).where(AuditEvent.entity == "account")).first() is not None


def test_create_user_password_stdin(cli_db, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-enough-password\n"))
    assert main(["create-user", "hr@example.com", "--role", "hr", "--role", "leader", "--password-stdin"]) == 0
    assert "Password" not in capsys.readouterr().out

    with db.read_session(cli_db) as s:
        account = s.exec(select(Account).where(Account.email == "hr@example.com")).one()
        assert verify_password(account.password_hash, "a-long-enough-password")
        assert sorted(s.exec(select(AccountRole.role).where(AccountRole.account_id == account.id)).all()) == [
            "hr",
            "leader",
        ]


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["create-user", "x@example.com", "--role", "wizard"], "", "Unknown role"),
        (["create-user", "not-an-email", "--role", "admin"], "", "valid e-mail"),
        (["create-user", "x@example.com", "--role", "kpi_owner"], "", "needs --department"),
        (["create-user", "x@example.com", "--role", "admin", "--password-stdin"], "short\n", "at least 12"),
        (["create-user", "x@example.com", "--role", "employee", "--department", "Nowhere"], "", "Unknown department"),
    ],
)
def test_create_user_errors(cli_db, monkeypatch, capsys, argv, stdin, message):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err
    with db.read_session(cli_db) as s:
        assert s.exec(select(Account)).all() == []


def test_duplicate_user_refused(cli_db, capsys):
    assert main(["create-user", "a@example.com", "--role", "leader"]) == 0
    assert main(["create-user", "A@example.com", "--role", "leader"]) == 1
    assert "already exists" in capsys.readouterr().err


def test_unreachable_database_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("KPIALIGN_SECRET_KEY", "x")
    assert main(["init-db"]) == 2
    err = capsys.readouterr().err
    assert "not reachable" in err and "Traceback" not in err


def test_replicas_with_sqlite_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KPIALIGN_DATABASE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    monkeypatch.setenv("KPIALIGN_REPLICAS", "2")
    assert main(["init-db"]) == 1
    assert "PostgreSQL" in capsys.readouterr().err
