"""The outbox: a decision queues one message under its key, however often it is made."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.database import session_scope
from bot.messaging.outbox import enqueue
from bot.messaging.sender import PostLimiter, drain, sender_client
from bot.models import OutboxMessage
from bot.settings import Settings

RILEY = "U0RILEY"
NUDGE_BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Acme renewal* has no next step."}}]


def queue_twice(session_factory, now) -> list[bool]:  # type: ignore[no-untyped-def]
    queued = []
    for attempt in range(2):
        with session_scope(session_factory) as session:
            queued.append(
                enqueue(session, key="nudge:U0RILEY:2026-11-25", recipient=RILEY, kind="nudge",
                        text=f"Acme renewal has no next step ({attempt})", blocks=NUDGE_BLOCKS, now=now)
            )  # fmt: skip
    return queued


def test_enqueuing_the_same_key_twice_queues_one_message(session_factory, slack, now) -> None:  # type: ignore[no-untyped-def]
    queue_twice(session_factory, now)

    with session_factory() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    assert [(row.dedupe_key, row.status, row.attempts, row.next_attempt_at) for row in rows] == [
        ("nudge:U0RILEY:2026-11-25", "pending", 0, now)
    ]
    assert rows[0].payload == {"text": "Acme renewal has no next step (0)", "blocks": NUDGE_BLOCKS}

    client = sender_client(Settings(slack_bot_token="xoxb-test", slack_api_url=slack.api_url))
    drain(session_factory, client, lambda: now, instance="test", limiter=PostLimiter())
    assert [(m.channel, m.text) for m in slack.messages] == [(RILEY, "Acme renewal has no next step (0)")]


def test_enqueue_says_whether_it_queued(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    assert queue_twice(session_factory, now) == [True, False]


def test_a_message_decided_in_a_rolled_back_transaction_is_never_queued(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    try:
        with session_scope(session_factory) as session:
            enqueue(session, key="digest:U0MIA:2026-W48", recipient="U0MIA", kind="digest", text="Team digest", now=now)
            raise RuntimeError("the decision failed after queuing")
    except RuntimeError:
        pass

    with session_factory() as session:
        assert session.scalars(select(OutboxMessage)).all() == []


def test_extra_fields_travel_in_the_payload(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    chart = {"filename": "pace.png", "title": "Team pace", "png_base64": "iVBORw0KGgo="}
    with session_scope(session_factory) as session:
        enqueue(session, key="digest:U0MIA:2026-W48", recipient="U0MIA", kind="digest", text="Team digest",
                now=now + dt.timedelta(hours=1), extra={"chart": chart})  # fmt: skip

    with session_factory() as session:
        row = session.scalars(select(OutboxMessage)).one()
    assert row.payload == {"text": "Team digest", "blocks": [], "chart": chart}
    assert row.next_attempt_at == now + dt.timedelta(hours=1)
