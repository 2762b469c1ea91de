"""Password hashing, token HMACs and personal survey links (no database, no settings).

- Passwords: Argon2id with OWASP's minimum parameters (19 MiB, 2 passes, 1 lane) — chosen
  deliberately: the RFC 9106 profile argon2-cffi defaults to (64 MiB, 3 passes, 4 lanes) costs
  about five times as much CPU, and fifty leaders signing in together on a two-core server
  queued behind it. Hashes made with other parameters are upgraded at the next sign-in. A check
  of an unknown account spends the same time as a real one, so timing does not reveal accounts.
- Tokens (personal survey links, sign-in cookies): random URL-safe strings; only their
  HMAC-SHA256 under the secret key (kept outside the database) is stored, so a copy of the
  database can neither answer a survey nor sign anyone in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 12
WEB_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,128}")  # what secrets.token_urlsafe makes
# OWASP Password Storage Cheat Sheet, Argon2id minimum: m = 19 MiB, t = 2, p = 1.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_PARALLELISM = 1
_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
)  # argon2-cffi's type is Argon2id
_DUMMY_HASH = _hasher.hash("x" * MIN_PASSWORD_LENGTH)


# ------------------------------------------------------------------------------ passwords


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The Argon2id hash of ``password`` (a fixed ``salt`` only for the deterministic demo)."""
    return _hasher.hash(password, salt=salt) if salt is not None else _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; a missing hash costs the same time and is False."""
    if not password_hash:
        # Spend the same time as a real check, so timing does not reveal unknown accounts.
        _hasher.verify(_DUMMY_HASH, "x" * MIN_PASSWORD_LENGTH)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when a stored hash uses weaker parameters than today's defaults."""
    return _hasher.check_needs_rehash(password_hash)


def generate_password() -> str:
    """A random password (20 URL-safe characters) to show once."""
    return secrets.token_urlsafe(15)


# --------------------------------------------------------------------------------- tokens


def new_token(nbytes: int = 32) -> str:
    """A random URL-safe token of ``nbytes`` random bytes that does not begin with "-".

    One token in 64 would, and a link's token pasted on a command line or into a tool is then read
    as an option (the CLI's ``reissue-link`` copes with one since it also takes e-mailed links'
    tokens, which can; see ``cli._bare_token_last``). Drawing again costs under 0.03 bits of the
    token's 256 (or 192) bits of randomness."""
    while True:
        token = secrets.token_urlsafe(nbytes)
        if not token.startswith("-"):
            return token


def hash_token(token: str, key: bytes) -> str:
    """HMAC-SHA256 of a token under ``key``, as 64 hex characters.

    Only this digest is stored (``invitation.token_hmac``, ``web_session.token_hmac``); the raw
    token exists only in the link or cookie. Without the key, a database dump cannot be turned
    back into links or sessions.
    """
    return hmac.new(key, token.encode("utf-8"), hashlib.sha256).hexdigest()


def valid_web_token(token: object) -> bool:
    """True if ``token`` has the shape of a web-session token (URL-safe base64, nothing else)."""
    return isinstance(token, str) and WEB_TOKEN_PATTERN.fullmatch(token) is not None


def survey_link(base_url: str, token: str) -> str:
    """The personal link for ``token`` (tokens are URL-safe, so no quoting is needed)."""
    return f"{base_url.rstrip('/')}/survey?token={token}"
