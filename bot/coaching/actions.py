"""Actions a coach or manager asks of a rep: assigning, completing, reminding, escalating.

Every message is a notice (bot/coaching/notices.py) added inside the transaction that records the
decision and queued by the delivery layer before it commits, under a key that can be queued
once: action:<id> (assigned, to the rep), action_done:<id> (to whoever assigned it),
action_reminder:<id> (to the rep, the day before it is due) and escalation:<id> (to whoever
assigned it, once it is overdue). Reminders and escalations are also claimed on the
row first (a conditional UPDATE of reminded_at / escalated_at whose row count is checked), so a
second run, a restart or a second instance never repeats them.

Due dates are read on the rep's own calendar: an action due Nov 24 is overdue from midnight
starting Nov 25 where the rep is. Someone without a linked Slack account gets nothing queued;
that is logged, and their reminder or escalation stays unclaimed until they are linked.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.access import audit
from bot.coaching.errors import (
    InvalidInput,
    NotAllowed,
    NotFound,
    is_in_manager_chain,
    require_coach,
)
from bot.coaching.notices import (
    ActionAssigned,
    ActionDone,
    ActionEscalated,
    ActionReminder,
    Notices,
    reachable,
)
from bot.dml import rows_affected
from bot.models import Action, Deal, Goal, Person, RecoveryPlan

log = logging.getLogger(__name__)

MAX_ACTION_TEXT = 500
# Reminders and escalations wait for the working day where their reader is: a ping at
# 00:05 because a date ticked over helps nobody.
WORKDAY_START = dt.time(9, 0)


def local_now(person: Person, now: dt.datetime, default_timezone: str) -> dt.datetime:
    """`now` on the wall clock of `person` (their time zone, else the team's)."""
    return now.astimezone(ZoneInfo(person.timezone or default_timezone))


def clean_text(text: str, what: str, limit: int) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise InvalidInput(f"Please fill in the {what}.")
    if len(cleaned) > limit:
        raise InvalidInput(f"The {what} is {len(cleaned)} characters long; keep it under {limit}.")
    return cleaned


def assign_action(
    session: Session,
    notices: Notices,
    *,
    rep: Person,
    assigned_by: Person,
    text: str,
    due_date: dt.date | None,
    deal: Deal | None = None,
    goal: Goal | None = None,
    plan: RecoveryPlan | None = None,
    now: dt.datetime,
    default_timezone: str = "UTC",
) -> Action:
    """Record an action for `rep` and queue it to them with a Done button (key action:<id>)."""
    require_coach(session, assigned_by, rep, "assign them actions")
    cleaned = clean_text(text, "action", MAX_ACTION_TEXT)
    if due_date is not None and due_date < local_now(rep, now, default_timezone).date():
        raise InvalidInput(f"{due_date:%b} {due_date.day} has already passed where {rep.name} is; pick today or later.")
    for linked, owner_id, what in (
        (deal, deal.owner_id if deal else None, "deal"),
        (goal, goal.person_id if goal else None, "goal"),
        (plan, plan.person_id if plan else None, "recovery plan"),
    ):
        if linked is not None and owner_id != rep.id:
            raise InvalidInput(f"That {what} is not {rep.name}'s.")

    action = Action(
        person_id=rep.id,
        assigned_by_id=assigned_by.id,
        text=cleaned,
        due_date=due_date,
        deal_id=deal.id if deal else None,
        goal_id=goal.id if goal else None,
        plan_id=plan.id if plan else None,
        status="open",
        created_at=now,
    )
    session.add(action)
    session.flush()
    notices.tell(
        rep,
        ActionAssigned(
            key=f"action:{action.id}", action_id=action.id, text=cleaned, assigned_by=assigned_by.name, due_date=due_date,
            deal_name=deal.name if deal else None, deal_url=deal.crm_url if deal else None,
            goal=goal.competency if goal else None,
        ),
    )  # fmt: skip
    audit(session, assigned_by, "assign_action", now, subject=rep, detail={"action_id": action.id})
    return action


def complete_action(session: Session, notices: Notices, action_id: int, by: Person, now: dt.datetime) -> Action:
    """Mark an action done (the rep, whoever assigned it, or a manager up the chain may).

    Idempotent: a second press of Done changes nothing and tells nobody again. The first tells
    whoever assigned the action (key action_done:<id>), unless they pressed it themselves, and is
    audited.
    """
    action = session.get(Action, action_id)
    if action is None:
        raise NotFound("That action no longer exists.")
    rep = session.get(Person, action.person_id)
    assert rep is not None  # actions are deleted with their rep
    if by.id not in (action.person_id, action.assigned_by_id) and not is_in_manager_chain(session, by, rep):
        raise NotAllowed(f"Only {rep.name}, whoever assigned it and {rep.name}'s managers can mark this action done.")
    marked = rows_affected(
        session,
        update(Action).where(Action.id == action.id, Action.status == "open").values(status="done", done_at=now),
    )
    if marked == 1:
        audit(session, by, "complete_action", now, subject=rep, detail={"action_id": action.id})
    if marked == 1 and action.assigned_by_id not in (None, by.id):
        notices.tell(
            session.get(Person, action.assigned_by_id),
            ActionDone(key=f"action_done:{action.id}", text=action.text, done_by=by.name, rep_name=rep.name),
        )
    return action


def _open_actions_due_by(session: Session, latest_due: dt.date, person: Person | None = None) -> list[tuple[Action, Person]]:
    query = (
        select(Action, Person)
        .join(Person, Person.id == Action.person_id)
        .where(Action.status == "open", Action.due_date.is_not(None), Action.due_date <= latest_due, Person.active.is_(True))
        .order_by(Action.due_date, Action.id)
    )
    if person is not None:
        query = query.where(Action.person_id == person.id)
    return [(action, rep) for action, rep in session.execute(query)]


def _due_date(action: Action) -> dt.date:
    # For actions _open_actions_due_by read (so overdue_actions returns): its query keeps dated ones only.
    assert action.due_date is not None
    return action.due_date


def overdue_actions(
    session: Session, now: dt.datetime, *, person: Person | None = None, default_timezone: str = "UTC"
) -> list[Action]:
    """Open actions whose due date has passed on their rep's calendar, oldest first."""
    # Somewhere on Earth it is already tomorrow (UTC+14): nothing due later can be overdue anywhere.
    latest_due = now.astimezone(dt.UTC).date() + dt.timedelta(days=1)
    return [
        action
        for action, rep in _open_actions_due_by(session, latest_due, person)
        if _due_date(action) < local_now(rep, now, default_timezone).date()
    ]


def escalate_overdue(
    session: Session, notices: Notices, now: dt.datetime, *, not_before: dt.time = WORKDAY_START, default_timezone: str = "UTC"
) -> int:
    """Tell whoever assigned each overdue action (its rep's manager if they are gone), once; the number queued.

    The escalation waits for `not_before` on the reader's wall clock. Key escalation:<action id>.
    """
    queued = 0
    for action in overdue_actions(session, now, default_timezone=default_timezone):
        if action.escalated_at is not None:
            continue
        rep = session.get(Person, action.person_id)
        assert rep is not None
        reader = session.get(Person, action.assigned_by_id) if action.assigned_by_id else None
        if reader is None or not reader.active:
            # Whoever assigned it has left: the rep's manager hears of it instead.
            reader = session.get(Person, rep.manager_id) if rep.manager_id else None
        key = f"escalation:{action.id}"
        if not reachable(reader, "action_escalation", key):
            continue
        assert reader is not None
        if local_now(reader, now, default_timezone).time() < not_before:
            continue
        claimed = rows_affected(
            session,
            update(Action).where(Action.id == action.id, Action.escalated_at.is_(None)).values(escalated_at=now),
        )
        if claimed != 1:
            continue
        due_date = _due_date(action)
        days_overdue = (local_now(rep, now, default_timezone).date() - due_date).days
        escalated = ActionEscalated(key=key, rep_name=rep.name, text=action.text, due_date=due_date, days_overdue=days_overdue)
        queued += notices.tell(reader, escalated)
    return queued


def action_reminders(
    session: Session, notices: Notices, now: dt.datetime, *, not_before: dt.time = WORKDAY_START, default_timezone: str = "UTC"
) -> int:
    """Remind each rep of an action due tomorrow on their calendar, once; the number queued.

    An action assigned the day before it is due gets no reminder: the assignment was one.
    Key action_reminder:<action id>.
    """
    latest_due = now.astimezone(dt.UTC).date() + dt.timedelta(days=2)
    queued = 0
    for action, rep in _open_actions_due_by(session, latest_due):
        rep_now = local_now(rep, now, default_timezone)
        today = rep_now.date()
        if action.reminded_at is not None or action.due_date != today + dt.timedelta(days=1) or rep_now.time() < not_before:
            continue
        if local_now(rep, action.created_at, default_timezone).date() >= today:
            continue
        key = f"action_reminder:{action.id}"
        if not reachable(rep, "action_reminder", key):
            continue
        claimed = rows_affected(
            session,
            update(Action).where(Action.id == action.id, Action.reminded_at.is_(None)).values(reminded_at=now),
        )
        if claimed != 1:
            continue
        assigner = session.get(Person, action.assigned_by_id) if action.assigned_by_id else None
        reminder = ActionReminder(
            key=key, action_id=action.id, text=action.text, due_date=action.due_date, days_left=1,
            assigned_by=assigner.name if assigner else None,
        )  # fmt: skip
        queued += notices.tell(rep, reminder)
    return queued
