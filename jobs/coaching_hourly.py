"""The hourly coaching round: goal progress and reminders, action reminders and escalations,
recovery-plan proposals, check-ins and closings. Each step claims its decisions on their rows and
its messages go out under unique keys, so running the round twice in an hour (by hand, or by two
processes) queues nothing twice."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.coaching import actions, goals, plans
from bot.coaching.notices import Notices
from bot.coaching.playbook import Playbook
from bot.database import session_scope
from bot.delivery.messages import deliver
from bot.settings import Settings
from jobs.job import EveryMinutes, Job, JobContext


def run_in(session: Session, settings: Settings, playbook: Playbook, now: dt.datetime, *, force: bool = False) -> str:
    """One round in `session` (the caller commits); a one-line summary. `force`: every message now,
    whatever the time where its reader is, and no reminder folded into a nudge."""
    tz, currency, fiscal = settings.timezone, settings.currency, settings.fiscal_year_start_month
    recovery = playbook.recovery
    notices = Notices()
    measured = goals.refresh_measured_goals(session, now, default_timezone=tz, default_currency=currency)
    goals_closed = goals.close_finished_goals(session, notices, now, default_timezone=tz)
    goal_reminders = goals.goal_reminders(session, notices, now, default_timezone=tz)
    action_reminders = actions.action_reminders(session, notices, now, default_timezone=tz)
    escalations = actions.escalate_overdue(session, notices, now, default_timezone=tz)
    closed = plans.close_finished_plans(
        session, notices, now, playbook=playbook, default_timezone=tz, default_currency=currency, fiscal_year_start_month=fiscal
    )
    proposals = plans.plans_to_propose(
        session, notices, now, playbook=playbook, default_timezone=tz, default_currency=currency, fiscal_year_start_month=fiscal,
        projected_below=recovery.projected_below, min_period_left=recovery.min_period_left,
        checkin_every_days=recovery.checkin_every_days,
    )  # fmt: skip
    checkins = plans.due_checkins(session, notices, now, default_timezone=tz)
    delivered = deliver(session, notices, now, playbook=playbook, default_timezone=tz, force=force)
    summary = (
        f"{measured} goals measured, {goals_closed} closed, {goal_reminders} goal and {action_reminders} action reminders, "
        f"{escalations} escalations, {proposals} plan proposals, {checkins} check-ins, {closed} plans closed"
    )
    if delivered.folded:
        summary += f"; {delivered.folded} reminder(s) kept for the next morning nudge (daily budget, or the nudge still to come)"
    return summary + ("; forced: queued for now whatever the time where they are" if force else "")


def _run_job(context: JobContext, now: dt.datetime, _: str | None) -> str:
    with session_scope(context.session_factory) as session:
        return run_in(session, context.settings, context.playbook, now, force=context.force)


JOB = Job(
    id="coaching_hourly",
    description="goal and action reminders, overdue escalations, plan proposals and check-ins",
    trigger=EveryMinutes(lambda _: 60, "every hour"),
    run=_run_job,
    run_in=lambda session, context, now: run_in(session, context.settings, context.playbook, now, force=context.force),
)
