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
from jobs.job import EverySeconds, JobContext
from jobs.registry import JOBS
from jobs.schedule import Schedule

log = logging.getLogger(__name__)


def start_scheduler(
    settings: Settings,
    session_factory: sessionmaker[Session],
    client: WebClient,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> BackgroundScheduler:
    """A running BackgroundScheduler with the tick and the every-few-seconds jobs (the outbox drain); stop it with .shutdown()."""
    playbook = load_playbook(settings.playbook_path)
    schedule = Schedule(settings, session_factory, playbook)
    context = JobContext(settings, session_factory, playbook, client=client, clock=clock)
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
    for job in JOBS:
        if isinstance(job.trigger, EverySeconds):
            scheduler.add_job(
                lambda job=job: job.run(context, clock(), None),
                IntervalTrigger(seconds=job.trigger.seconds),
                id=job.id,
                next_run_time=now,
            )
    scheduler.start()
    log.info(
        "scheduler started: tick every %ss, %s",
        settings.tick_seconds,
        ", ".join(f"{job.id} {job.when(settings)}" for job in JOBS),
    )
    return scheduler
