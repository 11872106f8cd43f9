"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crm_sync_state",
        sa.Column("connection", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.String(length=200), nullable=True),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_summary", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("connection", name=op.f("pk_crm_sync_state")),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("job", "scheduled_for", name=op.f("uq_job_runs_job_scheduled_for")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("slack_ts", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_status_next_attempt", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("is_rep", sa.Boolean(), nullable=False),
        sa.Column("is_manager", sa.Boolean(), nullable=False),
        sa.Column("is_coach", sa.Boolean(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=True),
        sa.Column("crm_owner_id", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["manager_id"], ["people.id"], name=op.f("fk_people_manager_id_people"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("email", name=op.f("uq_people_email")),
        sa.UniqueConstraint("slack_user_id", name=op.f("uq_people_slack_user_id")),
    )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_people_crm_owner_id"), ["crm_owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_people_manager_id"), ["manager_id"], unique=False)

    op.create_table(
        "product_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_lines")),
        sa.UniqueConstraint("name", name=op.f("uq_product_lines_name")),
    )
    op.create_table(
        "coach_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coach_id", sa.Integer(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["coach_id"], ["people.id"], name=op.f("fk_coach_assignments_coach_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["rep_id"], ["people.id"], name=op.f("fk_coach_assignments_rep_id_people"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coach_assignments")),
        sa.UniqueConstraint("coach_id", "rep_id", name=op.f("uq_coach_assignments_coach_id_rep_id")),
    )
    with op.batch_alter_table("coach_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_coach_assignments_rep_id"), ["rep_id"], unique=False)

    op.create_table(
        "deals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crm_source", sa.String(length=32), nullable=False),
        sa.Column("crm_id", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("crm_owner_key", sa.String(length=320), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("account_name", sa.String(length=300), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("stage", sa.String(length=100), nullable=False),
        sa.Column("crm_probability", sa.Double(), nullable=True),
        sa.Column("is_closed", sa.Boolean(), nullable=False),
        sa.Column("is_won", sa.Boolean(), nullable=False),
        sa.Column("stage_entered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_date", sa.Date(), nullable=True),
        sa.Column("next_step", sa.Text(), nullable=True),
        sa.Column("next_step_date", sa.Date(), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("product_name", sa.String(length=200), nullable=True),
        sa.Column("product_line", sa.String(length=100), nullable=True),
        sa.Column("crm_url", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("crm_modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["people.id"], name=op.f("fk_deals_owner_id_people"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deals")),
        sa.UniqueConstraint("crm_source", "crm_id", name=op.f("uq_deals_crm_source_crm_id")),
    )
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.create_index("ix_deals_owner_closed_close_date", ["owner_id", "is_closed", "close_date"], unique=False)

    op.create_table(
        "goals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("competency", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("measure", sa.String(length=64), nullable=True),
        sa.Column("target", sa.Double(), nullable=True),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_goals_person_id_people"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["set_by_id"], ["people.id"], name=op.f("fk_goals_set_by_id_people"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goals")),
    )
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_goals_person_id"), ["person_id"], unique=False)

    op.create_table(
        "quotas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.CheckConstraint("period_end > period_start", name=op.f("ck_quotas_period_not_empty")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_quotas_person_id_people"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotas")),
        sa.UniqueConstraint("person_id", "period_start", "period_end", name=op.f("uq_quotas_person_id_period_start_period_end")),
    )
    op.create_table(
        "recovery_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("gap_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("pipeline_to_add", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("checkin_every_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["manager_id"], ["people.id"], name=op.f("fk_recovery_plans_manager_id_people"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_recovery_plans_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_plans")),
    )
    with op.batch_alter_table("recovery_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_plans_person_id"), ["person_id"], unique=False)

    op.create_table(
        "actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("goal_id", sa.Integer(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assigned_by_id"], ["people.id"], name=op.f("fk_actions_assigned_by_id_people"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], name=op.f("fk_actions_deal_id_deals"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["goal_id"], ["goals.id"], name=op.f("fk_actions_goal_id_goals"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_actions_person_id_people"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["recovery_plans.id"], name=op.f("fk_actions_plan_id_recovery_plans"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actions")),
    )
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_actions_person_id"), ["person_id"], unique=False)

    op.create_table(
        "deal_stage_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=100), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], name=op.f("fk_deal_stage_history_deal_id_deals"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_stage_history")),
        sa.UniqueConstraint("deal_id", "entered_at", "stage", name=op.f("uq_deal_stage_history_deal_id_entered_at_stage")),
    )
    op.create_table(
        "process_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("snoozed_until", sa.Date(), nullable=True),
        sa.Column("snooze_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], name=op.f("fk_process_gaps_deal_id_deals"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_gaps")),
    )
    with op.batch_alter_table("process_gaps", schema=None) as batch_op:
        batch_op.create_index("ix_process_gaps_deal_rule_open", ["deal_id", "rule", "resolved_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("process_gaps", schema=None) as batch_op:
        batch_op.drop_index("ix_process_gaps_deal_rule_open")

    op.drop_table("process_gaps")
    op.drop_table("deal_stage_history")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_actions_person_id"))

    op.drop_table("actions")
    with op.batch_alter_table("recovery_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_plans_person_id"))

    op.drop_table("recovery_plans")
    op.drop_table("quotas")
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_goals_person_id"))

    op.drop_table("goals")
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index("ix_deals_owner_closed_close_date")

    op.drop_table("deals")
    with op.batch_alter_table("coach_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coach_assignments_rep_id"))

    op.drop_table("coach_assignments")
    op.drop_table("product_lines")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_people_manager_id"))
        batch_op.drop_index(batch_op.f("ix_people_crm_owner_id"))

    op.drop_table("people")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next_attempt")

    op.drop_table("outbox")
    op.drop_table("job_runs")
    op.drop_table("crm_sync_state")
