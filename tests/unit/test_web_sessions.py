"""Web sessions (a local sign-in that survives a reload): only an HMAC is stored; expiry, sign-out, revocation.

Every test runs on SQLite and PostgreSQL (the ``engine`` fixture). Time is injected (``now=``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlmodel import select

from kpialign import db
from kpialign.config import secret_key
from kpialign.core import security
from kpialign.core.security import hash_token, valid_web_token
from kpialign.models import Account, WebSession
from kpialign.services import accounts

PASSWORD = "correct horse battery"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def ids(engine, monkeypatch, db_factory) -> dict[str, int]:
    """An admin and two employees (one deactivated), with cheap argon2id parameters."""
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(security, "_hasher", fast)
    return db_factory.restore(engine, _accounts)


def _accounts(engine) -> dict[str, int]:
    with db.write_session(engine) as s:
        accounts.create_user(session=s, email="admin@example.com", roles=["admin"], password=PASSWORD)
        accounts.create_user(session=s, email="emp@example.com", roles=["employee"], password=PASSWORD)
        gone = accounts.create_user(session=s, email="gone@example.com", roles=["employee"], password=PASSWORD)
        gone.active = False
    with db.read_session(engine) as s:
        return {a.email: a.id for a in s.exec(select(Account))}


def start(engine, account_id: int, now: datetime = T0, hours: float = 12) -> str:
    with db.write_session(engine, bump=False) as s:
        return accounts.start_web_session(session=s, account_id=account_id, hours=hours, now=now)


def resume(engine, token: str, now: datetime) -> accounts.WebSessionInfo | None:
    with db.read_session(engine) as s:
        return accounts.resume_web_session(session=s, token=token, now=now)


def rows(engine) -> list[WebSession]:
    with db.read_session(engine) as s:
        return list(s.exec(select(WebSession).order_by(WebSession.id)).all())


def test_only_the_hmac_of_the_token_is_stored(engine, ids):
    token = start(engine, ids["emp@example.com"])
    assert valid_web_token(token) and len(token) >= 43  # 32 random bytes
    [row] = rows(engine)
    url = engine.url.render_as_string(hide_password=False)
    assert row.token_hmac == hash_token(token, secret_key(url))
    assert token not in row.token_hmac and len(row.token_hmac) == 64
    assert row.account_id == ids["emp@example.com"] and row.revoked_at is None
    assert accounts._as_utc(row.expires_at) == T0 + 12 * HOUR
    # A second sign-in gets a different token.
    assert start(engine, ids["emp@example.com"]) != token


def test_resume_until_expiry_with_the_sign_in_time(engine, ids):
    token = start(engine, ids["emp@example.com"], hours=2)
    info = resume(engine, token, T0 + HOUR)
    assert info == accounts.WebSessionInfo(account_id=ids["emp@example.com"], created_at=T0, expires_at=T0 + 2 * HOUR)
    assert resume(engine, token, T0 + 2 * HOUR - timedelta(seconds=1)) is not None
    assert resume(engine, token, T0 + 2 * HOUR) is None
    assert resume(engine, token, T0 + 30 * HOUR) is None


@pytest.mark.parametrize(
    "token",
    ["", "short", "x" * 200, "a" * 42 + "'", "a" * 43 + ";", "a" * 43 + " ", "A" * 43, None, 123],
)
def test_malformed_forged_or_unknown_tokens_are_refused(engine, ids, token):
    start(engine, ids["emp@example.com"])
    assert resume(engine, token, T0) is None
    with db.write_session(engine, bump=False) as s:
        assert not accounts.end_web_session(session=s, token=token, now=T0)


def test_a_token_under_another_key_is_refused(engine, ids):
    with db.write_session(engine, bump=False) as s:
        token = accounts.start_web_session(
            session=s, account_id=ids["emp@example.com"], hours=1, now=T0, key=b"other key"
        )
    assert resume(engine, token, T0) is None  # the portal's key does not match the stored HMAC
    with db.read_session(engine) as s:
        assert accounts.resume_web_session(session=s, token=token, now=T0, key=b"other key") is not None


def test_sign_out_ends_only_that_session(engine, ids):
    emp = ids["emp@example.com"]
    laptop, phone = start(engine, emp), start(engine, emp)
    with db.write_session(engine, bump=False) as s:
        assert accounts.end_web_session(session=s, token=laptop, now=T0 + HOUR)
        assert not accounts.end_web_session(session=s, token=laptop, now=T0 + 2 * HOUR)  # already ended
    assert resume(engine, laptop, T0 + HOUR) is None
    assert resume(engine, phone, T0 + HOUR) is not None
    revoked = [r for r in rows(engine) if r.revoked_at is not None]
    assert len(revoked) == 1 and accounts._as_utc(revoked[0].revoked_at) == T0 + HOUR


def test_deactivating_revokes_every_session_and_reactivating_does_not_restore_them(engine, ids):
    emp = ids["emp@example.com"]
    tokens = [start(engine, emp), start(engine, emp)]
    admin_token = start(engine, ids["admin@example.com"])
    with db.write_session(engine) as s:
        assert accounts.set_active(session=s, account_id=emp, active=False, actor="admin@example.com")
    assert [resume(engine, t, T0) for t in tokens] == [None, None]
    with db.write_session(engine) as s:
        accounts.set_active(session=s, account_id=emp, active=True, actor="admin@example.com")
    assert [resume(engine, t, T0) for t in tokens] == [None, None]
    assert resume(engine, admin_token, T0) is not None  # other accounts are untouched


def test_an_inactive_account_cannot_resume_or_start(engine, ids):
    emp = ids["emp@example.com"]
    token = start(engine, emp)
    with db.write_session(engine) as s:  # deactivated behind the services' back: still refused
        s.get(Account, emp).active = False
    assert resume(engine, token, T0) is None
    with pytest.raises(accounts.AccountError, match="deactivated"), db.write_session(engine, bump=False) as s:
        accounts.start_web_session(session=s, account_id=ids["gone@example.com"], hours=12, now=T0)
    with pytest.raises(accounts.AccountError, match="positive"), db.write_session(engine, bump=False) as s:
        accounts.start_web_session(session=s, account_id=ids["admin@example.com"], hours=0, now=T0)
    assert len(rows(engine)) == 1  # nothing written by the refused starts


def test_password_reset_revokes_every_session_of_that_account(engine, ids):
    emp, admin = ids["emp@example.com"], ids["admin@example.com"]
    token, admin_token = start(engine, emp), start(engine, admin)
    with db.write_session(engine) as s:
        accounts.reset_password(session=s, account_id=emp, actor="admin@example.com")
    assert resume(engine, token, T0) is None
    assert resume(engine, admin_token, T0) is not None
    new = start(engine, emp, now=T0 + HOUR)  # signing in again works
    assert resume(engine, new, T0 + HOUR).account_id == emp


def test_ended_sessions_are_deleted_a_day_later(engine, ids):
    emp = ids["emp@example.com"]
    expired = start(engine, emp, now=T0, hours=1)
    signed_out = start(engine, emp, now=T0, hours=48)
    live = start(engine, emp, now=T0, hours=48)
    with db.write_session(engine, bump=False) as s:
        accounts.end_web_session(session=s, token=signed_out, now=T0 + HOUR)
    start(engine, emp, now=T0 + HOUR + accounts.WEB_SESSION_RETENTION - timedelta(minutes=1))
    assert len(rows(engine)) == 4  # nothing ended a day ago yet
    start(engine, emp, now=T0 + 2 * HOUR + accounts.WEB_SESSION_RETENTION)
    assert len(rows(engine)) == 3  # the expired and the signed-out one are gone; one more started
    now = T0 + 2 * HOUR + accounts.WEB_SESSION_RETENTION
    assert resume(engine, live, now) is not None
    assert resume(engine, expired, now) is None and resume(engine, signed_out, now) is None
