"""The outbox drain job: send the Slack messages that are due, for at most TIME_BUDGET_SECONDS."""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Callable

from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.database import Busy, exclusive
from bot.messaging.sender import DrainSummary, PostLimiter, drain, sender_client
from bot.settings import Settings
from jobs.job import EverySeconds, Job, JobContext
from jobs.ledger import INSTANCE

JOB_ID = "outbox_drain"
EVERY_SECONDS = 5
# Bounded, so a long queue never holds the scheduler's slot for long: the next run continues it.
TIME_BUDGET_SECONDS = 30


@functools.cache
def process_limiter(per_channel_per_second: float = 1.0, global_per_minute: int = 300) -> PostLimiter:
    """One limiter per process, so the pace (and any slow-down after a 429) carries across runs."""
    return PostLimiter(per_channel_per_second=per_channel_per_second, global_per_minute=global_per_minute)


def run(
    settings: Settings,
    session_factory: sessionmaker[Session],
    now_fn: Callable[[], dt.datetime],
    client: WebClient | None = None,
) -> DrainSummary:
    """Drain what is due now; an empty summary when another instance is draining.

    On PostgreSQL one drain runs at a time across all instances (an advisory lock): the limiter
    lives in one process, so one drainer keeps the whole workspace under Slack's budget. The
    claims would keep two drainers from sending a row twice in any case.
    """
    engine: Engine = session_factory.kw["bind"]
    try:
        with exclusive(engine, JOB_ID):
            stop = threading.Event()
            timer = threading.Timer(TIME_BUDGET_SECONDS, stop.set)
            timer.daemon = True
            timer.start()
            try:
                return drain(
                    session_factory,
                    client or sender_client(settings),
                    now_fn,
                    instance=INSTANCE,
                    limiter=process_limiter(settings.slack_post_per_channel_per_second, settings.slack_post_global_per_minute),
                    stop=stop,
                )
            finally:
                timer.cancel()
    except Busy:
        return DrainSummary()


def _run_job(context: JobContext, now: dt.datetime, _: str | None) -> str:
    summary = run(context.settings, context.session_factory, context.clock, client=context.client)
    halted = f"; stopped: {summary.halted}" if summary.halted else ""
    return f"sent {summary.sent}, retried {summary.retried}, parked {summary.parked}, uncertain {summary.uncertain}{halted}"


JOB = Job(
    id=JOB_ID, description="send queued messages within Slack's rate limits", trigger=EverySeconds(EVERY_SECONDS), run=_run_job
)
