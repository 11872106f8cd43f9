"""Development goals: set by a rep's managers or coach, measured from the CRM or by the rep's word.

A goal may name a measure computed from the rep's deals, with a target (and, for some, what it is
measured on: a product line, a number of days). Progress is min(value ÷ target, 1) for a measure
to raise, and min((target + 1) ÷ (value + 1), 1) for one to bring down (so 0 old gaps against a
target of 0 is done, and 3 is a quarter of the way). The measures (`MEASURES`):

| measure                   | value                                                                  | target   |
|---------------------------|------------------------------------------------------------------------|----------|
| `next_step_coverage`      | open deals with a next step and a date for it ÷ open deals             | a share  |
| `pipeline_added_per_week` | Σ amount of the rep's deals created in the 7 days up to now, in the    | an amount|
|                           | rep's currency (their quota's, else the team's)                        |          |
| `process_adherence`       | open deals with no open process gap ÷ open deals                       | a share  |
| `product_lines_in_play`   | product lines among open deals and deals won in the last 90 days       | a count  |
| `win_rate`                | deals won ÷ deals closed, by close date, in the last 90 days           | a share  |
| `old_open_gaps:DAYS`      | open process gaps on open deals opened more than DAYS days ago (down)  | a count  |
| `pipeline_in_line:LINE`   | Σ amount of open deals in product line LINE, in the rep's currency     | an amount|
| `won_in_line:LINE`        | deals won in product line LINE since the goal was set                  | a count  |

The shares mean nothing without deals to count; progress is then left as it was. Measured goals
are measured again after every gap scan and every hour; `close_finished_goals` closes a goal as
achieved once its progress reaches 100%, or as missed once its due date has passed on the rep's
calendar, and tells the rep and whoever set it. A goal with no measure moves when the rep says
so (`update_progress`). `goal_reminders` tells the rep once when a goal comes due (key
goal_reminder:<goal id>, claimed on goals.reminded_at).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from bot.access import audit
from bot.coaching.actions import WORKDAY_START, clean_text, local_now
from bot.coaching.errors import InvalidInput, NotAllowed, WrongState, require_coach
from bot.coaching.notices import GoalClosed, GoalReminder, GoalSet, Notices, reachable
from bot.coaching.words import clip
from bot.dml import rows_affected
from bot.models import Deal, Goal, GoalProgress, Person, ProcessGap, Quota


@dataclass(frozen=True)
class Measure:
    target: Literal["share", "amount", "count"]  # the kind of target it takes
    lower_is_better: bool = False
    argument: Literal["days", "product_line"] | None = None  # what it is measured on, if anything


MEASURES = {
    "next_step_coverage": Measure("share"),
    "pipeline_added_per_week": Measure("amount"),
    "process_adherence": Measure("share"),
    "product_lines_in_play": Measure("count"),
    "win_rate": Measure("share"),
    "old_open_gaps": Measure("count", lower_is_better=True, argument="days"),
    "pipeline_in_line": Measure("amount", argument="product_line"),
    "won_in_line": Measure("count", argument="product_line"),
}
WON_LOOKBACK_DAYS = 90
MAX_COMPETENCY = 100  # goals.competency is VARCHAR(100)
MAX_DESCRIPTION = 2000
MAX_MEASURE_ARG = 100  # goals.measure_arg is VARCHAR(100)


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
    measure_arg: str | None = None,
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
    measure_arg = check_measure(measure, target, measure_arg)
    goal = Goal(
        person_id=rep.id,
        set_by_id=set_by.id,
        competency=competency,
        description=description,
        due_date=due_date,
        measure=measure,
        target=target,
        measure_arg=measure_arg,
        progress=0.0,
        status="open",
        created_at=now,
    )
    session.add(goal)
    session.flush()
    if measure:
        _measure_progress(session, goal, now, default_timezone=default_timezone, default_currency=default_currency)
    record_progress(session, goal, now)  # where it starts: a goal set at 60% has not moved 60%
    return goal


def goal_parts(text: str) -> tuple[str, str]:
    """(competency, description) from “Discovery: three pain questions…”; without a “: ”, the text is both."""
    competency, separator, description = text.partition(": ")
    if separator and competency.strip() and description.strip() and len(competency.strip()) <= MAX_COMPETENCY:
        return competency.strip(), description.strip()
    return clip(text.strip(), MAX_COMPETENCY), text.strip()


def give_goal(
    session: Session, notices: Notices, *, rep: Person, set_by: Person, text: str, due_date: dt.date | None,
    now: dt.datetime, measure: str | None = None, target: float | None = None, measure_arg: str | None = None,
    default_timezone: str = "UTC", default_currency: str = "USD",
) -> Goal:  # fmt: skip
    """The goal a coach typed (`goal_parts`), set, told to the rep (key goal_set:<id>) and audited."""
    competency, description = goal_parts(text)
    goal = set_goal(
        session, rep=rep, set_by=set_by, competency=competency, description=description, due_date=due_date, now=now,
        measure=measure, target=target, measure_arg=measure_arg, default_timezone=default_timezone,
        default_currency=default_currency,
    )  # fmt: skip
    told = GoalSet(
        key=f"goal_set:{goal.id}", set_by=set_by.name, competency=goal.competency, description=goal.description, due_date=due_date,
        measure=goal.measure, target=goal.target, measure_arg=goal.measure_arg,
    )  # fmt: skip
    notices.tell(rep, told)
    detail = {"goal_id": goal.id} | (
        {"measure": goal.measure, "target": goal.target, "on": goal.measure_arg} if goal.measure else {}
    )
    audit(session, set_by, "set_goal", now, subject=rep, detail=detail)
    return goal


class MeasureError(InvalidInput):
    """A goal's measure, what it is measured on, or its target cannot be used; `field` says which."""

    def __init__(self, field: Literal["measure", "argument", "target"], message: str) -> None:
        super().__init__(message)
        self.field = field


def check_measure(measure: str | None, target: float | None, argument: str | None) -> str | None:
    """The measure's argument as stored; InvalidInput says what is wrong with the measure, its argument or its target."""
    if measure is None:
        if target is not None or argument is not None:
            raise MeasureError("measure", "A target needs a measure to be compared with; choose one, or leave the target out.")
        return None
    kind = MEASURES.get(measure)
    if kind is None:
        raise MeasureError("measure", f"I don't know the measure “{clip(measure, 40)}”. Choose one of: {', '.join(MEASURES)}.")
    argument = (argument or "").strip() or None
    if kind.argument is None and argument is not None:
        raise MeasureError("argument", f"{measure} is measured on all of the rep's deals; leave out “:{clip(argument, 40)}”.")
    if kind.argument == "days" and not (argument and argument.isdigit() and 1 <= int(argument) <= 365):
        raise MeasureError(
            "argument", f"{measure} needs a number of days, 1 to 365: {measure}:14 counts gaps open more than 14 days."
        )
    if kind.argument == "product_line" and not argument:
        raise MeasureError("argument", f"{measure} needs a product line: {measure}:Analytics.")
    if argument is not None and len(argument) > MAX_MEASURE_ARG:
        raise MeasureError("argument", f"Keep what {measure} is measured on under {MAX_MEASURE_ARG} characters.")
    if target is None:
        raise MeasureError("target", "A measured goal needs a target (e.g. 0.9 for 90% of open deals).")
    if kind.target == "share" and not 0 < target <= 1:
        raise MeasureError("target", f"The target of {measure} is a share: a number above 0 and at most 1 (0.9 for 90%).")
    if target < 0 or (target == 0 and not kind.lower_is_better):
        raise MeasureError("target", "The target must be above 0.")
    return argument


def measure_value(
    session: Session, rep: Person, measure: str, now: dt.datetime, *, default_timezone: str = "UTC", default_currency: str = "USD",
    argument: str | None = None, since: dt.datetime | None = None,
) -> float | None:  # fmt: skip
    """The rep's current value of `measure` (see the module docstring); None where it is undefined.

    `argument` is what the measure is measured on (days, a product line); `since`, when the goal was set.
    """
    open_deals = select(Deal).where(Deal.owner_id == rep.id, Deal.deleted_at.is_(None), Deal.is_closed.is_(False))
    if measure == "old_open_gaps":
        opened_before = now - dt.timedelta(days=int(argument or 0))
        open_ids = open_deals.with_only_columns(Deal.id)
        old = select(func.count()).where(
            ProcessGap.deal_id.in_(open_ids), ProcessGap.resolved_at.is_(None), ProcessGap.opened_at < opened_before
        )
        return float(session.scalar(old) or 0)
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
    if measure == "win_rate":
        closed = session.execute(
            select(Deal.is_won, func.count())
            .where(
                Deal.owner_id == rep.id, Deal.deleted_at.is_(None), Deal.is_closed.is_(True),
                Deal.close_date > today - dt.timedelta(days=WON_LOOKBACK_DAYS), Deal.close_date <= today,
            )
            .group_by(Deal.is_won)
        ).all()  # fmt: skip
        counts = {bool(won): count for won, count in closed}
        total = counts.get(True, 0) + counts.get(False, 0)
        return counts.get(True, 0) / total if total else None
    if measure == "pipeline_in_line":
        currency = _rep_currency(session, rep, today, default_currency)
        in_line = open_deals.with_only_columns(func.coalesce(func.sum(Deal.amount), 0)).where(
            func.lower(Deal.product_line) == (argument or "").lower(), Deal.currency == currency
        )
        return float(session.scalar(in_line) or 0)
    if measure == "won_in_line":
        won = select(func.count()).where(
            Deal.owner_id == rep.id, Deal.deleted_at.is_(None), Deal.is_won.is_(True), Deal.is_closed.is_(True),
            func.lower(Deal.product_line) == (argument or "").lower(),
            Deal.close_date >= local_now(rep, since or now, default_timezone).date(),
        )  # fmt: skip
        return float(session.scalar(won) or 0)
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
    before = goal.progress
    value = _measure_progress(session, goal, now, default_timezone=default_timezone, default_currency=default_currency)
    if goal.progress != before:
        record_progress(session, goal, now)
    return value


def record_progress(session: Session, goal: Goal, now: dt.datetime) -> None:
    """Mark the goal's progress as of `now` (goal_progress: what the leaderboard's "goals moved" reads)."""
    session.add(GoalProgress(goal_id=goal.id, recorded_at=now, progress=goal.progress))
    session.flush()


def _measure_progress(
    session: Session, goal: Goal, now: dt.datetime, *, default_timezone: str, default_currency: str
) -> float | None:
    if goal.measure is None or goal.target is None:
        raise WrongState("This goal has no CRM measure; the rep reports its progress.")
    rep = session.get(Person, goal.person_id)
    assert rep is not None  # goals are deleted with their rep
    value = measure_value(
        session, rep, goal.measure, now, default_timezone=default_timezone, default_currency=default_currency,
        argument=goal.measure_arg, since=goal.created_at,
    )  # fmt: skip
    if value is not None:
        goal.progress = progress_toward(goal.measure, value, goal.target)
        session.flush()
    return value


def progress_toward(measure: str, value: float, target: float) -> float:
    """0..1: how far `value` has come toward `target` (see the module docstring for a measure to bring down)."""
    if MEASURES[measure].lower_is_better:
        return min((target + 1) / (value + 1), 1.0)
    return min(value / target, 1.0)


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


def close_finished_goals(session: Session, notices: Notices, now: dt.datetime, *, default_timezone: str = "UTC") -> int:
    """Close open goals that are achieved (progress at 100%) or missed (due date passed on the rep's
    calendar); tell the rep and whoever set it (keys goal_closed:<goal>:rep|coach); the number closed."""
    closed = 0
    for goal, rep in session.execute(
        select(Goal, Person).join(Person, Person.id == Goal.person_id).where(Goal.status == "open")
    ).all():
        today = local_now(rep, now, default_timezone).date()
        if goal.progress >= 1.0:
            status = "achieved"
        elif goal.due_date is not None and goal.due_date < today:
            status = "missed"
        else:
            continue
        claimed = rows_affected(
            session, update(Goal).where(Goal.id == goal.id, Goal.status == "open").values(status=status, closed_at=now)
        )
        if claimed != 1:
            continue
        closed += 1
        audit(
            session,
            None,
            "close_goal",
            now,
            subject=rep,
            detail={"goal_id": goal.id, "status": status, "progress": goal.progress},
        )
        setter = session.get(Person, goal.set_by_id) if goal.set_by_id else None
        for reader, role in ((rep, "rep"), (setter, "coach")):
            if reader is None or not reader.active:
                continue
            notices.tell(
                reader,
                GoalClosed(
                    key=f"goal_closed:{goal.id}:{role}", rep_name=rep.name, competency=goal.competency, status=status,
                    progress=goal.progress, on=today, for_rep=role == "rep",
                ),
            )  # fmt: skip
    return closed


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
    moved = goal.progress != float(progress)
    goal.progress = float(progress)
    goal.progress_note = cleaned or None
    session.flush()
    if moved:
        record_progress(session, goal, now)
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
        claimed = rows_affected(
            session, update(Goal).where(Goal.id == goal.id, Goal.reminded_at.is_(None)).values(reminded_at=now)
        )
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
            measure_arg=goal.measure_arg,
        )
        queued += notices.tell(rep, reminder)
    return queued
