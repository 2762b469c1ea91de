"""Scoring settings in the ``setting`` table (``scoring.<field>`` = JSON value), audited.

The settings themselves (fields, defaults, validation) are :class:`kpialign.core.scoring.ScoringSettings`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import Any

from sqlmodel import Session, col, select

from kpialign import audit
from kpialign.core.scoring import FIELD_TYPES, ScoringError, ScoringSettings, settings_from_dict
from kpialign.models import Setting

SETTING_PREFIX = "scoring."


def load_settings(*, session: Session) -> ScoringSettings:
    """The scoring settings stored in the ``setting`` table (``scoring.<field>``), over the defaults."""
    rows = session.exec(select(Setting).where(Setting.key.startswith(SETTING_PREFIX))).all()
    values: dict[str, Any] = {}
    for row in rows:
        name = row.key[len(SETTING_PREFIX) :]
        if name in FIELD_TYPES:
            try:
                values[name] = json.loads(row.value)
            except json.JSONDecodeError as exc:
                raise ScoringError(f"Setting {row.key} is not valid JSON.") from exc
    return settings_from_dict(values)


def save_settings(*, session: Session, settings: ScoringSettings, actor: str) -> ScoringSettings:
    """Store changed settings and audit the change (in the caller's write transaction)."""
    settings = replace(settings).validate()
    before = load_settings(session=session)
    old, new = asdict(before), asdict(settings)
    changed = {k: v for k, v in new.items() if old[k] != v}
    if not changed:
        return settings
    existing = {
        r.key: r
        for r in session.exec(select(Setting).where(col(Setting.key).in_([SETTING_PREFIX + k for k in changed]))).all()
    }
    for name, value in changed.items():
        key = SETTING_PREFIX + name
        if key in existing:
            existing[key].value = json.dumps(value)
            session.add(existing[key])
        else:
            session.add(Setting(key=key, value=json.dumps(value)))
    audit.record(
        session,
        actor=actor,
        action="settings.update",
        entity="setting",
        entity_id="scoring",
        before={k: old[k] for k in changed},
        after=changed,
    )
    session.flush()
    return settings
