"""What a person's App Home shows, as plain data: `home_for` reads it, bot/blocks/home.py draws it.

- Everyone linked: their quarter's scorecard (reps; the same figures as /myperf), open actions
  (ids, for Done), development goals with progress, the stored open process gaps on their open
  deals (ids, for Snooze; not snoozed ones first, then by impact as the nudge ranks them) and
  their open recovery plan.
- Managers and coaches: a team summary of the reps they may see (`bot.access.visible_rep_ids`),
  one row per rep in the digest's shape (`digest.TeamRow`, with the digest's
  `attention_reasons`), and the team's number, Σ closed-won ÷ Σ quota in the team currency.
  The rows are summed in SQL for all reps at once instead of building one scorecard per rep (as
  the weekly digest does): a Home is opened far more often than a digest is built, and a
  manager of 200 reps would otherwise wait for the rules to run on every open deal of the team.

Process adherence on the Home (the rep's and the team's) counts the stored open gaps, which the
gap scan keeps current after every sync: the same gaps the Home lists, so the count and the list
agree. /myperf runs the rules live and may differ from it by the changes since the last scan.

Everything is read; nothing is written (the caller audits a team summary it shows).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from bot.access import manager_chain, visible_rep_ids
from bot.coaching.digest import TeamRow, attention_reasons
from bot.coaching.gaps import read_deals, read_open_gaps
from bot.coaching.nudges import DEFAULT_GUIDANCE, GUIDANCE
from bot.coaching.playbook import Playbook
from bot.coaching.rules import impact, money_at_stake, rank_key
from bot.coaching.scorecard import (
    ZERO,
    GoalFacts,
    PlanFacts,
    QuotaSpan,
    Scorecard,
    attainment,
    pace,
    prorated_quota,
    ratio,
)
from bot.coaching.service import scorecard_for
from bot.models import Action, Deal, Goal, Person, ProcessGap, Quota, RecoveryPlan
from bot.periods import Period, period_containing

_IN_CHUNK = 500  # ids per IN (...): well under SQLite's bound-parameter limit


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
class TeamSummary:
    period_label: str
    elapsed_share: float
    period_days: int
    currency: str
    won: Decimal  # of reps whose scorecard is in `currency`
    quota: Decimal | None  # Σ of those reps' quotas; None when none has one
    projected: Decimal
    rows: tuple[TeamRow, ...]  # by name
    attention: tuple[tuple[str, tuple[str, ...]], ...]  # most reasons first
    other_currency_reps: int = 0  # left out of the team's money figures, never converted
    rep_ids: tuple[int, ...] = ()  # whose data this is, for the audit log

    @property
    def attainment(self) -> float | None:
        return None if self.quota is None else ratio(self.won, self.quota)

    @property
    def pace(self) -> float | None:
        return pace(self.attainment, self.elapsed_share, self.period_days)

    @property
    def projected_attainment(self) -> float | None:
        return None if self.quota is None else ratio(self.projected, self.quota)


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
    team: TeamSummary | None  # None unless they manage or coach
    open_deal_count: int = 0
    deals_with_gaps: int = 0  # open deals with at least one open gap


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
        team = team_summary(
            session, person, now, playbook, default_timezone=default_timezone, default_currency=default_currency,
            fiscal_year_start_month=fiscal_year_start_month,
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
        HomeAction(action_id, text, due, due is not None and due < today, assigned_by) for action_id, text, due, assigned_by in rows
    )


def open_gaps(session: Session, person: Person, playbook: Playbook, today: dt.date) -> tuple[tuple[HomeGap, ...], int]:
    """Open process gaps on the person's open deals (not snoozed first, then biggest impact first),
    and how many open deals they have."""
    connection = session.connection()
    deals = {deal.id: deal for deal in read_deals(connection, Deal.owner_id == person.id)}
    if not deals:
        return (), 0
    team_playbook = _team_playbook(session, person, playbook)
    found = []
    for gap in read_open_gaps(connection, Deal.owner_id == person.id):
        deal = deals.get(gap.deal_id)
        if deal is None:
            continue  # the deal closed since the last scan, which will resolve the gap
        snoozed = gap.snoozed_until if gap.snoozed_until is not None and gap.snoozed_until > today else None
        todo = GUIDANCE.get(gap.rule, DEFAULT_GUIDANCE)[1]
        stake = impact(gap.severity, money_at_stake(deal, team_playbook))
        found.append(HomeGap(gap.id, gap.deal_id, deal.name, deal.crm_url, gap.rule, gap.severity, gap.detail, todo, stake, snoozed))
    found.sort(key=lambda gap: (gap.snoozed_until is not None, *rank_key(gap.rule, gap.severity, gap.impact), gap.deal_name, gap.id))
    return tuple(found), len(deals)


def _team_playbook(session: Session, person: Person, playbook: Playbook) -> Playbook:
    """The playbook of the person's team (nearest manager's overrides win), as the gap scan uses it."""
    chain = manager_chain(session, person)
    if not chain:
        return playbook
    emails = dict(session.execute(select(Person.id, Person.email).where(Person.id.in_(chain))).all())
    return playbook.for_team(emails[manager_id] for manager_id in chain if manager_id in emails)


def team_summary(
    session: Session,
    viewer: Person,
    now: dt.datetime,
    playbook: Playbook,
    *,
    default_timezone: str,
    default_currency: str,
    fiscal_year_start_month: int = 1,
) -> TeamSummary:
    """The active reps `viewer` may see, one digest row each, and the team's number."""
    rep_ids = sorted(visible_rep_ids(session, viewer))
    reps: list[Person] = []
    for start in range(0, len(rep_ids), _IN_CHUNK):
        chunk = rep_ids[start : start + _IN_CHUNK]
        reps.extend(session.scalars(select(Person).where(Person.id.in_(chunk), Person.is_rep.is_(True), Person.active.is_(True))))
    reps.sort(key=lambda rep: (rep.name, rep.id))
    own_period = period_containing("quarter", now, viewer.timezone or default_timezone, fiscal_year_start_month)
    # Each rep's quarter is read on their own calendar, as their /myperf reads it.
    periods = {rep.id: period_containing("quarter", now, rep.timezone or default_timezone, fiscal_year_start_month) for rep in reps}
    facts = _TeamFacts.read(session, reps, periods, now)

    rows, figures = [], []
    for rep in reps:
        period = periods[rep.id]
        number = facts.number(rep.id, period, playbook, default_currency, now)
        figures.append(number)
        rep_today = now.astimezone(ZoneInfo(period.tz)).date()
        overdue = sum(1 for due in facts.action_due_dates[rep.id] if due < rep_today)
        goals = facts.goal_progress[rep.id]
        plan = facts.plans.get(rep.id)
        open_count = facts.open_deals.get(rep.id, 0)
        adherence = ratio(open_count - facts.deals_with_gaps.get(rep.id, 0), open_count)
        rows.append(
            TeamRow(
                name=rep.name, attainment=number.attainment, pace=number.pace, projected=number.projected_attainment,
                adherence=adherence, goals_open=len(goals), goals_progress=(sum(goals) / len(goals)) if goals else None,
                overdue_actions=overdue, plan=plan,
                attention=attention_reasons(number.pace, number.projected_attainment, adherence, overdue, plan),
            )  # fmt: skip
        )
    in_currency = [number for number in figures if number.currency == default_currency]
    quotas = [number.quota for number in in_currency if number.quota is not None]
    return TeamSummary(
        period_label=own_period.label,
        elapsed_share=own_period.elapsed_share(now),
        period_days=own_period.days,
        currency=default_currency,
        won=sum((number.won for number in in_currency), ZERO),
        quota=sum(quotas, ZERO) if quotas else None,
        projected=sum((number.projected for number in in_currency), ZERO),
        rows=tuple(rows),
        # Most reasons first, as the digest orders them: who to talk to first.
        attention=tuple((row.name, row.attention) for row in sorted(rows, key=lambda r: (-len(r.attention), r.name)) if row.attention),
        other_currency_reps=len(figures) - len(in_currency),
        rep_ids=tuple(rep.id for rep in reps),
    )


@dataclass(frozen=True)
class RepNumber:
    """One rep's number, by the scorecard's formulas (bot/coaching/scorecard.py), from sums."""

    currency: str
    quota: Decimal | None
    won: Decimal
    projected: Decimal
    attainment: float | None
    pace: float | None
    projected_attainment: float | None


@dataclass
class _TeamFacts:
    """What the team rows need, summed in SQL for every rep at once (a few queries per 500 reps).

    The number's sums use the scorecard's rules: closed-won and open pipeline closing in the
    rep's quarter, in the currency of their quota; each stage weighted by the playbook's
    probability, else the CRM's. Process adherence counts the stored open gaps (kept current by
    the gap scan after every sync) rather than running the rules on every deal of every rep.
    """

    won: dict[tuple[int, str], Decimal] = field(default_factory=dict)
    # (owner, currency) -> [(stage, CRM probability, Σ amount)] of open deals closing in the quarter
    pipeline: defaultdict[tuple[int, str], list[tuple[str, float | None, Decimal]]] = field(default_factory=lambda: defaultdict(list))
    quotas: defaultdict[int, list[QuotaSpan]] = field(default_factory=lambda: defaultdict(list))
    open_deals: dict[int, int] = field(default_factory=dict)
    deals_with_gaps: dict[int, int] = field(default_factory=dict)
    goal_progress: defaultdict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    action_due_dates: defaultdict[int, list[dt.date]] = field(default_factory=lambda: defaultdict(list))
    plans: dict[int, str] = field(default_factory=dict)

    def number(self, rep_id: int, period: Period, playbook: Playbook, default_currency: str, now: dt.datetime) -> RepNumber:
        quota, currency = prorated_quota(self.quotas[rep_id], period) or (None, default_currency)
        won = self.won.get((rep_id, currency), ZERO)
        weighted = ZERO
        for stage, crm_probability, amount in self.pipeline[(rep_id, currency)]:
            rule = playbook.stage(stage)
            probability = rule.probability if rule is not None else crm_probability
            if amount and probability:
                weighted += amount * Decimal(str(probability))
        projected = won + weighted.quantize(Decimal("0.01"))
        attained = attainment(won, quota)
        return RepNumber(currency, quota, won, projected, attained, pace(attained, period.elapsed_share(now), period.days),
                         attainment(projected, quota))  # fmt: skip

    @classmethod
    def read(cls, session: Session, reps: Sequence[Person], periods: dict[int, Period], now: dt.datetime) -> _TeamFacts:
        facts = cls()
        live = (Deal.deleted_at.is_(None),)
        # Reps in one time zone share a quarter; a team spread over zones has a few.
        by_window: defaultdict[tuple[dt.date, dt.date], list[int]] = defaultdict(list)
        for rep in reps:
            by_window[(periods[rep.id].start, periods[rep.id].end)].append(rep.id)
        for (first, end), window_ids in by_window.items():
            in_period = Deal.close_date.between(first, end - dt.timedelta(days=1))
            for chunk in _chunks(window_ids):
                won = select(Deal.owner_id, Deal.currency, func.sum(Deal.amount)).where(
                    Deal.owner_id.in_(chunk), *live, Deal.is_closed.is_(True), Deal.is_won.is_(True), in_period
                )
                for owner_id, currency, amount in session.execute(won.group_by(Deal.owner_id, Deal.currency)):
                    facts.won[(owner_id, currency)] = amount or ZERO
                pipeline = select(Deal.owner_id, Deal.currency, Deal.stage, Deal.crm_probability, func.sum(Deal.amount)).where(
                    Deal.owner_id.in_(chunk), *live, Deal.is_closed.is_(False), in_period
                )
                grouped = pipeline.group_by(Deal.owner_id, Deal.currency, Deal.stage, Deal.crm_probability)
                for owner_id, currency, stage, crm_probability, amount in session.execute(grouped):
                    facts.pipeline[(owner_id, currency)].append((stage, crm_probability, amount or ZERO))
                quotas = select(Quota.person_id, Quota.period_start, Quota.period_end, Quota.amount, Quota.currency).where(
                    Quota.person_id.in_(chunk), Quota.period_start < end, Quota.period_end > first
                )
                for person_id, *span in session.execute(quotas):
                    facts.quotas[person_id].append(QuotaSpan(*span))
        # Somewhere on Earth it is already tomorrow (UTC+14): nothing due later is overdue anywhere.
        latest_overdue = now.astimezone(dt.UTC).date() + dt.timedelta(days=1)
        for chunk in _chunks([rep.id for rep in reps]):
            open_deals = select(Deal.owner_id, func.count()).where(Deal.owner_id.in_(chunk), *live, Deal.is_closed.is_(False))
            facts.open_deals.update(session.execute(open_deals.group_by(Deal.owner_id)).all())
            with_gaps = (
                select(Deal.owner_id, func.count(func.distinct(ProcessGap.deal_id)))
                .join(Deal, Deal.id == ProcessGap.deal_id)
                .where(Deal.owner_id.in_(chunk), *live, Deal.is_closed.is_(False), ProcessGap.resolved_at.is_(None))
            )
            facts.deals_with_gaps.update(session.execute(with_gaps.group_by(Deal.owner_id)).all())
            goals = select(Goal.person_id, Goal.progress).where(Goal.person_id.in_(chunk), Goal.status == "open")
            for person_id, progress in session.execute(goals):
                facts.goal_progress[person_id].append(progress)
            due = select(Action.person_id, Action.due_date).where(
                Action.person_id.in_(chunk), Action.status == "open", Action.due_date < latest_overdue
            )
            for person_id, due_date in session.execute(due):
                facts.action_due_dates[person_id].append(due_date)
            plans = select(RecoveryPlan.person_id, RecoveryPlan.status).where(
                RecoveryPlan.person_id.in_(chunk), RecoveryPlan.status.in_(("proposed", "open"))
            )
            for person_id, status in session.execute(plans.order_by(RecoveryPlan.opened_at)):
                facts.plans[person_id] = status  # the latest wins
        return facts


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[start : start + _IN_CHUNK] for start in range(0, len(ids), _IN_CHUNK)]
