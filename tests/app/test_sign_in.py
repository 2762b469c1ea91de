"""The sign-in page (local accounts with throttling, single sign-on) and the admin users page, through AppTest.

Every test that writes uses a private copy of the small SQLite demo.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlmodel import select

from kpialign import db
from kpialign.core import security
from kpialign.models import Account, AuditEvent
from kpialign.services import accounts
from kpialign.ui.widgets import plain
from tests.app.conftest import account_id, new_app
from tests.conftest import sqlite_copy

AUTH_SECRETS = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "test-cookie-secret-0123456789",
        "client_id": "kpialign-test",
        "client_secret": "not-a-secret",
        "server_metadata_url": "https://login.example.invalid/.well-known/openid-configuration",
    }
}


@pytest.fixture
def url(demo_sqlite_url: str, tmp_path: Path) -> str:
    """A private, writable copy of the small SQLite demo."""
    return sqlite_copy(demo_sqlite_url, tmp_path / "demo-copy.db")


@pytest.fixture
def demo():
    from kpialign.demo import seed as demo

    return demo


def signed_in(at) -> bool:
    return any(b.key == "app.sign_out" for b in at.button)


def submit_sign_in(at, email: str, password: str):
    [e_mail] = [t for t in at.text_input if t.label == "E-mail"]
    [pw] = [t for t in at.text_input if t.label == "Password"]
    e_mail.input(email)
    pw.input(password)
    [button] = [b for b in at.button if b.label == "Sign in"]
    return button.click().run()


# --------------------------------------------------------------------------- local accounts


def test_sign_in_form_signs_in_and_refuses_wrong_passwords(url, demo, monkeypatch):
    at = new_app(url, None, monkeypatch).run()
    assert not at.exception and not signed_in(at)
    submit_sign_in(at, demo.DEMO_ACCOUNTS["leader"], "not the password")
    assert [e.value for e in at.error] == [accounts.SIGN_IN_FAILED] and not signed_in(at)
    submit_sign_in(at, "nobody@example.com", "not the password")
    assert [e.value for e in at.error] == [accounts.SIGN_IN_FAILED]
    submit_sign_in(at, demo.DEMO_ACCOUNTS["leader"].upper(), demo.DEMO_PASSWORD)
    assert not at.exception and signed_in(at)
    assert at.session_state["auth.account_id"] == account_id(url, demo.DEMO_ACCOUNTS["leader"])


def test_sign_in_form_locks_after_ten_failures(url, demo, monkeypatch):
    # Cheap argon2id parameters for this account (AppTest runs in-process): 11 checks stay fast.
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(security, "_hasher", fast)
    monkeypatch.setattr(security, "_DUMMY_HASH", fast.hash("x" * accounts.MIN_PASSWORD_LENGTH))
    email = "lock.me@example.com"
    eng = db.make_engine(url)
    with db.write_session(eng) as s:
        accounts.create_user(session=s, email=email, roles=["hr"], password=demo.DEMO_PASSWORD)
    eng.dispose()
    at = new_app(url, None, monkeypatch).run()
    for _ in range(accounts.LOCK_THRESHOLD - 1):
        submit_sign_in(at, email, "wrong password!")
        assert [e.value for e in at.error] == [accounts.SIGN_IN_FAILED]
    submit_sign_in(at, email, "wrong password!")
    [locked] = [e.value for e in at.error]
    assert locked.startswith("Too many failed sign-in attempts")
    submit_sign_in(at, email, demo.DEMO_PASSWORD)
    assert [e.value for e in at.error] == [locked] and not signed_in(at)
    # (Unknown e-mails get word-for-word the same messages: tests/unit/test_accounts.py.)


# ------------------------------------------------------------------------------ single sign-on


def sso_app(url, monkeypatch, **claims):
    at = new_app(url, None, monkeypatch)
    at.secrets = json.loads(json.dumps(AUTH_SECRETS))
    at.user = {"is_logged_in": True, "iat": int(time.time()), **claims} if claims else {}
    return at.run()


def test_sso_button_shown_when_auth_is_configured(url, monkeypatch):
    at = sso_app(url, monkeypatch)
    assert not at.exception and not signed_in(at)
    assert "Sign in with single sign-on" in [b.label for b in at.button]
    plain_app = new_app(url, None, monkeypatch).run()  # no [auth] section: no SSO button
    assert "Sign in with single sign-on" not in [b.label for b in plain_app.button]


def test_sso_known_email_signs_in_with_its_roles(url, demo, monkeypatch):
    at = sso_app(url, monkeypatch, email=demo.DEMO_ACCOUNTS["admin"].title(), sub="idp-admin-1")
    assert not at.exception and signed_in(at)
    assert at.session_state["auth.account_id"] == account_id(url, demo.DEMO_ACCOUNTS["admin"])
    at.switch_page("pages/admin_users.py").run()
    assert not at.exception and at.title[0].value == "Users and roles"


def test_sso_unknown_email_refused_by_default(url, monkeypatch):
    monkeypatch.delenv("KPIALIGN_OIDC_UNKNOWN", raising=False)
    at = sso_app(url, monkeypatch, email="stranger@example.com", sub="idp-x")
    assert not at.exception and not signed_in(at)
    assert any("no kpialign account" in e.value for e in at.error)
    assert "Sign in with another account" in [b.label for b in at.button]
    with pytest.raises(LookupError):
        account_id(url, "stranger@example.com")


def test_sso_unknown_email_becomes_employee_when_configured(url, demo, monkeypatch):
    monkeypatch.setenv("KPIALIGN_OIDC_UNKNOWN", "employee")
    at = sso_app(url, monkeypatch, email="newcomer@example.com", sub="idp-new", name="New **Comer**")
    assert not at.exception and signed_in(at)
    new_id = account_id(url, "newcomer@example.com")
    assert at.session_state["auth.account_id"] == new_id
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/admin_users.py")
    assert f"Signed in as {plain('New **Comer**')}" in [c.value for c in at.sidebar.caption]


def test_sso_deactivated_account_refused(url, demo, monkeypatch):
    eng = db.make_engine(url)
    with db.write_session(eng) as s:
        accounts.set_active(
            session=s, account_id=account_id(url, demo.DEMO_ACCOUNTS["leader"]), active=False, actor="t"
        )
    eng.dispose()
    at = sso_app(url, monkeypatch, email=demo.DEMO_ACCOUNTS["leader"])
    assert not at.exception and not signed_in(at)
    assert any("deactivated" in e.value for e in at.error)


def test_sso_session_older_than_the_lifetime_is_not_accepted(url, demo, monkeypatch):
    monkeypatch.setenv("KPIALIGN_SESSION_HOURS", "1")
    at = new_app(url, None, monkeypatch)
    at.secrets = json.loads(json.dumps(AUTH_SECRETS))
    at.user = {"is_logged_in": True, "email": demo.DEMO_ACCOUNTS["leader"], "iat": int(time.time()) - 7200}
    at.run()
    assert not at.exception and not signed_in(at)
    assert at.user.get("is_logged_in") is False  # st.logout() was called


# ----------------------------------------------------------------------------- admin page


def admin_page(url, demo, monkeypatch):
    at = new_app(url, demo.DEMO_ACCOUNTS["admin"], monkeypatch).run()
    return at.switch_page("pages/admin_users.py").run()


def test_admin_creates_a_user_and_sees_the_password_once(url, demo, monkeypatch):
    at = admin_page(url, demo, monkeypatch)
    assert not at.exception
    [e_mail] = [t for t in at.text_input if t.label == "E-mail"]
    e_mail.input("New.Person@Example.com")
    [name] = [t for t in at.text_input if t.label == "Name"]
    name.input("New Person")
    [roles] = [m for m in at.multiselect if m.label == "Roles"]  # no account chosen: only the create form
    roles.set_value(["leader"])
    [create] = [b for b in at.button if b.label == "Create user"]
    create.click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["User created."]
    [code] = at.code
    password = code.value
    assert len(password) >= accounts.MIN_PASSWORD_LENGTH
    eng = db.make_engine(url)
    assert accounts.authenticate_engine(engine=eng, email="new.person@example.com", password=password).ok
    with db.read_session(eng) as s:
        event = s.exec(select(AuditEvent).where(AuditEvent.entity == "account", AuditEvent.action == "create")).all()
        assert event[-1].actor == demo.DEMO_ACCOUNTS["admin"] and password not in event[-1].detail
    eng.dispose()
    at.run()
    assert not at.code  # shown once


def test_admin_refusal_is_shown_and_nothing_written(url, demo, monkeypatch):
    at = admin_page(url, demo, monkeypatch)
    [e_mail] = [t for t in at.text_input if t.label == "E-mail"]
    e_mail.input(demo.DEMO_ACCOUNTS["hr"])  # exists already
    [create] = [b for b in at.button if b.label == "Create user"]
    create.click().run()
    assert not at.exception
    assert any("already exists" in e.value for e in at.error)


def test_admin_resets_a_password_and_deactivates(url, demo, monkeypatch):
    at = admin_page(url, demo, monkeypatch)
    target = account_id(url, demo.DEMO_ACCOUNTS["employee"])
    at.selectbox(key="admin_users.account").set_value(target).run()
    [reset] = [b for b in at.button if b.label == "Reset password"]
    reset.click().run()
    assert not at.exception and [s.value for s in at.success] == ["Password reset."]
    password = at.code[0].value
    eng = db.make_engine(url)
    assert accounts.authenticate_engine(engine=eng, email=demo.DEMO_ACCOUNTS["employee"], password=password).ok
    assert not accounts.authenticate_engine(
        engine=eng, email=demo.DEMO_ACCOUNTS["employee"], password=demo.DEMO_PASSWORD
    ).ok
    [deactivate] = [b for b in at.button if b.label == "Deactivate"]
    deactivate.click().run()
    assert not at.exception and [s.value for s in at.success] == ["Account deactivated."]
    with db.read_session(eng) as s:
        assert not s.get(Account, target).active
        actions = s.exec(select(AuditEvent.action).where(AuditEvent.entity_id == str(target))).all()
    eng.dispose()
    assert {"reset_password", "deactivate"} <= set(actions)
    assert "Reactivate" in [b.label for b in at.button]


def test_admin_scopes_a_kpi_owner(url, demo, monkeypatch):
    at = admin_page(url, demo, monkeypatch)
    target = account_id(url, demo.DEMO_ACCOUNTS["leader"])
    at.selectbox(key="admin_users.account").set_value(target).run()
    at.multiselect(key=f"admin_users.roles.{target}").set_value(["leader", "kpi_owner"])
    first_dept = _dept_ids(url)[0]
    at.multiselect(key=f"admin_users.owner.{target}").set_value([first_dept])
    [save] = [b for b in at.button if b.label == "Save roles"]
    save.click().run()
    assert not at.exception and [s.value for s in at.success] == ["Roles saved."]
    eng = db.make_engine(url)
    with db.read_session(eng) as s:
        ctx = accounts.user_context_by_id(session=s, account_id=target)
    eng.dispose()
    assert ctx.roles == {"leader", "kpi_owner"} and ctx.owner_departments == {first_dept}


def _dept_ids(url) -> list[int]:
    from kpialign.services import strategy

    eng = db.make_engine(url)
    with db.read_session(eng) as s:
        ids = [int(i) for i in strategy.departments_frame(session=s, include_retired=False)["id"]]
    eng.dispose()
    return ids


def test_user_names_are_escaped_in_markdown_elements(url, monkeypatch):
    eng = db.make_engine(url)
    with db.write_session(eng) as s:
        accounts.create_user(
            session=s, email="md@example.com", roles=["employee"], password=None, name="**x** <b>y</b> :red[z] $1$"
        )
    eng.dispose()
    at = new_app(url, "md@example.com", monkeypatch).run()
    [caption] = [c.value for c in at.sidebar.caption]
    assert caption == "Signed in as " + plain("**x** <b>y</b> :red[z] $1$")
    assert "**" not in caption and "<b>" not in caption and ":red[" not in caption
