"""Delivery bookkeeping: the outbox of Slack messages and the ledger of job runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base, utcnow


class OutboxMessage(Base):
    """A message decided on, written in the same transaction as the decision, sent once."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # e.g. "nudge:U123:2026-11-25": the same decision can never queue twice.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending -> sending -> sent | parked, and pending | parked -> dropped by an operator.
    # chat.postMessage has no idempotency key, so a send whose outcome is unknown (a timeout, a
    # dropped connection, a sender killed mid-send) is settled by finding the message in the
    # channel's history by its metadata before anything is posted again (bot/messaging/sender.py).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    # Set when an attempt that began at this time may have reached Slack without our hearing the
    # answer: the channel's history from then on is searched for the message before any resend.
    unconfirmed_since: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]


class JobRun(Base):
    """A scheduled job run, claimed by one process before it does any work."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "scheduled_for"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    scheduled_for: Mapped[dt.datetime]
    claimed_by: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    # running -> succeeded | failed
    status: Mapped[str] = mapped_column(String(16), default="running")
    error: Mapped[str | None] = mapped_column(Text)


class AuditEntry(Base):
    """Someone looked at another person's data, or changed something."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_subject_at", "subject_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    # e.g. "view_scorecard", "view_team", "assign_action", "set_goal", "open_plan", "set_role"
    action: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
