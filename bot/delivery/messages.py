"""Notices to outbox rows: each kind of notice has one message builder in bot/blocks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.orm import Session

from bot.blocks import to_dicts
from bot.blocks.agenda import one_on_one_copy_message
from bot.blocks.coach import goal_set_message
from bot.blocks.coaching import (
    Message,
    action_assigned_message,
    action_done_message,
    action_reminder_message,
    checkin_answer_message,
    checkin_message,
    escalation_message,
    goal_closed_message,
    goal_reminder_message,
    plan_closed_message,
    plan_opened_message,
    plan_proposal_message,
)
from bot.blocks.leaderboard import leaderboard_message
from bot.coaching import notices
from bot.coaching.agenda import OneOnOneCopy
from bot.coaching.leaderboard import LeaderboardNotice
from bot.coaching.notices import Addressed, Notice
from bot.coaching.playbook import Playbook
from bot.coaching.policy import window_opens
from bot.messaging.outbox import enqueue

# A builder takes the notice's content (every field but its key) as keyword arguments.
BUILDERS: dict[type[Notice], Callable[..., Message]] = {
    notices.ActionAssigned: action_assigned_message,
    notices.ActionDone: action_done_message,
    notices.ActionEscalated: escalation_message,
    notices.ActionReminder: action_reminder_message,
    notices.GoalSet: goal_set_message,
    notices.GoalReminder: goal_reminder_message,
    notices.GoalClosed: goal_closed_message,
    notices.PlanProposal: plan_proposal_message,
    notices.PlanOpened: plan_opened_message,
    notices.PlanCheckinAsked: checkin_message,
    notices.CheckinAnswered: checkin_answer_message,
    notices.PlanClosed: plan_closed_message,
    OneOnOneCopy: one_on_one_copy_message,
    LeaderboardNotice: leaderboard_message,
}


def compose(notice: Notice) -> Message:
    """The blocks and fallback text of a notice."""
    return BUILDERS[type(notice)](**notice.content())


def queue(
    session: Session, recipient: str, notice: Notice, now: dt.datetime, *, not_before: dt.datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:  # fmt: skip
    """Queue one composed notice under its key; False when that key was queued before."""
    message = compose(notice)
    return enqueue(
        session, key=notice.key, recipient=recipient, kind=notice.kind, text=message.text, blocks=to_dicts(message.blocks),
        now=now, extra=extra, not_before=not_before,
    )  # fmt: skip


def deliver(
    session: Session, addressed: Iterable[Addressed], now: dt.datetime, *, playbook: Playbook, default_timezone: str
) -> int:
    """Queue every addressed notice in the caller's transaction, each held back until its
    recipient's window opens (bot/coaching/policy.py); the number newly queued."""
    return sum(
        queue(session, item.recipient, item.notice, now, not_before=window_opens(item.person, playbook, now, default_timezone))
        for item in addressed
    )
