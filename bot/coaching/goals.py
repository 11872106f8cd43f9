"""Development goals: set by a rep's managers or coach, measured from the CRM or by the rep's word.

A goal may name a measure computed from the rep's deals, with a target; its progress is then
min(value ÷ target, 1). The measures:

| measure                   | value                                                                  | target   |
|---------------------------|------------------------------------------------------------------------|----------|
| `next_step_coverage`      | open deals with a next step and a date for it ÷ open deals             | a share  |
| `pipeline_added_per_week` | Σ amount of the rep's deals created in the 7 days up to now, in the    | an amount|
|                           | rep's currency (their quota's, else the team's)                        |          |
| `process_adherence`       | open deals with no open process gap ÷ open deals                       | a share  |
| `product_lines_in_play`   | product lines among open deals and deals won in the last 90 days       | a count  |

The two shares mean nothing without open deals; progress is then left as it was. A goal with no
measure moves when the rep says so (`update_progress`). `goal_reminders` tells the rep once when a
goal comes due (key goal_reminder:<goal id>, claimed on goals.reminded_at).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from bot.access import audit
from bot.coaching.actions import WORKDAY_START, clean_text, local_now
from bot.coaching.errors import InvalidInput, NotAllowed, WrongState, require_coach
from bot.coaching.notices import GoalReminder, GoalSet, Notices, reachable
from bot.coaching.words import clip
from bot.dml import rows_affected
from bot.models import Deal, Goal, Person, ProcessGap, Quota

# measure -> the kind of target it takes
MEASURES = {
    "next_step_coverage": "share",
    "pipeline_added_per_week": "amount",
    "process_adherence": "share",
    "product_lines_in_play": "count",
}
WON_LOOKBACK_DAYS = 90
MAX_COMPETENCY = 100  # goals.competency is VARCHAR(100)
MAX_DESCRIPTION = 2000


def set_goal(
    session: Session,
    *,
    rep: Person,
    set_by: Person,
    competency: str,
    description: str,
    due_date: dt.date | None,
    measure: str | None = None,
    target: float | None = None,
    now: dt.datetime,
    default_timezone: str = "UTC",
    default_currency: str = "USD",
) -> Goal:
    """Set a development goal for `rep`; a measured goal starts at its measure's current progress."""
    require_coach(session, set_by, rep, "set their goals")
    competency = clean_text(competency, "competency", MAX_COMPETENCY)
    description = clean_text(description, "goal description", MAX_DESCRIPTION)
    if due_date is not None and due_date < local_now(rep, now, default_timezone).date():
        raise InvalidInput(f"{due_date:%b} {due_date.day} has already passed where {rep.name} is; pick today or later.")
    _check_measure(measure, target)
    goal = Goal(
        person_id=rep.id,
        set_by_id=set_by.id,
        competency=competency,
        description=description,
        due_date=due_date,
        measure=measure,
        target=target,
        progress=0.0,
        status="open",
        created_at=now,
    )
    session.add(goal)
    session.flush()
    if measure:
        refresh_progress(session, goal, now, default_timezone=default_timezone, default_currency=default_currency)
    return goal


def goal_parts(text: str) -> tuple[str, str]:
    """(competency, description) from “Discovery: three pain questions…”; without a “: ”, the text is both."""
    competency, separator, description = text.partition(": ")
    if separator and competency.strip() and description.strip() and len(competency.strip()) <= MAX_COMPETENCY:
        return competency.strip(), description.strip()
    return clip(text.strip(), MAX_COMPETENCY), text.strip()


def give_goal(
    session: Session, notices: Notices, *, rep: Person, set_by: Person, text: str, due_date: dt.date | None,
    now: dt.datetime, default_timezone: str = "UTC", default_currency: str = "USD",
) -> Goal:  # fmt: skip
    """The goal a coach typed (`goal_parts`), set, told to the rep (key goal_set:<id>) and audited."""
    competency, description = goal_parts(text)
    goal = set_goal(
        session, rep=rep, set_by=set_by, competency=competency, description=description, due_date=due_date, now=now,
        default_timezone=default_timezone, default_currency=default_currency,
    )  # fmt: skip
    told = GoalSet(key=f"goal_set:{goal.id}", set_by=set_by.name, competency=goal.competency, description=goal.description, due_date=due_date)
    notices.tell(rep, told)
    audit(session, set_by, "set_goal", now, subject=rep, detail={"goal_id": goal.id})
    return goal


def _check_measure(measure: str | None, target: float | None) -> None:
    if measure is None:
        if target is not None:
            raise InvalidInput("A target needs a measure to be compared with; choose one, or leave the target out.")
        return
    if measure not in MEASURES:
        raise InvalidInput(f"I don't know the measure “{measure}”. Choose one of: {', '.join(MEASURES)}.")
    if target is None:
        raise InvalidInput("A measured goal needs a target (e.g. 0.9 for 90% of open deals).")
    if MEASURES[measure] == "share" and not 0 < target <= 1:
        raise InvalidInput(f"The target of {measure} is a share: a number above 0 and at most 1 (0.9 for 90%).")
    if target <= 0:
        raise InvalidInput("The target must be above 0.")


def measure_value(
    session: Session, rep: Person, measure: str, now: dt.datetime, *, default_timezone: str = "UTC", default_currency: str = "USD"
) -> float | None:
    """The rep's current value of `measure` (see the module docstring); None where it is undefined."""
    open_deals = select(Deal).where(Deal.owner_id == rep.id, Deal.deleted_at.is_(None), Deal.is_closed.is_(False))
    if measure == "next_step_coverage":
        deals = session.scalars(open_deals).all()
        dated = [deal for deal in deals if (deal.next_step or "").strip() and deal.next_step_date is not None]
        return len(dated) / len(deals) if deals else None
    if measure == "process_adherence":
        open_ids = open_deals.with_only_columns(Deal.id)
        total = session.scalar(select(func.count()).select_from(open_ids.subquery())) or 0
        with_gaps = session.scalar(
            select(func.count(func.distinct(ProcessGap.deal_id))).where(
                ProcessGap.deal_id.in_(open_ids), ProcessGap.resolved_at.is_(None)
            )
        ) or 0  # fmt: skip
        return (total - with_gaps) / total if total else None
    today = local_now(rep, now, default_timezone).date()
    if measure == "pipeline_added_per_week":
        currency = _rep_currency(session, rep, today, default_currency)
        added = session.scalar(
            select(func.coalesce(func.sum(Deal.amount), 0)).where(
                Deal.owner_id == rep.id,
                Deal.deleted_at.is_(None),
                Deal.currency == currency,
                Deal.created_at > now - dt.timedelta(days=7),
                Deal.created_at <= now,
            )
        )
        return float(added or 0)
    if measure == "product_lines_in_play":
        won_since = today - dt.timedelta(days=WON_LOOKBACK_DAYS)
        lines = session.scalars(
            select(Deal.product_line).where(
                Deal.owner_id == rep.id,
                Deal.deleted_at.is_(None),
                Deal.product_line.is_not(None),
                Deal.product_line != "",
                or_(Deal.is_closed.is_(False), and_(Deal.is_won.is_(True), Deal.close_date >= won_since)),
            )
        )
        return float(len(set(lines)))
    raise InvalidInput(f"I don't know the measure “{measure}”.")


def _rep_currency(session: Session, rep: Person, today: dt.date, default_currency: str) -> str:
    """The currency of the rep's quota for today, else of their latest quota, else the team's."""
    quotas = select(Quota.currency).where(Quota.person_id == rep.id)
    current = session.scalar(quotas.where(Quota.period_start <= today, Quota.period_end > today).limit(1))
    return current or session.scalar(quotas.order_by(Quota.period_end.desc()).limit(1)) or default_currency


def refresh_progress(
    session: Session, goal: Goal, now: dt.datetime, *, default_timezone: str = "UTC", default_currency: str = "USD"
) -> float | None:
    """Set a measured goal's progress to min(value ÷ target, 1); the value, or None where it is undefined."""
    if goal.measure is None or goal.target is None:
        raise WrongState("This goal has no CRM measure; the rep reports its progress.")
    rep = session.get(Person, goal.person_id)
    assert rep is not None  # goals are deleted with their rep
    value = measure_value(session, rep, goal.measure, now, default_timezone=default_timezone, default_currency=default_currency)
    if value is not None:
        goal.progress = min(value / goal.target, 1.0)
        session.flush()
    return value


def refresh_measured_goals(
    session: Session, now: dt.datetime, *, default_timezone: str = "UTC", default_currency: str = "USD"
) -> int:
    """Refresh every open measured goal (after a CRM sync, say); the number refreshed."""
    goals = session.scalars(select(Goal).where(Goal.status == "open", Goal.measure.is_not(None), Goal.target.is_not(None)))
    count = 0
    for goal in goals:
        refresh_progress(session, goal, now, default_timezone=default_timezone, default_currency=default_currency)
        count += 1
    return count


def update_progress(session: Session, goal: Goal, rep: Person, progress: float, note: str | None, now: dt.datetime) -> Goal:
    """The rep's own word on a goal without a CRM measure: progress 0..1 and a note."""
    if rep.id != goal.person_id:
        raise NotAllowed("Only the rep whose goal it is can report its progress.")
    if goal.status != "open":
        raise WrongState("This goal is closed.")
    if goal.measure is not None:
        raise WrongState("This goal is measured from the CRM: its progress updates itself.")
    if not 0 <= progress <= 1:
        raise InvalidInput("Progress is a share from 0 to 1 (0.5 for half way).")
    cleaned = (note or "").strip()
    if len(cleaned) > MAX_DESCRIPTION:
        raise InvalidInput(f"The note is {len(cleaned)} characters long; keep it under {MAX_DESCRIPTION}.")
    goal.progress = float(progress)
    goal.progress_note = cleaned or None
    session.flush()
    audit(session, rep, "update_goal", now, subject=rep, detail={"goal_id": goal.id, "progress": goal.progress})
    return goal


def goal_reminders(
    session: Session,
    notices: Notices,
    now: dt.datetime,
    remind_days_before: int = 3,
    *,
    not_before: dt.time = WORKDAY_START,
    default_timezone: str = "UTC",
) -> int:
    """Remind each rep once of an open goal due within `remind_days_before` days; the number queued.

    Not on the day the goal was set (being told it was the reminder), and not before
    `not_before` on the rep's wall clock.
    """
    utc_today = now.astimezone(dt.UTC).date()
    rows = session.execute(
        select(Goal, Person)
        .join(Person, Person.id == Goal.person_id)
        .where(
            Goal.status == "open",
            Goal.reminded_at.is_(None),
            # A day of slack either side: the rep's calendar may be a day off UTC's.
            Goal.due_date.between(utc_today - dt.timedelta(days=1), utc_today + dt.timedelta(days=remind_days_before + 1)),
            Person.active.is_(True),
        )
        .order_by(Goal.due_date, Goal.id)
    )
    queued = 0
    for goal, rep in rows:
        due_date = goal.due_date
        assert due_date is not None  # BETWEEN matches no NULL
        rep_now = local_now(rep, now, default_timezone)
        today = rep_now.date()
        days_left = (due_date - today).days
        if not 0 <= days_left <= remind_days_before or rep_now.time() < not_before:
            continue
        if local_now(rep, goal.created_at, default_timezone).date() >= today:
            continue
        key = f"goal_reminder:{goal.id}"
        if not reachable(rep, "goal_reminder", key):
            continue
        claimed = rows_affected(session, update(Goal).where(Goal.id == goal.id, Goal.reminded_at.is_(None)).values(reminded_at=now))
        if claimed != 1:
            continue
        reminder = GoalReminder(
            key=key,
            competency=goal.competency,
            description=goal.description,
            due_date=due_date,
            days_left=days_left,
            progress=goal.progress,
            measure=goal.measure,
            target=goal.target,
        )
        queued += notices.tell(rep, reminder)
    return queued
