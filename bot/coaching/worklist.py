"""`/coach list`: the open actions and goals of the reps someone coaches, or of one rep, as values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.access import audit, may_view, visible_rep_ids
from bot.coaching.actions import local_now
from bot.coaching.errors import NotAllowed
from bot.models import Action, Goal, Person

MAX_REPS_LISTED = 40  # a Slack message holds 50 blocks: one a rep, and a few around them


@dataclass(frozen=True)
class OpenAction:
    id: int
    text: str
    due_date: dt.date | None
    overdue: bool


@dataclass(frozen=True)
class OpenGoal:
    id: int
    competency: str
    due_date: dt.date | None
    progress: float


@dataclass(frozen=True)
class RepWork:
    """One rep's open actions and goals, as `/coach list` shows them."""

    name: str
    actions: Sequence[OpenAction]
    goals: Sequence[OpenGoal]


@dataclass(frozen=True)
class WorkList:
    heading: str
    reps: tuple[RepWork, ...]
    more_reps: int  # reps beyond MAX_REPS_LISTED, not shown


def work_list(session: Session, caller: Person, rep: Person | None, now: dt.datetime, *, default_timezone: str) -> WorkList:
    """`rep`'s open work (NotAllowed unless the caller may see them), or that of every rep the
    caller coaches, else the caller's own; every look at someone else's is audited."""
    if rep is not None:
        if not may_view(session, caller, rep):
            raise NotAllowed(f"Only {rep.name}, their managers and their coaches can see their actions and goals.")
        reps, heading = [rep], ("Your open actions and goals" if rep.id == caller.id else f"Open actions and goals of {rep.name}")
    else:
        ids = visible_rep_ids(session, caller)
        query = (
            select(Person)
            .where(Person.id.in_(ids), Person.is_rep.is_(True), Person.active.is_(True))
            .order_by(Person.name, Person.id)
        )
        reps = list(session.scalars(query)) if ids else []
        heading = "Open actions and goals of your reps"
        if not reps:
            reps, heading = [caller], "Your open actions and goals"
    shown = reps[:MAX_REPS_LISTED]
    for listed in shown:
        if listed.id != caller.id:
            audit(session, caller, "view_coaching", now, subject=listed)
    return WorkList(heading, tuple(_open_work(session, shown, now, default_timezone)), len(reps) - len(shown))


def _open_work(session: Session, reps: list[Person], now: dt.datetime, default_timezone: str) -> list[RepWork]:
    ids = [rep.id for rep in reps]
    open_actions = session.scalars(
        select(Action)
        .where(Action.person_id.in_(ids), Action.status == "open")
        .order_by(Action.due_date.is_(None), Action.due_date, Action.id)
    ).all()
    open_goals = session.scalars(
        select(Goal)
        .where(Goal.person_id.in_(ids), Goal.status == "open")
        .order_by(Goal.due_date.is_(None), Goal.due_date, Goal.id)
    ).all()
    work = []
    for rep in reps:
        # "Overdue" on the rep's own calendar, as everywhere else.
        today = local_now(rep, now, default_timezone).date()
        rep_actions = [
            OpenAction(a.id, a.text, a.due_date, a.due_date is not None and a.due_date < today)
            for a in open_actions
            if a.person_id == rep.id
        ]
        rep_goals = [OpenGoal(g.id, g.competency, g.due_date, g.progress) for g in open_goals if g.person_id == rep.id]
        work.append(RepWork(rep.name, rep_actions, rep_goals))
    return work
