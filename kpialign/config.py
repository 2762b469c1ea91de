"""Settings from the environment (``KPIALIGN_*``) or ``.streamlit/secrets.toml``.

Environment variables win over the secrets file. Nothing here imports Streamlit: the
secrets file is read with :mod:`tomllib` so that the CLI and the tests see the same values
as the portal.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass
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


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    database_url: str
    base_url: str
    demo: bool
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
        demo=_truthy(_get("KPIALIGN_DEMO")),
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
