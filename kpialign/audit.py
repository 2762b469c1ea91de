"""Append-only audit log: who did what, when, with the state before and after."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlmodel import Session, select

from kpialign.models import AuditEvent


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: object = "",
    before: dict | None = None,
    after: dict | None = None,
    **extra: Any,
) -> AuditEvent:
    """Add one audit event to the session's transaction (it commits with the change itself)."""
    detail: dict[str, Any] = dict(extra)
    if before is not None:
        detail["before"] = before
    if after is not None:
        detail["after"] = after
    event = AuditEvent(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        detail=json.dumps(detail, default=_default, sort_keys=True),
    )
    session.add(event)
    return event


def list_events(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    entity: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 5000,
) -> pd.DataFrame:
    """Audit events, newest first, as a DataFrame (filters are optional and combined with AND)."""
    stmt = select(AuditEvent)
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if entity:
        stmt = stmt.where(AuditEvent.entity == entity)
    if since:
        stmt = stmt.where(AuditEvent.at >= since)
    if until:
        stmt = stmt.where(AuditEvent.at < until)
    stmt = stmt.order_by(AuditEvent.id.desc()).limit(limit)  # type: ignore[union-attr]
    rows = [e.model_dump() for e in session.exec(stmt)]
    return pd.DataFrame(rows, columns=["id", "at", "actor", "action", "entity", "entity_id", "detail"])
