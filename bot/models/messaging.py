"""Delivery bookkeeping: the outbox of Slack messages and the ledger of job runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
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


class DmBudgetUnit(Base):
    """One unit of a person's daily DM budget (`nudges.daily_budget`), spent by one counted message.

    Claimed first: unique on (person, their local day, unit), so two processes deciding a message
    for the same person at once cannot both spend the last unit (bot/delivery/budget.py).
    """

    __tablename__ = "dm_budget"
    __table_args__ = (UniqueConstraint("person_id", "local_day", "unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    # The day, where the person is, that the message reaches them (held back to it if need be).
    local_day: Mapped[dt.date] = mapped_column(Date)
    unit: Mapped[int]
    dedupe_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    spent_at: Mapped[dt.datetime]


class FoldedItem(Base):
    """A reminder that was not sent on its own (over the budget, or the day's nudge still to come):
    the next morning nudge carries it (bot/coaching/nudges.py) and marks it carried."""

    __tablename__ = "folded_items"
    __table_args__ = (Index("ix_folded_items_person_carried", "person_id", "carried_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    item_kind: Mapped[str] = mapped_column(String(16))  # "action" | "goal": a morning nudge item's kind
    ref_id: Mapped[int]
    # The reminder's own key (action_reminder:<id>): folded once, like it would have been queued once.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    folded_at: Mapped[dt.datetime]
    carried_by: Mapped[str | None] = mapped_column(String(200))  # the nudge's key
    carried_at: Mapped[dt.datetime | None]
