"""The morning nudge job: each rep's few most important items, at their nudge time on working days."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.blocks.nudges import app_home_url
from bot.coaching.policy import NUDGE_LEDGER, in_window, nudge_time
from bot.database import session_scope
from bot.delivery.nudges import queue_morning_nudge, queue_morning_nudges
from bot.models import Person
from jobs.job import Job, JobContext, LocalTime
from jobs.people import active_people


def run_for(session: Session, rep: Person, context: JobContext, now: dt.datetime) -> bool:
    """Today's nudge, unless the rep is outside their window (paused, quiet hours, not a working day) and it is not forced."""
    if not context.force and not in_window(rep, context.playbook, now, context.settings.timezone):
        return False
    return queue_morning_nudge(session, rep, context.playbook, now, context.settings.timezone, home_url=_home_url(context))


def run(context: JobContext, now: dt.datetime, email: str | None) -> str:
    """Queue today's nudge for every rep (or the one with `email`), under the schedule's keys."""
    with session_scope(context.session_factory) as session:
        reps = active_people(session, "reps", email)
        due = reps if context.force else [rep for rep in reps if in_window(rep, context.playbook, now, context.settings.timezone)]
        held = len(reps) - len(due)
        # All at once: one read of everyone's gaps, actions and goals, one insert of the nudges.
        queued = queue_morning_nudges(session, due, context.playbook, now, context.settings.timezone, home_url=_home_url(context))
    summary = f"{queued} nudge(s) queued for {len(reps)} rep(s) (reps with nothing worth saying, or not in Slack, get none)"
    if held:
        summary += f"; {held} held back: paused, in quiet hours or not a working day where they are (--force sends anyway)"
    return summary + ("; forced: sent whatever the time where they are" if context.force else "")


def _home_url(context: JobContext) -> str | None:
    return app_home_url(context.settings.slack_team_id, context.settings.slack_app_id)


JOB = Job(
    id="morning_nudge",
    description="queue each rep's few most important items",
    trigger=LocalTime(
        audience="reps",
        ledger_prefix=NUDGE_LEDGER,
        at=nudge_time,
        on_day=lambda day, playbook: playbook.nudges.is_working_day(day),
        text="each rep's nudge time, working days, their time zone",
        skip_in_quiet_hours=True,
    ),
    run=run,
    run_for=run_for,
)
