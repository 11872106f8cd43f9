"""The daily DM budget (`nudges.daily_budget`), spent first, and reminders folded into the next nudge.

What counts and what may go over is decided in bot/coaching/policy.py; this module keeps the
count. Each counted message spends one unit of its person's budget for the local day it reaches
them, claimed like any other once-only work: an INSERT unique on (person, day, unit) in the
transaction that queues the message. Two processes deciding a reminder for the same person at once
both read "0 spent" and try unit 1; one inserts it, the other conflicts, reads again, finds the
budget spent and folds its reminder instead, so the last unit is never spent twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.coaching.notices import ActionReminder, Notice
from bot.coaching.playbook import Playbook
from bot.coaching.policy import FOLDED_KINDS, NUDGE_LEDGER, nudge_time
from bot.database import in_chunks, insert_ignoring_conflicts
from bot.models import DmBudgetUnit, FoldedItem, JobRun, OutboxMessage, Person

# A nudge that runs a little late (a tick after a restart) still carries what waited for it.
NUDGE_RUNS_LATE = dt.timedelta(hours=1)
# Each retry follows a conflict with another process's unit: far more than two instances ever need.
_MAX_CLAIM_TRIES = 50


def spent(session: Session, person_id: int, day: dt.date) -> int:
    """How many counted messages reach `person_id` on `day` (their local date)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(DmBudgetUnit)
            .where(DmBudgetUnit.person_id == person_id, DmBudgetUnit.local_day == day)
        )
        or 0
    )


def spend(
    session: Session, person: Person, day: dt.date, *, key: str, kind: str, now: dt.datetime, limit: int | None
) -> int | None:
    """Spend the next unit of `person`'s budget on `day` for the message `key`: the unit's row id, or
    None, and nothing spent, when `limit` units are spent already (limit None: spend even over it)."""
    for _ in range(_MAX_CLAIM_TRIES):
        highest = (
            session.scalar(
                select(func.max(DmBudgetUnit.unit)).where(DmBudgetUnit.person_id == person.id, DmBudgetUnit.local_day == day)
            )
            or 0
        )
        if limit is not None and highest >= limit:
            return None
        claimed = session.execute(
            insert_ignoring_conflicts(session, DmBudgetUnit, ["person_id", "local_day", "unit"])
            .values(person_id=person.id, local_day=day, unit=highest + 1, dedupe_key=key[:200], kind=kind, spent_at=now)
            .returning(DmBudgetUnit.id)
        ).first()
        if claimed is not None:
            return int(claimed[0])
    raise RuntimeError(f"could not spend a DM budget unit for person {person.id} on {day}: too many conflicts")


def spend_many(session: Session, spending: Sequence[tuple[Person, dt.date, str]], *, kind: str, now: dt.datetime) -> None:
    """`spend` over the budget for each (person, day, key): the morning run's nudges, one read and one insert."""
    if not spending:
        return
    days = {day for _, day, _ in spending}
    highest: dict[tuple[int, dt.date], int] = {}
    for chunk in in_chunks(sorted({person.id for person, _, _ in spending})):
        query = (
            select(DmBudgetUnit.person_id, DmBudgetUnit.local_day, func.max(DmBudgetUnit.unit))
            .where(DmBudgetUnit.person_id.in_(chunk), DmBudgetUnit.local_day.in_(days))
            .group_by(DmBudgetUnit.person_id, DmBudgetUnit.local_day)
        )
        highest.update({(person_id, day): unit for person_id, day, unit in session.execute(query)})
    rows = [
        {"person_id": person.id, "local_day": day, "unit": highest.get((person.id, day), 0) + 1, "dedupe_key": key[:200],
         "kind": kind, "spent_at": now}
        for person, day, key in spending
    ]  # fmt: skip
    statement = insert_ignoring_conflicts(session, DmBudgetUnit, ["person_id", "local_day", "unit"])
    inserted = set(session.scalars(statement.returning(DmBudgetUnit.dedupe_key), rows))
    for person, day, key in spending:
        if key[:200] not in inserted:  # another process spent that unit meanwhile: one by one
            spend(session, person, day, key=key, kind=kind, now=now, limit=None)


def release(session: Session, unit_id: int) -> None:
    """Give back a unit just spent on a message that had been queued before (nothing new goes out)."""
    session.execute(delete(DmBudgetUnit).where(DmBudgetUnit.id == unit_id))


def nudge_to_come(session: Session, person: Person, playbook: Playbook, at: dt.datetime, default_timezone: str) -> bool:
    """True when `person`'s morning nudge on the local day of `at` has neither run nor been queued
    yet and is not long past: a reminder reaching them then waits in it, instead of arriving first.

    A reminder folded while another process is deciding that very nudge may miss it: it then waits
    for the next day's nudge, late but never lost (its folded row stays uncarried until one carries it).
    """
    if not person.is_rep:
        return False
    zone = ZoneInfo(person.timezone or default_timezone)
    day = at.astimezone(zone).date()
    if not playbook.nudges.is_working_day(day):
        return False
    instant = dt.datetime.combine(day, nudge_time(person, playbook), zone).astimezone(dt.UTC)
    if at >= instant + NUDGE_RUNS_LATE:
        return False
    ran = session.scalar(select(JobRun.id).where(JobRun.job == f"{NUDGE_LEDGER}:{person.id}", JobRun.scheduled_for == instant))
    queued = session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == f"nudge:{person.id}:{day.isoformat()}"))
    return ran is None and queued is None


def fold(session: Session, person: Person, notice: Notice, now: dt.datetime) -> bool:
    """Keep `notice` (a reminder) for `person`'s next morning nudge; False when it was kept before."""
    if isinstance(notice, ActionReminder):
        ref_id = notice.action_id
    else:
        # A GoalReminder's key is goal_reminder:<goal id> (bot/coaching/goals.py).
        ref_id = int(notice.key.rsplit(":", 1)[1])
    folded = session.execute(
        insert_ignoring_conflicts(session, FoldedItem, ["dedupe_key"])
        .values(person_id=person.id, item_kind=FOLDED_KINDS[notice.kind], ref_id=ref_id, dedupe_key=notice.key[:200],
                folded_at=now)
        .returning(FoldedItem.id)
    ).first()  # fmt: skip
    return folded is not None
