"""Notices to outbox rows: each kind of notice has one message builder in bot/blocks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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
from bot.blocks.gap_actions import gap_still_open_message
from bot.blocks.leaderboard import leaderboard_message
from bot.coaching import notices
from bot.coaching.agenda import OneOnOneCopy
from bot.coaching.leaderboard import LeaderboardNotice
from bot.coaching.notices import Addressed, Notice
from bot.coaching.playbook import Playbook
from bot.coaching.policy import COUNTED_KINDS, FOLDED_KINDS, local_day, window_opens
from bot.delivery import budget
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
    notices.GapStillOpen: gap_still_open_message,
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


@dataclass
class Delivered:
    """What `deliver` did with the notices: queued, or kept for the next morning nudge."""

    queued: int = 0
    folded: int = 0


def deliver(
    session: Session, addressed: Iterable[Addressed], now: dt.datetime, *, playbook: Playbook, default_timezone: str,
    force: bool = False,
) -> Delivered:  # fmt: skip
    """Queue every addressed notice in the caller's transaction through its recipient's delivery
    policy (bot/coaching/policy.py): held back until their window opens, a unit of their daily
    budget spent on a counted kind, and a reminder folded into their next morning nudge when the
    budget is spent or that nudge is still to come. `force` (a hand-run with --force): now,
    whatever the window, and nothing folded."""
    delivered = Delivered()
    for item in addressed:
        at = now if force else window_opens(item.person, playbook, now, default_timezone)
        kind = item.notice.kind
        if kind not in COUNTED_KINDS:
            delivered.queued += queue(session, item.recipient, item.notice, now, not_before=at)
            continue
        day = local_day(item.person, at, default_timezone)
        foldable = kind in FOLDED_KINDS and not force
        if foldable and budget.nudge_to_come(session, item.person, playbook, at, default_timezone):
            delivered.folded += budget.fold(session, item.person, item.notice, now)
            continue
        # Claim first: the unit, then the message; a reminder finding the budget spent folds.
        limit = playbook.nudges.daily_budget if foldable else None
        unit = budget.spend(session, item.person, day, key=item.notice.key, kind=kind, now=now, limit=limit)
        if unit is None:
            delivered.folded += budget.fold(session, item.person, item.notice, now)
        elif queue(session, item.recipient, item.notice, now, not_before=at):
            delivered.queued += 1
        else:
            budget.release(session, unit)
    return delivered
