"""Start the schedule inside a `coachbot run` process (APScheduler 3, in-memory job store)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.playbook import load_playbook
from bot.metrics import HEARTBEAT
from bot.settings import Settings
from jobs.schedule import Schedule

log = logging.getLogger(__name__)

def build_schedule(settings: Settings, session_factory: sessionmaker[Session]) -> Schedule:
    from jobs import coaching_hourly, crm_sync, gap_scan

    playbook = load_playbook(settings.playbook_path)

    def sync_then_scan(now: dt.datetime) -> None:
        crm_sync.run(settings, session_factory, now, playbook=playbook)
        gap_scan.run(settings, session_factory, now, playbook=playbook)

    return Schedule(
        settings, session_factory, playbook, sync=sync_then_scan,
        housekeeping=lambda session, now: coaching_hourly.run_in(session, settings, playbook, now),
    )  # fmt: skip


def start_scheduler(
    settings: Settings,
    session_factory: sessionmaker[Session],
    client: WebClient,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> BackgroundScheduler:
    """A running BackgroundScheduler with the tick and the outbox drain; stop it with .shutdown()."""
    from jobs import outbox_drain

    schedule = build_schedule(settings, session_factory)
    scheduler = BackgroundScheduler(
        timezone=dt.UTC,
        # One run of each at a time; a late run is merged, not repeated. A failing run is logged
        # by APScheduler and the next one happens as planned.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": settings.tick_seconds},
    )
    now = clock()

    def tick() -> None:
        # /healthz reads the heartbeat: a failing tick still shows the scheduler is alive.
        HEARTBEAT.tick_began(clock())
        try:
            schedule.tick(clock())
        finally:
            HEARTBEAT.tick_ended(clock())

    HEARTBEAT.scheduler_started(now)
    scheduler.add_job(tick, IntervalTrigger(seconds=settings.tick_seconds), id="tick", next_run_time=now)
    scheduler.add_job(
        lambda: outbox_drain.run(settings, session_factory, clock, client=client),
        IntervalTrigger(seconds=outbox_drain.EVERY_SECONDS),
        id="outbox_drain",
        next_run_time=now,
    )
    scheduler.start()
    log.info("scheduler started: tick every %ss, outbox drain every %ss", settings.tick_seconds, outbox_drain.EVERY_SECONDS)
    return scheduler
