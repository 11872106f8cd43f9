"""goal_progress: each goal's progress from a moment on, for the leaderboard's "goals moved"

Revision ID: 0010_goal_progress
Revises: 0009_one_on_ones
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0010_goal_progress"
down_revision = "0009_one_on_ones"
branch_labels = None
depends_on = None


def upgrade() -> None:
    goal_progress = op.create_table(
        "goal_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["goal_id"], ["goals.id"], name=op.f("fk_goal_progress_goal_id_goals"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goal_progress")),
    )
    op.create_index("ix_goal_progress_goal_recorded_at", "goal_progress", ["goal_id", "recorded_at"], unique=False)
    # Open goals start their history where they stand now, so next week's movement has a baseline.
    goals = sa.table("goals", sa.column("id", sa.Integer()), sa.column("progress", sa.Double()), sa.column("status", sa.String()))
    now = dt.datetime.now(dt.UTC)
    op.execute(
        goal_progress.insert().from_select(
            ["goal_id", "recorded_at", "progress"],
            sa.select(goals.c.id, sa.literal(now, sa.DateTime(timezone=True)), goals.c.progress).where(goals.c.status == "open"),
        )
    )


def downgrade() -> None:
    op.drop_index("ix_goal_progress_goal_recorded_at", table_name="goal_progress")
    op.drop_table("goal_progress")
