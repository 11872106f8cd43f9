"""goal_progress: each goal's progress whenever it changes, so the digest can say how far it moved in a week

Revision ID: 0014_goal_progress
Revises: 0010_one_on_ones
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_goal_progress"
down_revision = "0010_one_on_ones"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "goal_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["goal_id"], ["goals.id"], name=op.f("fk_goal_progress_goal_id_goals"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goal_progress")),
    )
    with op.batch_alter_table("goal_progress", schema=None) as batch_op:
        batch_op.create_index("ix_goal_progress_goal_id_at", ["goal_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("goal_progress", schema=None) as batch_op:
        batch_op.drop_index("ix_goal_progress_goal_id_at")
    op.drop_table("goal_progress")
