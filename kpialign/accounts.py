"""Accounts, roles and password hashing (argon2id).

Sign-in throttling and OIDC mapping live here too; nothing in this module imports Streamlit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session, select

from kpialign import audit
from kpialign.models import Account, AccountRole, Department, Role

MIN_PASSWORD_LENGTH = 12
_hasher = PasswordHasher()  # argon2-cffi's default type is Argon2id (RFC 9106 low-memory profile)


class AccountError(ValueError):
    """An account operation was refused; the message is safe to show."""


@dataclass(frozen=True)
class UserContext:
    """Who is signed in: the roles held, and the departments a KPI owner may edit."""

    account_id: int | None
    email: str
    name: str
    roles: frozenset[str]
    owner_departments: frozenset[int] = field(default_factory=frozenset)
    department_id: int | None = None

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        # Spend the same time as a real check, so timing does not reveal unknown accounts.
        _hasher.verify(_DUMMY_HASH, "x" * MIN_PASSWORD_LENGTH)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = _hasher.hash("x" * MIN_PASSWORD_LENGTH)


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@") or len(email) > 320:
        raise AccountError(f"Not a valid e-mail address: {email!r}")
    return email


def create_user(
    session: Session,
    *,
    email: str,
    roles: list[str],
    password: str | None,
    name: str = "",
    department: str | None = None,
    actor: str = "system",
) -> Account:
    """Create an account with roles; ``department`` scopes KPI-owner roles and sets the home department."""
    email = normalise_email(email)
    valid = {r.value for r in Role}
    bad = [r for r in roles if r not in valid]
    if bad or not roles:
        raise AccountError(f"Unknown role(s) {bad or roles}; choose from: {', '.join(sorted(valid))}")
    if session.exec(select(Account).where(Account.email == email)).first():
        raise AccountError(f"An account for {email} already exists.")
    dept_id = None
    if department:
        dept = session.exec(select(Department).where(Department.name == department)).first()
        if dept is None:
            raise AccountError(f"Unknown department: {department!r}")
        dept_id = dept.id
    if Role.KPI_OWNER.value in roles and dept_id is None:
        raise AccountError("A KPI owner needs --department (the department whose KPIs they keep).")
    account = Account(
        email=email,
        name=name,
        department_id=dept_id,
        password_hash=hash_password(password) if password is not None else None,
    )
    session.add(account)
    session.flush()
    for role in dict.fromkeys(roles):
        scope = dept_id if role == Role.KPI_OWNER.value else None
        session.add(AccountRole(account_id=account.id, role=role, department_id=scope))
    audit.record(
        session,
        actor=actor,
        action="create",
        entity="account",
        entity_id=account.id,
        after={"email": email, "roles": roles, "department": department},
    )
    return account


def user_context(session: Session, account: Account) -> UserContext:
    roles = session.exec(select(AccountRole).where(AccountRole.account_id == account.id)).all()
    return UserContext(
        account_id=account.id,
        email=account.email,
        name=account.name,
        roles=frozenset(r.role for r in roles),
        owner_departments=frozenset(
            r.department_id for r in roles if r.role == Role.KPI_OWNER.value and r.department_id is not None
        ),
        department_id=account.department_id,
    )
