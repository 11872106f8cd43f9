"""The weekly digest job: each manager's team digest with a chart, on the playbook's day and time."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.coaching.playbook import clock
from bot.database import session_scope
from bot.delivery.digests import queue_weekly_digest
from bot.models import Person
from jobs.job import Job, JobContext, LocalTime
from jobs.people import active_people


def run_for(session: Session, manager: Person, context: JobContext, now: dt.datetime) -> bool:
    settings = context.settings
    return queue_weekly_digest(
        session, manager, context.playbook, now, default_timezone=settings.timezone, default_currency=settings.currency,
        fiscal_year_start_month=settings.fiscal_year_start_month,
    )  # fmt: skip


def run(context: JobContext, now: dt.datetime, email: str | None) -> str:
    """Queue this week's digest for every manager (or the one with `email`), under the schedule's keys."""
    with session_scope(context.session_factory) as session:
        managers = active_people(session, "managers", email)
        queued = sum(run_for(session, manager, context, now) for manager in managers)
    return f"{queued} digest(s) queued for {len(managers)} manager(s)"


JOB = Job(
    id="weekly_digest",
    description="queue each manager's team digest with a chart",
    trigger=LocalTime(
        audience="managers", ledger_prefix="digest", at=lambda _, playbook: clock(playbook.digest.local_time),
        on_day=lambda day, playbook: day.weekday() == playbook.digest.weekday_number,
        text="the playbook's digest day and time, each manager's time zone",
    ),
    run=run,
    run_for=run_for,
)
