"""Every scheduled job by name: what `coachbot jobs list` shows and `coachbot jobs run NAME` runs once.

Running a job by hand does the same work as the schedule and under the same unique keys, so a
nudge run by hand at 10:00 is not sent again at the rep's 09:00 the same day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.digest import queue_weekly_digest
from bot.coaching.nudges import queue_morning_nudge
from bot.coaching.playbook import load_playbook
from bot.database import session_scope
from bot.models import Person
from bot.settings import Settings


@dataclass(frozen=True)
class JobInfo:
    name: str
    when: str
    what: str
    run: Callable[[Settings, sessionmaker[Session], dt.datetime, str | None], str]


def _people(session: Session, email: str | None, *, managers: bool) -> list[Person]:
    query = select(Person).where(Person.active.is_(True), Person.is_manager if managers else Person.is_rep)
    if email:
        query = query.where(Person.email == email.strip().lower())
    return list(session.scalars(query.order_by(Person.name)))


def _run_sync(settings: Settings, session_factory: sessionmaker[Session], now: dt.datetime, _: str | None) -> str:
    from jobs import crm_sync

    summary = crm_sync.run(settings, session_factory, now)
    return f"fetched {summary.fetched}, created {summary.created}, updated {summary.updated}, unchanged {summary.unchanged}"


def _run_gap_scan(settings: Settings, session_factory: sessionmaker[Session], now: dt.datetime, _: str | None) -> str:
    from jobs import gap_scan

    summary = gap_scan.run(settings, session_factory, now)
    return f"{summary.opened} gaps opened, {summary.resolved} resolved, {summary.still_open} still open"


def _run_nudges(settings: Settings, session_factory: sessionmaker[Session], now: dt.datetime, email: str | None) -> str:
    playbook = load_playbook(settings.playbook_path)
    with session_scope(session_factory) as session:
        reps = _people(session, email, managers=False)
        queued = sum(queue_morning_nudge(session, rep, playbook, now, settings.timezone) for rep in reps)
    return f"{queued} nudge(s) queued for {len(reps)} rep(s) (reps with nothing worth saying, or not in Slack, get none)"


def _run_digests(settings: Settings, session_factory: sessionmaker[Session], now: dt.datetime, email: str | None) -> str:
    playbook = load_playbook(settings.playbook_path)
    with session_scope(session_factory) as session:
        managers = _people(session, email, managers=True)
        queued = sum(
            queue_weekly_digest(
                session, manager, playbook, now, default_timezone=settings.timezone, default_currency=settings.currency,
                fiscal_year_start_month=settings.fiscal_year_start_month,
            )  # fmt: skip
            for manager in managers
        )
    return f"{queued} digest(s) queued for {len(managers)} manager(s)"


def _run_hourly(settings: Settings, session_factory: sessionmaker[Session], now: dt.datetime, _: str | None) -> str:
    from jobs import coaching_hourly

    with session_scope(session_factory) as session:
        return coaching_hourly.run_in(session, settings, load_playbook(settings.playbook_path), now)


def _run_drain(settings: Settings, session_factory: sessionmaker[Session], now: dt.datetime, _: str | None) -> str:
    from jobs import outbox_drain

    summary = outbox_drain.run(settings, session_factory, lambda: dt.datetime.now(dt.UTC))
    halted = f"; stopped: {summary.halted}" if summary.halted else ""
    return f"sent {summary.sent}, retried {summary.retried}, parked {summary.parked}, uncertain {summary.uncertain}{halted}"


JOBS = {
    job.name: job
    for job in (
        JobInfo("crm_sync", "every COACHBOT_SYNC_EVERY_MINUTES minutes, then gap_scan", "pull the CRM", _run_sync),
        JobInfo("gap_scan", "after each sync", "open and resolve process gaps with the playbook", _run_gap_scan),
        JobInfo("morning_nudge", "each rep's nudge time, working days, their time zone",
                "queue each rep's few most important items", _run_nudges),  # fmt: skip
        JobInfo("weekly_digest", "the playbook's digest day and time, each manager's time zone",
                "queue each manager's team digest with a chart", _run_digests),  # fmt: skip
        JobInfo("coaching_hourly", "every hour",
                "goal and action reminders, overdue escalations, plan proposals and check-ins", _run_hourly),  # fmt: skip
        JobInfo("outbox_drain", "every 5 seconds", "send queued messages within Slack's rate limits", _run_drain),
    )
}
