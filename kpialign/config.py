"""Settings from the environment (``KPIALIGN_*``) or ``.streamlit/secrets.toml``.

Environment variables win over the secrets file. Nothing here imports Streamlit: the
secrets file is read with :mod:`tomllib` so that the CLI and the tests see the same values
as the portal.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from kpialign.core.errors import Refused

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "sqlite:///data/kpialign.db"


class ConfigError(Refused):
    """A setting is missing or invalid; the message says which and how to fix it."""


def _secrets_file() -> dict:
    """The secrets file's keys; parsed again only when the file changes (settings are read on every rerun)."""
    path = Path(os.environ.get("KPIALIGN_SECRETS_FILE", PROJECT_ROOT / ".streamlit" / "secrets.toml"))
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return {}
    return _parse_secrets(path, mtime)


@lru_cache(maxsize=4)
def _parse_secrets(path: Path, _mtime_ns: int) -> dict:
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def _get(name: str, default: str | None = None) -> str | None:
    if name in os.environ:
        return os.environ[name]
    value = _secrets_file().get(name)
    return str(value) if value is not None else default


@dataclass(frozen=True)
class Settings:
    database_url: str
    base_url: str
    session_hours: float
    replicas: int
    oidc_unknown: str = "refuse"  # single sign-on with an e-mail that has no account: "refuse" or "employee"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def resolve_sqlite_url(url: str) -> str:
    """Make a relative SQLite path absolute against the project root and create its folder."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url in {"sqlite://", "sqlite:///:memory:"}:
        return url
    path = Path(url[len(prefix) :])
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return prefix + str(path)


def load_settings() -> Settings:
    """Read the settings now (no caching: tests change the environment)."""
    url = _get("KPIALIGN_DATABASE_URL", DEFAULT_DATABASE_URL) or DEFAULT_DATABASE_URL
    try:
        hours = float(_get("KPIALIGN_SESSION_HOURS", "12") or 12)
        replicas = int(_get("KPIALIGN_REPLICAS", "1") or 1)
    except ValueError as exc:
        raise ConfigError(f"KPIALIGN_SESSION_HOURS / KPIALIGN_REPLICAS must be numbers: {exc}") from exc
    settings = Settings(
        database_url=resolve_sqlite_url(url),
        base_url=(_get("KPIALIGN_BASE_URL", "http://localhost:8501") or "").rstrip("/"),
        session_hours=hours,
        replicas=replicas,
        oidc_unknown=(_get("KPIALIGN_OIDC_UNKNOWN", "refuse") or "refuse").strip().lower(),
    )
    if settings.oidc_unknown not in {"refuse", "employee"}:
        raise ConfigError('KPIALIGN_OIDC_UNKNOWN must be "refuse" or "employee".')
    if settings.replicas > 1 and settings.is_sqlite:
        raise ConfigError(
            "KPIALIGN_REPLICAS is greater than 1 but the database is SQLite. Several replicas "
            "need a shared PostgreSQL database: set KPIALIGN_DATABASE_URL=postgresql+psycopg://..."
        )
    return settings


def secret_key(database_url: str | None = None) -> bytes:
    """The HMAC key for survey tokens, kept outside the database.

    From ``KPIALIGN_SECRET_KEY``; on SQLite a key is generated once into ``data/secret.key``
    (next to the database file). PostgreSQL deployments run several replicas that must share
    the key, so there it is required.
    """
    value = _get("KPIALIGN_SECRET_KEY")
    if value:
        return value.encode()
    url = database_url or load_settings().database_url
    if not url.startswith("sqlite"):
        raise ConfigError("KPIALIGN_SECRET_KEY must be set when the database is PostgreSQL.")
    return _generated_key(_key_path(url))


def _key_path(url: str) -> Path:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///") :]).parent / "secret.key"
    return PROJECT_ROOT / "data" / "secret.key"


@lru_cache(maxsize=8)
def _generated_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


# ------------------------------------------------------------------------------- e-mail

SMTP_SECURITY = ("starttls", "tls", "none")
_SMTP_DEFAULT_PORT = {"starttls": 587, "tls": 465, "none": 25}


@dataclass(frozen=True)
class MailSettings:
    """How survey invitations and reminders leave the portal (:mod:`kpialign.mail`).

    ``dry_run_dir`` set: messages are written there as ``.eml`` files and nothing is sent.
    ``security``: ``starttls`` (upgrade a plain connection, port 587), ``tls`` (implicit TLS,
    port 465) or ``none`` (plain, for a relay on the same host or tests only).
    """

    host: str
    port: int
    security: str
    user: str
    password: str = field(repr=False)
    sender: str
    dry_run_dir: Path | None
    per_minute: float
    timeout_s: float
    max_reminders: int

    @property
    def configured(self) -> bool:
        return bool(self.sender) and (self.dry_run_dir is not None or bool(self.host))


def mail_settings() -> MailSettings:
    """SMTP settings from ``KPIALIGN_SMTP_*`` / ``KPIALIGN_MAIL_*`` (environment or secrets file)."""
    security = (_get("KPIALIGN_SMTP_SECURITY", "starttls") or "starttls").strip().lower()
    if security not in SMTP_SECURITY:
        raise ConfigError(f"KPIALIGN_SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY)}.")
    dry = (_get("KPIALIGN_MAIL_DRY_RUN") or "").strip()
    try:
        port = int(_get("KPIALIGN_SMTP_PORT") or _SMTP_DEFAULT_PORT[security])
        per_minute = float(_get("KPIALIGN_MAIL_PER_MINUTE", "120") or 120)
        timeout_s = float(_get("KPIALIGN_SMTP_TIMEOUT", "30") or 30)
        max_reminders = int(_get("KPIALIGN_MAIL_MAX_REMINDERS", "2") or 2)
    except ValueError as exc:
        raise ConfigError(
            "KPIALIGN_SMTP_PORT, KPIALIGN_MAIL_PER_MINUTE, KPIALIGN_SMTP_TIMEOUT and "
            f"KPIALIGN_MAIL_MAX_REMINDERS must be numbers: {exc}"
        ) from exc
    if per_minute <= 0 or timeout_s <= 0 or max_reminders < 0 or not 0 < port < 65536:
        raise ConfigError("Mail settings out of range: rate and timeout above 0, reminders 0 or more, a valid port.")
    dry_dir = Path(dry) if dry else None
    if dry_dir is not None and not dry_dir.is_absolute():
        dry_dir = PROJECT_ROOT / dry_dir
    return MailSettings(
        host=(_get("KPIALIGN_SMTP_HOST") or "").strip(),
        port=port,
        security=security,
        user=_get("KPIALIGN_SMTP_USER") or "",
        password=_get("KPIALIGN_SMTP_PASSWORD") or "",
        sender=(_get("KPIALIGN_MAIL_FROM") or "").strip(),
        dry_run_dir=dry_dir,
        per_minute=per_minute,
        timeout_s=timeout_s,
        max_reminders=max_reminders,
    )
