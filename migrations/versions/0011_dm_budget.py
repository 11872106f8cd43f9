"""the daily DM budget: a unit spent per counted message, and reminders folded into the next nudge

Revision ID: 0011_dm_budget
Revises: 0010_goal_progress
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_dm_budget"
down_revision = "0010_goal_progress"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dm_budget",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("spent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_dm_budget_person_id_people"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dm_budget")),
        sa.UniqueConstraint("person_id", "local_day", "unit", name=op.f("uq_dm_budget_person_id_local_day_unit")),
    )
    op.create_table(
        "folded_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("item_kind", sa.String(length=16), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("folded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("carried_by", sa.String(length=200), nullable=True),
        sa.Column("carried_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_folded_items_person_id_people"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_folded_items")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_folded_items_dedupe_key")),
    )
    op.create_index("ix_folded_items_person_carried", "folded_items", ["person_id", "carried_at"])


def downgrade() -> None:
    op.drop_index("ix_folded_items_person_carried", table_name="folded_items")
    op.drop_table("folded_items")
    op.drop_table("dm_budget")
