"""Every scheduled job, in the order `coachbot jobs list` shows them and a tick runs them."""

from __future__ import annotations

import datetime as dt

from jobs import (
    coaching_hourly,
    crm_sync,
    gap_scan,
    leaderboard,
    morning_nudge,
    outbox_drain,
    weekly_digest,
)
from jobs.job import AfterJob, Job, JobContext

# The leaderboard right after the digest: a board that goes to the manager is the message after it.
JOBS: tuple[Job, ...] = (
    crm_sync.JOB, gap_scan.JOB, morning_nudge.JOB, weekly_digest.JOB, leaderboard.JOB, coaching_hourly.JOB, outbox_drain.JOB,
)  # fmt: skip
BY_ID = {job.id: job for job in JOBS}


def followers(job: Job, jobs: tuple[Job, ...] = JOBS) -> list[Job]:
    """The jobs that run right after `job` (the gap scan after each CRM sync)."""
    return [other for other in jobs if isinstance(other.trigger, AfterJob) and other.trigger.job_id == job.id]


def run_with_followers(
    job: Job, context: JobContext, now: dt.datetime, person: str | None = None, jobs: tuple[Job, ...] = JOBS
) -> list[tuple[str, str]]:
    """Run `job` once and then the jobs that follow it, as the schedule does; (job id, summary) each."""
    results = [(job.id, job.run(context, now, person))]
    for follower in followers(job, jobs):
        results += run_with_followers(follower, context, now, person, jobs)
    return results
