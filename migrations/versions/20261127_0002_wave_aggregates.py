"""closed-wave aggregates for the scorecard (wave_response_count, wave_answer_count)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wave_response_count",
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_wave_response_count_department_id_department")
        ),
        sa.ForeignKeyConstraint(["wave_id"], ["survey_wave.id"], name=op.f("fk_wave_response_count_wave_id_survey_wave")),
        sa.PrimaryKeyConstraint("wave_id", "department_id", name=op.f("pk_wave_response_count")),
    )
    op.create_table(
        "wave_answer_count",
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_wave_answer_count_department_id_department")
        ),
        sa.ForeignKeyConstraint(["question_id"], ["question.id"], name=op.f("fk_wave_answer_count_question_id_question")),
        sa.ForeignKeyConstraint(["wave_id"], ["survey_wave.id"], name=op.f("fk_wave_answer_count_wave_id_survey_wave")),
        sa.PrimaryKeyConstraint("wave_id", "department_id", "question_id", "value", name=op.f("pk_wave_answer_count")),
    )


def downgrade() -> None:
    op.drop_table("wave_answer_count")
    op.drop_table("wave_response_count")
