"""The schedule: what runs when, claimed through the ledger so it runs once across processes.

Every `coachbot run` process (each HTTP worker, each instance) runs an APScheduler 3
BackgroundScheduler with an in-memory job store (APScheduler must not share a store between
processes) and two jobs: `tick` every COACHBOT_TICK_SECONDS and the outbox drain every few
seconds. `tick(now)` works out which scheduled instants fell in (now − grace, now] and claims
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.digest import queue_weekly_digest
from bot.coaching.nudges import queue_morning_nudge
from bot.coaching.playbook import Playbook, clock
from bot.database import insert_ignoring_conflicts, session_scope
from bot.messaging import ledger
from bot.models import JobRun, Person
from bot.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    nudges: int = 0
    digests: int = 0
    synced: bool = False
    housekeeping: bool = False
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
    """The scheduled work of one coachbot deployment, run by `tick(now)`."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        playbook: Playbook,
        *,
        sync: Callable[[dt.datetime], object] | None = None,
        housekeeping: Callable[[Session, dt.datetime], object] | None = None,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.playbook = playbook
        self.sync = sync
        self.housekeeping = housekeeping

    @property
    def grace(self) -> dt.timedelta:
        # At least one tick, so a tick that runs a little late never skips an instant.
        return max(dt.timedelta(minutes=self.settings.missed_run_grace_minutes), dt.timedelta(seconds=2 * self.settings.tick_seconds))

    def tick(self, now: dt.datetime) -> TickReport:
        report = TickReport()
        since = now - self.grace
        with self.session_factory() as session:
            claimed = {tuple(row) for row in session.execute(select(JobRun.job, JobRun.scheduled_for).where(JobRun.scheduled_for > since))}
            people = session.scalars(
                select(Person).where(Person.active.is_(True), Person.slack_user_id.is_not(None), (Person.is_rep | Person.is_manager))
            ).all()
        for person in people:
            zone = ZoneInfo(person.timezone or self.settings.timezone)
            if person.is_rep:
                report.nudges += self._nudges(person, zone, since, now, claimed, report)
            if person.is_manager:
                report.digests += self._digests(person, zone, since, now, claimed, report)
        report.synced = self._slot("crm_sync", self.settings.sync_every_minutes, now, claimed, self.sync, report)
        report.housekeeping = self._slot("coaching_hourly", 60, now, claimed, self._housekeeping if self.housekeeping else None, report)
        return report

    def _nudges(self, person: Person, zone: ZoneInfo, since: dt.datetime, now: dt.datetime, claimed: set, report: TickReport) -> int:
        nudges = self.playbook.nudges
        at = clock(person.nudge_time or nudges.local_time)
        queued = 0
        for instant in local_instants(zone, at, since, now):
            job = f"nudge:{person.id}"
            local = instant.astimezone(zone)
            if (job, instant) in claimed or not nudges.is_working_day(local.date()):
                continue
            if nudges.quiet_hours.contains(now.astimezone(zone).time()):
                continue  # back from downtime during the rep's evening: today's nudge is skipped
            queued += self._claimed_run(job, instant, now, report, lambda s: queue_morning_nudge(s, person, self.playbook, now, self.settings.timezone))
        return queued

    def _digests(self, person: Person, zone: ZoneInfo, since: dt.datetime, now: dt.datetime, claimed: set, report: TickReport) -> int:
        digest = self.playbook.digest
        queued = 0
        for instant in local_instants(zone, clock(digest.local_time), since, now):
            job = f"digest:{person.id}"
            if (job, instant) in claimed or instant.astimezone(zone).weekday() != digest.weekday_number:
                continue
            queued += self._claimed_run(
                job, instant, now, report,
                lambda s: queue_weekly_digest(
                    s, person, self.playbook, now, default_timezone=self.settings.timezone,
                    default_currency=self.settings.currency, fiscal_year_start_month=self.settings.fiscal_year_start_month,
                ),
            )  # fmt: skip
        return queued

    def _claimed_run(self, job: str, instant: dt.datetime, now: dt.datetime, report: TickReport, work: Callable[[Session], bool]) -> int:
        """Claim (job, instant) and do the work in one transaction: both happen, or neither."""
        try:
            with session_scope(self.session_factory) as session:
                claim = session.execute(
                    insert_ignoring_conflicts(session, JobRun, ["job", "scheduled_for"]).values(
                        job=job, scheduled_for=instant, claimed_by=ledger.INSTANCE, claimed_at=now,
                        status="succeeded", finished_at=now,
                    ).returning(JobRun.id)  # fmt: skip
                ).first()
                if claim is None:
                    return 0
                return int(bool(work(session)))
        except Exception as exc:  # noqa: BLE001 - one person's failure must not stop everyone's nudges
            log.exception("%s at %s failed", job, instant.isoformat())
            report.errors.append(f"{job}: {type(exc).__name__}")
            return 0

    def _slot(self, job: str, every_minutes: int, now: dt.datetime, claimed: set, work: Callable[[dt.datetime], object] | None, report: TickReport) -> bool:
        """Interval jobs: the slot that began last is run once, by whoever claims it first."""
        if not every_minutes or work is None:
            return False
        epoch_minutes = int(now.timestamp() // 60)
        slot = dt.datetime.fromtimestamp((epoch_minutes - epoch_minutes % every_minutes) * 60, dt.UTC)
        if (job, slot) in claimed:
            return False
        run_id = ledger.claim(self.session_factory, job, slot, now)
        if run_id is None:
            return False
        error = None
        try:
            work(now)
        except Exception as exc:  # noqa: BLE001 - logged and recorded; the scheduler goes on
            log.exception("%s for slot %s failed", job, slot.isoformat())
            error = f"{type(exc).__name__}: {exc}"[:2000]
            report.errors.append(f"{job}: {type(exc).__name__}")
        ledger.finish(self.session_factory, run_id, now, error)
        return error is None

    def _housekeeping(self, now: dt.datetime) -> None:
        if self.housekeeping is None:
            return
        with session_scope(self.session_factory) as session:
            self.housekeeping(session, now)
