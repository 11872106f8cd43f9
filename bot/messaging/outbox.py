"""The outbox: a message is decided and queued in one transaction, under a unique key.

Callers build the message (text fallback and Block Kit blocks as dicts) inside the same session
that records the decision (a gap marked nudged, a plan check-in asked); `enqueue` adds the row
with INSERT … ON CONFLICT DO NOTHING on `dedupe_key`, so the same decision made twice (a
restart, a second instance) queues one message. The sender (bot/messaging/sender.py) delivers it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bot.database import insert_ignoring_conflicts
from bot.models import OutboxMessage


def enqueue(
    session: Session,
    *,
    key: str,
    recipient: str,
    kind: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    now: dt.datetime,
    extra: dict[str, Any] | None = None,
    not_before: dt.datetime | None = None,
) -> bool:
    """Queue one message; False when a message with this key was queued before.

    `recipient` is a Slack user or channel id; `kind` names the message family ("nudge",
    "digest", "plan_checkin", ...); `extra` carries anything the sender needs beyond
    chat.postMessage (e.g. {"chart": {...}} for a digest's image); `not_before` holds it back
    until then (the recipient's quiet hours, weekend or pause).
    """
    payload: dict[str, Any] = {"text": text, "blocks": blocks or []}
    if extra:
        payload.update(extra)
    inserted = session.execute(
        insert_ignoring_conflicts(session, OutboxMessage, ["dedupe_key"])
        .values(
            dedupe_key=key[:200],
            recipient=recipient,
            kind=kind,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=max(now, not_before) if not_before else now,
            created_at=now,
        )
        .returning(OutboxMessage.id)
    ).first()
    return inserted is not None


@dataclass(frozen=True)
class Message:
    """One message for `enqueue_many`: what `enqueue` takes, bar the time."""

    key: str
    recipient: str
    kind: str
    text: str
    blocks: list[dict[str, Any]]


def enqueue_many(session: Session, messages: Sequence[Message], *, now: dt.datetime) -> set[str]:
    """Queue many messages in one statement; the keys of those queued now (not queued before)."""
    if not messages:
        return set()
    rows = [
        {"dedupe_key": message.key[:200], "recipient": message.recipient, "kind": message.kind,
         "payload": {"text": message.text, "blocks": message.blocks}, "status": "pending", "attempts": 0,
         "next_attempt_at": now, "created_at": now}
        for message in messages
    ]  # fmt: skip
    # One INSERT … ON CONFLICT DO NOTHING over many rows (SQLAlchemy's insertmanyvalues): RETURNING
    # names just the rows that went in, which is how the caller learns which decisions are its own.
    statement = insert_ignoring_conflicts(session, OutboxMessage, ["dedupe_key"]).returning(OutboxMessage.dedupe_key)
    queued = set(session.scalars(statement, rows))
    truncated = {message.key[:200]: message.key for message in messages}
    return {truncated[key] for key in queued}
