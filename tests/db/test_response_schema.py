"""The response side of the migrated schema carries no identity and no time of day (both backends)."""

from __future__ import annotations

import re

from sqlalchemy import inspect
from sqlalchemy.types import DateTime, Time

from kpialign.models import RESPONSE_SIDE_TABLES

IDENTITY = re.compile(r"user|account|email|mail|ip|addr|session|token|hmac|invit|name|created|updated|time|_at$")


def test_response_side_tables_have_no_identity_or_time_of_day_column(engine):
    insp = inspect(engine)
    assert set(RESPONSE_SIDE_TABLES) == {"response", "answer", "comment"}
    for table in RESPONSE_SIDE_TABLES:
        columns = insp.get_columns(table)
        assert columns, table
        for c in columns:
            assert not IDENTITY.search(c["name"].lower()), f"{table}.{c['name']} looks like identity or time"
            assert not isinstance(c["type"], DateTime | Time), f"{table}.{c['name']} is {c['type']}"
            assert not re.search(r"TIME", str(c["type"]).upper()), f"{table}.{c['name']} is {c['type']}"
        fks = {fk["referred_table"] for fk in insp.get_foreign_keys(table)}
        assert fks <= {"survey_wave", "department", "question", "response"}, (table, fks)


def test_response_day_is_a_date_column(engine):
    cols = {c["name"]: c for c in inspect(engine).get_columns("response")}
    assert set(cols) == {"id", "wave_id", "department_id", "submitted_on"}
    assert str(cols["submitted_on"]["type"]).upper() == "DATE"


def test_invitation_has_no_time_of_use(engine):
    cols = {c["name"] for c in inspect(engine).get_columns("invitation")}
    assert cols == {"id", "wave_id", "department_id", "token_hmac", "used", "revoked"}
