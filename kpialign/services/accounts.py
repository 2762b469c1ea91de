"""Accounts, roles and password hashing (argon2id), sign-in throttling and OIDC mapping.

Nothing in this module imports Streamlit: the sign-in page and the admin page call these
service functions with a session, and the tests call them directly on both backends.

Throttling: every failed sign-in is recorded in ``login_failure`` under the e-mail that was
typed, whether or not an account exists for it. When :data:`LOCK_THRESHOLD` failures fall
within :data:`LOCK_WINDOW`, the e-mail is locked for :data:`LOCK_DURATION` from the failure
that reached the threshold; attempts during a lock are refused without checking the password
and are not recorded (so a lock ends on time). The messages are the same for existing and
unknown e-mails, so neither the answer nor the lock reveals whether an account exists.

Web sessions: a local-account sign-in is also recorded in ``web_session`` so that the browser
can resume it after a reload or in a new tab (the portal keeps the token in a cookie). Only an
HMAC of the token is stored; a session ends at ``expires_at``, on sign-out, and for every
session of an account when it is deactivated or its password is reset.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from kpialign import audit, db
from kpialign.config import secret_key
from kpialign.core import security
from kpialign.core.errors import Refused
from kpialign.core.security import generate_password, valid_web_token, verify_password
from kpialign.models import Account, AccountRole, Department, DepartmentEvent, LoginFailure, Role, WebSession, pk

MIN_PASSWORD_LENGTH = security.MIN_PASSWORD_LENGTH
LOCK_THRESHOLD = 10
LOCK_WINDOW = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)
FAILURE_RETENTION = timedelta(days=1)
WEB_SESSION_RETENTION = timedelta(days=1)  # ended web sessions are deleted this long after they end

SIGN_IN_FAILED = "That e-mail and password do not match an active account."
SIGN_IN_LOCKED = (
    "Too many failed sign-in attempts for this e-mail address. Sign-in is paused for {minutes} "
    "minute(s); please try again later, or ask an administrator to reset your password."
)
OIDC_UNKNOWN_POLICIES = ("refuse", "employee")


class AccountError(Refused):
    """An account operation was refused; the message is safe to show."""


@dataclass(frozen=True)
class UserContext:
    """Who is signed in: the roles held, the departments a KPI owner may edit, and a manager's units.

    ``managed_departments`` holds every department a manager's scope covers: each unit named in
    a ``manager`` role row and everything below it in the department tree.
    """

    account_id: int | None
    email: str
    name: str
    roles: frozenset[str]
    owner_departments: frozenset[int] = field(default_factory=frozenset)
    department_id: int | None = None
    managed_departments: frozenset[int] = field(default_factory=frozenset)

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def manages(self, department_id: int | None) -> bool:
        """Whether ``department_id`` is inside this user's manager scope."""
        return department_id is not None and department_id in self.managed_departments


def hash_password(*, password: str) -> str:
    """The Argon2id hash of a new password (:mod:`kpialign.core.security`); refuses short ones."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    return security.hash_password(password)


def normalise_email(*, email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@") or len(email) > 320:
        raise AccountError(f"Not a valid e-mail address: {email!r}")
    return email


def create_user(
    *,
    session: Session,
    email: str,
    roles: list[str],
    password: str | None,
    name: str = "",
    department: str | None = None,
    department_id: int | None = None,
    units: list[str] | None = None,
    unit_ids: list[int] | None = None,
    actor: str = "system",
) -> Account:
    """Create an account with roles; the department (by name or id) scopes KPI-owner roles and is the home department.

    A manager needs at least one unit (``units`` by name or ``unit_ids``); each must exist and be open.
    """
    email = normalise_email(email=email)
    valid = {r.value for r in Role}
    bad = [r for r in roles if r not in valid]
    if bad or not roles:
        raise AccountError(f"Unknown role(s) {bad or roles}; choose from: {', '.join(sorted(valid))}")
    if session.exec(select(Account).where(Account.email == email)).first():
        raise AccountError(f"An account for {email} already exists.")
    dept_id = _department_id(session, department_id)
    if department:
        dept = session.exec(select(Department).where(Department.name == department)).first()
        if dept is None:
            raise AccountError(f"Unknown department: {department!r}")
        dept_id = dept.id
    if Role.KPI_OWNER.value in roles and dept_id is None:
        raise AccountError("A KPI owner needs --department (the department whose KPIs they keep).")
    managed = [
        *unit_ids_by_name(session=session, names=units or []),
        *(manager_unit(session=session, department_id=int(u)) for u in unit_ids or []),
    ]
    if Role.MANAGER.value in roles and not managed:
        raise AccountError("A manager needs at least one unit (--unit NAME): the department they lead.")
    if managed and Role.MANAGER.value not in roles:
        raise AccountError("Units (--unit) are only for the manager role; add --role manager.")
    account = Account(
        email=email,
        name=name,
        department_id=dept_id,
        password_hash=hash_password(password=password) if password is not None else None,
    )
    session.add(account)
    session.flush()
    for role in dict.fromkeys(roles):
        if role == Role.MANAGER.value:
            continue
        scope = dept_id if role == Role.KPI_OWNER.value else None
        session.add(AccountRole(account_id=pk(account), role=role, department_id=scope))
    for unit in sorted(set(managed)):
        session.add(AccountRole(account_id=pk(account), role=Role.MANAGER.value, department_id=unit))
    audit.record(
        session,
        actor=actor,
        action="create",
        entity="account",
        entity_id=account.id,
        after={"email": email, "roles": roles, "department": department, "manager_units": sorted(set(managed))},
    )
    return account


def user_context_by_id(*, session: Session, account_id: int) -> UserContext:
    return user_context(session=session, account=_account(session, account_id))


def subtree(*, session: Session, roots: set[int]) -> frozenset[int]:
    """The given departments and every department below them (the tree is walked in Python:
    a few hundred rows, and the same on SQLite and PostgreSQL)."""
    if not roots:
        return frozenset()
    children: dict[int, list[int]] = {}
    for dept_id, parent_id in session.exec(select(Department.id, Department.parent_id)).all():
        if parent_id is not None and dept_id is not None:
            children.setdefault(parent_id, []).append(dept_id)
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(children.get(node, ()))
    return frozenset(seen)


def user_context(*, session: Session, account: Account) -> UserContext:
    roles = session.exec(select(AccountRole).where(AccountRole.account_id == account.id)).all()
    managed = {r.department_id for r in roles if r.role == Role.MANAGER.value and r.department_id is not None}
    return UserContext(
        account_id=account.id,
        email=account.email,
        name=account.name,
        roles=frozenset(r.role for r in roles),
        owner_departments=frozenset(
            r.department_id for r in roles if r.role == Role.KPI_OWNER.value and r.department_id is not None
        ),
        department_id=account.department_id,
        managed_departments=subtree(session=session, roots=managed),
    )


def roles_of(*, session: Session, account_id: int) -> list[str]:
    return sorted(set(session.exec(select(AccountRole.role).where(AccountRole.account_id == account_id)).all()))


# ------------------------------------------------------------------------ sign-in throttling


@dataclass(frozen=True)
class AuthResult:
    """The outcome of a sign-in attempt; ``message`` is safe to show (it never reveals whether the account exists)."""

    ok: bool
    account_id: int | None = None
    message: str = ""
    locked_until: datetime | None = None


def _now(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def throttle_key(*, email: str) -> str:
    """The key failures are counted under: the e-mail as typed, trimmed and lower-cased."""
    return email.strip().lower()[:320]


def locked_until(*, session: Session, email: str, now: datetime | None = None) -> datetime | None:
    """When the lock on ``email`` ends, or None if it is not locked at ``now``."""
    now = _now(now)
    since = now - LOCK_WINDOW - LOCK_DURATION
    times = [
        _as_utc(t)
        for t in session.exec(
            select(col(LoginFailure.at))
            .where(col(LoginFailure.email) == throttle_key(email=email), col(LoginFailure.at) > since)
            .order_by(col(LoginFailure.at))
        ).all()
    ]
    until = None
    n = LOCK_THRESHOLD
    for i in range(n - 1, len(times)):
        if times[i] - times[i - n + 1] < LOCK_WINDOW:
            end = times[i] + LOCK_DURATION
            if end > now:
                until = end if until is None else max(until, end)
    return until


def _locked_message(until: datetime, now: datetime) -> str:
    minutes = max(1, int((until - now).total_seconds() + 59) // 60)
    return SIGN_IN_LOCKED.format(minutes=minutes)


@dataclass(frozen=True)
class _Candidate:
    account_id: int | None
    password_hash: str | None
    active: bool


def _candidate(session: Session, key: str) -> _Candidate:
    account = session.exec(select(Account).where(Account.email == key)).first() if key else None
    if account is None:
        return _Candidate(None, None, False)
    return _Candidate(account.id, account.password_hash, account.active)


def _settle(session: Session, key: str, password: str, candidate: _Candidate, ok: bool, now: datetime) -> AuthResult:
    """Record the outcome of a checked password (in a write session) and build the answer."""
    session.execute(delete(LoginFailure).where(col(LoginFailure.at) < now - FAILURE_RETENTION))
    if ok and candidate.account_id is not None and candidate.active:
        session.execute(delete(LoginFailure).where(col(LoginFailure.email) == key))
        if candidate.password_hash and security.needs_rehash(candidate.password_hash):
            account = session.get(Account, candidate.account_id)
            if account is not None:
                account.password_hash = security.hash_password(password)
                session.add(account)
        return AuthResult(ok=True, account_id=candidate.account_id)
    session.add(LoginFailure(email=key, at=now))
    session.flush()
    until = locked_until(session=session, email=key, now=now)
    if until is not None:
        return AuthResult(ok=False, message=_locked_message(until, now), locked_until=until)
    return AuthResult(ok=False, message=SIGN_IN_FAILED)


def authenticate(*, session: Session, email: str, password: str, now: datetime | None = None) -> AuthResult:
    """Check a sign-in attempt, with throttling, in one transaction (a write session with ``bump=False``).

    A failure is recorded for the typed e-mail (existing or not); a success clears that
    e-mail's failures. A deactivated account, an account without a local password and an
    unknown e-mail all get the same answer as a wrong password. While the e-mail is locked,
    the password is not checked and the attempt is not recorded.
    """
    now = _now(now)
    key = throttle_key(email=email)
    until = locked_until(session=session, email=key, now=now)
    if until is not None:
        return AuthResult(ok=False, message=_locked_message(until, now), locked_until=until)
    candidate = _candidate(session, key)
    ok = verify_password(candidate.password_hash, password)
    return _settle(session, key, password, candidate, ok, now)


def authenticate_engine(*, engine: Engine, email: str, password: str, now: datetime | None = None) -> AuthResult:
    """:func:`authenticate` for the portal: the slow password check runs outside any transaction.

    Argon2id takes ~0.15 s by design; inside a SQLite ``BEGIN IMMEDIATE`` it would hold the
    database's write lock that long and queue every other writer. Here the lock and the
    account are read first, the password is checked with no transaction open, and the outcome
    is recorded in a short write transaction that re-checks the lock (so attempts racing in
    parallel cannot sign in once the lock has engaged).
    """
    now = _now(now)
    key = throttle_key(email=email)
    with db.read_session(engine) as session:
        until = locked_until(session=session, email=key, now=now)
        candidate = _candidate(session, key)
    if until is not None:
        return AuthResult(ok=False, message=_locked_message(until, now), locked_until=until)
    ok = verify_password(candidate.password_hash, password)
    with db.write_session(engine, bump=False) as session:
        until = locked_until(session=session, email=key, now=now)
        if until is not None:
            return AuthResult(ok=False, message=_locked_message(until, now), locked_until=until)
        return _settle(session, key, password, candidate, ok, now)


def clear_failures(*, session: Session, email: str) -> int:
    """Forget the failed attempts for ``email`` (ends a lock); returns how many were removed."""
    result = session.exec(delete(LoginFailure).where(col(LoginFailure.email) == throttle_key(email=email)))
    return int(result.rowcount or 0)


# ------------------------------------------------------------------------------ web sessions


@dataclass(frozen=True)
class WebSessionInfo:
    """A live web session: whose it is, and when it started and ends (UTC)."""

    account_id: int
    created_at: datetime
    expires_at: datetime


def _web_token_hmac(session: Session, token: str, key: bytes | None) -> str:
    if key is None:
        key = secret_key(session.get_bind().engine.url.render_as_string(hide_password=False))
    return security.hash_token(token, key)


def start_web_session(
    *, session: Session, account_id: int, hours: float, now: datetime | None = None, key: bytes | None = None
) -> str:
    """Record a sign-in of an active account for ``hours``; returns the random token (only its HMAC is stored).

    Also deletes web sessions that ended more than :data:`WEB_SESSION_RETENTION` ago. ``key``
    defaults to :func:`kpialign.config.secret_key` for the session's database.
    """
    now = _now(now)
    if not hours > 0:
        raise AccountError("A web session needs a positive lifetime (KPIALIGN_SESSION_HOURS).")
    account = _account(session, account_id)
    if not account.active:
        raise AccountError("This account is deactivated.")
    old = now - WEB_SESSION_RETENTION
    session.execute(delete(WebSession).where((col(WebSession.expires_at) < old) | (col(WebSession.revoked_at) < old)))
    token = security.new_token(32)
    session.add(
        WebSession(
            token_hmac=_web_token_hmac(session, token, key),
            account_id=account_id,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    session.flush()
    return token


def resume_web_session(
    *, session: Session, token: str, now: datetime | None = None, key: bytes | None = None
) -> WebSessionInfo | None:
    """The web session for ``token`` if it is live: not expired, not revoked, and its account active.

    None for anything else, including a malformed or unknown token. Reads only.
    """
    now = _now(now)
    if not valid_web_token(token):
        return None
    row = session.exec(
        select(WebSession, col(Account.active))
        .join(Account, col(Account.id) == col(WebSession.account_id))
        .where(col(WebSession.token_hmac) == _web_token_hmac(session, token, key))
    ).first()
    if row is None:
        return None
    web, active = row
    if not active or web.revoked_at is not None or _as_utc(web.expires_at) <= now:
        return None
    return WebSessionInfo(
        account_id=web.account_id, created_at=_as_utc(web.created_at), expires_at=_as_utc(web.expires_at)
    )


def end_web_session(*, session: Session, token: str, now: datetime | None = None, key: bytes | None = None) -> bool:
    """Sign-out: revoke the web session for ``token``. False if there was no live one."""
    now = _now(now)
    if not valid_web_token(token):
        return False
    result = session.exec(
        update(WebSession)
        .where(col(WebSession.token_hmac) == _web_token_hmac(session, token, key), col(WebSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)


def revoke_web_sessions(*, session: Session, account_id: int, now: datetime | None = None) -> int:
    """Revoke every live web session of an account (every browser is signed out); returns how many."""
    now = _now(now)
    result = session.exec(
        update(WebSession)
        .where(col(WebSession.account_id) == account_id, col(WebSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)


# ------------------------------------------------------------------------------ single sign-on


@dataclass(frozen=True)
class OidcResult:
    """The account an identity-provider sign-in maps to, or why it was refused (safe to show)."""

    ok: bool
    account_id: int | None = None
    message: str = ""
    created: bool = False


def oidc_sign_in(
    *,
    session: Session,
    email: str | None,
    subject: str | None = None,
    name: str | None = None,
    email_verified: bool | None = None,
    unknown: str = "refuse",
) -> OidcResult:
    """Map a signed-in identity (from ``st.user``) to an account by e-mail.

    ``unknown`` decides what happens to an e-mail without an account: ``"refuse"`` or
    ``"employee"`` (an account with the employee role is created, audited, without a local
    password). A deactivated account is refused. Use a write session opened with ``bump=False``;
    creating an account bumps the data version itself.
    """
    if unknown not in OIDC_UNKNOWN_POLICIES:
        raise AccountError(f"Unknown policy {unknown!r}; choose from: {', '.join(OIDC_UNKNOWN_POLICIES)}")
    if not email or email_verified is False:
        return OidcResult(
            ok=False,
            message="Your identity provider did not confirm an e-mail address, so kpialign cannot match you to an account.",
        )
    try:
        key = normalise_email(email=email)
    except AccountError as exc:
        return OidcResult(ok=False, message=str(exc))
    account = session.exec(select(Account).where(Account.email == key)).first()
    if account is None:
        if unknown != "employee":
            return OidcResult(
                ok=False,
                message="There is no kpialign account for your e-mail address. Please ask an administrator for access.",
            )
        account = Account(email=key, name=(name or "")[:200], oidc_subject=(subject or None))
        session.add(account)
        session.flush()
        session.add(AccountRole(account_id=pk(account), role=Role.EMPLOYEE.value))
        audit.record(
            session,
            actor="oidc",
            action="create",
            entity="account",
            entity_id=account.id,
            after={"email": key, "roles": [Role.EMPLOYEE.value], "via": "single sign-on"},
        )
        db.bump_data_version(session)
        return OidcResult(ok=True, account_id=account.id, created=True)
    if not account.active:
        return OidcResult(
            ok=False, message="Your kpialign account is deactivated. Please ask an administrator if you need access."
        )
    if subject and not account.oidc_subject:
        account.oidc_subject = subject[:200]
        session.add(account)
    return OidcResult(ok=True, account_id=account.id)


# ------------------------------------------------------------------------------ administration


def _account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise AccountError(f"No account with id {account_id}.")
    return account


def account_id_by_email(*, session: Session, email: str) -> int:
    """The id of the account with this e-mail (refused if there is none)."""
    key = normalise_email(email=email)
    account_id = session.exec(select(Account.id).where(Account.email == key)).first()
    if account_id is None:
        raise AccountError(f"No account for {key}.")
    return int(account_id)


def _department_id(session: Session, department_id: int | None) -> int | None:
    if department_id is None:
        return None
    if session.get(Department, department_id) is None:
        raise AccountError(f"No department with id {department_id}.")
    return department_id


def _role_value(role: str) -> str:
    valid = {r.value for r in Role}
    if role not in valid:
        raise AccountError(f"Unknown role {role!r}; choose from: {', '.join(sorted(valid))}")
    return role


def _snapshot(session: Session, account: Account) -> dict:
    rows = session.exec(select(AccountRole).where(AccountRole.account_id == account.id)).all()
    return {
        "email": account.email,
        "active": account.active,
        "roles": sorted({r.role for r in rows}),
        "owner_departments": sorted(
            r.department_id for r in rows if r.role == Role.KPI_OWNER.value and r.department_id
        ),
        "manager_units": sorted(r.department_id for r in rows if r.role == Role.MANAGER.value and r.department_id),
    }


def _active_admins(session: Session) -> set[int]:
    stmt = (
        select(col(Account.id))
        .join(AccountRole, col(AccountRole.account_id) == col(Account.id))
        .where(col(AccountRole.role) == Role.ADMIN.value, col(Account.active) == True)  # noqa: E712
    )
    return {account_id for account_id in session.exec(stmt).all() if account_id is not None}


def _keep_an_admin(session: Session, account_id: int) -> None:
    if _active_admins(session) == {account_id}:
        raise AccountError("This is the last active admin; make another account an admin first.")


ROLE_LABELS = {
    Role.EMPLOYEE.value: "employee",
    Role.KPI_OWNER.value: "KPI owner",
    Role.LEADER.value: "leader",
    Role.HR.value: "HR",
    Role.ADMIN.value: "admin",
    Role.MANAGER.value: "manager",
}


def list_users(*, session: Session) -> pd.DataFrame:
    """Every account with its roles and KPI-owner departments, ordered by e-mail.

    Columns: ``id, email, name, department, roles, owner_departments, manager_units, sign_in, active,
    created_at`` (``roles``, ``owner_departments`` and ``manager_units`` are comma-separated text).
    """
    columns = [
        "id", "email", "name", "department", "roles", "owner_departments", "manager_units", "sign_in", "active",
        "created_at",
    ]  # fmt: skip
    depts = dict(session.exec(select(Department.id, Department.name)).all())
    accounts = session.exec(select(Account).order_by(Account.email)).all()
    roles: dict[int, list[AccountRole]] = {}
    for r in session.exec(select(AccountRole)).all():
        roles.setdefault(r.account_id, []).append(r)
    rows = []
    for a in accounts:
        held = roles.get(a.id or 0, [])
        sign_in = [m for m, present in (("password", a.password_hash), ("single sign-on", a.oidc_subject)) if present]
        rows.append(
            {
                "id": a.id,
                "email": a.email,
                "name": a.name,
                "department": depts.get(a.department_id, "") if a.department_id else "",
                "roles": ", ".join(sorted({r.role for r in held}, key=list(ROLE_LABELS).index)),
                "owner_departments": ", ".join(
                    sorted(
                        depts.get(r.department_id, "?")
                        for r in held
                        if r.role == Role.KPI_OWNER.value and r.department_id
                    )
                ),
                "manager_units": ", ".join(
                    sorted(
                        depts.get(r.department_id, "?")
                        for r in held
                        if r.role == Role.MANAGER.value and r.department_id
                    )
                ),
                "sign_in": " + ".join(sign_in) or "single sign-on only",
                "active": a.active,
                "created_at": a.created_at,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def add_role(*, session: Session, account_id: int, role: str, actor: str, department_id: int | None = None) -> bool:
    """Give an account a role; a KPI-owner role needs a department, a manager role an open unit.

    Returns False if it was held already (for that department).
    """
    account = _account(session, account_id)
    role = _role_value(role)
    scope = _department_id(session, department_id) if role == Role.KPI_OWNER.value else None
    if role == Role.KPI_OWNER.value and scope is None:
        raise AccountError("A KPI owner role needs a department (the department whose KPIs they keep).")
    if role == Role.MANAGER.value:
        if department_id is None:
            raise AccountError("A manager role needs a unit (the department they lead).")
        scope = manager_unit(session=session, department_id=department_id)
    stmt = select(AccountRole).where(AccountRole.account_id == account_id, AccountRole.role == role)
    stmt = (
        stmt.where(col(AccountRole.department_id) == scope)
        if scope is not None
        else stmt.where(col(AccountRole.department_id).is_(None))
    )
    if session.exec(stmt).first() is not None:
        return False
    before = _snapshot(session, account)
    session.add(AccountRole(account_id=account_id, role=role, department_id=scope))
    session.flush()
    audit.record(
        session, actor=actor, action="add_role", entity="account", entity_id=account_id,
        before=before, after=_snapshot(session, account),
    )  # fmt: skip
    return True


def remove_role(*, session: Session, account_id: int, role: str, actor: str) -> bool:
    """Take a role (with all its department scopes) from an account. Returns False if it was not held.

    The last active admin keeps the admin role, and an account keeps at least one role.
    """
    account = _account(session, account_id)
    role = _role_value(role)
    rows = session.exec(select(AccountRole).where(AccountRole.account_id == account_id, AccountRole.role == role)).all()
    if not rows:
        return False
    if role == Role.ADMIN.value and account.active:
        _keep_an_admin(session, account_id)
    if set(roles_of(session=session, account_id=account_id)) == {role}:
        raise AccountError("An account needs at least one role; deactivate it instead.")
    before = _snapshot(session, account)
    for r in rows:
        session.delete(r)
    session.flush()
    audit.record(
        session, actor=actor, action="remove_role", entity="account", entity_id=account_id,
        before=before, after=_snapshot(session, account),
    )  # fmt: skip
    return True


def set_owner_departments(
    *, session: Session, account_id: int, department_ids: list[int] | set[int], actor: str
) -> bool:
    """Scope an account's KPI-owner role to exactly these departments (gives the role if needed).

    Returns False when nothing changed. To take the role away, use :func:`remove_role`.
    """
    account = _account(session, account_id)
    wanted = {_department_id(session, int(d)) for d in department_ids}
    if not wanted:
        raise AccountError("Choose at least one department, or remove the KPI owner role instead.")
    rows = session.exec(
        select(AccountRole).where(AccountRole.account_id == account_id, AccountRole.role == Role.KPI_OWNER.value)
    ).all()
    held = {r.department_id for r in rows}
    if held == wanted:
        return False
    before = _snapshot(session, account)
    for r in rows:
        if r.department_id not in wanted:
            session.delete(r)
    for d in sorted(x for x in wanted - held if x is not None):
        session.add(AccountRole(account_id=account_id, role=Role.KPI_OWNER.value, department_id=d))
    session.flush()
    audit.record(
        session, actor=actor, action="set_owner_departments", entity="account", entity_id=account_id,
        before=before, after=_snapshot(session, account),
    )  # fmt: skip
    return True


def _closed_reason(session: Session, dept: Department) -> str:
    """Why a unit is closed, with the date when the organisation history records it."""
    event = session.exec(
        select(DepartmentEvent)
        .where(col(DepartmentEvent.department_id) == dept.id, col(DepartmentEvent.kind).in_(("close", "merge")))
        .order_by(col(DepartmentEvent.effective_on).desc())
    ).first()
    when = f" on {event.effective_on.isoformat()}" if event is not None else ""
    how = "merged into another unit" if event is not None and event.kind == "merge" else "closed"
    return f"Unit {dept.name!r} was {how}{when}; a manager can only lead an open unit."


def manager_unit(*, session: Session, department_id: int) -> int:
    """``department_id`` if it names an open unit; otherwise refused with the reason."""
    dept = session.get(Department, int(department_id))
    if dept is None:
        raise AccountError(f"No unit with id {department_id}; a manager's unit must be an existing department.")
    if not dept.active:
        raise AccountError(_closed_reason(session, dept))
    return pk(dept)


def unit_ids_by_name(*, session: Session, names: list[str]) -> list[int]:
    """The ids of open units named exactly ``names``; an unknown or closed name is refused with the reason."""
    ids = []
    for name in names:
        dept = session.exec(select(Department).where(Department.name == name.strip())).first()
        if dept is None:
            raise AccountError(f"Unknown unit {name.strip()!r}; a manager's unit must be an existing department.")
        ids.append(manager_unit(session=session, department_id=pk(dept)))
    return ids


def manager_units_of(*, session: Session, account_id: int) -> list[int]:
    """The units named in an account's manager role (not expanded to their subtrees)."""
    return sorted(
        int(d)
        for d in session.exec(
            select(AccountRole.department_id).where(
                AccountRole.account_id == account_id, AccountRole.role == Role.MANAGER.value
            )
        ).all()
        if d is not None
    )


def set_manager_units(*, session: Session, account_id: int, department_ids: list[int] | set[int], actor: str) -> bool:
    """Make an account manage exactly these units (each with everything below it); gives the role if needed.

    Every unit must exist and be open (refused with the reason otherwise). An empty list takes
    the manager role away (refused if it is the account's only role). Returns False when
    nothing changed; one audit row otherwise. The directory import calls this too.
    """
    account = _account(session, account_id)
    wanted = {manager_unit(session=session, department_id=int(d)) for d in department_ids}
    rows = session.exec(
        select(AccountRole).where(AccountRole.account_id == account_id, AccountRole.role == Role.MANAGER.value)
    ).all()
    held = {r.department_id for r in rows}
    if held == wanted:
        return False
    if not wanted and set(roles_of(session=session, account_id=account_id)) == {Role.MANAGER.value}:
        raise AccountError("An account needs at least one role; give it another role before removing its units.")
    before = _snapshot(session, account)
    for r in rows:
        if r.department_id not in wanted:
            session.delete(r)
    for d in sorted(wanted - {x for x in held if x is not None}):
        session.add(AccountRole(account_id=account_id, role=Role.MANAGER.value, department_id=d))
    session.flush()
    audit.record(
        session, actor=actor, action="set_manager_units", entity="account", entity_id=account_id,
        before=before, after=_snapshot(session, account),
    )  # fmt: skip
    return True


def set_roles(
    *,
    session: Session,
    account_id: int,
    roles: list[str] | set[str],
    actor: str,
    owner_departments: Collection[int] = (),
    manager_units: Collection[int] = (),
) -> bool:
    """Make an account hold exactly ``roles`` (KPI owner scoped to ``owner_departments``, manager to ``manager_units``).

    Each change is one audited :func:`add_role` / :func:`set_owner_departments` /
    :func:`remove_role`; the same rules apply (the last active admin stays an admin). Returns
    False when nothing changed.
    """
    _account(session, account_id)
    wanted = {_role_value(r) for r in roles}
    if not wanted:
        raise AccountError("An account needs at least one role; deactivate it instead.")
    if Role.KPI_OWNER.value in wanted and not owner_departments:
        raise AccountError("A KPI owner needs at least one department (the departments whose KPIs they keep).")
    if Role.MANAGER.value in wanted and not manager_units:
        raise AccountError("A manager needs at least one unit (the departments they lead).")
    held = set(roles_of(session=session, account_id=account_id))
    changed = False
    for role in sorted(wanted - held - {Role.KPI_OWNER.value, Role.MANAGER.value}):
        changed |= add_role(session=session, account_id=account_id, role=role, actor=actor)
    if Role.KPI_OWNER.value in wanted:
        changed |= set_owner_departments(
            session=session, account_id=account_id, department_ids=set(owner_departments), actor=actor
        )
    if Role.MANAGER.value in wanted:
        changed |= set_manager_units(
            session=session, account_id=account_id, department_ids=set(manager_units), actor=actor
        )
    for role in sorted(held - wanted):
        changed |= remove_role(session=session, account_id=account_id, role=role, actor=actor)
    return changed


def set_active(*, session: Session, account_id: int, active: bool, actor: str) -> bool:
    """Deactivate (signs the account out on its next rerun) or reactivate an account. False if unchanged."""
    account = _account(session, account_id)
    if account.active == active:
        return False
    if not active:
        if account.email == actor:
            raise AccountError("You cannot deactivate your own account.")
        if Role.ADMIN.value in roles_of(session=session, account_id=account_id):
            _keep_an_admin(session, account_id)
    before = _snapshot(session, account)
    account.active = active
    session.add(account)
    session.flush()
    if active:
        clear_failures(session=session, email=account.email)
    else:
        revoke_web_sessions(session=session, account_id=account_id)
    audit.record(
        session, actor=actor, action="activate" if active else "deactivate", entity="account",
        entity_id=account_id, before=before, after=_snapshot(session, account),
    )  # fmt: skip
    return True


def reset_password(*, session: Session, account_id: int, actor: str) -> str:
    """Give an account a new generated password (returned once, never stored in clear) and lift any lock.

    Every browser signed in to the account with the old password is signed out (its web sessions are revoked).
    """
    account = _account(session, account_id)
    password = generate_password()
    account.password_hash = hash_password(password=password)
    session.add(account)
    clear_failures(session=session, email=account.email)
    revoke_web_sessions(session=session, account_id=account_id)
    audit.record(session, actor=actor, action="reset_password", entity="account", entity_id=account_id)
    return password


def set_home_department(*, session: Session, account_id: int, department_id: int | None, actor: str) -> bool:
    """Set or change (``None``: clear) an account's home department; audited. False if unchanged.

    The home department is where a signed-in employee answers surveys and whose results they see
    first; accounts made by single sign-on or ``create-user`` without one have none and can
    answer no signed-in survey until an admin sets it. A retired department is refused. KPI-owner
    scopes are separate (:func:`set_owner_departments`) and do not change here.
    """
    account = _account(session, account_id)
    if department_id is not None:
        dept = session.get(Department, department_id)
        if dept is None:
            raise AccountError(f"No department with id {department_id}.")
        if not dept.active:
            raise AccountError(f"{dept.name} is retired; choose a current department.")
    if account.department_id == department_id:
        return False
    names = dict(
        session.exec(
            select(col(Department.id), col(Department.name)).where(
                col(Department.id).in_([d for d in (account.department_id, department_id) if d is not None])
            )
        ).all()
    )
    before = {"email": account.email, "department": names.get(account.department_id)}
    account.department_id = department_id
    session.add(account)
    session.flush()
    audit.record(
        session, actor=actor, action="set_department", entity="account", entity_id=account_id,
        before=before, after={"email": account.email, "department": names.get(department_id)},
    )  # fmt: skip
    return True


def department_by_name(*, session: Session, name: str) -> int:
    """The id of the current department called ``name`` (a clear error when there is none)."""
    dept = session.exec(select(Department).where(Department.name == name.strip())).first()
    if dept is None:
        raise AccountError(f"Unknown department: {name.strip()!r}")
    return pk(dept)


def account_by_email(*, session: Session, email: str) -> int:
    """The id of the account with this e-mail address (a clear error when there is none)."""
    account = session.exec(select(Account).where(Account.email == normalise_email(email=email))).first()
    if account is None:
        raise AccountError(f"No account for {normalise_email(email=email)}.")
    return pk(account)
