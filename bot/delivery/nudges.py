"""The morning nudge, composed and queued: one message a rep a working day, under nudge:<person>:<date>."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.orm import Session

from bot.blocks.nudges import nudge_block_dicts, nudge_text
from bot.coaching.nudges import MorningNudge, mark_nudged, morning_nudges
from bot.coaching.playbook import Playbook
from bot.coaching.policy import local_day
from bot.delivery.budget import spend_many
from bot.messaging.outbox import Message, enqueue_many
from bot.models import Person


def queue_morning_nudge(
    session: Session, person: Person, playbook: Playbook, now: dt.datetime, default_timezone: str, *,
    home_url: str | None = None,
) -> bool:  # fmt: skip
    """Queue today's nudge for `person` if there is anything worth saying; True if queued.

    The gaps it carries are marked nudged in the same transaction, and only when it was queued
    now: a nudge queued earlier today (by hand, or by another process) marks nothing again.
    """
    return queue_morning_nudges(session, [person], playbook, now, default_timezone, home_url=home_url) == 1


def queue_morning_nudges(
    session: Session, people: Sequence[Person], playbook: Playbook, now: dt.datetime, default_timezone: str, *,
    home_url: str | None = None,
) -> int:  # fmt: skip
    """`queue_morning_nudge` for each of `people`, read, queued and marked together; how many were queued.

    `home_url` links "…and N more" to the App Home (bot.blocks.nudges.app_home_url).
    """
    decided = morning_nudges(session, people, playbook, now, default_timezone)
    messages = []
    for person, nudge in decided:
        assert person.slack_user_id is not None  # morning_nudges decides nothing for someone not in Slack
        messages.append(
            Message(key=nudge.key, recipient=person.slack_user_id, kind=nudge.kind, text=nudge_text(nudge.name, nudge.items, nudge.total, home_url),
                    blocks=nudge_block_dicts(nudge.name, nudge.items, nudge.total, home_url))
        )  # fmt: skip
    queued = enqueue_many(session, messages, now=now)
    carried: list[MorningNudge] = [nudge for _, nudge in decided if nudge.key in queued]
    mark_nudged(session, carried, now)
    # The nudge is the day's one message: it spends a unit of the budget even when escalations
    # or proposals (which may go over it) spent them all.
    spend_many(
        session, [(person, local_day(person, now, default_timezone), nudge.key) for person, nudge in decided if nudge.key in queued],
        kind="nudge", now=now,
    )  # fmt: skip
    return len(carried)
