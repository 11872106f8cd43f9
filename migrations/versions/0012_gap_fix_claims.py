"""process_gaps: when a rep said "I fixed it", so the next sync rechecks the deal and tells them once

Revision ID: 0012_gap_fix_claims
Revises: 0011_dm_budget
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_gap_fix_claims"
down_revision = "0011_dm_budget"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_gaps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fix_claimed_at", sa.DateTime(timezone=True), nullable=True))
    # Claims are few and settled after the next sync: a partial index holds just the pending ones.
    op.create_index(
        "ix_process_gaps_fix_claimed_at", "process_gaps", ["fix_claimed_at"],
        sqlite_where=sa.text("fix_claimed_at IS NOT NULL"), postgresql_where=sa.text("fix_claimed_at IS NOT NULL"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_process_gaps_fix_claimed_at", table_name="process_gaps")
    with op.batch_alter_table("process_gaps", schema=None) as batch_op:
        batch_op.drop_column("fix_claimed_at")
