"""people: each person's own controls: a pause until a date, and the weekly digest on or off

Revision ID: 0007_preferences
Revises: 0006_team_read_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_preferences"
down_revision = "0006_team_read_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_until", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("digest_enabled", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("digest_enabled")
        batch_op.drop_column("paused_until")
