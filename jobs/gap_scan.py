"""The gap scan job: bring the process gaps of every open deal in line with the playbook.

It follows every CRM sync, so a deal fixed in the CRM leaves the next nudge once they have run;
gaps are judged on each rep's own calendar day. Then the reps' "I fixed it" claims made before
that sync are settled (bot/coaching/fixes.py): closed if the CRM agreed, else the rep is told once. Goals measured from the CRM are measured again
right after it, and closed when achieved or past due, so everyone sees progress move with the CRM.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from bot.coaching import fixes, goals
from bot.coaching.gaps import ScanSummary, scan_gaps
from bot.coaching.notices import Notices
from bot.coaching.playbook import Playbook, load_playbook
from bot.database import session_scope
from bot.delivery.messages import deliver
from bot.settings import Settings
from jobs.job import AfterJob, Job, JobContext


def run(
    settings: Settings, session_factory: sessionmaker[Session], now: dt.datetime, playbook: Playbook | None = None
) -> ScanSummary:
    """One scan of every open deal as of `now`."""
    return scan_gaps(session_factory, playbook or load_playbook(settings.playbook_path), now, default_timezone=settings.timezone)


def _run_job(context: JobContext, now: dt.datetime, _: str | None) -> str:
    summary = run(context.settings, context.session_factory, now, playbook=context.playbook)
    fixed, not_fixed = settle_fix_claims(context, now)
    measured, closed = measure_goals(context, now)
    rechecked = f"; {fixed + not_fixed} 'I fixed it' rechecked, {not_fixed} still open" if fixed + not_fixed else ""
    return (
        f"{summary.opened} gaps opened, {summary.resolved} resolved, {summary.still_open} still open{rechecked}; "
        f"{measured} goals measured, {closed} closed"
    )


def settle_fix_claims(context: JobContext, now: dt.datetime) -> tuple[int, int]:
    """Settle the "I fixed it" claims the latest sync rechecked, telling each rep whose gap is still open; (closed, open)."""
    with session_scope(context.session_factory) as session:
        notices = Notices()
        settled = fixes.settle_fix_claims(session, notices, now)
        deliver(session, notices, now, playbook=context.playbook, default_timezone=context.settings.timezone)
    return settled


def measure_goals(context: JobContext, now: dt.datetime) -> tuple[int, int]:
    """Measure every open measured goal again and close the achieved and the past-due; (measured, closed)."""
    settings = context.settings
    with session_scope(context.session_factory) as session:
        notices = Notices()
        measured = goals.refresh_measured_goals(
            session, now, default_timezone=settings.timezone, default_currency=settings.currency
        )
        closed = goals.close_finished_goals(session, notices, now, default_timezone=settings.timezone)
        deliver(session, notices, now, playbook=context.playbook, default_timezone=settings.timezone)
    return measured, closed


JOB = Job(
    id="gap_scan", description="open and resolve process gaps with the playbook", trigger=AfterJob("crm_sync"), run=_run_job
)
