"""What a person's App Home shows, as plain data: `home_for` reads it, bot/blocks/home.py draws it.

- Everyone linked: their quarter's scorecard (reps; the same figures as /myperf), open actions
  (ids, for Done), development goals with progress, the stored open process gaps on their open
  deals (ids, for Snooze; not snoozed ones first, then by impact as the nudge ranks them) and
  their open recovery plan.
- Managers and coaches: a team summary of the reps they may see, from the one team read model
  (bot/coaching/team.py, the rows `/teamperf` and the digest show) for the quarter, and those
  reps' active snoozes with their reasons (gaps.snoozes_of, as the digest and `/teamperf @rep`).

Process adherence on the Home (the rep's and the team's) counts the stored open gaps, which the
gap scan keeps current after every sync: the same gaps the Home lists, so the count and the list
agree. /myperf runs the rules live and may differ from it by the changes since the last scan.

Everything is read; nothing is written (the caller audits a team summary it shows).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from bot.coaching.gaps import SnoozedGap, read_deals, read_open_gaps, snoozes_of
from bot.coaching.nudges import DEFAULT_GUIDANCE, GUIDANCE
from bot.coaching.playbook import Playbook
from bot.coaching.preferences import Preferences, preferences_of
from bot.coaching.rules import impact, money_at_stake, rank_key
from bot.coaching.scorecard import GoalFacts, PlanFacts, Scorecard
from bot.coaching.service import scorecard_for, team_playbook
from bot.coaching.team import TeamPerformance, team_view, visible_reps
from bot.models import Action, Deal, Person


@dataclass(frozen=True)
class HomeAction:
    id: int
    text: str
    due_date: dt.date | None
    overdue: bool
    assigned_by: str | None


@dataclass(frozen=True)
class HomeGap:
    id: int
    deal_id: int
    deal_name: str
    crm_url: str | None
    rule: str
    severity: str
    detail: str | None
    todo: str
    impact: float
    snoozed_until: dt.date | None  # only while the snooze lasts (after today)


@dataclass(frozen=True)
class HomeData:
    person_name: str
    now: dt.datetime
    timezone: str
    scorecard: Scorecard | None  # None for someone who is not a rep
    actions: tuple[HomeAction, ...]
    goals: tuple[GoalFacts, ...]
    gaps: tuple[HomeGap, ...]
    plan: PlanFacts | None
    team: TeamPerformance | None  # None unless they manage or coach
    open_deal_count: int = 0
    deals_with_gaps: int = 0  # open deals with at least one open gap
    preferences: Preferences | None = None  # their own controls (bot/coaching/preferences.py)
    # The team's active snoozes with each rep's reason (gaps.snoozes_of, as the digest and /teamperf @rep).
    snoozes: tuple[SnoozedGap, ...] = ()


def home_for(
    session: Session,
    person: Person,
    now: dt.datetime,
    playbook: Playbook,
    *,
    default_timezone: str,
    default_currency: str,
    fiscal_year_start_month: int = 1,
) -> HomeData:
    """Everything `person`'s App Home shows, as of `now`."""
    timezone = person.timezone or default_timezone
    today = now.astimezone(ZoneInfo(timezone)).date()
    card = scorecard_for(
        session, person, "quarter", now=now, playbook=playbook, default_timezone=default_timezone,
        default_currency=default_currency, fiscal_year_start_month=fiscal_year_start_month,
    )  # fmt: skip
    team = None
    if person.is_manager or person.is_coach:
        team = team_view(
            session, person, visible_reps(session, person), "quarter", now=now, playbook=playbook,
            default_timezone=default_timezone, default_currency=default_currency, fiscal_year_start_month=fiscal_year_start_month,
        )  # fmt: skip
    gaps, open_deal_count = open_gaps(session, person, playbook, today)
    return HomeData(
        person_name=person.name,
        now=now,
        timezone=timezone,
        scorecard=card if person.is_rep else None,
        actions=open_actions(session, person, today),
        goals=card.development.goals,
        plan=card.development.plan,
        gaps=gaps,
        team=team,
        open_deal_count=open_deal_count,
        deals_with_gaps=len({gap.deal_id for gap in gaps}),
        preferences=preferences_of(person, playbook, today),
        snoozes=tuple(snoozes_of(session, team.rep_ids, today)) if team is not None else (),
    )


def open_actions(session: Session, person: Person, today: dt.date) -> tuple[HomeAction, ...]:
    """The person's open actions, soonest due first (overdue ones are the soonest), undated last."""
    assigner = aliased(Person)
    rows = session.execute(
        select(Action.id, Action.text, Action.due_date, assigner.name)
        .outerjoin(assigner, assigner.id == Action.assigned_by_id)
        .where(Action.person_id == person.id, Action.status == "open")
        .order_by(Action.due_date.asc().nulls_last(), Action.id)
    )
    return tuple(
        HomeAction(action_id, text, due, due is not None and due < today, assigned_by)
        for action_id, text, due, assigned_by in rows
    )


def open_gaps(session: Session, person: Person, playbook: Playbook, today: dt.date) -> tuple[tuple[HomeGap, ...], int]:
    """Open process gaps on the person's open deals (not snoozed first, then biggest impact first),
    and how many open deals they have."""
    connection = session.connection()
    deals = {deal.id: deal for deal in read_deals(connection, Deal.owner_id == person.id)}
    if not deals:
        return (), 0
    own_playbook = team_playbook(session, person, playbook)
    found = []
    for gap in read_open_gaps(connection, Deal.owner_id == person.id):
        deal = deals.get(gap.deal_id)
        if deal is None:
            continue  # the deal closed since the last scan, which will resolve the gap
        snoozed = gap.snoozed_until if gap.snoozed_until is not None and gap.snoozed_until > today else None
        todo = GUIDANCE.get(gap.rule, DEFAULT_GUIDANCE)[1]
        stake = impact(gap.severity, money_at_stake(deal, own_playbook))
        found.append(
            HomeGap(gap.id, gap.deal_id, deal.name, deal.crm_url, gap.rule, gap.severity, gap.detail, todo, stake, snoozed)
        )
    found.sort(
        key=lambda gap: (gap.snoozed_until is not None, *rank_key(gap.rule, gap.severity, gap.impact), gap.deal_name, gap.id)
    )
    return tuple(found), len(deals)
