"""The sender against the stand-in Slack: each message once, retried or parked as Slack answers."""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.database import exclusive, make_engine, make_session_factory, session_scope
from bot.messaging.outbox import enqueue
from bot.messaging.sender import MAX_ATTEMPTS, PostLimiter, backoff, drain, sender_client
from bot.models import OutboxMessage
from bot.settings import Settings
from bot.slack_client import make_web_client
from jobs import outbox_drain
from tests.conftest import empty_tables
from tests.support.slack_standin import SlackLimits

RILEY, MIA, OLLY = "U0RILEY", "U0MIA", "U0OLLY"  # a rep, their manager, an outsider who left
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Acme renewal* has no next step."}}]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def settings_for(slack) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(slack_bot_token="xoxb-test", slack_api_url=slack.api_url)


@pytest.fixture
def client(slack):  # type: ignore[no-untyped-def]
    return sender_client(settings_for(slack))


@pytest.fixture(autouse=True)
def slack_keeps_our_time(slack, now):  # type: ignore[no-untyped-def]
    """Slack stamps messages on its clock; the tests run the outbox at a fixed `now`."""
    slack.clock = lambda: now.timestamp()


def fast_limiter() -> PostLimiter:
    """Slack's limits scaled up, so tests spend no time waiting for their turn."""
    return PostLimiter(per_channel_per_second=200, global_per_minute=60_000)


def queue(session_factory, key: str, recipient: str, now: dt.datetime, **fields: Any) -> None:  # type: ignore[no-untyped-def]
    fields.setdefault("text", f"message {key}")
    fields.setdefault("kind", "nudge")
    with session_scope(session_factory) as session:
        enqueue(session, key=key, recipient=recipient, now=now, **fields)


def rows(session_factory) -> dict[str, OutboxMessage]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return {row.dedupe_key: row for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))}


def run(session_factory, client, now: dt.datetime, **options: Any):  # type: ignore[no-untyped-def]
    options.setdefault("limiter", fast_limiter())
    return drain(session_factory, client, lambda: now, instance="test", **options)


def test_each_due_message_is_sent_once_with_its_text_and_blocks(session_factory, client, slack, now) -> None:  # type: ignore[no-untyped-def]
    queue(session_factory, "nudge:1", RILEY, now, text="Acme renewal has no next step", blocks=BLOCKS)
    queue(session_factory, "nudge:2", RILEY, now, text="Globex expansion is past its close date")
    queue(session_factory, "checkin:1", MIA, now, kind="plan_checkin", text="How is Riley's plan going?")
    queue(session_factory, "later", MIA, now + dt.timedelta(minutes=1), text="not due yet")

    summary = run(session_factory, client, now)
    again = run(session_factory, client, now)

    posts = sorted(
        (call.body["channel"], call.body["text"], call.body.get("blocks")) for call in slack.calls_to("chat.postMessage")
    )
    assert posts == [
        (MIA, "How is Riley's plan going?", None),
        (RILEY, "Acme renewal has no next step", BLOCKS),
        (RILEY, "Globex expansion is past its close date", None),
    ]
    assert (summary.sent, summary.retried, summary.parked, summary.uncertain) == (3, 0, 0, 0)
    assert again.sent == 0
    stored = rows(session_factory)
    ts_by_text = {message.text: message.ts for message in slack.messages}
    for key in ("nudge:1", "nudge:2", "checkin:1"):
        row = stored[key]
        assert (row.status, row.attempts, row.sent_at, row.claimed_by, row.last_error) == ("sent", 1, now, "test", None)
        assert row.slack_ts == ts_by_text[row.payload["text"]]
    assert (stored["later"].status, stored["later"].attempts) == ("pending", 0)


def test_a_rate_limited_message_waits_for_retry_after_and_is_then_sent_once(session_factory, client, slack, now) -> None:  # type: ignore[no-untyped-def]
    slack.fail("chat.postMessage", "ratelimited", status=429, retry_after=30, times=1)
    queue(session_factory, "nudge:1", RILEY, now, text="Acme renewal has no next step")
    limiter = fast_limiter()

    first = run(session_factory, client, now, limiter=limiter)
    row = rows(session_factory)["nudge:1"]
    assert (first.sent, first.retried) == (0, 1)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, now + dt.timedelta(seconds=30))
    assert row.last_error == "ratelimited (Retry-After 30 s)"
    assert limiter.global_rate < limiter.max_global_rate  # slowed down
    assert limiter.channel_wait(RILEY) > 29

    early = run(session_factory, client, now + dt.timedelta(seconds=29))
    later = run(session_factory, client, now + dt.timedelta(seconds=30))

    assert (early.sent, later.sent) == (0, 1)
    assert len(slack.calls_to("chat.postMessage")) == 2
    assert [(m.channel, m.text) for m in slack.messages] == [(RILEY, "Acme renewal has no next step")]
    row = rows(session_factory)["nudge:1"]
    assert (row.status, row.attempts, row.sent_at) == ("sent", 2, now + dt.timedelta(seconds=30))


def test_a_server_error_is_retried_after_a_backoff_once_the_history_shows_it_was_not_posted(  # type: ignore[no-untyped-def]
    session_factory, client, slack, now
) -> None:
    slack.fail("chat.postMessage", "internal_error", status=500, times=1)
    queue(session_factory, "nudge:1", RILEY, now)

    first = run(session_factory, client, now)
    row = rows(session_factory)["nudge:1"]
    assert first.retried == 1
    assert (row.status, row.attempts, row.unconfirmed_since) == ("pending", 1, now)
    assert row.last_error == "HTTP 500: internal_error (Slack may have it: its history is checked first)"
    assert row.next_attempt_at == now + dt.timedelta(seconds=10)

    second = run(session_factory, client, now + dt.timedelta(seconds=10))
    assert second.sent == 1
    assert [call.method for call in slack.calls] == [
        "chat.postMessage",
        "conversations.open",
        "conversations.history",
        "chat.postMessage",
    ]
    assert len(slack.messages) == 1
    assert rows(session_factory)["nudge:1"].unconfirmed_since is None


def test_a_timeout_is_retried(session_factory, slack, now) -> None:  # type: ignore[no-untyped-def]
    impatient = sender_client(settings_for(slack), timeout=1)
    impatient.timeout = 0.2  # type: ignore[assignment]
    slack.fail("chat.postMessage", "internal_error", times=1, delay=0.6)
    queue(session_factory, "nudge:1", RILEY, now)

    first = run(session_factory, impatient, now)
    row = rows(session_factory)["nudge:1"]
    assert first.retried == 1
    assert (row.status, row.attempts) == ("pending", 1)
    assert "timed out" in (row.last_error or "")

    assert run(session_factory, impatient, now + dt.timedelta(seconds=10)).sent == 1
    assert len(slack.messages) == 1


def test_failures_back_off_until_the_message_is_parked_with_the_last_error(session_factory, client, slack, now) -> None:  # type: ignore[no-untyped-def]
    slack.fail("chat.postMessage", "service_unavailable", status=503)
    queue(session_factory, "nudge:1", RILEY, now)

    moment, waits = now, []
    for _ in range(MAX_ATTEMPTS):
        run(session_factory, client, moment)
        row = rows(session_factory)["nudge:1"]
        if row.status == "parked":
            break
        waits.append(row.next_attempt_at - moment)
        moment = row.next_attempt_at

    assert [wait.total_seconds() for wait in waits] == [10, 20, 40, 80, 160, 320, 600]
    assert (row.status, row.attempts) == ("parked", MAX_ATTEMPTS)
    assert row.last_error == f"gave up after {MAX_ATTEMPTS} attempts: HTTP 503: service_unavailable"
    assert len(slack.calls_to("chat.postMessage")) == MAX_ATTEMPTS
    run(session_factory, client, moment + dt.timedelta(days=1))
    assert len(slack.calls_to("chat.postMessage")) == MAX_ATTEMPTS


@pytest.mark.parametrize("error", ["channel_not_found", "is_archived", "not_in_channel", "msg_too_long", "invalid_blocks"])
def test_a_permanent_error_parks_the_message_with_the_reason_and_it_is_never_retried(  # type: ignore[no-untyped-def]
    session_factory, client, slack, now, error
) -> None:
    slack.fail("chat.postMessage", error, channel=OLLY)
    queue(session_factory, "nudge:olly", OLLY, now, text="for someone who left")
    queue(session_factory, "nudge:riley", RILEY, now, text="for Riley")

    summary = run(session_factory, client, now)
    run(session_factory, client, now + dt.timedelta(days=1))

    stored = rows(session_factory)
    assert (summary.sent, summary.parked) == (1, 1)
    assert (stored["nudge:olly"].status, stored["nudge:olly"].last_error, stored["nudge:olly"].attempts) == ("parked", error, 1)
    assert stored["nudge:riley"].status == "sent"
    assert [call.body["channel"] for call in slack.calls_to("chat.postMessage")].count(OLLY) == 1
    assert [(m.channel, m.text) for m in slack.messages] == [(RILEY, "for Riley")]


def test_a_revoked_token_parks_one_message_and_stops_the_drain(session_factory, client, slack, now) -> None:  # type: ignore[no-untyped-def]
    slack.fail("chat.postMessage", "token_revoked")
    for n in range(3):
        queue(session_factory, f"nudge:{n}", RILEY, now)

    summary = run(session_factory, client, now, workers=1)

    assert summary.halted == "Slack refused the bot token (token_revoked): fix SLACK_BOT_TOKEN"
    assert [row.status for row in rows(session_factory).values()] == ["parked", "pending", "pending"]
    assert rows(session_factory)["nudge:0"].last_error == "token_revoked"
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_a_message_left_sending_past_its_lease_is_sent_once_whether_or_not_slack_had_it(  # type: ignore[no-untyped-def]
    session_factory, client, slack, now
) -> None:
    queue(session_factory, "arrived", RILEY, now - dt.timedelta(minutes=10), text="posted before the crash")
    queue(session_factory, "lost", MIA, now - dt.timedelta(minutes=10), text="never reached Slack")
    queue(session_factory, "in-flight", OLLY, now - dt.timedelta(minutes=10))
    with session_factory() as session:
        ids = {row.dedupe_key: row.id for row in session.scalars(select(OutboxMessage))}
    # The crashed sender's post that Slack accepted, as it posted it (the same metadata).
    slack.clock = lambda: (now - dt.timedelta(minutes=6)).timestamp()
    crashed = make_web_client(settings_for(slack))
    crashed.chat_postMessage(channel=RILEY, text="posted before the crash",
                             metadata={"event_type": "coachbot_outbox", "event_payload": {"outbox_key": "arrived", "outbox_id": ids["arrived"]}})  # fmt: skip
    slack.clock = lambda: now.timestamp()
    with session_scope(session_factory) as session:
        for key, claimed_at in (("arrived", now - dt.timedelta(minutes=6)), ("lost", now - dt.timedelta(minutes=6)),
                                ("in-flight", now - dt.timedelta(minutes=1))):  # fmt: skip
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.dedupe_key == key)
                .values(status="sending", claimed_by="crashed:1", claimed_at=claimed_at)
            )

    summary = run(session_factory, client, now)

    stored = rows(session_factory)
    assert (summary.requeued, summary.sent, summary.confirmed, summary.uncertain) == (2, 2, 1, 0)
    assert [(m.channel, m.text) for m in slack.messages] == [(RILEY, "posted before the crash"), (MIA, "never reached Slack")]
    arrived, lost = stored["arrived"], stored["lost"]
    assert (arrived.status, arrived.slack_ts, arrived.attempts, arrived.unconfirmed_since) == (
        "sent",
        slack.messages[0].ts,
        2,
        None,
    )
    assert (lost.status, lost.slack_ts, lost.attempts) == ("sent", slack.messages[1].ts, 2)
    assert (stored["in-flight"].status, stored["in-flight"].claimed_by) == ("sending", "crashed:1")
    history = [call.body for call in slack.calls_to("conversations.history")]
    oldest = f"{(now - dt.timedelta(minutes=11)).timestamp():.6f}"  # the claim, less five minutes for clocks
    assert sorted((body["channel"], body["oldest"], body["include_all_metadata"]) for body in history) == [
        ("D0MIA", oldest, "1"), ("D0RILEY", oldest, "1"),
    ]  # fmt: skip


def test_two_drainers_at_once_send_each_message_exactly_once(database_url, slack, now) -> None:  # type: ignore[no-untyped-def]
    slack.latency = 0.01  # each send takes a moment, so the two drainers interleave
    engines = [make_engine(database_url), make_engine(database_url)]
    factories = [make_session_factory(engine) for engine in engines]
    channels = [f"U0REP{n:02d}" for n in range(10)]
    for n in range(60):
        queue(factories[0], f"nudge:{n}", channels[n % 10], now, text=f"message {n}")
    start = threading.Barrier(2)
    summaries: dict[str, Any] = {}

    def drainer(name: str, factory) -> None:  # type: ignore[no-untyped-def]
        start.wait()
        summaries[name] = drain(factory, sender_client(settings_for(slack)), lambda: now, instance=name, limiter=fast_limiter())

    threads = [threading.Thread(target=drainer, args=(name, factory)) for name, factory in zip("ab", factories)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for engine in engines:
        engine.dispose()

    texts = [message.text for message in slack.messages]
    assert sorted(texts) == sorted(f"message {n}" for n in range(60))
    assert len(slack.calls_to("chat.postMessage")) == 60
    stored = rows(factories[0])
    assert {row.status for row in stored.values()} == {"sent"}
    assert summaries["a"].sent + summaries["b"].sent == 60
    assert summaries["a"].sent > 0 and summaries["b"].sent > 0
    assert {row.claimed_by for row in stored.values()} == {"a", "b"}


def test_a_digest_chart_is_uploaded_into_the_dm_after_the_message(session_factory, client, slack, now) -> None:  # type: ignore[no-untyped-def]
    chart = {"filename": "team-pace.png", "title": "Team pace, week 48", "png_base64": base64.b64encode(PNG).decode()}
    queue(
        session_factory, "digest:mia", MIA, now, kind="digest", text="Your team this week", blocks=BLOCKS, extra={"chart": chart}
    )

    summary = run(session_factory, client, now)

    assert summary.sent == 1
    assert [call.method for call in slack.calls] == [
        "chat.postMessage", "files.getUploadURLExternal", "upload", "files.completeUploadExternal",
    ]  # fmt: skip
    get_url = slack.calls_to("files.getUploadURLExternal")[0].body
    assert (get_url["filename"], get_url["length"]) == ("team-pace.png", str(len(PNG)))
    [uploaded] = slack.files
    assert (uploaded.filename, uploaded.title, uploaded.content) == ("team-pace.png", "Team pace, week 48", PNG)
    assert (uploaded.channel_id, uploaded.initial_comment) == ("D0MIA", "Team pace, week 48")
    row = rows(session_factory)["digest:mia"]
    assert (row.status, row.slack_ts) == ("sent", slack.messages[0].ts)


def test_a_failed_chart_upload_is_retried_without_posting_the_message_again(session_factory, client, slack, now) -> None:  # type: ignore[no-untyped-def]
    slack.fail("files.completeUploadExternal", "internal_error", status=500, times=1)
    chart = {"filename": "team-pace.png", "title": "Team pace", "png_base64": base64.b64encode(PNG).decode()}
    queue(session_factory, "digest:mia", MIA, now, kind="digest", text="Your team this week", extra={"chart": chart})

    first = run(session_factory, client, now)
    row = rows(session_factory)["digest:mia"]
    assert first.retried == 1
    assert (row.status, row.slack_ts, row.last_error) == ("pending", slack.messages[0].ts, "chart: HTTP 500: internal_error")

    second = run(session_factory, client, now + dt.timedelta(seconds=10))

    assert second.sent == 1
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert [(f.filename, f.channel_id) for f in slack.files] == [("team-pace.png", "D0MIA")]
    assert rows(session_factory)["digest:mia"].status == "sent"


def test_the_limiter_keeps_a_rate_limited_slack_free_of_429s(session_factory, client, slack, now) -> None:  # type: ignore[no-untyped-def]
    slack.limits = SlackLimits(per_channel_per_second=20, per_channel_burst=2, global_per_minute=3000, global_burst=5)
    for n in range(40):
        queue(session_factory, f"nudge:{n}", [RILEY, MIA][n % 2], now, text=f"message {n}")

    summary = run(session_factory, client, now, limiter=PostLimiter(per_channel_per_second=20, global_per_minute=3000))

    assert (summary.sent, slack.rate_limited) == (40, 0)
    assert len(slack.calls_to("chat.postMessage")) == 40


def test_after_a_429_the_next_message_to_that_channel_waits_for_retry_after(session_factory, client, slack, now) -> None:  # type: ignore[no-untyped-def]
    slack.limits = SlackLimits(per_channel_per_second=1, per_channel_burst=1)
    for n in range(3):
        queue(session_factory, f"nudge:{n}", RILEY, now)
    started = time.monotonic()

    summary = run(session_factory, client, now, workers=1)  # a limiter far faster than this Slack

    assert (summary.sent, summary.retried, slack.rate_limited) == (2, 1, 1)
    assert time.monotonic() - started >= 1.0
    stored = rows(session_factory)
    assert [row.status for row in stored.values()] == ["sent", "pending", "sent"]
    assert stored["nudge:1"].next_attempt_at == now + dt.timedelta(seconds=1)


def test_a_spent_workspace_budget_answers_429_and_loses_nothing(session_factory, client, slack, now) -> None:  # type: ignore[no-untyped-def]
    slack.limits = SlackLimits(global_per_minute=60, global_burst=1)
    for n, channel in enumerate([RILEY, MIA, OLLY]):
        queue(session_factory, f"nudge:{n}", channel, now)

    summary = run(session_factory, client, now, workers=1)

    assert (summary.sent, summary.retried, slack.rate_limited) == (1, 2, 2)
    assert [row.status for row in rows(session_factory).values()] == ["sent", "pending", "pending"]


def test_the_apps_client_is_used_without_the_retries_that_would_sleep_through_a_429(session_factory, slack, now) -> None:  # type: ignore[no-untyped-def]
    apps_client = make_web_client(settings_for(slack))
    slack.fail("chat.postMessage", "ratelimited", status=429, retry_after=30, times=1)
    queue(session_factory, "nudge:1", RILEY, now)
    started = time.monotonic()

    summary = run(session_factory, apps_client, now)

    assert time.monotonic() - started < 5
    assert (summary.retried, len(slack.calls_to("chat.postMessage"))) == (1, 1)
    assert apps_client.retry_handlers  # the caller's client is left as it was


def test_the_job_drains_what_is_due_with_the_apps_settings(session_factory, slack, now) -> None:  # type: ignore[no-untyped-def]
    queue(session_factory, "nudge:riley", RILEY, now)
    queue(session_factory, "checkin:mia", MIA, now)

    summary = outbox_drain.run(settings_for(slack), session_factory, lambda: now)

    assert (outbox_drain.JOB_ID, outbox_drain.EVERY_SECONDS) == ("outbox_drain", 5)
    assert summary.sent == 2
    assert {call.headers.get("Authorization") for call in slack.calls_to("chat.postMessage")} == {"Bearer xoxb-test"}


def test_a_drain_stops_after_max_messages_or_when_told(session_factory, client, slack, now) -> None:  # type: ignore[no-untyped-def]
    for n in range(5):
        queue(session_factory, f"nudge:{n}", [RILEY, MIA, OLLY][n % 3], now)
    stopped = threading.Event()
    stopped.set()

    assert run(session_factory, client, now, stop=stopped).sent == 0
    assert run(session_factory, client, now, max_messages=2, workers=1).sent == 2
    assert [row.status for row in rows(session_factory).values()] == ["sent", "sent", "pending", "pending", "pending"]


@pytest.mark.postgres
def test_the_job_stands_aside_while_another_instance_drains(slack, now, migrated_postgresql_url) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(migrated_postgresql_url)
    empty_tables(engine)
    session_factory = make_session_factory(engine)
    queue(session_factory, "nudge:riley", RILEY, now)

    with exclusive(engine, outbox_drain.JOB_ID):
        summary = outbox_drain.run(settings_for(slack), session_factory, lambda: now)

    assert summary.sent == 0
    assert slack.calls_to("chat.postMessage") == []
    assert outbox_drain.run(settings_for(slack), session_factory, lambda: now).sent == 1
    engine.dispose()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limiter_spaces_messages_to_one_channel() -> None:
    clock = FakeClock()
    limiter = PostLimiter(per_channel_per_second=1, global_per_minute=6000, clock=clock)

    limiter.take(RILEY)

    assert limiter.channel_wait(RILEY) == 1.0
    assert limiter.channel_wait(MIA) == 0.0
    assert limiter.busy_channels() == {RILEY: 1.0}
    clock.now += 1
    assert limiter.busy_channels() == {}


def test_a_send_slightly_late_keeps_its_slot_but_never_bursts_past_a_quarter_interval() -> None:
    clock = FakeClock()
    limiter = PostLimiter(per_channel_per_second=1, global_per_minute=6000, clock=clock)
    limiter.take(RILEY)

    clock.now += 1.1  # the claim took a tenth of a second
    limiter.take(RILEY)
    assert limiter.channel_wait(RILEY) == pytest.approx(0.9)

    clock.now += 10  # idle a long time: no credit beyond a quarter of the interval
    limiter.take(RILEY)
    assert limiter.channel_wait(RILEY) == pytest.approx(0.75)


def test_the_limiter_holds_the_workspace_to_its_budget_per_minute() -> None:
    clock = FakeClock()
    limiter = PostLimiter(per_channel_per_second=1, global_per_minute=120, global_burst=2, clock=clock)

    limiter.take("C1")
    limiter.take("C2")

    assert limiter.global_wait() == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.global_wait() == 0.0


def test_a_429_slows_the_limiter_and_successes_win_the_rate_back() -> None:
    clock = FakeClock()
    limiter = PostLimiter(per_channel_per_second=1, global_per_minute=300, clock=clock)

    limiter.rate_limited(RILEY, 30)

    assert limiter.global_rate == pytest.approx(5 * 0.75)
    assert limiter.channel_wait(RILEY) == 30
    for _ in range(20):
        limiter.succeeded()
    assert limiter.global_rate == limiter.max_global_rate


def test_backoff_doubles_from_ten_seconds_up_to_ten_minutes() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 10)] == [10, 20, 40, 80, 160, 320, 600, 600, 600]
