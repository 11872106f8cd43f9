"""The job-run ledger: a scheduled run is claimed by one process before any work is done.

The claim is an INSERT into job_runs, unique on (job, scheduled_for). Whichever process
inserts first owns the run; every other process (a restart, a second instance, a second
worker) sees the conflict and skips it. APScheduler's own job store is never shared between
processes (its FAQ forbids it): each process keeps its schedule in memory and this table
decides who runs what.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.database import insert_ignoring_conflicts, session_scope
from bot.models import JobRun

log = logging.getLogger(__name__)

INSTANCE = f"{socket.gethostname()}:{os.getpid()}"


def claim(session_factory: sessionmaker[Session], job: str, scheduled_for: dt.datetime, now: dt.datetime) -> int | None:
    """Claim the run of `job` scheduled for `scheduled_for`; its id, or None if another process has it."""
    with session_scope(session_factory) as session:
        result = session.execute(
            insert_ignoring_conflicts(session, JobRun, ["job", "scheduled_for"])
            .values(job=job, scheduled_for=scheduled_for, claimed_by=INSTANCE, claimed_at=now, status="running")
            .returning(JobRun.id)
        )
        return result.scalar()


def finish(session_factory: sessionmaker[Session], run_id: int, now: dt.datetime, error: str | None = None) -> None:
    with session_scope(session_factory) as session:
        session.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(finished_at=now, status="failed" if error else "succeeded", error=error)
        )
