"""indexes for the responses export: response (wave_id, department_id, id), answer (response_id, question_id, value)

The responses export reads one wave's responses a batch of departments at a time, and each
response's answers. With only ``ix_response_wave_id`` every batch re-read all of the wave's
response rows to filter the departments; with only the answer's primary key every response cost
a visit to the answer table as well as to the index. Both new indexes cover their query (an
index-only scan on PostgreSQL, a covering index on SQLite). ``ix_response_wave_id`` is the new
index's prefix and goes. Measured on the enterprise demo (bench/README.md, Exports): PostgreSQL's
CPU for the export's queries 1.4-1.5 s -> 0.6 s, and the planner no longer falls back to a scan
of all 5 million answers when parallel workers are off.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 16:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_response_wave_department", "response", ["wave_id", "department_id", "id"])
    op.drop_index("ix_response_wave_id", table_name="response")
    op.create_index("ix_answer_response_value", "answer", ["response_id", "question_id", "value"])


def downgrade() -> None:
    op.drop_index("ix_answer_response_value", table_name="answer")
    op.create_index("ix_response_wave_id", "response", ["wave_id"])
    op.drop_index("ix_response_wave_department", table_name="response")
