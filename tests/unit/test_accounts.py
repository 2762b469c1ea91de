"""Accounts: argon2id hashing, sign-in throttling, OIDC mapping and the admin service functions.

Every test that touches the database runs on SQLite and PostgreSQL (the ``engine`` fixture).
Time is injected (``now=``), never waited for.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlmodel import select

from kpialign import db
from kpialign.config import ConfigError, load_settings
from kpialign.core import security
from kpialign.core.security import generate_password, verify_password
from kpialign.models import Account, AccountRole, AuditEvent, Department, LoginFailure
from kpialign.services import accounts

PASSWORD = "correct horse battery"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


@pytest.fixture
def fast_hasher(monkeypatch):
    """Cheap argon2id parameters: the throttling tests check dozens of passwords."""
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(security, "_hasher", fast)
    monkeypatch.setattr(security, "_DUMMY_HASH", fast.hash("x" * accounts.MIN_PASSWORD_LENGTH))
    return fast


@pytest.fixture
def people(engine, fast_hasher, db_factory):
    """Two departments, an admin, an employee (with a password) and a deactivated employee."""
    db_factory.restore(engine, _people)
    return engine


def _people(engine) -> None:
    with db.write_session(engine) as s:
        s.add(Department(name="Sales"))
        s.add(Department(name="Finance"))
        s.flush()
        accounts.create_user(session=s, email="admin@example.com", roles=["admin"], password=PASSWORD, name="Ada")
        accounts.create_user(
            session=s, email="emp@example.com", roles=["employee"], password=PASSWORD, department="Sales"
        )
        gone = accounts.create_user(session=s, email="gone@example.com", roles=["employee"], password=PASSWORD)
        gone.active = False


def _ids(engine) -> dict[str, int]:
    with db.read_session(engine) as s:
        return {a.email: a.id for a in s.exec(select(Account))}


def _dept(engine, name: str) -> int:
    with db.read_session(engine) as s:
        return s.exec(select(Department.id).where(Department.name == name)).one()


def attempt(engine, email: str, password: str, now: datetime) -> accounts.AuthResult:
    with db.write_session(engine, bump=False) as s:
        return accounts.authenticate(session=s, email=email, password=password, now=now)


# ---------------------------------------------------------------------------- hashing


def test_stored_hash_is_argon2id_and_verifies(engine):
    with db.write_session(engine) as s:
        accounts.create_user(session=s, email="A@Example.com", roles=["leader"], password=PASSWORD)
    with db.read_session(engine) as s:
        account = s.exec(select(Account).where(Account.email == "a@example.com")).one()
    assert account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in account.password_hash
    assert verify_password(account.password_hash, PASSWORD)
    assert not verify_password(account.password_hash, PASSWORD + "!")


def test_minimum_password_length(engine, fast_hasher):
    assert accounts.hash_password(password="x" * accounts.MIN_PASSWORD_LENGTH).startswith("$argon2id$")
    with pytest.raises(accounts.AccountError, match="at least 12"):
        accounts.hash_password(password="x" * (accounts.MIN_PASSWORD_LENGTH - 1))
    with pytest.raises(accounts.AccountError), db.write_session(engine) as s:
        accounts.create_user(session=s, email="short@example.com", roles=["employee"], password="short-pw")
    with db.read_session(engine) as s:
        assert s.exec(select(Account)).all() == []  # nothing written
    assert len(generate_password()) >= accounts.MIN_PASSWORD_LENGTH


# --------------------------------------------------------------------------- throttling


def test_correct_password_signs_in(people):
    result = attempt(people, "  Emp@Example.COM ", PASSWORD, T0)
    assert result.ok and result.account_id == _ids(people)["emp@example.com"]


def test_nine_failures_do_not_lock(people):
    for i in range(accounts.LOCK_THRESHOLD - 1):
        r = attempt(people, "emp@example.com", "wrong password!", T0 + i * MIN)
        assert not r.ok and r.message == accounts.SIGN_IN_FAILED and r.locked_until is None
    assert attempt(people, "emp@example.com", PASSWORD, T0 + 9 * MIN).ok


def test_ten_failures_lock_for_fifteen_minutes(people):
    results = [attempt(people, "emp@example.com", "wrong password!", T0 + i * MIN) for i in range(10)]
    tenth = results[-1]
    assert not tenth.ok and tenth.locked_until == T0 + 9 * MIN + accounts.LOCK_DURATION
    assert "paused for 15 minute" in tenth.message
    # The right password is refused during the lock, and the refusals do not extend it.
    locked_at = T0 + 9 * MIN
    for offset in (MIN, 10 * MIN, 15 * MIN - timedelta(seconds=1)):
        r = attempt(people, "emp@example.com", PASSWORD, locked_at + offset)
        assert not r.ok and r.locked_until == locked_at + accounts.LOCK_DURATION
        assert r.message.startswith("Too many failed sign-in attempts")
    with db.read_session(people) as s:
        assert len(s.exec(select(LoginFailure)).all()) == 10
    # The lock ends 15 minutes after the tenth failure.
    assert attempt(people, "emp@example.com", PASSWORD, locked_at + accounts.LOCK_DURATION).ok


def test_lock_expiry_gives_a_fresh_window(people):
    for i in range(10):
        attempt(people, "emp@example.com", "wrong password!", T0 + i * timedelta(seconds=10))
    after = T0 + 90 * timedelta(seconds=1) + accounts.LOCK_DURATION
    # A single new failure after the lock does not lock again (the old ones are out of the window).
    r = attempt(people, "emp@example.com", "wrong password!", after)
    assert not r.ok and r.locked_until is None
    assert attempt(people, "emp@example.com", PASSWORD, after + MIN).ok


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(people):
    for i in range(14):
        r = attempt(people, "emp@example.com", "wrong password!", T0 + i * 2 * MIN)
        assert r.locked_until is None, i
    assert attempt(people, "emp@example.com", PASSWORD, T0 + 28 * MIN).ok


def test_unknown_email_gets_the_same_answers(people):
    known = [attempt(people, "emp@example.com", "wrong password!", T0 + i * MIN) for i in range(11)]
    unknown = [attempt(people, "nobody@example.com", "wrong password!", T0 + i * MIN) for i in range(11)]
    assert [(r.ok, r.message, r.locked_until) for r in known] == [(r.ok, r.message, r.locked_until) for r in unknown]
    assert unknown[0].message == accounts.SIGN_IN_FAILED
    assert unknown[-1].locked_until is not None
    with db.read_session(people) as s:
        emails = s.exec(select(LoginFailure.email)).all()
    assert emails.count("nobody@example.com") == 10


def test_success_clears_failures(people):
    for i in range(5):
        attempt(people, "emp@example.com", "wrong password!", T0 + i * MIN)
    assert attempt(people, "emp@example.com", PASSWORD, T0 + 5 * MIN).ok
    with db.read_session(people) as s:
        assert s.exec(select(LoginFailure).where(LoginFailure.email == "emp@example.com")).all() == []
    # Without the reset, 5 + 9 failures inside 15 minutes would lock.
    for i in range(9):
        r = attempt(people, "emp@example.com", "wrong password!", T0 + (6 + i) * 30 * timedelta(seconds=1))
        assert r.locked_until is None


def test_deactivated_account_cannot_sign_in(people):
    r = attempt(people, "gone@example.com", PASSWORD, T0)
    assert not r.ok and r.account_id is None and r.message == accounts.SIGN_IN_FAILED


def test_sso_only_account_cannot_use_a_password(people):
    with db.write_session(people) as s:
        accounts.create_user(session=s, email="sso@example.com", roles=["employee"], password=None)
    r = attempt(people, "sso@example.com", "", T0)
    assert not r.ok and r.message == accounts.SIGN_IN_FAILED


def test_portal_entry_point_records_failures_without_bumping_the_data_version(people):
    before = db.data_version(people)
    r = accounts.authenticate_engine(engine=people, email="emp@example.com", password="wrong password!", now=T0)
    assert not r.ok and r.message == accounts.SIGN_IN_FAILED
    for i in range(1, 10):
        r = accounts.authenticate_engine(
            engine=people, email="emp@example.com", password="wrong password!", now=T0 + i * MIN
        )
    assert r.locked_until == T0 + 9 * MIN + accounts.LOCK_DURATION
    assert not accounts.authenticate_engine(
        engine=people, email="emp@example.com", password=PASSWORD, now=T0 + 10 * MIN
    ).ok
    assert accounts.authenticate_engine(engine=people, email="emp@example.com", password=PASSWORD, now=T0 + 25 * MIN).ok
    assert db.data_version(people) == before


def test_old_failures_are_purged(people):
    attempt(people, "nobody@example.com", "wrong password!", T0)
    attempt(people, "other@example.com", "wrong password!", T0 + accounts.FAILURE_RETENTION + MIN)
    with db.read_session(people) as s:
        assert s.exec(select(LoginFailure.email)).all() == ["other@example.com"]


def test_naive_now_is_rejected(people):
    with pytest.raises(ValueError, match="timezone-aware"):
        attempt(people, "emp@example.com", PASSWORD, datetime(2026, 1, 1))


# ------------------------------------------------------------------------------- OIDC


def oidc(engine, **kw) -> accounts.OidcResult:
    with db.write_session(engine, bump=False) as s:
        return accounts.oidc_sign_in(session=s, **kw)


def test_oidc_known_email_maps_to_account_and_roles(people):
    r = oidc(people, email="Emp@Example.com", subject="sub-123", name="Emp")
    assert r.ok and not r.created and r.account_id == _ids(people)["emp@example.com"]
    with db.read_session(people) as s:
        account = s.get(Account, r.account_id)
        assert account.oidc_subject == "sub-123"
        assert accounts.user_context(session=s, account=account).roles == {"employee"}


@pytest.mark.parametrize("policy", ["refuse", "employee"])
def test_oidc_deactivated_account_is_refused(people, policy):
    r = oidc(people, email="gone@example.com", unknown=policy)
    assert not r.ok and r.account_id is None and "deactivated" in r.message


def test_oidc_unknown_email_refused_by_default(people):
    before = _ids(people)
    r = oidc(people, email="stranger@example.com")
    assert not r.ok and "no kpialign account" in r.message
    assert _ids(people) == before


def test_oidc_unknown_email_becomes_employee_when_configured(people):
    version = db.data_version(people)
    r = oidc(people, email="New@Example.com", subject="s-9", name="New Person", unknown="employee")
    assert r.ok and r.created
    with db.read_session(people) as s:
        account = s.get(Account, r.account_id)
        assert (account.email, account.name, account.password_hash) == ("new@example.com", "New Person", None)
        assert accounts.roles_of(session=s, account_id=account.id) == ["employee"]
        event = s.exec(select(AuditEvent).where(AuditEvent.actor == "oidc")).one()
        assert event.entity_id == str(account.id)
    assert db.data_version(people) == version + 1  # the admin page's cached user list goes stale
    again = oidc(people, email="new@example.com", unknown="employee")
    assert again.ok and not again.created and again.account_id == r.account_id


def test_oidc_unverified_or_missing_email_is_refused(people):
    assert not oidc(people, email="emp@example.com", email_verified=False).ok
    assert not oidc(people, email=None, unknown="employee").ok
    assert oidc(people, email="emp@example.com", email_verified=True).ok


def test_oidc_policy_setting(monkeypatch):
    monkeypatch.delenv("KPIALIGN_OIDC_UNKNOWN", raising=False)
    monkeypatch.setenv("KPIALIGN_SECRETS_FILE", "/nonexistent/secrets.toml")
    assert load_settings().oidc_unknown == "refuse"
    monkeypatch.setenv("KPIALIGN_OIDC_UNKNOWN", "Employee")
    assert load_settings().oidc_unknown == "employee"
    monkeypatch.setenv("KPIALIGN_OIDC_UNKNOWN", "admin")
    with pytest.raises(ConfigError):
        load_settings()
    with pytest.raises(accounts.AccountError):
        accounts.oidc_sign_in(session=None, email="x@example.com", unknown="admin")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- administration


def _audit(engine, action: str) -> list[dict]:
    with db.read_session(engine) as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.action == action)).all()
        return [json.loads(e.detail) | {"actor": e.actor, "entity_id": e.entity_id} for e in events]


def test_list_users(people):
    with db.read_session(people) as s:
        df = accounts.list_users(session=s)
    assert list(df["email"]) == ["admin@example.com", "emp@example.com", "gone@example.com"]
    row = df.set_index("email").loc["emp@example.com"]
    assert (row["roles"], row["department"], row["sign_in"], bool(row["active"])) == (
        "employee",
        "Sales",
        "password",
        True,
    )
    assert not bool(df.set_index("email").loc["gone@example.com", "active"])


def test_roles_and_scopes_are_changed_and_audited(people):
    emp = _ids(people)["emp@example.com"]
    sales, finance = _dept(people, "Sales"), _dept(people, "Finance")
    with db.write_session(people) as s:
        assert accounts.add_role(session=s, account_id=emp, role="leader", actor="admin@example.com")
        assert not accounts.add_role(session=s, account_id=emp, role="leader", actor="admin@example.com")
        with pytest.raises(accounts.AccountError, match="needs a department"):
            accounts.add_role(session=s, account_id=emp, role="kpi_owner", actor="admin@example.com")
        with pytest.raises(accounts.AccountError, match="Unknown role"):
            accounts.add_role(session=s, account_id=emp, role="superuser", actor="admin@example.com")
        assert accounts.set_owner_departments(
            session=s, account_id=emp, department_ids=[sales, finance], actor="admin@example.com"
        )
        assert accounts.set_owner_departments(
            session=s, account_id=emp, department_ids=[finance], actor="admin@example.com"
        )
        assert not accounts.set_owner_departments(
            session=s, account_id=emp, department_ids=[finance], actor="admin@example.com"
        )
    with db.read_session(people) as s:
        ctx = accounts.user_context(session=s, account=s.get(Account, emp))
        df = accounts.list_users(session=s).set_index("email")
    assert ctx.roles == {"employee", "leader", "kpi_owner"} and ctx.owner_departments == {finance}
    assert df.loc["emp@example.com", "roles"] == "employee, kpi_owner, leader"
    assert df.loc["emp@example.com", "owner_departments"] == "Finance"
    [added] = _audit(people, "add_role")
    assert added["actor"] == "admin@example.com" and added["entity_id"] == str(emp)
    assert added["before"]["roles"] == ["employee"] and added["after"]["roles"] == ["employee", "leader"]
    scoped = _audit(people, "set_owner_departments")
    assert [e["after"]["owner_departments"] for e in scoped] == [sorted([sales, finance]), [finance]]
    with db.write_session(people) as s:
        assert accounts.remove_role(session=s, account_id=emp, role="kpi_owner", actor="admin@example.com")
        assert not accounts.remove_role(session=s, account_id=emp, role="hr", actor="admin@example.com")
    with db.read_session(people) as s:
        assert accounts.roles_of(session=s, account_id=emp) == ["employee", "leader"]
    assert _audit(people, "remove_role")[0]["after"]["roles"] == ["employee", "leader"]


def test_last_admin_and_last_role_are_kept(people):
    ids = _ids(people)
    with db.write_session(people) as s:
        with pytest.raises(accounts.AccountError, match="last active admin"):
            accounts.remove_role(session=s, account_id=ids["admin@example.com"], role="admin", actor="x@example.com")
        with pytest.raises(accounts.AccountError, match="last active admin"):
            accounts.set_active(session=s, account_id=ids["admin@example.com"], active=False, actor="x@example.com")
        with pytest.raises(accounts.AccountError, match="your own account"):
            accounts.set_active(session=s, account_id=ids["admin@example.com"], active=False, actor="admin@example.com")
        with pytest.raises(accounts.AccountError, match="at least one role"):
            accounts.remove_role(
                session=s, account_id=ids["emp@example.com"], role="employee", actor="admin@example.com"
            )
    with db.read_session(people) as s:
        assert s.get(Account, ids["admin@example.com"]).active
        assert accounts.roles_of(session=s, account_id=ids["admin@example.com"]) == ["admin"]


def test_deactivate_and_reactivate(people):
    emp = _ids(people)["emp@example.com"]
    with db.write_session(people) as s:
        assert accounts.set_active(session=s, account_id=emp, active=False, actor="admin@example.com")
        assert not accounts.set_active(session=s, account_id=emp, active=False, actor="admin@example.com")
    assert not attempt(people, "emp@example.com", PASSWORD, T0).ok
    with db.write_session(people) as s:
        assert accounts.set_active(session=s, account_id=emp, active=True, actor="admin@example.com")
    assert attempt(people, "emp@example.com", PASSWORD, T0 + MIN).ok
    assert [e["after"]["active"] for e in _audit(people, "deactivate") + _audit(people, "activate")] == [False, True]


def test_reset_password_shows_a_new_one_once_and_lifts_the_lock(people):
    emp = _ids(people)["emp@example.com"]
    for i in range(10):
        attempt(people, "emp@example.com", "wrong password!", T0 + i * MIN)
    assert attempt(people, "emp@example.com", PASSWORD, T0 + 10 * MIN).locked_until is not None
    with db.write_session(people) as s:
        new = accounts.reset_password(session=s, account_id=emp, actor="admin@example.com")
    assert len(new) >= accounts.MIN_PASSWORD_LENGTH and new != PASSWORD
    assert not attempt(people, "emp@example.com", PASSWORD, T0 + 11 * MIN).ok
    assert attempt(people, "emp@example.com", new, T0 + 12 * MIN).ok
    [event] = _audit(people, "reset_password")
    assert new not in json.dumps(event)
    with db.read_session(people) as s:
        assert s.get(Account, emp).password_hash.startswith("$argon2id$")


def test_unknown_account_or_department_is_refused(people):
    with db.write_session(people) as s:
        with pytest.raises(accounts.AccountError, match="No account"):
            accounts.set_active(session=s, account_id=9999, active=False, actor="a")
        with pytest.raises(accounts.AccountError, match="No department"):
            accounts.set_owner_departments(
                session=s, account_id=_ids(people)["emp@example.com"], department_ids=[9999], actor="a"
            )
    with db.read_session(people) as s:
        assert s.exec(select(AccountRole).where(AccountRole.role == "kpi_owner")).all() == []


def test_set_roles_applies_the_difference(people):
    emp = _ids(people)["emp@example.com"]
    sales, finance = _dept(people, "Sales"), _dept(people, "Finance")
    with db.write_session(people) as s:
        assert accounts.set_roles(
            session=s, account_id=emp, roles=["kpi_owner", "hr"], owner_departments=[sales], actor="admin@example.com"
        )
        assert not accounts.set_roles(
            session=s, account_id=emp, roles=["hr", "kpi_owner"], owner_departments=[sales], actor="admin@example.com"
        )
        with pytest.raises(accounts.AccountError, match="at least one role"):
            accounts.set_roles(session=s, account_id=emp, roles=[], actor="admin@example.com")
        with pytest.raises(accounts.AccountError, match="at least one department"):
            accounts.set_roles(session=s, account_id=emp, roles=["kpi_owner"], actor="admin@example.com")
    with db.read_session(people) as s:
        ctx = accounts.user_context(session=s, account=s.get(Account, emp))
    assert ctx.roles == {"kpi_owner", "hr"} and ctx.owner_departments == {sales}
    with db.write_session(people) as s:
        accounts.set_roles(
            session=s, account_id=emp, roles=["kpi_owner"], owner_departments=[finance], actor="a@example.com"
        )
    with db.read_session(people) as s:
        ctx = accounts.user_context(session=s, account=s.get(Account, emp))
    assert ctx.roles == {"kpi_owner"} and ctx.owner_departments == {finance}
    actions = [e.action for e in _events(people)]
    assert actions.count("add_role") == 1 and actions.count("set_owner_departments") == 2
    assert actions.count("remove_role") == 2  # employee, then hr


def _events(engine) -> list[AuditEvent]:
    with db.read_session(engine) as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.entity == "account").order_by(AuditEvent.id)))
