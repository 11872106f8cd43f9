"""The morning nudge: the few most important things for a rep today, ranked by impact.

`morning_nudges` reads what is worth saying to some reps or to all at once (open process gaps
not snoozed and not nudged recently, actions due or overdue, goals due soon), `collect_items`
turns one rep's into items, `rank` orders them, and each rep's nudge is keyed
`nudge:<person>:<local date>`; `morning_nudge` is the same for one rep. The delivery layer
(bot/delivery/nudges.py) queues them and `mark_nudged` marks the gaps they carry, in the same
transaction. Nothing worth saying, nothing sent. A reminder folded into the next nudge
(bot/delivery/budget.py: over the daily budget, or decided before the day's nudge) is carried
whatever its rank and marked carried with the nudge, so it is neither lost nor told twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import ClassVar, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.coaching.gaps import FEW_REPS, nudge_items_by_rep
from bot.coaching.gaps import NudgeItem as GapItem
from bot.coaching.notices import Notice
from bot.coaching.playbook import Playbook
from bot.coaching.rules import SEVERITY_WEIGHT
from bot.coaching.words import clip, money, short_date
from bot.database import in_chunks
from bot.models import Action, FoldedItem, Goal, Person, ProcessGap

# Why each rule matters and what to do about it, in a rep's words.
GUIDANCE: dict[str, tuple[str, str]] = {
    "next_step_missing": ("No dated next step: nobody owns the next move, and the deal drifts.",
                          "Add the next meeting or task, with a date, in the CRM."),
    "next_step_overdue": ("The next step's date has passed.", "Do it today, or agree a new date with the buyer."),
    "close_date_past": ("The close date has passed while the deal is open: your forecast is off.",
                        "Move the close date to when it will really close, or close it lost."),
    "close_date_missing": ("No close date: the deal counts in no forecast.", "Set the date the buyer expects to sign."),
    "stale_stage": ("It has sat in its stage longer than the playbook allows.",
                    "Advance it, or book the step that will."),
    "no_activity": ("Nobody has touched it for a while.", "Reach out today with something useful."),
    "missing_field": ("A field the playbook requires at this stage is empty.", "Fill it in, in the CRM."),
}  # fmt: skip
DEFAULT_GUIDANCE = ("The playbook flags it.", "Open it in the CRM and fix what is missing.")


@dataclass(frozen=True)
class DealIdentity:
    """Enough of a deal for a rep to know which one it is without opening anything."""

    name: str
    account: str | None
    amount: Decimal | None
    currency: str
    stage: str | None
    days_in_stage: int | None
    deal_id: int | None = None  # the stored deal, for Update… (the CRM write-back form)


@dataclass(frozen=True)
class NudgeItem:
    """One line of a nudge: what, why (with the deal's own numbers), what to do, and why it ranks where it does."""

    kind: str  # "gap" | "action" | "goal"
    ref_id: int
    title: str
    detail: str
    why: str
    todo: str
    tier: int
    impact: float = 0.0
    url: str | None = None
    deal: DealIdentity | None = None
    rank_reason: str | None = None
    severity: str = ""


# Tiers rank before impact: an overdue action a coach set comes first, then process gaps by
# money at stake (rules.impact), then actions due today or tomorrow, then goals due this week.
TIER_OVERDUE_ACTION, TIER_GAP, TIER_DUE_ACTION, TIER_GOAL = range(4)


def _days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


def gap_why(gap: GapItem, now: dt.datetime, today: dt.date) -> str:
    """Why this gap is shown, in the deal's own numbers ("Next step was due Nov 12, 9 days ago.")."""
    rule = gap.rule
    if rule == "next_step_overdue" and gap.next_step_date is not None:
        step = f" “{clip(gap.next_step.strip(), 80)}”" if gap.next_step and gap.next_step.strip() else ""
        ago = (today - gap.next_step_date).days
        return f"Next step{step} was due {short_date(gap.next_step_date)}, {_days(ago)} ago."
    if rule == "next_step_missing":
        if gap.next_step and gap.next_step.strip():
            return f"Next step “{clip(gap.next_step.strip(), 80)}” has no date: nobody owns the next move."
        if gap.next_step_date is not None:
            return f"A next-step date ({short_date(gap.next_step_date)}) but no next step written down."
        return "No next step is recorded: nobody owns the next move, and the deal drifts."
    if rule == "close_date_past" and gap.close_date is not None:
        ago = (today - gap.close_date).days
        return (
            f"Close date {short_date(gap.close_date)} passed {_days(ago)} ago and the deal is still open: your forecast is off."
        )
    if rule == "stale_stage" and gap.stage_entered_at is not None and gap.stage_max_days is not None:
        age = (now - gap.stage_entered_at).days
        return f"In {gap.stage} {_days(age)}; the playbook allows {gap.stage_max_days}."
    if rule == "no_activity" and gap.last_activity_at is not None and gap.idle_limit_days is not None:
        idle = (now - gap.last_activity_at).days
        return f"No activity for {_days(idle)}; the playbook allows {gap.idle_limit_days}."
    if rule == "missing_field" and gap.detail and gap.stage:
        return f"{_sentence(gap.detail)[:-1]}, which the playbook requires in {gap.stage}."
    if rule in GUIDANCE:
        return GUIDANCE[rule][0]
    return _sentence(gap.detail) if gap.detail else DEFAULT_GUIDANCE[0]


def deal_identity(gap: GapItem, now: dt.datetime) -> DealIdentity:
    days = (now - gap.stage_entered_at).days if gap.stage_entered_at is not None else None
    return DealIdentity(gap.deal_name, gap.account_name, gap.amount, gap.currency, gap.stage, days, gap.deal_id)


def ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def gap_rank_reason(position: int, open_gaps: int, stake: float, severity: str, currency: str) -> str:
    """Why a gap ranks where it does: its place among the rep's gaps, and the money and severity that put it there."""
    at_stake = money(Decimal(round(stake)), currency)
    if stake <= 0:
        weight = f"no amount or win chance is known, so it ranks by severity ({severity})"
        return (
            f"Your only open gap; {weight}."
            if open_gaps == 1
            else f"Ranked {ordinal(position)} of your {open_gaps} open gaps: {weight}."
        )
    if open_gaps == 1:
        return f"Your only open gap: {at_stake} at stake, {severity} severity."
    if position == 1:
        return f"Ranked 1st: {at_stake} at stake at {severity} severity, the biggest risk of your {open_gaps} open gaps."
    return f"Ranked {ordinal(position)} of your {open_gaps} open gaps: {at_stake} at stake at {severity} severity."


RANK_REASONS = {
    TIER_OVERDUE_ACTION: "Overdue actions your coach set come before everything else.",
    TIER_DUE_ACTION: "Actions due soon come after your deals' gaps.",
    TIER_GOAL: "Goals due this week come last.",
}


def with_rank_reasons(chosen: Sequence[NudgeItem], open_gaps: int) -> list[NudgeItem]:
    """`chosen` (ranked) with each item's rank reason; gaps are placed among the rep's `open_gaps`."""
    explained = []
    position = 0
    for item in chosen:
        if item.kind == "gap":
            position += 1
            stake = item.impact / SEVERITY_WEIGHT.get(item.severity, 1)
            currency = item.deal.currency if item.deal is not None else "USD"
            reason = gap_rank_reason(position, max(open_gaps, position), stake, item.severity, currency)
        else:
            reason = RANK_REASONS.get(item.tier, "")
        explained.append(replace(item, rank_reason=reason))
    return explained


def collect_items(
    gaps: Iterable[GapItem], actions: Iterable[DueAction], goals: Iterable[DueGoal], today: dt.date,
    now: dt.datetime | None = None,
) -> list[NudgeItem]:  # fmt: skip
    """Everything worth telling a rep this morning, unranked, from what `_read_due` read for them.

    Gaps come from gaps.nudge_items_by_rep: the rep's team playbook, not snoozed past today and
    not carried by a nudge in the last `renudge_days` of the rep's own days. `now` (default: the
    start of `today`, UTC) dates the days in stage and since the last activity.
    """
    now = now or dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    items = []
    for gap in gaps:
        todo = GUIDANCE.get(gap.rule, DEFAULT_GUIDANCE)[1]
        # nudge_items reads stored gaps; only a playbook preview has gaps without an id.
        assert gap.gap_id is not None
        items.append(
            NudgeItem("gap", gap.gap_id, gap.deal_name, gap.detail or gap.rule, gap_why(gap, now, today), todo, TIER_GAP,
                      gap.impact, gap.crm_url, deal_identity(gap, now), severity=gap.severity)
        )  # fmt: skip
    for action in actions:
        if action.due_date > today + dt.timedelta(days=1):
            continue
        overdue = action.due_date < today
        when = (
            f"overdue since {short_date(action.due_date)}"
            if overdue
            else "due " + ("today" if action.due_date == today else "tomorrow")
        )
        items.append(
            NudgeItem(
                "action",
                action.id,
                action.text,
                when,
                "Your coach asked for it.",
                "Do it, then press Mark done.",
                TIER_OVERDUE_ACTION if overdue else TIER_DUE_ACTION,
            )  # fmt: skip
        )
    for goal in goals:
        if goal.due_date > today + dt.timedelta(days=7):
            continue
        items.append(
            NudgeItem(
                "goal",
                goal.id,
                f"Goal: {goal.competency}",
                f"{goal.progress:.0%} done, due {short_date(goal.due_date)}",
                goal.description,
                "Take one step toward it today.",
                TIER_GOAL,
            )  # fmt: skip
        )
    return items


class DueAction(NamedTuple):
    id: int
    person_id: int
    text: str
    due_date: dt.date


class DueGoal(NamedTuple):
    id: int
    person_id: int
    competency: str
    description: str
    progress: float
    due_date: dt.date


_DUE_ACTIONS = (
    select(Action.id, Action.person_id, Action.text, Action.due_date).where(Action.status == "open").order_by(Action.id)
)
_DUE_GOALS = (
    select(Goal.id, Goal.person_id, Goal.competency, Goal.description, Goal.progress, Goal.due_date)
    .where(Goal.status == "open")
    .order_by(Goal.id)
)


def _read_due(session: Session, todays: dict[int, dt.date]) -> tuple[dict[int, list[DueAction]], dict[int, list[DueGoal]]]:
    """Open actions and goals that fall due soon enough for some rep in `todays`, by rep (one read each).

    Read up to the latest of the reps' todays; collect_items keeps what falls due by each rep's own.
    """
    latest = max(todays.values())
    connection = session.connection()
    actions_query = _DUE_ACTIONS.where(Action.due_date <= latest + dt.timedelta(days=1))
    goals_query = _DUE_GOALS.where(Goal.due_date <= latest + dt.timedelta(days=7))
    if len(todays) <= FEW_REPS:
        actions_query = actions_query.where(Action.person_id.in_(todays))
        goals_query = goals_query.where(Goal.person_id.in_(todays))
    actions: dict[int, list[DueAction]] = {}
    for action_row in connection.execute(actions_query):
        if action_row.person_id in todays:
            actions.setdefault(action_row.person_id, []).append(DueAction._make(action_row))
    goals: dict[int, list[DueGoal]] = {}
    for goal_row in connection.execute(goals_query):
        if goal_row.person_id in todays:
            goals.setdefault(goal_row.person_id, []).append(DueGoal._make(goal_row))
    return actions, goals


def rank(items: list[NudgeItem], max_items: int) -> list[NudgeItem]:
    """The `max_items` most important items: by tier, then impact; ties by title, so it is stable."""
    return sorted(items, key=lambda item: (item.tier, -item.impact, item.title))[:max_items]


def local_today(person: Person, default_timezone: str, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(person.timezone or default_timezone)).date()


@dataclass(frozen=True, kw_only=True)
class MorningNudge(Notice):
    """Today's few items for one rep, and how many there were in all."""

    kind: ClassVar[str] = "nudge"
    name: str
    items: tuple[NudgeItem, ...]
    total: int
    folded: tuple[int, ...] = ()  # the folded_items rows this nudge carries


def morning_nudge(
    session: Session, person: Person, playbook: Playbook, now: dt.datetime, default_timezone: str
) -> MorningNudge | None:
    """Today's nudge for `person`, if there is anything worth saying and they are in Slack."""
    return next((nudge for _, nudge in morning_nudges(session, [person], playbook, now, default_timezone)), None)


def morning_nudges(
    session: Session, people: Sequence[Person], playbook: Playbook, now: dt.datetime, default_timezone: str
) -> list[tuple[Person, MorningNudge]]:
    """Today's nudge for each of `people` with anything worth saying and in Slack, in their order.

    One read of gaps, one of actions and one of goals, whether for one rep or for all: a morning
    run over every rep costs about one pass over the open gaps, not a round of queries a rep.
    """
    in_slack = [person for person in people if person.slack_user_id]
    if not in_slack:
        return []
    todays = {person.id: local_today(person, default_timezone, now) for person in in_slack}
    gap_counts: dict[int, int] = {}
    gaps = nudge_items_by_rep(session, todays, playbook, now, default_timezone=default_timezone, counts=gap_counts)
    actions, goals = _read_due(session, todays)
    folded = _read_folded(session, todays)
    nudges = []
    for person in in_slack:
        today = todays[person.id]
        items = collect_items(gaps.get(person.id, ()), actions.get(person.id, ()), goals.get(person.id, ()), today, now)
        chosen = rank(items, playbook.nudges.max_items)
        # A reminder held back for this nudge is in it, whatever its rank.
        waiting = folded.get(person.id, {})
        chosen += [item for item in items if (item.kind, item.ref_id) in waiting and item not in chosen]
        if chosen:
            carried = tuple(sorted(waiting[item.kind, item.ref_id] for item in chosen if (item.kind, item.ref_id) in waiting))
            # Only a rep's best gaps were read into items; the count says how many there are in all.
            gap_items = sum(1 for item in items if item.kind == "gap")
            open_gaps = max(gap_counts.get(person.id, 0), gap_items)
            nudge = MorningNudge(
                key=f"nudge:{person.id}:{today.isoformat()}", name=person.name,
                items=tuple(with_rank_reasons(chosen, open_gaps)), total=len(items) - gap_items + open_gaps,
                folded=carried,
            )  # fmt: skip
            nudges.append((person, nudge))
    return nudges


def _read_folded(session: Session, todays: dict[int, dt.date]) -> dict[int, dict[tuple[str, int], int]]:
    """Reminders waiting for these reps' next nudge: rep -> (item kind, ref id) -> folded_items id."""
    waiting: dict[int, dict[tuple[str, int], int]] = {}
    for chunk in in_chunks(list(todays)):
        query = select(FoldedItem.id, FoldedItem.person_id, FoldedItem.item_kind, FoldedItem.ref_id).where(
            FoldedItem.person_id.in_(chunk), FoldedItem.carried_at.is_(None)
        )
        for row in session.execute(query):
            waiting.setdefault(row.person_id, {})[row.item_kind, row.ref_id] = row.id
    return waiting


def mark_nudged(session: Session, nudges: Iterable[MorningNudge], now: dt.datetime) -> None:
    """Record that the gaps the `nudges` carry were nudged (they rest `renudge_days` before the
    next), and that the folded reminders they carry were told."""
    nudges = list(nudges)
    gap_ids = [item.ref_id for nudge in nudges for item in nudge.items if item.kind == "gap"]
    for chunk in in_chunks(gap_ids):
        session.execute(update(ProcessGap).where(ProcessGap.id.in_(chunk)).values(last_nudged_at=now))
    for nudge in nudges:
        if nudge.folded:
            session.execute(
                update(FoldedItem)
                .where(FoldedItem.id.in_(nudge.folded), FoldedItem.carried_at.is_(None))
                .values(carried_by=nudge.key, carried_at=now)
            )
