"""The weekly discipline leaderboard, composed and queued under leaderboard:<manager>:<monday>.

Where the team's playbook says: in its channel (`where: channel`: the outbox posts to the channel
id, which needs coachbot to be a member of the channel), or to the manager as a message of its own
right after their weekly digest (`where: digest`). A post Slack refuses is parked by the sender
with Slack's reason; `channel_problems` turns the latest such reason per channel into what to fix,
for `coachbot jobs run leaderboard` and `coachbot doctor`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.coaching.leaderboard import LeaderboardNotice, leaderboard_notice, team_leaderboard
from bot.coaching.playbook import Playbook
from bot.delivery.messages import queue
from bot.models import OutboxMessage, Person

# chat.postMessage's channel errors (docs.slack.dev/reference/methods/chat.postMessage) and what to do.
CHANNEL_FIXES = {
    "not_in_channel": "coachbot is not a member of {channel}: invite it there (type /invite @coachbot in the channel)",
    "channel_not_found": (
        "Slack knows no channel {channel} that coachbot can see: check the id in the playbook's leaderboard "
        "(a private channel must invite coachbot first)"
    ),
    "is_archived": "channel {channel} is archived: unarchive it or name another channel in the playbook's leaderboard",
}


def queue_leaderboard(
    session: Session, manager: Person, playbook: Playbook, now: dt.datetime, *, default_timezone: str,
    default_currency: str, fiscal_year_start_month: int = 1,
) -> bool:  # fmt: skip
    """Queue this week's board of `manager`'s team where its playbook says; True if queued now
    (False: the team has not opted in, has no reps, or this week's board was queued before)."""
    notice = leaderboard_for(
        session, manager, playbook, now, default_timezone=default_timezone, default_currency=default_currency,
        fiscal_year_start_month=fiscal_year_start_month,
    )  # fmt: skip
    if notice is None:
        return False
    settings = playbook.leaderboard_for(manager.email)
    recipient = settings.channel if settings.where == "channel" else manager.slack_user_id
    if recipient is None:
        return False
    return queue(session, recipient, notice, now)


def leaderboard_for(
    session: Session,
    manager: Person,
    playbook: Playbook,
    now: dt.datetime,
    *,
    default_timezone: str,
    default_currency: str,
    fiscal_year_start_month: int = 1,
) -> LeaderboardNotice | None:
    """This week's board of `manager`'s team as a notice, or None when the team has none.

    The hook for a digest that wants to carry the board itself: compose it with
    bot.blocks.leaderboard.leaderboard_message(notice.board).
    """
    board = team_leaderboard(
        session, manager, playbook, now, default_timezone=default_timezone, default_currency=default_currency,
        fiscal_year_start_month=fiscal_year_start_month,
    )  # fmt: skip
    return None if board is None else leaderboard_notice(board, manager)


def channel_problems(session: Session) -> list[str]:
    """Per channel whose latest leaderboard post Slack refused: what went wrong and what to fix."""
    latest = (
        select(func.max(OutboxMessage.id))
        .where(OutboxMessage.kind == LeaderboardNotice.kind, ~OutboxMessage.recipient.startswith("U"),
               ~OutboxMessage.recipient.startswith("W"))
        .group_by(OutboxMessage.recipient)
    )  # fmt: skip
    refused = session.execute(
        select(OutboxMessage.recipient, OutboxMessage.last_error)
        .where(OutboxMessage.id.in_(latest), OutboxMessage.status == "parked")
        .order_by(OutboxMessage.recipient)
    )
    problems = []
    for channel, error in refused:
        reason = (error or "no reason stored").strip()
        fix = CHANNEL_FIXES.get(reason)
        problems.append(
            f"leaderboard not posted in {channel} ({reason}): {fix.format(channel=channel)}" if fix
            else f"leaderboard not posted in {channel}: {reason}"
        )  # fmt: skip
    return problems
