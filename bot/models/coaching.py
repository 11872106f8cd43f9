"""Coaching records: process gaps on deals, development goals, actions, recovery plans."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, String, Text, UniqueConstraint, column, text
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base, utcnow


class ProcessGap(Base):
    """A playbook rule firing on a deal, from when it opened until it was resolved."""

    __tablename__ = "process_gaps"
    __table_args__ = (
        Index("ix_process_gaps_deal_rule_open", "deal_id", "rule", "resolved_at"),
        # One open gap per deal and rule, whatever two scans racing on SQLite (no advisory lock) do.
        Index("uq_process_gaps_open_deal_rule", "deal_id", "rule", unique=True,
              sqlite_where=text("resolved_at IS NULL"), postgresql_where=text("resolved_at IS NULL")),
        # The gap scan's "whose day count moves on by now" (changes_at); snoozes are rare, so the
        # summary's count of snoozed gaps reads a handful of entries.
        Index("ix_process_gaps_open_changes_at", "changes_at",
              sqlite_where=text("resolved_at IS NULL AND changes_at IS NOT NULL"),
              postgresql_where=text("resolved_at IS NULL AND changes_at IS NOT NULL")),
        Index("ix_process_gaps_open_snoozed_until", "snoozed_until",
              sqlite_where=text("resolved_at IS NULL AND snoozed_until IS NOT NULL"),
              postgresql_where=text("resolved_at IS NULL AND snoozed_until IS NOT NULL")),
        # The digest's "fixed this week" on deals that left the pipeline. Partial: a gap enters it
        # when resolved, so the gap scan's inserts of new gaps do not pay for it.
        Index(
            "ix_process_gaps_resolved_at", "resolved_at",
            sqlite_where=column("resolved_at").is_not(None), postgresql_where=column("resolved_at").is_not(None),
        ),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None]
    snoozed_until: Mapped[dt.date | None] = mapped_column(Date)
    snooze_reason: Mapped[str | None] = mapped_column(Text)
    # When a nudge last carried this gap, so the same item is not repeated every morning.
    last_nudged_at: Mapped[dt.datetime | None]
    # When passing time alone next changes the detail ("40 days in Demo" becoming "41 days");
    # None when only the deal's own data can. The gap scan re-judges the deal then.
    changes_at: Mapped[dt.datetime | None]


class GapScanState(Base):
    """What the last complete gap scan judged against, so the next one judges only what changed since.

    One row (id 1). See bot/coaching/rescan.py for how each column is read.
    """

    __tablename__ = "gap_scan_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The rule-bearing parts of the playbook (stages, fields, rules, team overrides): a change means a full scan.
    playbook_fingerprint: Mapped[str] = mapped_column(String(64))
    # The `now` the deals were judged as of.
    scanned_at: Mapped[dt.datetime]
    # deals.change_seq as of the scan's start: SQLite, the largest value; PostgreSQL, one past the
    # highest finished transaction id, with the lower ones still running in `changes_in_flight`.
    change_mark: Mapped[int] = mapped_column(BigInteger)
    changes_in_flight: Mapped[list[int]] = mapped_column(JSON)
    # person id (or "" for deals without an owner) -> email, time zone and team playbook judged with.
    owners: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Open gaps after the scan: a different count next time means rows changed outside the scan.
    open_gaps: Mapped[int]
    # Open deals after the scan: how many deals the next one may look up one by one.
    open_deals: Mapped[int]
    full_scan_at: Mapped[dt.datetime]


class Goal(Base):
    """A development goal a coach or manager set for a rep."""

    __tablename__ = "goals"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    competency: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    # A measure computed from CRM data (e.g. "next_step_coverage"), with its target.
    measure: Mapped[str | None] = mapped_column(String(64))
    target: Mapped[float | None]
    # What the measure is measured on, where it takes something: a product line, a number of days.
    measure_arg: Mapped[str | None] = mapped_column(String(100))
    # 0..1, from the measure or from the rep's own update.
    progress: Mapped[float] = mapped_column(default=0.0)
    # The rep's own words on their progress, for goals without a CRM measure.
    progress_note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    reminded_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]


class RecoveryPlan(Base):
    """A structured plan for a rep whose projection fell behind."""

    __tablename__ = "recovery_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    gap_amount: Mapped[Decimal]
    pipeline_to_add: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    checkin_every_days: Mapped[int] = mapped_column(default=7)
    # proposed -> open -> recovered | missed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    outcome: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]
    next_checkin_at: Mapped[dt.datetime | None]


class PlanCheckin(Base):
    """One check-in of a recovery plan: asked of the rep, answered on track / at risk / need help."""

    __tablename__ = "plan_checkins"
    __table_args__ = (UniqueConstraint("plan_id", "asked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("recovery_plans.id", ondelete="CASCADE"))
    asked_at: Mapped[dt.datetime]
    # on_track | at_risk | need_help; None until the rep answers
    answer: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[dt.datetime | None]
    note: Mapped[str | None] = mapped_column(Text)


class Action(Base):
    """A task a coach or manager assigned to a rep, optionally tied to a deal, goal or plan."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    goal_id: Mapped[int | None] = mapped_column(ForeignKey("goals.id", ondelete="SET NULL"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("recovery_plans.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_at: Mapped[dt.datetime | None]
    reminded_at: Mapped[dt.datetime | None]
    escalated_at: Mapped[dt.datetime | None]


class OneOnOne(Base):
    """A one-on-one a manager or coach marked held with a rep; the next 1:1 agenda starts from it."""

    __tablename__ = "one_on_ones"
    # One a day for a pair: a second "Mark held" the same day changes nothing.
    __table_args__ = (UniqueConstraint("coach_id", "rep_id", "held_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    rep_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    held_at: Mapped[dt.datetime]
    # held_at on the rep's calendar: the day the next agenda's "since" starts from.
    held_on: Mapped[dt.date] = mapped_column(Date)


class GoalProgress(Base):
    """A goal's progress from a moment on: recorded when a goal is set and whenever its progress moves.

    The weekly leaderboard's "goals moved" is the change between the marks in force at the two ends of its week.
    """

    __tablename__ = "goal_progress"
    __table_args__ = (Index("ix_goal_progress_goal_recorded_at", "goal_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    recorded_at: Mapped[dt.datetime]
    progress: Mapped[float]
