"""coaching engine: nudge times, plan check-ins, outbox claims

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["recovery_plans.id"], name=op.f("fk_plan_checkins_plan_id_recovery_plans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_checkins")),
        sa.UniqueConstraint("plan_id", "asked_at", name=op.f("uq_plan_checkins_plan_id_asked_at")),
    )
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("progress_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nudge_time", sa.String(length=5), nullable=True))

    with op.batch_alter_table("process_gaps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_nudged_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("recovery_plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_checkin_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recovery_plans", schema=None) as batch_op:
        batch_op.drop_column("next_checkin_at")

    with op.batch_alter_table("process_gaps", schema=None) as batch_op:
        batch_op.drop_column("last_nudged_at")

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("nudge_time")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by")

    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.drop_column("reminded_at")
        batch_op.drop_column("progress_note")

    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_column("reminded_at")

    op.drop_table("plan_checkins")
