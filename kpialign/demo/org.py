"""Demo content for the directory and reorganisations (issue 17): directory ids and one past rename.

Every demo unit gets the directory id ``U0001``... of :func:`kpialign.demo.directory.unit_id`, so
a directory export of the demo (``demo_directory``) matches it unit for unit; the small demo's
Customer Success was called "Customer Care" until April 2025, recorded as a rename event.
Deterministic: no randomness, fixed dates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy import insert, update
from sqlalchemy.engine import Connection

from kpialign.models import Department, DepartmentEvent

RENAMED = {"Customer Success": ("Customer Care", date(2025, 4, 1))}
RECORDED_AT = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)


def seed_org_history(conn: Connection, units: Sequence[tuple[int, str]]) -> None:
    """Directory ids for ``units`` (id, name) and the demo's past renames."""
    t = Department.__table__
    for unit_id, _name in units:
        conn.execute(update(t).where(t.c.id == unit_id).values(external_id=f"U{unit_id:04d}"))
    events = [
        {
            "department_id": unit_id,
            "kind": "rename",
            "effective_on": RENAMED[name][1],
            "related_department_id": None,
            "detail": json.dumps({"from": RENAMED[name][0], "to": name}, sort_keys=True),
            "created_by": "seed-demo",
            "created_at": RECORDED_AT,
        }
        for unit_id, name in units
        if name in RENAMED
    ]
    if events:
        conn.execute(insert(DepartmentEvent.__table__), events)
