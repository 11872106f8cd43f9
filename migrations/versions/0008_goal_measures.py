"""goals: what a measure is measured on (a product line, a number of days)

Revision ID: 0008_goal_measures
Revises: 0007_preferences
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_goal_measures"
down_revision = "0007_preferences"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("measure_arg", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.drop_column("measure_arg")
