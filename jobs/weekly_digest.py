"""The weekly digest job: each manager's team digest with a chart, on the playbook's day and time."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.coaching.playbook import Playbook, clock
from bot.coaching.policy import in_window
from bot.database import session_scope
from bot.delivery.digests import queue_weekly_digest
from bot.models import Person
from jobs.job import Job, JobContext, LocalTime
from jobs.people import active_people


def run_for(session: Session, manager: Person, context: JobContext, now: dt.datetime) -> bool:
    """This week's digest, unless the manager turned it off, or is outside their window and it is not forced."""
    settings = context.settings
    if not manager.digest_enabled or (not context.force and not in_window(manager, context.playbook, now, settings.timezone)):
        return False
    return queue_weekly_digest(
        session, manager, context.playbook, now, default_timezone=settings.timezone, default_currency=settings.currency,
        fiscal_year_start_month=settings.fiscal_year_start_month,
    )  # fmt: skip


def run(context: JobContext, now: dt.datetime, email: str | None) -> str:
    """Queue this week's digest for every manager (or the one with `email`), under the schedule's keys."""
    with session_scope(context.session_factory) as session:
        managers = active_people(session, "managers", email)
        turned_off = sum(not manager.digest_enabled for manager in managers)
        held = 0 if context.force else sum(
            manager.digest_enabled and not in_window(manager, context.playbook, now, context.settings.timezone)
            for manager in managers
        )  # fmt: skip
        queued = sum(run_for(session, manager, context, now) for manager in managers)
    summary = f"{queued} digest(s) queued for {len(managers)} manager(s) (a manager can turn theirs off)"
    if turned_off:
        summary += f"; {turned_off} turned their digest off (skipped, even with --force)"
    if held:
        summary += f"; {held} held back: paused, in quiet hours or not a working day where they are (--force sends anyway)"
    return summary + ("; forced: sent whatever the time where they are" if context.force else "")


def digest_time(_: Person, playbook: Playbook) -> dt.time:
    """The digest's local time (the leaderboard that follows it goes at the same moment)."""
    return clock(playbook.digest.local_time)


def is_digest_day(day: dt.date, playbook: Playbook) -> bool:
    return day.weekday() == playbook.digest.weekday_number


JOB = Job(
    id="weekly_digest",
    description="queue each manager's team digest with a chart",
    trigger=LocalTime(
        audience="managers",
        ledger_prefix="digest",
        at=digest_time,
        on_day=is_digest_day,
        text="the playbook's digest day and time, each manager's time zone",
    ),
    run=run,
    run_for=run_for,
)
