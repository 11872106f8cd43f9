"""What a scheduled job is: an id, a description, a trigger and a plain `run`.

Every job module under jobs/ exports one `JOB`; jobs/registry.py lists them, and the schedule
(jobs/schedule.py), `coachbot jobs list` and `coachbot jobs run` all read that one list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.playbook import Playbook
from bot.models import Person
from bot.settings import Settings


@dataclass(frozen=True)
class JobContext:
    """What a run needs besides the moment it runs at."""

    settings: Settings
    session_factory: sessionmaker[Session]
    playbook: Playbook
    client: WebClient | None = None  # the outbox drain's; built from the settings when None
    # The outbox drain reads the time as it goes (it paces its sends); the other jobs take `now`.
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    # A hand-run with --force: send to people outside their window (quiet hours, a weekend, a pause) too.
    force: bool = False


@dataclass(frozen=True)
class EveryMinutes:
    """Once per slot of `minutes(settings)` minutes (slots counted from the epoch), by whoever claims it first."""

    minutes: Callable[[Settings], int]
    text: str


@dataclass(frozen=True)
class EverySeconds:
    """Every few seconds in each process (its own work is claimed row by row)."""

    seconds: int


@dataclass(frozen=True)
class AfterJob:
    """Right after another job's run, in the same slot."""

    job_id: str


@dataclass(frozen=True)
class LocalTime:
    """At a wall-clock time in each person's own time zone, on the days the playbook allows.

    Each person's run is claimed in job_runs as `<ledger_prefix>:<person id>` at its instant, in the
    same transaction as the message it queues.
    """

    audience: Literal["reps", "managers"]
    ledger_prefix: str
    at: Callable[[Person, Playbook], dt.time]
    on_day: Callable[[dt.date, Playbook], bool]
    text: str
    # Back from downtime in the person's quiet hours: the run is skipped rather than sent at night.
    skip_in_quiet_hours: bool = False


Trigger = EveryMinutes | EverySeconds | AfterJob | LocalTime


@dataclass(frozen=True)
class Job:
    id: str
    description: str
    trigger: Trigger
    # The whole job once, as of `now` (`person`: an email, for the per-person jobs); a one-line summary.
    run: Callable[[JobContext, dt.datetime, str | None], str]
    # LocalTime jobs: one person's run, in the caller's transaction; True when something was queued.
    run_for: Callable[[Session, Person, JobContext, dt.datetime], bool] | None = None
    # Interval jobs whose whole run can happen in the caller's transaction (`coachbot jobs preview`
    # runs it in one it rolls back); a one-line summary.
    run_in: Callable[[Session, JobContext, dt.datetime], str] | None = None

    def when(self, settings: Settings) -> str:
        """When the schedule runs it, in words, for `coachbot jobs list`."""
        trigger = self.trigger
        if isinstance(trigger, EveryMinutes):
            return trigger.text.format(minutes=trigger.minutes(settings))
        if isinstance(trigger, EverySeconds):
            return f"every {trigger.seconds} seconds"
        if isinstance(trigger, AfterJob):
            return f"after each {trigger.job_id}"
        return trigger.text
