"""team read model: partial indexes for the open pipeline and closed-won sums per owner, and for gaps by resolution time

Revision ID: 0006_team_read_indexes
Revises: 0005_incremental_gap_scan
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_team_read_indexes"
down_revision = "0005_incremental_gap_scan"
branch_labels = None
depends_on = None

# The same predicates as bot/models (rendered per dialect: `IS 0` on SQLite, `IS false` on PostgreSQL).
OPEN_LIVE = sa.and_(sa.column("is_closed").is_(False), sa.column("deleted_at").is_(None))
WON_LIVE = sa.and_(sa.column("is_won").is_(True), sa.column("deleted_at").is_(None))
RESOLVED = sa.column("resolved_at").is_not(None)


def upgrade() -> None:
    op.create_index(
        "ix_deals_open_by_owner",
        "deals",
        ["owner_id", "currency", "stage", "close_date", "amount", "id"],
        sqlite_where=OPEN_LIVE,
        postgresql_where=OPEN_LIVE,
    )
    op.create_index(
        "ix_deals_won_by_owner",
        "deals",
        ["owner_id", "is_closed", "close_date", "currency", "amount"],
        sqlite_where=WON_LIVE,
        postgresql_where=WON_LIVE,
    )
    op.create_index(
        "ix_process_gaps_resolved_at",
        "process_gaps",
        ["resolved_at"],
        sqlite_where=RESOLVED,
        postgresql_where=RESOLVED,
    )


def downgrade() -> None:
    op.drop_index("ix_process_gaps_resolved_at", table_name="process_gaps")
    op.drop_index("ix_deals_won_by_owner", table_name="deals")
    op.drop_index("ix_deals_open_by_owner", table_name="deals")
