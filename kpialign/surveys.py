"""Survey question bank, waves, personal invitations, confidential submission, participation."""

from __future__ import annotations

import hashlib
import hmac


def hash_token(token: str, key: bytes) -> str:
    """HMAC-SHA256 of a survey token under ``key``, as 64 hex characters.

    Only this digest is stored (``invitation.token_hmac``); the raw token exists only in the
    links handed to HR. Without the key, a database dump cannot be turned back into links.
    """
    return hmac.new(key, token.encode("utf-8"), hashlib.sha256).hexdigest()
