"""The morning nudge: the few most important things for a rep today, ranked by impact.

`collect_items` reads what is worth saying (open process gaps not snoozed and not nudged
recently, actions due or overdue, goals due soon), `rank` orders them, and `morning_nudge`
decides today's nudge, key `nudge:<person>:<local date>`; the delivery layer
(bot/delivery/nudges.py) queues it and `mark_nudged` marks the gaps it carries, in the same
transaction. Nothing worth saying, nothing sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.coaching.gaps import nudge_items
from bot.coaching.notices import Notice
from bot.coaching.playbook import Playbook
from bot.coaching.words import short_date
from bot.models import Action, Goal, Person, ProcessGap

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
class NudgeItem:
    """One line of a nudge: what, why, what to do, and how much it matters."""

    kind: str  # "gap" | "action" | "goal"
    ref_id: int
    title: str
    detail: str
    why: str
    todo: str
    tier: int
    impact: float = 0.0
    url: str | None = None


# Tiers rank before impact: an overdue action a coach set comes first, then process gaps by
# money at stake (rules.impact), then actions due today or tomorrow, then goals due this week.
TIER_OVERDUE_ACTION, TIER_GAP, TIER_DUE_ACTION, TIER_GOAL = range(4)


def collect_items(
    session: Session, person: Person, playbook: Playbook, now: dt.datetime, today: dt.date, default_timezone: str
) -> list[NudgeItem]:
    """Everything worth telling `person` this morning, unranked.

    Gaps come from gaps.nudge_items: the rep's team playbook, not snoozed past today and not
    carried by a nudge in the last `renudge_days` of the rep's own days.
    """
    items = []
    for gap in nudge_items(session, person.id, playbook, now, default_timezone=default_timezone):
        why, todo = GUIDANCE.get(gap.rule, DEFAULT_GUIDANCE)
        # nudge_items reads stored gaps; only a playbook preview has gaps without an id.
        assert gap.gap_id is not None
        items.append(NudgeItem("gap", gap.gap_id, gap.deal_name, gap.detail or gap.rule, why, todo, TIER_GAP, gap.impact, gap.crm_url))
    for action in session.scalars(
        select(Action).where(Action.person_id == person.id, Action.status == "open", Action.due_date <= today + dt.timedelta(days=1))
    ):
        due = action.due_date
        assert due is not None
        overdue = due < today
        when = f"overdue since {short_date(due)}" if overdue else "due " + ("today" if due == today else "tomorrow")
        items.append(
            NudgeItem("action", action.id, action.text, when, "Your coach asked for it.", "Do it, then press Mark done.",
                      TIER_OVERDUE_ACTION if overdue else TIER_DUE_ACTION)  # fmt: skip
        )
    for goal in session.scalars(
        select(Goal).where(Goal.person_id == person.id, Goal.status == "open", Goal.due_date <= today + dt.timedelta(days=7))
    ):
        assert goal.due_date is not None
        items.append(
            NudgeItem("goal", goal.id, f"Goal: {goal.competency}", f"{goal.progress:.0%} done, due {short_date(goal.due_date)}",
                      goal.description, "Take one step toward it today.", TIER_GOAL)  # fmt: skip
        )
    return items


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


def morning_nudge(
    session: Session, person: Person, playbook: Playbook, now: dt.datetime, default_timezone: str
) -> MorningNudge | None:
    """Today's nudge for `person`, if there is anything worth saying and they are in Slack."""
    if not person.slack_user_id:
        return None
    today = local_today(person, default_timezone, now)
    items = collect_items(session, person, playbook, now, today, default_timezone)
    chosen = rank(items, playbook.nudges.max_items)
    if not chosen:
        return None
    return MorningNudge(key=f"nudge:{person.id}:{today.isoformat()}", name=person.name, items=tuple(chosen), total=len(items))


def mark_nudged(session: Session, nudge: MorningNudge, now: dt.datetime) -> None:
    """Record that the gaps `nudge` carries were nudged: they rest `renudge_days` before the next."""
    gap_ids = [item.ref_id for item in nudge.items if item.kind == "gap"]
    if gap_ids:
        session.execute(update(ProcessGap).where(ProcessGap.id.in_(gap_ids)).values(last_nudged_at=now))
