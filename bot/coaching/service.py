"""Read what a scorecard needs from the database and build it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.access import manager_chain
from bot.coaching.playbook import Playbook
from bot.coaching.scorecard import (
    ActionFacts,
    DealFacts,
    Development,
    GoalFacts,
    PlanFacts,
    QuotaSpan,
    Scorecard,
    build_scorecard,
)
from bot.models import Action, Deal, Goal, Person, ProductLine, Quota, RecoveryPlan
from bot.periods import PeriodKind, period_containing


def scorecard_for(
    session: Session,
    person: Person,
    kind: PeriodKind,
    *,
    now: dt.datetime,
    playbook: Playbook,
    default_timezone: str,
    default_currency: str,
    fiscal_year_start_month: int = 1,
) -> Scorecard:
    """The scorecard of `person` for the `kind` period holding `now` in their time zone."""
    period = period_containing(kind, now, person.timezone or default_timezone, fiscal_year_start_month)
    deal_rows = session.execute(
        select(*_DEAL_COLUMNS).where(
            Deal.owner_id == person.id,
            Deal.deleted_at.is_(None),
            # Open deals, and deals closed in the period: the index on (owner, closed, close date) serves both.
            or_(
                Deal.is_closed.is_(False),
                Deal.close_date.between(period.start, period.end - dt.timedelta(days=1)),
            ),
        )
    )
    # _DEAL_COLUMNS is in DealFacts field order, so rows map positionally.
    deals = [DealFacts(*row) for row in deal_rows]
    quotas = [
        QuotaSpan(q.period_start, q.period_end, q.amount, q.currency)
        for q in session.scalars(
            select(Quota).where(Quota.person_id == person.id, Quota.period_start < period.end, Quota.period_end > period.start)
        )
    ]
    catalogue = playbook.product_lines or tuple(session.scalars(select(ProductLine.name).order_by(ProductLine.name)))
    return build_scorecard(
        person_name=person.name,
        period=period,
        deals=deals,
        quota_spans=quotas,
        # The rules run as the gap scan runs them for this rep: their team's overrides applied.
        playbook=team_playbook(session, person, playbook),
        catalogue=catalogue,
        default_currency=default_currency,
        now=now,
        # "Overdue" is judged on the person's own calendar, like every other date on the card.
        development=_development(session, person, now.astimezone(ZoneInfo(period.tz)).date()),
    )


_DEAL_COLUMNS = (
    Deal.crm_id,
    Deal.name,
    Deal.amount,
    Deal.currency,
    Deal.stage,
    Deal.is_closed,
    Deal.is_won,
    Deal.created_at,
    Deal.close_date,
    Deal.stage_entered_at,
    Deal.next_step,
    Deal.next_step_date,
    Deal.product_line,
    Deal.crm_probability,
    Deal.crm_url,
    Deal.last_activity_at,
    Deal.product_name,
    Deal.account_name,
    Deal.id,
)


def _development(session: Session, person: Person, today: dt.date) -> Development:
    goals = session.scalars(
        select(Goal).where(Goal.person_id == person.id, Goal.status == "open").order_by(Goal.due_date.asc().nulls_last(), Goal.id)
    )
    actions = session.scalars(
        select(Action)
        .where(Action.person_id == person.id, Action.status == "open")
        .order_by(Action.due_date.asc().nulls_last(), Action.id)
    )
    plan = session.scalars(
        select(RecoveryPlan)
        # Only a plan the manager opened: a proposal is the manager's to accept, not the rep's to see.
        .where(RecoveryPlan.person_id == person.id, RecoveryPlan.status == "open")
        .order_by(RecoveryPlan.opened_at.desc())
        .limit(1)
    ).first()
    return Development(
        goals=tuple(GoalFacts(g.competency, g.description, g.due_date, g.progress) for g in goals),
        actions=tuple(ActionFacts(a.text, a.due_date, overdue=a.due_date is not None and a.due_date < today) for a in actions),
        plan=PlanFacts(plan.status, plan.gap_amount, plan.pipeline_to_add, plan.currency, plan.period_end) if plan else None,
    )


def team_playbook(session: Session, person: Person, playbook: Playbook) -> Playbook:
    """The playbook of the person's team (nearest manager's overrides win), as the gap scan uses it."""
    if not playbook.teams:
        return playbook  # nothing to override: no need to read the manager chain
    chain = manager_chain(session, person)
    if not chain:
        return playbook
    emails = dict(session.execute(select(Person.id, Person.email).where(Person.id.in_(chain))).all())
    return playbook.for_team(emails[manager_id] for manager_id in chain if manager_id in emails)
