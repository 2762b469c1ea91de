"""the reliability of a closed wave's line-of-sight scale (wave_reliability), stored with its counts

Cronbach's alpha of a closed wave (whole organisation, with its Feldt interval) was computed from
the wave's answers on the first Survey results view of each server process: ~1.4 s of CPU at
enterprise scale (427k responses, 5M answers over 12 waves). A closed wave never changes, so it is
written once with the wave's counts (kpialign/scorecard/counts.py) and read as one row. Databases
from before this revision get theirs from the repair step (portal start, ``repair-counts``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wave_reliability",
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("alpha", sa.Float(), nullable=True),
        sa.Column("low", sa.Float(), nullable=True),
        sa.Column("high", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["wave_id"], ["survey_wave.id"], name=op.f("fk_wave_reliability_wave_id_survey_wave")),
        sa.PrimaryKeyConstraint("wave_id", name=op.f("pk_wave_reliability")),
    )


def downgrade() -> None:
    op.drop_table("wave_reliability")
