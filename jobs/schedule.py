"""The schedule: what runs when, claimed through the ledger so it runs once across processes.

Every `coachbot run` process (each HTTP worker, each instance) runs an APScheduler 3
BackgroundScheduler with an in-memory job store (APScheduler must not share a store between
processes) and two jobs: `tick` every COACHBOT_TICK_SECONDS and the outbox drain every few
seconds. What a tick runs comes from the job registry (jobs/registry.py). `tick(now)` works out which scheduled instants fell in (now − grace, now] and claims
each in job_runs, unique on (job, instant): exactly one process does each run, and a run missed
while every process was down happens once when one returns, within the grace window.

Per-person runs (a rep's morning nudge, a manager's digest) are claimed in the same transaction
that queues the message, so a process killed half-way leaves neither claim nor message and the
next tick does the run. Wall-clock times are read in each person's IANA time zone, so 09:00
stays 09:00 across a DST change.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.playbook import Playbook
from bot.database import insert_ignoring_conflicts, session_scope
from bot.models import JobRun, Person
from bot.settings import Settings
from jobs import ledger
from jobs.job import EveryMinutes, Job, JobContext, LocalTime
from jobs.registry import JOBS, run_with_followers

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    queued: Counter[str] = field(default_factory=Counter)  # job id -> people something was queued for
    ran: list[str] = field(default_factory=list)  # interval jobs run (with the jobs that follow them)
    errors: list[str] = field(default_factory=list)


def local_instants(zone: ZoneInfo, at: dt.time, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    """Each UTC instant in (start, end] at which local wall-clock time in `zone` is `at`.

    A time skipped by a DST jump still happens once (at the shifted instant zoneinfo gives).
    """
    day = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date()
    while day <= last:
        instant = dt.datetime.combine(day, at, zone).astimezone(dt.UTC)
        if start < instant <= end:
            yield instant
        day += dt.timedelta(days=1)


class Schedule:
    """The scheduled work of one coachbot deployment, run by `tick(now)`: the registry's per-person
    and interval jobs (the outbox drain runs on its own, every few seconds)."""

    def __init__(
        self, settings: Settings, session_factory: sessionmaker[Session], playbook: Playbook, *, jobs: Sequence[Job] = JOBS
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.playbook = playbook
        self.jobs = tuple(jobs)
        self.context = JobContext(settings, session_factory, playbook)

    @property
    def grace(self) -> dt.timedelta:
        # At least one tick, so a tick that runs a little late never skips an instant.
        return max(
            dt.timedelta(minutes=self.settings.missed_run_grace_minutes), dt.timedelta(seconds=2 * self.settings.tick_seconds)
        )

    def tick(self, now: dt.datetime) -> TickReport:
        report = TickReport()
        since = now - self.grace
        with self.session_factory() as session:
            claimed = {
                tuple(row)
                for row in session.execute(select(JobRun.job, JobRun.scheduled_for).where(JobRun.scheduled_for > since))
            }
            people = session.scalars(
                select(Person).where(
                    Person.active.is_(True), Person.slack_user_id.is_not(None), (Person.is_rep | Person.is_manager)
                )
            ).all()
        personal = [job for job in self.jobs if isinstance(job.trigger, LocalTime)]
        for person in people:
            zone = ZoneInfo(person.timezone or self.settings.timezone)
            for job in personal:
                report.queued[job.id] += self._personal(job, person, zone, since, now, claimed, report)
        for job in self.jobs:
            if isinstance(job.trigger, EveryMinutes) and self._slot(
                job, job.trigger.minutes(self.settings), now, claimed, report
            ):
                report.ran.append(job.id)
        return report

    def _personal(
        self, job: Job, person: Person, zone: ZoneInfo, since: dt.datetime, now: dt.datetime, claimed: set, report: TickReport
    ) -> int:
        trigger = job.trigger
        assert isinstance(trigger, LocalTime) and job.run_for is not None
        if not (person.is_rep if trigger.audience == "reps" else person.is_manager):
            return 0
        run_for = job.run_for
        queued = 0
        for instant in local_instants(zone, trigger.at(person, self.playbook), since, now):
            ledger_job = f"{trigger.ledger_prefix}:{person.id}"
            if (ledger_job, instant) in claimed or not trigger.on_day(instant.astimezone(zone).date(), self.playbook):
                continue
            if trigger.skip_in_quiet_hours and self.playbook.nudges.quiet_hours.contains(now.astimezone(zone).time()):
                continue  # back from downtime during the person's evening: today's run is skipped
            queued += self._claimed_run(
                ledger_job, instant, now, report, lambda session: run_for(session, person, self.context, now)
            )
        return queued

    def _claimed_run(
        self, job: str, instant: dt.datetime, now: dt.datetime, report: TickReport, work: Callable[[Session], bool]
    ) -> int:
        """Claim (job, instant) and do the work in one transaction: both happen, or neither."""
        try:
            with session_scope(self.session_factory) as session:
                claim = session.execute(
                    insert_ignoring_conflicts(session, JobRun, ["job", "scheduled_for"])
                    .values(
                        job=job,
                        scheduled_for=instant,
                        claimed_by=ledger.INSTANCE,
                        claimed_at=now,
                        status="succeeded",
                        finished_at=now,
                    )
                    .returning(JobRun.id)  # fmt: skip
                ).first()
                if claim is None:
                    return 0
                return int(bool(work(session)))
        except Exception as exc:
            log.exception("%s at %s failed", job, instant.isoformat())
            report.errors.append(f"{job}: {type(exc).__name__}")
            return 0

    def _slot(self, job: Job, every_minutes: int, now: dt.datetime, claimed: set, report: TickReport) -> bool:
        """Interval jobs: the slot that began last is run once, by whoever claims it first, with the jobs that follow it."""
        if not every_minutes:
            return False
        epoch_minutes = int(now.timestamp() // 60)
        slot = dt.datetime.fromtimestamp((epoch_minutes - epoch_minutes % every_minutes) * 60, dt.UTC)
        if (job.id, slot) in claimed:
            return False
        run_id = ledger.claim(self.session_factory, job.id, slot, now)
        if run_id is None:
            return False
        error = None
        try:
            run_with_followers(job, self.context, now, jobs=self.jobs)
        except Exception as exc:
            log.exception("%s for slot %s failed", job.id, slot.isoformat())
            error = f"{type(exc).__name__}: {exc}"[:2000]
            report.errors.append(f"{job.id}: {type(exc).__name__}")
        ledger.finish(self.session_factory, run_id, now, error)
        return error is None
