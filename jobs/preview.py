"""`coachbot jobs preview --at WHEN`: what the schedule would send to whom at one moment, sending nothing.

The jobs that fire at WHEN (a person's nudge or digest time, an interval job's slot beginning
then) run as a tick would run them, policy and all (windows, the daily budget, folding), in one
database transaction that is rolled back at the end: the messages they would queue are read back
before it, and no outbox row, ledger claim, budget unit or folded reminder outlives the preview.
A run the ledger says already happened is shown as such, as a tick would skip it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.coaching.policy import in_window
from bot.models import Action, FoldedItem, Goal, JobRun, OutboxMessage, Person
from jobs.job import EveryMinutes, Job, JobContext, LocalTime
from jobs.registry import JOBS, followers
from jobs.schedule import local_instants

_SUMMARY_LENGTH = 100


class BadMoment(ValueError):
    """WHEN is not a moment coachbot can read."""


def parse_moment(text: str, default_timezone: str) -> dt.datetime:
    """WHEN as an aware UTC minute: an ISO datetime with an offset, or one without (e.g.
    'YYYY-MM-DD HH:MM') read in `default_timezone`."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadMoment(
            f"{text!r} is not a date and time: use 'YYYY-MM-DD HH:MM' (in COACHBOT_TIMEZONE, {default_timezone}) "
            "or an ISO datetime with its offset, like 2026-11-09T08:00:00-05:00 or 2026-11-09T13:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(default_timezone))
    # Jobs fire on the minute.
    return moment.astimezone(dt.UTC).replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Planned:
    """One message a job would send: to whom, what kind, when it reaches them (their zone), its first line."""

    job: str
    person: str
    kind: str
    reaches_them: str
    summary: str

    def line(self) -> str:
        return f"{self.job}: {self.person}, {self.kind}, {self.reaches_them}: {self.summary}"


@dataclass
class Preview:
    at: dt.datetime
    planned: list[Planned]
    notes: list[str]  # jobs that fire but whose messages are not previewed, runs already done

    def lines(self, default_timezone: str) -> Iterator[str]:
        local = self.at.astimezone(ZoneInfo(default_timezone))
        yield f"At {local:%a %Y-%m-%d %H:%M} {default_timezone} ({self.at:%H:%M} UTC):"
        yield from (planned.line() for planned in self.planned)
        yield from self.notes
        if not self.planned and not self.notes:
            yield "No scheduled job fires then."
        elif not self.planned:
            yield "Nothing would be sent."
        yield "Nothing was sent or written: the preview ran in a transaction that was rolled back."


def preview(context: JobContext, at: dt.datetime, *, jobs: tuple[Job, ...] = JOBS) -> Preview:
    """What the schedule's jobs that fire at `at` would send, computed in a rolled-back transaction."""
    result = Preview(at, [], [])
    with context.session_factory() as session:
        try:
            _run_all(session, context, at, jobs, result)
        finally:
            session.rollback()
    return result


def _run_all(session: Session, context: JobContext, at: dt.datetime, jobs: tuple[Job, ...], result: Preview) -> None:
    people = session.scalars(
        select(Person)
        .where(Person.active.is_(True), Person.slack_user_id.is_not(None), (Person.is_rep | Person.is_manager))
        .order_by(Person.name)
    ).all()
    by_slack_id = {person.slack_user_id: person for person in people}
    claimed = {tuple(row) for row in session.execute(select(JobRun.job, JobRun.scheduled_for).where(JobRun.scheduled_for == at))}
    default_timezone = context.settings.timezone
    # As a tick: each person's jobs first, then the interval jobs.
    for job in jobs:
        trigger = job.trigger
        if not isinstance(trigger, LocalTime) or job.run_for is None:
            continue
        for person in people:
            if not (person.is_rep if trigger.audience == "reps" else person.is_manager):
                continue
            zone = ZoneInfo(person.timezone or default_timezone)
            instants = list(local_instants(zone, trigger.at(person, context.playbook), at - dt.timedelta(minutes=1), at))
            if not instants or not trigger.on_day(at.astimezone(zone).date(), context.playbook):
                continue
            if (f"{trigger.ledger_prefix}:{person.id}", at) in claimed:
                result.notes.append(f"{job.id}: {_who(person)}: already ran at that time (job_runs)")
                continue
            mark = _marks(session)
            job.run_for(session, person, context, at)
            result.planned += _queued_since(session, mark, job.id, by_slack_id, default_timezone)
            if not in_window(person, context.playbook, at, default_timezone):
                result.notes.append(f"{job.id}: {_who(person)}: held back: paused, in quiet hours or not a working day there")
    for job in jobs:
        trigger = job.trigger
        if not isinstance(trigger, EveryMinutes) or not _slot_begins(trigger.minutes(context.settings), at):
            continue
        if (job.id, at) in claimed:
            result.notes.append(f"{job.id}: already ran at that time (job_runs)")
        elif job.run_in is None:
            after = "".join(f", then {follower.id}" for follower in followers(job, jobs))
            result.notes.append(
                f"{job.id}{after}: would run; what it tells people depends on the CRM's data then, so it is not previewed"
            )
        else:
            mark = _marks(session)
            job.run_in(session, context, at)
            result.planned += _queued_since(session, mark, job.id, by_slack_id, default_timezone)


def _slot_begins(every_minutes: int, at: dt.datetime) -> bool:
    return bool(every_minutes) and int(at.timestamp() // 60) % every_minutes == 0


def _who(person: Person) -> str:
    return f"{person.name} <{person.email}>"


def _marks(session: Session) -> tuple[int, int]:
    return (
        session.scalar(select(func.coalesce(func.max(OutboxMessage.id), 0))) or 0,
        session.scalar(select(func.coalesce(func.max(FoldedItem.id), 0))) or 0,
    )


def _queued_since(
    session: Session, mark: tuple[int, int], job_id: str, by_slack_id: dict[str | None, Person], default_timezone: str
) -> list[Planned]:
    planned = []
    rows = session.execute(
        select(OutboxMessage.recipient, OutboxMessage.kind, OutboxMessage.next_attempt_at, OutboxMessage.payload)
        .where(OutboxMessage.id > mark[0])
        .order_by(OutboxMessage.id)
    )
    for recipient, kind, when, payload in rows:
        person = by_slack_id.get(recipient)
        zone = ZoneInfo((person.timezone if person else None) or default_timezone)
        first_line = (payload.get("text") or "").strip().splitlines()[0] if payload.get("text") else ""
        summary = first_line if len(first_line) <= _SUMMARY_LENGTH else first_line[: _SUMMARY_LENGTH - 1] + "…"
        planned.append(
            Planned(
                job_id, _who(person) if person else recipient, kind, when.astimezone(zone).strftime("%a %b %d %H:%M %Z"), summary
            )
        )
    folded = session.execute(
        select(FoldedItem.person_id, FoldedItem.dedupe_key, FoldedItem.item_kind, FoldedItem.ref_id)
        .where(FoldedItem.id > mark[1])
        .order_by(FoldedItem.id)
    )
    for person_id, key, item_kind, ref_id in folded:
        person = session.get(Person, person_id)
        assert person is not None
        what = session.get(Action, ref_id).text if item_kind == "action" else session.get(Goal, ref_id).competency  # type: ignore[union-attr]
        planned.append(
            Planned(job_id, _who(person), key.split(":", 1)[0], "in their next morning nudge",
                    f"{what} (the day's budget is spent, or their nudge is still to come)")
        )  # fmt: skip
    return planned
