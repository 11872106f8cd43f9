"""The sender: delivers the outbox to Slack, each row at most once, paced under Slack's limits.

A row moves pending -> sending -> sent | parked. Each delivery is three steps:

1. **Claim** one due row (pending, next_attempt_at <= now) and commit: on PostgreSQL with
   SELECT … FOR UPDATE SKIP LOCKED and the UPDATE to 'sending' in one transaction, so concurrent
   drainers pass over each other's rows; on SQLite (one writer at a time) with a conditional
   UPDATE … WHERE id = :id AND status = 'pending' whose row count says who won.
2. **Call Slack** with no transaction open.
3. **Record** the outcome in a new transaction: sent (with its ts), back to pending (429: after
   Retry-After; 5xx, network errors, timeouts: exponential backoff, parked after MAX_ATTEMPTS),
   or parked (a permanent error such as channel_not_found, with the error as the reason).

**Exactly once, even when the answer is lost.** chat.postMessage has no idempotency key, so every
post carries message metadata naming its outbox key (bot/messaging/history.py). An attempt whose
answer never came (a timeout, a dropped connection or HTTP 5xx after the request went out, a
malformed answer) marks the row `unconfirmed_since` the attempt's start; so does a sender that
died between steps 2 and 3, once its claim is older than LEASE (the row goes back to pending).
Before such a row is posted again, the conversation's history from then on is searched for the
key: found, the row is sent with that ts and nothing is posted; not found, it is posted once.
Only when Slack will not show the history (e.g. the token lacks `im:history`) is the row parked
with a reason starting "uncertain:" that says what to fix; `coachbot outbox retry` checks again.
A live send can never outlast the lease: the client times out after seconds, the lease is minutes.

**A digest with a chart** (`payload["chart"]` = {filename, title, png_base64, channel?}) is the
message, then the image through files_upload_v2 (files.getUploadURLExternal, the upload URL,
files.completeUploadExternal) in the DM the message opened, or `chart["channel"]`. The message's
ts is committed before the upload, so a retry after a failed upload sends only the image.
Uploads need the `files:write` scope.

**Pacing** (`PostLimiter`). Slack's chat.postMessage "will generally allow an app to post 1
message per second to a specific channel. There are limits governing your app's relationship
with the entire workspace above that, limiting posting to several hundred messages per minute.
Generous burst behavior is also granted." (docs.slack.dev/reference/methods/chat.postMessage,
"Rate limiting"; the overview, docs.slack.dev/apis/web-api/rate-limits, puts it in the "Special
Tier"). So the defaults are 1 message a second per channel (a user id counts as its DM channel)
and 300 a minute for the workspace, the low end of "several hundred"; both are parameters. A
429 holds that channel for Retry-After and cuts the workspace rate by a quarter; each success
wins back 2% of it. The limiter is per process: run one drainer at a time per workspace
(jobs/outbox_drain.py takes an advisory lock) or divide the budget between drainers.

**No retries inside the client** (`sender_client`, `without_retries`): the app's client
(bot/slack_client.py) retries 429s by sleeping inside the call and re-sends after dropped
connections. Here that would hide rate limits from the limiter, hold a claimed row while
sleeping and multiply the outbox's own retries; `drain` therefore uses any client it is given
through a copy without slack_sdk's retry handlers and decides every retry itself, in the row.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import logging
import socket
import threading
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from sqlalchemy import ColumnElement, exists, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import metrics
from bot.database import session_scope
from bot.dml import rows_affected
from bot.messaging.history import HistoryUnreadable, find_posted, message_metadata
from bot.models import OutboxMessage
from bot.settings import Settings
from bot.slack_client import make_web_client

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 8
BACKOFF_BASE = dt.timedelta(seconds=10)
BACKOFF_CAP = dt.timedelta(minutes=10)
DEFAULT_RETRY_AFTER = 30.0  # seconds, should a 429 ever come without Retry-After
UNCERTAIN = "uncertain: "  # how last_error starts when nobody can tell whether Slack has the message
ABANDONED = "sender stopped mid-send; Slack's history is checked before it is sent again"

# Errors Slack answers with HTTP 200 that are worth trying again; any other error is permanent.
TRANSIENT_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"})
# Errors after which a post may exist all the same (docs.slack.dev/reference/methods/chat.postMessage).
MAYBE_POSTED_ERRORS = frozenset({"internal_error", "fatal_error"})
NOT_POSTED_ERRORS = frozenset({"service_unavailable", "request_timeout", "ratelimited"})
# Permanent errors about the bot's token rather than the message: every other row would fail the
# same way, so the drain stops instead of parking the whole outbox; the rest waits for a fixed token.
TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"})


@dataclass
class DrainSummary:
    sent: int = 0  # of which `confirmed` were found already posted, and not posted again
    retried: int = 0  # back to pending: 429, 5xx, network errors, answers that never came
    parked: int = 0  # a permanent error, or out of attempts
    uncertain: int = 0  # parked because Slack would not show the history that says whether it was posted
    confirmed: int = 0  # an attempt whose answer was lost had posted it: found in the history
    requeued: int = 0  # left 'sending' by a sender that stopped, back to pending to be checked
    halted: str | None = None  # why the drain stopped early, when Slack refused the token

    def add(self, other: DrainSummary) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.parked += other.parked
        self.uncertain += other.uncertain
        self.confirmed += other.confirmed
        self.requeued += other.requeued
        self.halted = self.halted or other.halted


def sender_client(settings: Settings, timeout: int = 10) -> WebClient:
    """The app's Web API client without slack_sdk's retry handlers: the outbox decides retries."""
    return without_retries(make_web_client(settings, timeout=timeout))


def without_retries(client: WebClient) -> WebClient:
    """`client` if it retries nothing by itself, else a copy of it that does not (the original is untouched)."""
    if not client.retry_handlers:
        return client
    return WebClient(
        token=client.token, base_url=client.base_url, timeout=client.timeout, ssl=client.ssl, proxy=client.proxy,
        headers=dict(client.headers), team_id=client.default_params.get("team_id"),
        retry_handlers=[],
    )  # fmt: skip


class PostLimiter:
    """chat.postMessage pacing: spacing per channel and a token bucket for the workspace. Thread-safe."""

    LATE_CREDIT = 0.25  # of a channel's interval

    def __init__(
        self,
        per_channel_per_second: float = 1.0,
        global_per_minute: float = 300.0,
        global_burst: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel_interval = 1.0 / per_channel_per_second
        self.max_global_rate = global_per_minute / 60.0
        self.global_rate = self.max_global_rate
        # A burst of 2 lets a late send catch up without ever running ahead of the average.
        self.global_burst = global_burst
        self._clock = clock
        self._tokens = float(global_burst)
        self._refilled_at = clock()
        self._channel_free_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.global_burst, self._tokens + (now - self._refilled_at) * self.global_rate)
        self._refilled_at = now

    def global_wait(self) -> float:
        """Seconds until the workspace budget allows a message (0: now)."""
        with self._lock:
            self._refill(self._clock())
            return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.global_rate

    def busy_channels(self) -> dict[str, float]:
        """Channels that must wait, with the seconds each has left."""
        with self._lock:
            now = self._clock()
            stale = now - self.channel_interval
            for channel in [c for c, free_at in self._channel_free_at.items() if free_at < stale]:
                del self._channel_free_at[channel]
            return {channel: free_at - now for channel, free_at in self._channel_free_at.items() if free_at > now}

    def channel_wait(self, channel: str) -> float:
        with self._lock:
            return max(self._channel_free_at.get(channel, 0.0) - self._clock(), 0.0)

    def acquire(self, channel: str) -> None:
        """Wait until `channel` and the workspace budget allow a message, then spend it."""
        while (wait := max(self.global_wait(), self.channel_wait(channel))) > 0:
            time.sleep(wait)
        self.take(channel)

    def take(self, channel: str) -> None:
        """Spend one message of the budget on `channel` (after global_wait and channel_wait said 0)."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= 1
            # A send a little late (the claim's database round trip) keeps its slot, so that time
            # does not erode the pace: at most 1 + LATE_CREDIT messages in any interval, within
            # the short bursts Slack tolerates.
            slot = max(self._channel_free_at.get(channel, now), now - self.channel_interval * self.LATE_CREDIT)
            self._channel_free_at[channel] = slot + self.channel_interval

    def rate_limited(self, channel: str, retry_after: float) -> None:
        """Slack answered 429: hold the channel for Retry-After and slow the workspace rate down."""
        with self._lock:
            now = self._clock()
            self._channel_free_at[channel] = max(self._channel_free_at.get(channel, now), now + retry_after)
            self._refill(now)
            self.global_rate = max(self.global_rate * 0.75, self.max_global_rate / 20)
            self._tokens = min(self._tokens, 0.0)

    def succeeded(self) -> None:
        with self._lock:
            self.global_rate = min(self.max_global_rate, self.global_rate + self.max_global_rate * 0.02)


@dataclass(frozen=True)
class _Claim:
    id: int
    key: str
    recipient: str
    kind: str
    payload: dict[str, Any]
    slack_ts: str | None
    attempts: int
    claimed_at: dt.datetime
    unconfirmed_since: dt.datetime | None


@dataclass(frozen=True)
class _Outcome:
    kind: Literal["sent", "rate_limited", "failed", "rejected", "uncertain", "unconfirmed"]
    error: str | None = None
    retry_after: float | None = None
    slack_ts: str | None = None
    # What the row's unconfirmed_since becomes: kept while an earlier attempt is still unaccounted for.
    unconfirmed_since: dt.datetime | None = None
    confirmed: bool = False  # sent because the history showed an earlier attempt had posted it
    token_refused: bool = False


def drain(
    session_factory: sessionmaker[Session],
    client: WebClient,
    now_fn: Callable[[], dt.datetime],
    *,
    instance: str,
    limiter: PostLimiter,
    max_messages: int | None = None,
    stop: threading.Event | None = None,
    workers: int = 4,
    lease: dt.timedelta = LEASE,
) -> DrainSummary:
    """Send what is due now, at most `max_messages`, until nothing is due or `stop` is set.

    `workers` threads overlap Slack's latency (a few hundred milliseconds a call) so the pace is
    the limiter's, not the network's; claims are made one at a time, just before each send.
    A `client` with slack_sdk retry handlers is used through a copy without them.
    """
    client = without_retries(client)
    summary = DrainSummary(requeued=requeue_abandoned(session_factory, now_fn(), lease))
    dispatcher = _Dispatcher(session_factory, now_fn, instance, limiter, max_messages, stop or threading.Event())
    lock = threading.Lock()
    failures: list[BaseException] = []

    def work() -> None:
        try:
            while (claim := dispatcher.next_claim()) is not None:
                outcome = _deliver(session_factory, client, limiter, instance, claim)
                counted = _record(session_factory, instance, claim, outcome, now_fn())
                if outcome.token_refused:
                    counted.halted = f"Slack refused the bot token ({outcome.error}): fix SLACK_BOT_TOKEN"
                    log.error("outbox drain stopped: %s; the other messages stay queued", counted.halted)
                    dispatcher.halt()
                with lock:
                    summary.add(counted)
        except BaseException as error:  # noqa: BLE001 - re-raised by drain() once the others stop
            # A row whose outcome could not be stored stays 'sending', and is checked after the lease.
            dispatcher.halt()
            failures.append(error)

    threads = [threading.Thread(target=work, name=f"outbox-{n}", daemon=True) for n in range(max(workers, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return summary


def requeue_abandoned(session_factory: sessionmaker[Session], now: dt.datetime, lease: dt.timedelta = LEASE) -> int:
    """Rows left 'sending' past the lease by a sender that stopped: pending again, to be looked for first.

    The earliest unaccounted attempt bounds the search: one already unconfirmed, else this claim.
    """
    with session_scope(session_factory) as session:
        requeued = session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - lease)
            .values(
                status="pending",
                next_attempt_at=now,
                attempts=OutboxMessage.attempts + 1,
                last_error=ABANDONED,
                unconfirmed_since=func.coalesce(OutboxMessage.unconfirmed_since, OutboxMessage.claimed_at),
            )  # fmt: skip
            .returning(OutboxMessage.id)
        ).all()
    if requeued:
        log.warning("outbox: %d message(s) a stopped sender left mid-send are checked in Slack's history: ids %s",
                    len(requeued), requeued[:20])  # fmt: skip
    return len(requeued)


class _Dispatcher:
    """Hands the workers one claimed row at a time, when the limiter allows its channel."""

    POLL = 0.02  # seconds, while another drainer holds the only due rows

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        now_fn: Callable[[], dt.datetime],
        instance: str,
        limiter: PostLimiter,
        max_messages: int | None,
        stop: threading.Event,
    ) -> None:
        self.session_factory = session_factory
        self.now_fn = now_fn
        self.instance = instance
        self.limiter = limiter
        self.remaining = max_messages
        self.stop = stop
        self._halted = False
        self._lock = threading.Lock()

    def halt(self) -> None:
        self._halted = True

    def next_claim(self) -> _Claim | None:
        with self._lock:
            while not (self.stop.is_set() or self._halted or self.remaining == 0):
                wait = self.limiter.global_wait()
                if wait > 0:
                    self._pause(wait)
                    continue
                busy = self.limiter.busy_channels()
                now = self.now_fn()
                claim = _claim_one(self.session_factory, now, self.instance, exclude=busy)
                if claim is not None:
                    self.limiter.take(claim.recipient)
                    if self.remaining is not None:
                        self.remaining -= 1
                    return claim
                if not _any_due(self.session_factory, now):
                    return None
                # Due rows remain, for channels that must wait (or locked by another drainer).
                self._pause(min(busy.values(), default=self.POLL))
            return None

    def _pause(self, seconds: float) -> None:
        # In slices, so a stop or a halt is noticed even while a channel waits out a Retry-After.
        self.stop.wait(min(seconds, 0.25))


def _claim_one(
    session_factory: sessionmaker[Session], now: dt.datetime, instance: str, exclude: dict[str, float]
) -> _Claim | None:
    """The oldest due row whose channel may be sent to now, marked 'sending' and committed."""
    due = (
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
    )
    if exclude:
        due = due.where(OutboxMessage.recipient.not_in(list(exclude)))
    with session_scope(session_factory) as session:
        if session.get_bind().dialect.name == "postgresql":
            row = session.scalars(due.limit(1).with_for_update(skip_locked=True)).first()
            if row is None:
                return None
            row.status, row.claimed_by, row.claimed_at = "sending", instance, now
            return _claim_of(row)
        # SQLite: candidates are read without a lock; the conditional UPDATE decides who has one.
        for candidate in session.scalars(due.with_only_columns(OutboxMessage.id).limit(8)).all():
            won = rows_affected(
                session,
                update(OutboxMessage)
                .where(OutboxMessage.id == candidate, OutboxMessage.status == "pending")
                .values(status="sending", claimed_by=instance, claimed_at=now)
                .execution_options(synchronize_session=False),
            )
            if won == 1:
                row = session.get(OutboxMessage, candidate)
                assert row is not None
                return _claim_of(row)
    return None


def _claim_of(row: OutboxMessage) -> _Claim:
    assert row.claimed_at is not None
    return _Claim(
        row.id, row.dedupe_key, row.recipient, row.kind, dict(row.payload), row.slack_ts, row.attempts, row.claimed_at,
        row.unconfirmed_since,
    )  # fmt: skip


def _any_due(session_factory: sessionmaker[Session], now: dt.datetime) -> bool:
    with session_factory() as session:
        return bool(
            session.scalar(select(exists().where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)))
        )


def _deliver(
    session_factory: sessionmaker[Session], client: WebClient, limiter: PostLimiter, instance: str, claim: _Claim
) -> _Outcome:
    """Post the message (unless an earlier attempt did), then the chart if there is one."""
    chart = claim.payload.get("chart") if claim.kind == "digest" else None
    slack_ts, posted_channel = claim.slack_ts, claim.payload.get("posted_channel")
    confirmed = False
    if slack_ts is None and claim.unconfirmed_since is not None:
        try:
            found = find_posted(client, claim.recipient, posted_channel, claim.key, claim.unconfirmed_since)
        except HistoryUnreadable as unreadable:
            since = f"{claim.unconfirmed_since:%Y-%m-%d %H:%M} UTC"
            return _Outcome("uncertain", error=f"{UNCERTAIN}the attempt at {since} may have posted it, and coachbot {unreadable}"[:2000],
                            unconfirmed_since=claim.unconfirmed_since)  # fmt: skip
        except Exception as error:  # noqa: BLE001 - classified: the earlier attempt stays unaccounted for
            return _failure(limiter, claim, error, "history: ", during="history")
        if found is not None:
            log.info(
                "outbox: message %d was posted by an attempt whose answer was lost (ts %s): not posted again", claim.id, found.ts
            )
            slack_ts, posted_channel, confirmed = found.ts, found.channel, True
            if chart:
                _record_posted(session_factory, instance, claim, slack_ts, posted_channel)
    if slack_ts is None:
        try:
            response = client.chat_postMessage(
                channel=claim.recipient, text=claim.payload["text"], blocks=claim.payload.get("blocks") or None,
                metadata=message_metadata(claim.key, claim.id),
            )  # fmt: skip
            slack_ts, posted_channel = str(response["ts"]), response.get("channel")
        except Exception as error:  # noqa: BLE001 - every failure is classified: retry, park or look in the history
            return _failure(limiter, claim, error, "", during="post")
        limiter.succeeded()
        if chart:
            _record_posted(session_factory, instance, claim, slack_ts, posted_channel)
            # Sharing the image posts in the channel too: it waits for the channel's next turn.
            limiter.acquire(claim.recipient)
    if not chart:
        return _Outcome("sent", slack_ts=slack_ts, confirmed=confirmed)
    try:
        image = base64.b64decode(chart["png_base64"], validate=True)
    except (KeyError, TypeError, ValueError):
        return _Outcome("rejected", error="chart: no readable png_base64 in the payload")
    try:
        client.files_upload_v2(
            channel=chart.get("channel") or posted_channel or claim.recipient,
            file=image,
            filename=chart.get("filename") or "chart.png",
            title=chart.get("title"),
            initial_comment=chart.get("comment") or chart.get("title"),
        )
    except Exception as error:  # noqa: BLE001 - as above
        return _failure(limiter, claim, error, "chart: ", during="chart")
    return _Outcome("sent", slack_ts=slack_ts, confirmed=confirmed)


def _failure(
    limiter: PostLimiter, claim: _Claim, error: Exception, prefix: str, during: Literal["post", "history", "chart"]
) -> _Outcome:
    # A failed history read leaves the earlier attempt unaccounted for; anything else answered it.
    kept = claim.unconfirmed_since if during == "history" else None
    if during == "post" and _may_have_posted(error):
        log.warning("outbox: no verdict from Slack on message %d (%s): its history is checked before it is sent again",
                    claim.id, type(error).__name__)  # fmt: skip
        return _Outcome("unconfirmed", error=f"{prefix}{_describe(error)} (Slack may have it: its history is checked first)"[:500],
                        unconfirmed_since=claim.claimed_at)  # fmt: skip
    if isinstance(error, SlackApiError):
        method = {"post": "chat.postMessage", "history": "conversations.history", "chart": "files_upload_v2"}[during]
        return _api_failure(limiter if during != "history" else None, claim.recipient, error, prefix, method, kept)
    if isinstance(error, (OSError, http.client.HTTPException, SlackRequestError)):  # URLError, timeouts, resets
        return _Outcome("failed", error=f"{prefix}{type(error).__name__}: {error}"[:500], unconfirmed_since=kept)
    log.exception("outbox: unexpected failure sending message %d", claim.id, exc_info=error)
    if during == "chart":
        # A malformed answer may come after Slack shared the image: never upload it again.
        return _Outcome("uncertain", error=f"{UNCERTAIN}{prefix}{type(error).__name__}: {error}"[:500])
    return _Outcome("failed", error=f"{prefix}{type(error).__name__}: {error}"[:500], unconfirmed_since=kept)


def _may_have_posted(error: Exception) -> bool:
    """Whether chat.postMessage may have reached Slack although no verdict came back."""
    if isinstance(error, SlackApiError):
        data = error.response.data if isinstance(error.response.data, dict) else {}
        code = data.get("error")
        # Slack documents internal_error and fatal_error as "some aspect of the operation [may have]
        # succeeded"; a 5xx without Slack's own verdict may come from a proxy after Slack took it.
        return code in MAYBE_POSTED_ERRORS or (error.response.status_code >= 500 and code not in NOT_POSTED_ERRORS)
    if isinstance(error, SlackRequestError):
        return False  # refused by slack_sdk before sending
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    # Refused or unresolvable: nothing was sent. Timeouts, resets, half answers: it may have been.
    return not isinstance(reason, (ConnectionRefusedError, socket.gaierror))


def _describe(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        data = error.response.data if isinstance(error.response.data, dict) else {}
        return f"HTTP {error.response.status_code}: {data.get('error') or 'no error code'}"
    return f"{type(error).__name__}: {error}"


def _api_failure(
    limiter: PostLimiter | None, channel: str, error: SlackApiError, prefix: str, method: str, kept: dt.datetime | None
) -> _Outcome:
    response = error.response
    data = response.data if isinstance(response.data, dict) else {}
    code = str(data.get("error") or "no error code")
    if response.status_code != 200:
        code = f"HTTP {response.status_code}: {code}"
    if response.status_code == 429:
        retry_after = _retry_after(response.headers)
        metrics.record_rate_limited(method)
        if limiter is not None:
            limiter.rate_limited(channel, retry_after)
        return _Outcome("rate_limited", error=f"{prefix}ratelimited (Retry-After {retry_after:g} s)", retry_after=retry_after,
                        unconfirmed_since=kept)  # fmt: skip
    if response.status_code >= 500 or code in TRANSIENT_ERRORS:
        return _Outcome("failed", error=f"{prefix}{code}"[:500], unconfirmed_since=kept)
    return _Outcome("rejected", error=f"{prefix}{code}"[:500], unconfirmed_since=kept, token_refused=code in TOKEN_ERRORS)


def _retry_after(headers: Any) -> float:
    value = next((v for k, v in dict(headers or {}).items() if k.lower() == "retry-after"), None)
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(float(value), 0.0) if value is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed try: 10 s, 20 s, 40 s … at most 10 minutes.

    No jitter: retries that fall due together are spread by the limiter anyway.
    """
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


def _ours(claim: _Claim, instance: str) -> tuple[ColumnElement[bool], ...]:
    # Our claim, even if a drainer has since parked it as uncertain: what we know beats a guess.
    return (OutboxMessage.id == claim.id, OutboxMessage.claimed_by == instance, OutboxMessage.claimed_at == claim.claimed_at)


def _record_posted(
    session_factory: sessionmaker[Session], instance: str, claim: _Claim, slack_ts: str, channel: str | None
) -> None:
    """The message is out: commit its ts before the chart, so no retry posts it again."""
    with session_scope(session_factory) as session:
        session.execute(
            update(OutboxMessage)
            .where(*_ours(claim, instance))
            .values(slack_ts=slack_ts, payload={**claim.payload, "posted_channel": channel}, unconfirmed_since=None)
        )


def _record(
    session_factory: sessionmaker[Session], instance: str, claim: _Claim, outcome: _Outcome, now: dt.datetime
) -> DrainSummary:
    attempts = claim.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_error": outcome.error, "unconfirmed_since": outcome.unconfirmed_since}
    counted = DrainSummary()
    if outcome.kind == "sent":
        values |= {"status": "sent", "sent_at": now, "slack_ts": outcome.slack_ts, "last_error": None}
        counted.sent, counted.confirmed = 1, int(outcome.confirmed)
    elif outcome.kind == "rate_limited":
        assert outcome.retry_after is not None
        values |= {"status": "pending", "next_attempt_at": now + dt.timedelta(seconds=outcome.retry_after)}
        counted.retried = 1
    elif outcome.kind in ("failed", "unconfirmed") and attempts < MAX_ATTEMPTS:
        values |= {"status": "pending", "next_attempt_at": now + backoff(attempts)}
        counted.retried = 1
    elif outcome.kind in ("failed", "unconfirmed"):
        unsure = UNCERTAIN if outcome.unconfirmed_since is not None else ""
        values |= {"status": "parked", "last_error": f"{unsure}gave up after {attempts} attempts: {outcome.error}"[:2000]}
        counted.parked, counted.uncertain = (0, 1) if unsure else (1, 0)
    elif outcome.kind == "rejected":
        values |= {"status": "parked"}
        counted.parked = 1
    else:
        values |= {"status": "parked"}
        counted.uncertain = 1
    if values["status"] == "parked":
        log.warning("outbox: parked message %d to %s: %s", claim.id, claim.recipient, values["last_error"])
    metrics.record_send("confirmed" if outcome.confirmed else outcome.kind)
    with session_scope(session_factory) as session:
        session.execute(update(OutboxMessage).where(*_ours(claim, instance)).values(**values))
    return counted
