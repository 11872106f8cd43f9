"""When Slack's answer to a post is lost, the outbox looks in the conversation before posting again.

The stand-in Slack accepts the post (it lands in the DM's history, with its metadata) and then
drops the connection or answers too late; the sender must find it and never post it twice.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.messaging.history import METADATA_EVENT_TYPE
from bot.messaging.sender import MAX_ATTEMPTS, drain, sender_client
from bot.models import OutboxMessage
from bot.slack_client import make_web_client
from tests.messaging.test_sender import MIA, RILEY, fast_limiter, queue, rows, settings_for

LATER = dt.timedelta(seconds=10)  # the first backoff


@pytest.fixture(autouse=True)
def slack_keeps_our_time(slack, now):  # type: ignore[no-untyped-def]
    slack.clock = lambda: now.timestamp()


@pytest.fixture
def client(slack):  # type: ignore[no-untyped-def]
    return sender_client(settings_for(slack))


def run(session_factory, client, now: dt.datetime):  # type: ignore[no-untyped-def]
    return drain(session_factory, client, lambda: now, instance="test", limiter=fast_limiter())


def test_every_post_carries_metadata_naming_its_outbox_key(session_factory, client, slack, now) -> None:  # type: ignore[no-untyped-def]
    queue(session_factory, "nudge:U0RILEY:2026-11-25", RILEY, now, text="Acme renewal has no next step")
    with session_factory() as session:
        outbox_id = session.scalars(select(OutboxMessage.id)).one()

    run(session_factory, client, now)

    [post] = slack.calls_to("chat.postMessage")
    assert post.body["metadata"] == {
        "event_type": "coachbot_outbox",
        "event_payload": {"outbox_key": "nudge:U0RILEY:2026-11-25", "outbox_id": outbox_id},
    }
    [stored] = slack.history_of("D0RILEY")
    assert stored["metadata"] == post.body["metadata"]
    assert METADATA_EVENT_TYPE.replace("_", "").isalnum()  # Slack ignores an event_type with other characters


def test_a_post_slack_kept_before_the_connection_dropped_is_found_and_not_posted_again(  # type: ignore[no-untyped-def]
    session_factory, client, slack, now
) -> None:
    slack.fail("chat.postMessage", accept=True, drop=True, times=1)
    queue(session_factory, "nudge:1", RILEY, now, text="Acme renewal has no next step")

    first = run(session_factory, client, now)
    row = rows(session_factory)["nudge:1"]
    assert (first.sent, first.retried) == (0, 1)
    assert (row.status, row.attempts, row.unconfirmed_since, row.slack_ts) == ("pending", 1, now, None)
    assert row.last_error == (
        "RemoteDisconnected: Remote end closed connection without response (Slack may have it: its history is checked first)"
    )

    second = run(session_factory, client, now + LATER)

    assert (second.sent, second.confirmed) == (1, 1)
    assert [call.method for call in slack.calls] == ["chat.postMessage", "conversations.open", "conversations.history"]
    assert slack.calls_to("conversations.open")[0].body["users"] == RILEY
    history = slack.calls_to("conversations.history")[0].body
    assert (history["channel"], history["include_all_metadata"], history["limit"]) == ("D0RILEY", "1", "200")
    [message] = slack.messages
    row = rows(session_factory)["nudge:1"]
    assert (row.status, row.slack_ts, row.sent_at, row.attempts, row.unconfirmed_since, row.last_error) == (
        "sent", message.ts, now + LATER, 2, None, None,
    )  # fmt: skip


def test_a_post_answered_too_late_is_found_and_not_posted_again(session_factory, slack, now) -> None:  # type: ignore[no-untyped-def]
    impatient = sender_client(settings_for(slack), timeout=1)
    impatient.timeout = 0.2  # type: ignore[assignment]
    slack.fail("chat.postMessage", accept=True, delay=0.6, times=1)
    queue(session_factory, "nudge:1", RILEY, now)

    first = run(session_factory, impatient, now)
    assert "timed out" in (rows(session_factory)["nudge:1"].last_error or "")
    second = run(session_factory, impatient, now + LATER)

    assert (first.retried, second.sent, second.confirmed) == (1, 1, 1)
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert rows(session_factory)["nudge:1"].slack_ts == slack.messages[0].ts


def test_a_lost_answer_for_a_post_slack_never_got_is_posted_once(session_factory, client, slack, now) -> None:  # type: ignore[no-untyped-def]
    slack.fail("chat.postMessage", "internal_error", status=502, times=1)  # a proxy's 502: no verdict from Slack
    queue(session_factory, "nudge:1", RILEY, now, text="for Riley")
    queue(session_factory, "nudge:2", MIA, now, text="for Mia, posted meanwhile")

    run(session_factory, client, now)
    second = run(session_factory, client, now + LATER)

    assert (second.sent, second.confirmed) == (1, 0)
    assert sorted((m.channel, m.text) for m in slack.messages) == [(MIA, "for Mia, posted meanwhile"), (RILEY, "for Riley")]
    assert len(slack.calls_to("chat.postMessage")) == 3


def test_the_history_is_read_page_by_page_until_the_message_is_found(session_factory, client, slack, now) -> None:  # type: ignore[no-untyped-def]
    slack.fail("chat.postMessage", accept=True, drop=True, times=1)
    queue(session_factory, "nudge:1", RILEY, now)
    run(session_factory, client, now)
    # 250 more messages land in Riley's DM after the lost one (newest first: it is on page two).
    other = make_web_client(settings_for(slack))
    for number in range(250):
        other.chat_postMessage(channel=RILEY, text=f"other {number}")

    second = run(session_factory, client, now + LATER)

    assert second.confirmed == 1
    pages = slack.calls_to("conversations.history")
    assert [("cursor" in page.body) for page in pages] == [False, True]
    assert len(slack.calls_to("chat.postMessage")) == 251


def test_a_dm_whose_history_cannot_be_read_is_parked_as_uncertain_saying_what_to_fix(  # type: ignore[no-untyped-def]
    session_factory, client, slack, now
) -> None:
    slack.scopes = "commands,chat:write,files:write,users:read,users:read.email,im:write"  # no im:history
    slack.fail("chat.postMessage", accept=True, drop=True, times=1)
    queue(session_factory, "nudge:1", RILEY, now)

    run(session_factory, client, now)
    second = run(session_factory, client, now + LATER)

    row = rows(session_factory)["nudge:1"]
    assert (second.uncertain, second.parked, second.sent) == (1, 0, 0)
    assert (row.status, row.unconfirmed_since) == ("parked", now)
    assert row.last_error == (
        "uncertain: the attempt at 2026-11-25 15:00 UTC may have posted it, and coachbot could not read the history "
        "of D0RILEY (missing_scope, needs im:history)"
    )
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_a_failed_history_read_is_tried_again_later_without_posting(session_factory, client, slack, now) -> None:  # type: ignore[no-untyped-def]
    slack.fail("chat.postMessage", accept=True, drop=True, times=1)
    slack.fail("conversations.history", "internal_error", status=500, times=1)
    queue(session_factory, "nudge:1", RILEY, now)

    run(session_factory, client, now)
    second = run(session_factory, client, now + LATER)
    row = rows(session_factory)["nudge:1"]
    assert (second.retried, row.status, row.unconfirmed_since, row.last_error) == (
        1,
        "pending",
        now,
        "history: HTTP 500: internal_error",
    )
    third = run(session_factory, client, now + LATER + dt.timedelta(seconds=20))

    assert (third.sent, third.confirmed) == (1, 1)
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_a_message_never_answered_is_parked_as_uncertain_after_its_last_attempt(  # type: ignore[no-untyped-def]
    session_factory, slack, now
) -> None:
    impatient = sender_client(settings_for(slack), timeout=1)
    impatient.timeout = 0.2  # type: ignore[assignment]
    slack.fail("chat.postMessage", delay=0.5)  # never posted, never answered in time
    queue(session_factory, "nudge:1", RILEY, now)

    moment = now
    for _ in range(MAX_ATTEMPTS):
        run(session_factory, impatient, moment)
        moment += dt.timedelta(minutes=11)

    row = rows(session_factory)["nudge:1"]
    assert (row.status, row.attempts) == ("parked", MAX_ATTEMPTS)
    assert row.last_error is not None and row.last_error.startswith(
        f"uncertain: gave up after {MAX_ATTEMPTS} attempts: TimeoutError"
    )
    assert row.unconfirmed_since is not None  # a retry looks in the history before it posts
    assert len(slack.calls_to("chat.postMessage")) == MAX_ATTEMPTS
    assert slack.messages == []
