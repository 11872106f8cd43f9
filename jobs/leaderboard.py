"""The weekly discipline leaderboard: each opted-in team's board, at the digest's day and time.

It runs as a manager's job (LocalTime, ledger `leaderboard:<manager>`) right after the weekly
digest in each tick (jobs/registry.py lists it after weekly_digest), so a board that goes to the
manager (`where: digest`) arrives as the message after their digest; the outbox key
leaderboard:<manager>:<monday> makes it once per team per week, however often it is run.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from bot.coaching.policy import in_window
from bot.database import session_scope
from bot.delivery.leaderboards import channel_problems, queue_leaderboard
from bot.models import Person
from jobs.job import Job, JobContext, LocalTime
from jobs.people import active_people
from jobs.weekly_digest import digest_time, is_digest_day

log = logging.getLogger(__name__)


def run_for(session: Session, manager: Person, context: JobContext, now: dt.datetime) -> bool:
    """This week's board of the manager's team, if it opted in; one that goes with the digest follows
    the digest's rules (the manager's digest on, in their window unless forced)."""
    settings = context.settings
    board = context.playbook.leaderboard_for(manager.email)
    if not board.enabled:
        return False
    if board.where == "digest" and (
        not manager.digest_enabled or (not context.force and not in_window(manager, context.playbook, now, settings.timezone))
    ):
        return False
    return queue_leaderboard(
        session, manager, context.playbook, now, default_timezone=settings.timezone, default_currency=settings.currency,
        fiscal_year_start_month=settings.fiscal_year_start_month,
    )  # fmt: skip


def run(context: JobContext, now: dt.datetime, email: str | None) -> str:
    """Queue this week's board of every opted-in team (or the team of the manager with `email`)."""
    with session_scope(context.session_factory) as session:
        managers = active_people(session, "managers", email)
        boards = [context.playbook.leaderboard_for(manager.email) for manager in managers]
        teams = sum(board.enabled for board in boards)
        turned_off = sum(
            board.enabled and board.where == "digest" and not manager.digest_enabled for board, manager in zip(boards, managers)
        )
        queued = sum(run_for(session, manager, context, now) for manager in managers)
        problems = channel_problems(session)
    summary = f"{queued} leaderboard(s) queued for {teams} team(s) that opted in (a board goes out once a week)"
    if turned_off:
        summary += f"; {turned_off} that go(es) with the digest skipped: the manager turned the digest off (even with --force)"
    for problem in problems:
        log.warning("%s", problem)
    return "; ".join([summary, *problems])


JOB = Job(
    id="leaderboard",
    description="queue each opted-in team's weekly discipline leaderboard, in its channel or after the digest",
    trigger=LocalTime(
        audience="managers",
        ledger_prefix="leaderboard",
        at=digest_time,
        on_day=is_digest_day,
        text="the playbook's digest day and time, each manager's time zone, after the digest",
    ),
    run=run,
    run_for=run_for,
)
