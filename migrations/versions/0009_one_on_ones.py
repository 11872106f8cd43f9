"""one_on_ones: the one-on-ones a manager or coach marked held, where the next 1:1 agenda starts

Revision ID: 0009_one_on_ones
Revises: 0008_goal_measures
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_one_on_ones"
down_revision = "0008_goal_measures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "one_on_ones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coach_id", sa.Integer(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["coach_id"], ["people.id"], name=op.f("fk_one_on_ones_coach_id_people"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rep_id"], ["people.id"], name=op.f("fk_one_on_ones_rep_id_people"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_on_ones")),
        sa.UniqueConstraint("coach_id", "rep_id", "held_on", name=op.f("uq_one_on_ones_coach_id_rep_id_held_on")),
    )
    with op.batch_alter_table("one_on_ones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_one_on_ones_rep_id"), ["rep_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("one_on_ones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_one_on_ones_rep_id"))
    op.drop_table("one_on_ones")
