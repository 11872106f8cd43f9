"""incremental gap scan: deals.change_seq, process_gaps.changes_at, one open gap per deal and rule, the scan's state

Revision ID: 0005_incremental_gap_scan
Revises: 0004_outbox_unconfirmed
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_incremental_gap_scan"
down_revision = "0004_outbox_unconfirmed"
branch_labels = None
depends_on = None

_OPEN_DEAL = {
    "sqlite_where": sa.text("is_closed IS 0 AND deleted_at IS NULL"),
    "postgresql_where": sa.text("is_closed IS false AND deleted_at IS NULL"),
}
_OPEN_DEAL_INDEXES = {
    "ix_deals_open_close_date": ["close_date"],
    "ix_deals_open_next_step_date": ["next_step_date"],
    "ix_deals_open_stage_entered_at": ["stage_entered_at"],
    "ix_deals_open_last_activity_at": ["last_activity_at"],
    "ix_deals_open_owner_line": ["owner_id", "product_line"],
}


def _open_gap(extra: str = "") -> dict[str, sa.TextClause]:
    where = "resolved_at IS NULL" + extra
    return {"sqlite_where": sa.text(where), "postgresql_where": sa.text(where)}


def upgrade() -> None:
    op.create_table(
        "gap_scan_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("playbook_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("change_mark", sa.BigInteger(), nullable=False),
        sa.Column("changes_in_flight", sa.JSON(), nullable=False),
        sa.Column("owners", sa.JSON(), nullable=False),
        sa.Column("open_gaps", sa.Integer(), nullable=False),
        sa.Column("open_deals", sa.Integer(), nullable=False),
        sa.Column("full_scan_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gap_scan_state")),
    )
    with op.batch_alter_table("deals", schema=None) as batch_op:
        # Existing rows get 0: older than any mark, and the first scan after the upgrade is a full one.
        batch_op.add_column(sa.Column("change_seq", sa.BigInteger(), server_default="0", nullable=False))
    op.create_index("ix_deals_change_seq", "deals", ["change_seq"], unique=False)
    for name, columns in _OPEN_DEAL_INDEXES.items():
        op.create_index(name, "deals", columns, unique=False, **_OPEN_DEAL)
    with op.batch_alter_table("process_gaps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("changes_at", sa.DateTime(timezone=True), nullable=True))
    # Before the unique index: two open gaps for one deal and rule (a race of two SQLite scans)
    # keep the older, as the scan itself would.
    op.execute(
        "UPDATE process_gaps SET resolved_at = opened_at WHERE resolved_at IS NULL AND EXISTS ("
        "SELECT 1 FROM process_gaps AS older WHERE older.deal_id = process_gaps.deal_id"
        " AND older.rule = process_gaps.rule AND older.resolved_at IS NULL AND older.id < process_gaps.id)"
    )
    op.create_index("uq_process_gaps_open_deal_rule", "process_gaps", ["deal_id", "rule"], unique=True, **_open_gap())
    op.create_index("ix_process_gaps_open_changes_at", "process_gaps", ["changes_at"], unique=False,
                    **_open_gap(" AND changes_at IS NOT NULL"))  # fmt: skip
    op.create_index("ix_process_gaps_open_snoozed_until", "process_gaps", ["snoozed_until"], unique=False,
                    **_open_gap(" AND snoozed_until IS NOT NULL"))  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_process_gaps_open_snoozed_until", table_name="process_gaps")
    op.drop_index("ix_process_gaps_open_changes_at", table_name="process_gaps")
    op.drop_index("uq_process_gaps_open_deal_rule", table_name="process_gaps")
    with op.batch_alter_table("process_gaps", schema=None) as batch_op:
        batch_op.drop_column("changes_at")
    for name in reversed(list(_OPEN_DEAL_INDEXES)):
        op.drop_index(name, table_name="deals")
    op.drop_index("ix_deals_change_seq", table_name="deals")
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_column("change_seq")
    op.drop_table("gap_scan_state")
