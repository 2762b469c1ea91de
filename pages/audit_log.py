"""Admin: the append-only audit log, with filters and a CSV download."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from kpialign import audit
from kpialign.core import csv_out
from kpialign.ui import auth, data, nav

user = auth.require(nav.roles_for("pages/audit_log.py"))
LIMIT = 5000

st.title("Audit log")
st.caption(
    "Every change to objectives, departments, KPIs, links, targets, values, accounts and settings, "
    "and every import: who, when, what, and the state before and after. Entries are never changed or deleted."
)

with data.reading() as session:
    recent = audit.list_events(session, limit=LIMIT)
choices = {col: sorted(recent[col].dropna().unique()) for col in ("actor", "action", "entity")}

c1, c2, c3, c4, c5 = st.columns([2, 1, 1, 1, 1])
actor = c1.selectbox("Who", choices["actor"], index=None, placeholder="anyone", key="audit_log.actor")
action = c2.selectbox("Action", choices["action"], index=None, placeholder="any", key="audit_log.action")
entity = c3.selectbox("What", choices["entity"], index=None, placeholder="anything", key="audit_log.entity")
today = date.today()
first = c4.date_input("From (UTC)", value=None, max_value=today, key="audit_log.from", format="YYYY-MM-DD")
last = c5.date_input("Until (UTC)", value=None, max_value=today, key="audit_log.until", format="YYYY-MM-DD")
since = datetime.combine(first, time.min, tzinfo=UTC) if first else None
until = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC) if last else None

with data.reading() as session:
    events = audit.list_events(
        session, actor=actor, action=action, entity=entity, since=since, until=until, limit=LIMIT
    )

if events.empty:
    st.info("No audit events match these filters.")
    st.stop()

st.caption(
    f"{len(events):,} event(s), newest first"
    + (f" (only the newest {LIMIT:,} are shown)" if len(events) >= LIMIT else "")
)
st.dataframe(
    events,
    hide_index=True,
    width="stretch",
    column_config={
        "id": st.column_config.NumberColumn("#", format="%d"),
        "at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "actor": "Who",
        "action": "Action",
        "entity": "What",
        "entity_id": "Which",
        "detail": st.column_config.TextColumn("Before / after", width="large"),
    },
    key="audit_log.table",
)
st.download_button(
    "Download these events as CSV",
    csv_out.write_csv(events.assign(at=events["at"].astype(str))),
    file_name=csv_out.export_filename("audit", None, today),
    mime="text/csv",
    icon=":material/download:",
    key="audit_log.download",
)
