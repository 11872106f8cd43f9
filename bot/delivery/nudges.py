"""The morning nudge, composed and queued: one message a rep a working day, under nudge:<person>:<date>."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.blocks import to_dicts
from bot.blocks.nudges import nudge_blocks, nudge_text
from bot.coaching.nudges import mark_nudged, morning_nudge
from bot.coaching.playbook import Playbook
from bot.messaging.outbox import enqueue
from bot.models import Person


def queue_morning_nudge(session: Session, person: Person, playbook: Playbook, now: dt.datetime, default_timezone: str) -> bool:
    """Queue today's nudge for `person` if there is anything worth saying; True if queued.

    The gaps it carries are marked nudged in the same transaction, and only when it was queued
    now: a nudge queued earlier today (by hand, or by another process) marks nothing again.
    """
    nudge = morning_nudge(session, person, playbook, now, default_timezone)
    if nudge is None:
        return False
    assert person.slack_user_id is not None  # morning_nudge decides nothing for someone not in Slack
    queued = enqueue(
        session, key=nudge.key, recipient=person.slack_user_id, kind=nudge.kind, text=nudge_text(nudge.name, nudge.items, nudge.total),
        blocks=to_dicts(nudge_blocks(nudge.name, nudge.items, nudge.total)), now=now,
    )  # fmt: skip
    if queued:
        mark_nudged(session, nudge, now)
    return queued
