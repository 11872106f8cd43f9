"""The 1:1 agenda: what a manager or coach goes through with one rep, as plain values.

`one_on_one_agenda` reads, for one rep, as of `now`:
- the number and pace: the rep's quarter scorecard (`scorecard_for`, the figures `/myperf` shows);
- the biggest process gaps: the rep's open deals with stored open gaps that are not snoozed,
  biggest money at stake first (amount × stage win probability, rules.money_at_stake, in the
  deal's own currency), then the most severe gap, then the deal's name; at most `MAX_GAP_DEALS`
  deals, each with every reason, and how many more deals have gaps;
- the open goals and their progress, soonest due first;
- the open actions that are overdue or due within `DUE_SOON_DAYS` days (the rep's calendar),
  and how many other actions are open;
- the open recovery plan (a proposal is the manager's to decide, not an agenda item) and its
  last `MAX_CHECKINS` check-ins, newest first;
- the rep's active snoozes (open gaps snoozed past today) with their reasons, soonest back first;
- the wins: deals won (closed-won, by close date) from the day of the last one-on-one this
  coach marked held with this rep, that day included, or from `DEFAULT_SINCE_DAYS` days ago
  when they have marked none.

Every date is the rep's: "today", "overdue", "since" and the day a one-on-one was held are read
on the rep's calendar, as everywhere else in coachbot.

The agenda is read, never recorded: preparing it (or opening it twice) moves nothing.
`mark_held` records that the one-on-one took place (the agenda's "Mark held" button), and the
next agenda starts from that day. One a day per coach and rep: a second click changes nothing.
`send_copy` tells the rep their copy through the delivery layer (once a day per coach and rep).

Who may: the rep's manager chain, their assigned coaches and admins (`may_prepare`). The rep
themself is told their agenda is their manager's or coach's to prepare (their own figures are
in /myperf and on the App Home). Every look, each held one-on-one and each copy sent is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.access import audit, may_coach
from bot.coaching.errors import InvalidInput, NotAllowed
from bot.coaching.gaps import read_deals, read_open_gaps
from bot.coaching.notices import Notice, Notices
from bot.coaching.playbook import Playbook
from bot.coaching.rules import SEVERITY_WEIGHT, money_at_stake
from bot.coaching.scorecard import Scorecard
from bot.coaching.service import scorecard_for, team_playbook
from bot.database import insert_ignoring_conflicts
from bot.models import Action, Deal, Goal, OneOnOne, Person, PlanCheckin, ProcessGap, RecoveryPlan

MAX_GAP_DEALS = 5
DUE_SOON_DAYS = 7
MAX_CHECKINS = 3
DEFAULT_SINCE_DAYS = 14

OWN_AGENDA = (
    "Your 1:1 agenda is prepared by your manager or coach, who can send you your copy. "
    "Your own figures are one `/myperf` away, and your App Home lists your goals, actions and gaps."
)


@dataclass(frozen=True)
class AgendaGap:
    deal_name: str
    crm_url: str | None
    amount: Decimal | None
    currency: str
    stage: str
    stake: Decimal  # amount × stage win probability
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class AgendaGoal:
    competency: str
    description: str
    due_date: dt.date | None
    progress: float
    measure: str | None = None
    target: float | None = None
    measure_arg: str | None = None


@dataclass(frozen=True)
class AgendaAction:
    id: int
    text: str
    due_date: dt.date
    overdue: bool


@dataclass(frozen=True)
class AgendaCheckin:
    asked_on: dt.date
    answer: str | None  # on_track | at_risk | need_help; None until the rep answers
    note: str | None


@dataclass(frozen=True)
class AgendaPlan:
    period_end: dt.date
    gap_amount: Decimal
    pipeline_to_add: Decimal
    currency: str
    checkins: tuple[AgendaCheckin, ...]


@dataclass(frozen=True)
class AgendaSnooze:
    deal_name: str
    detail: str | None
    snoozed_until: dt.date
    reason: str | None


@dataclass(frozen=True)
class AgendaWin:
    deal_name: str
    amount: Decimal | None
    currency: str
    close_date: dt.date
    product_line: str | None


@dataclass(frozen=True)
class Agenda:
    """One rep's 1:1 agenda for one coach, as of `today` on the rep's calendar."""

    rep_id: int
    rep_name: str
    coach_name: str
    today: dt.date
    since: dt.date
    last_held: dt.date | None  # None: no one-on-one marked held yet, `since` is the default
    card: Scorecard
    gaps: tuple[AgendaGap, ...]
    more_gap_deals: int
    goals: tuple[AgendaGoal, ...]
    actions: tuple[AgendaAction, ...]
    other_open_actions: int
    plan: AgendaPlan | None
    snoozes: tuple[AgendaSnooze, ...]
    wins: tuple[AgendaWin, ...]

    @property
    def won_since(self) -> Decimal:
        """The wins' total in the scorecard's currency (wins in another currency are listed, not added)."""
        return sum((win.amount or Decimal(0) for win in self.wins if win.currency == self.card.currency), Decimal(0))


@dataclass(frozen=True, kw_only=True)
class OneOnOneCopy(Notice):
    """The rep's copy of their 1:1 agenda."""

    kind: ClassVar[str] = "one_on_one_copy"
    agenda: Agenda


def may_prepare(session: Session, coach: Person, rep: Person) -> bool:
    """The rep's manager chain, their assigned coaches and admins (never the rep themself)."""
    return coach.id != rep.id and (coach.is_admin or may_coach(session, coach, rep))


def require_preparer(session: Session, coach: Person, rep: Person) -> None:
    if coach.id == rep.id:
        raise NotAllowed(OWN_AGENDA)
    if not may_prepare(session, coach, rep):
        raise NotAllowed(f"Only {rep.name}'s managers, assigned coaches and coachbot admins can prepare their 1:1 agenda.")
    if not rep.is_rep or not rep.active:
        raise InvalidInput(f"{rep.name} is not an active rep in coachbot's org.")


def rep_today(rep: Person, now: dt.datetime, default_timezone: str) -> dt.date:
    return now.astimezone(ZoneInfo(rep.timezone or default_timezone)).date()


def last_one_on_one(session: Session, coach: Person, rep: Person) -> OneOnOne | None:
    return session.scalars(
        select(OneOnOne)
        .where(OneOnOne.coach_id == coach.id, OneOnOne.rep_id == rep.id)
        .order_by(OneOnOne.held_at.desc(), OneOnOne.id.desc())
        .limit(1)
    ).first()


def one_on_one_agenda(
    session: Session, coach: Person, rep: Person, now: dt.datetime, playbook: Playbook, *, default_timezone: str,
    default_currency: str, fiscal_year_start_month: int = 1, audited: bool = True,
) -> Agenda:  # fmt: skip
    """`rep`'s 1:1 agenda for `coach` as of `now` (see the module docstring); audited as a look unless told not to."""
    require_preparer(session, coach, rep)
    today = rep_today(rep, now, default_timezone)
    last = last_one_on_one(session, coach, rep)
    since = last.held_on if last is not None else today - dt.timedelta(days=DEFAULT_SINCE_DAYS)
    card = scorecard_for(
        session, rep, "quarter", now=now, playbook=playbook, default_timezone=default_timezone,
        default_currency=default_currency, fiscal_year_start_month=fiscal_year_start_month,
    )  # fmt: skip
    gaps, more_gap_deals = _biggest_gaps(session, rep, playbook, today)
    actions, other_open_actions = _actions(session, rep, today)
    if audited:
        audit(session, coach, "view_one_on_one", now, subject=rep, detail={"since": since.isoformat()})
    return Agenda(
        rep_id=rep.id, rep_name=rep.name, coach_name=coach.name, today=today, since=since,
        last_held=last.held_on if last is not None else None, card=card, gaps=gaps, more_gap_deals=more_gap_deals,
        goals=_goals(session, rep), actions=actions, other_open_actions=other_open_actions,
        plan=_plan(session, rep, default_timezone), snoozes=_snoozes(session, rep, today), wins=_wins(session, rep, since, today),
    )  # fmt: skip


def mark_held(session: Session, coach: Person, rep: Person, now: dt.datetime, *, default_timezone: str) -> dt.date | None:
    """Record that `coach` held a one-on-one with `rep` now; the day (rep's calendar), or None when
    one was already marked held that day (nothing changes). Audited."""
    require_preparer(session, coach, rep)
    held_on = rep_today(rep, now, default_timezone)
    # The unique (coach, rep, day) settles two clicks at once.
    inserted = session.execute(
        insert_ignoring_conflicts(session, OneOnOne, ["coach_id", "rep_id", "held_on"])
        .values(coach_id=coach.id, rep_id=rep.id, held_at=now, held_on=held_on)
        .returning(OneOnOne.id)
    ).first()
    if inserted is None:
        return None
    audit(
        session, coach, "one_on_one_held", now, subject=rep, detail={"one_on_one_id": inserted[0], "held_on": held_on.isoformat()}
    )
    return held_on


def copy_key(coach: Person, rep: Person, today: dt.date) -> str:
    return f"one_on_one_copy:{coach.id}:{rep.id}:{today.isoformat()}"


def send_copy(
    session: Session, notices: Notices, coach: Person, rep: Person, now: dt.datetime, playbook: Playbook, *,
    default_timezone: str, default_currency: str, fiscal_year_start_month: int = 1,
) -> Agenda | None:  # fmt: skip
    """Tell `rep` their copy of the agenda as of now (the delivery layer queues it under
    `copy_key`, once a day); the agenda sent, or None when the rep has no Slack account. Audited."""
    agenda = one_on_one_agenda(
        session, coach, rep, now, playbook, default_timezone=default_timezone, default_currency=default_currency,
        fiscal_year_start_month=fiscal_year_start_month, audited=False,
    )  # fmt: skip
    key = copy_key(coach, rep, agenda.today)
    if not notices.tell(rep, OneOnOneCopy(key=key, agenda=agenda)):
        return None
    audit(session, coach, "send_one_on_one", now, subject=rep, detail={"key": key})
    return agenda


def _biggest_gaps(session: Session, rep: Person, playbook: Playbook, today: dt.date) -> tuple[tuple[AgendaGap, ...], int]:
    connection = session.connection()
    deals = {deal.id: deal for deal in read_deals(connection, Deal.owner_id == rep.id)}
    if not deals:
        return (), 0
    # The scan's read of a deal carries no currency: one more narrow read of the same open deals.
    open_deals = select(Deal.id, Deal.currency).where(
        Deal.owner_id == rep.id, Deal.is_closed.is_(False), Deal.deleted_at.is_(None)
    )
    currencies: dict[int, str] = dict(session.execute(open_deals).all())
    own_playbook = team_playbook(session, rep, playbook)
    order = {rule.name: index for index, rule in enumerate(own_playbook.enabled_rules)}
    by_deal: dict[int, list[tuple[int, int, str]]] = {}
    for gap in read_open_gaps(connection, Deal.owner_id == rep.id):
        if gap.deal_id not in deals or (gap.snoozed_until is not None and gap.snoozed_until > today):
            continue  # a closed deal's gap is the next scan's to resolve; a snoozed one is listed with the snoozes
        reason = gap.detail or gap.rule.replace("_", " ")
        by_deal.setdefault(gap.deal_id, []).append((order.get(gap.rule, len(order)), SEVERITY_WEIGHT[gap.severity], reason))
    ranked = []
    for deal_id, reasons in by_deal.items():
        deal = deals[deal_id]
        stake = Decimal(str(money_at_stake(deal, own_playbook))).quantize(Decimal("0.01"))
        worst = max(weight for _, weight, _ in reasons)
        shown = AgendaGap(deal.name, deal.crm_url, deal.amount, currencies[deal_id], deal.stage, stake,
                          tuple(reason for _, _, reason in sorted(reasons)))  # fmt: skip
        ranked.append((-stake, -worst, deal.name, deal_id, shown))
    ranked.sort(key=lambda entry: entry[:4])
    return tuple(entry[-1] for entry in ranked[:MAX_GAP_DEALS]), max(len(ranked) - MAX_GAP_DEALS, 0)


def _goals(session: Session, rep: Person) -> tuple[AgendaGoal, ...]:
    goals = session.scalars(
        select(Goal).where(Goal.person_id == rep.id, Goal.status == "open").order_by(Goal.due_date.asc().nulls_last(), Goal.id)
    )
    return tuple(
        AgendaGoal(goal.competency, goal.description, goal.due_date, goal.progress, goal.measure, goal.target, goal.measure_arg)
        for goal in goals
    )


def _actions(session: Session, rep: Person, today: dt.date) -> tuple[tuple[AgendaAction, ...], int]:
    rows = session.execute(
        select(Action.id, Action.text, Action.due_date)
        .where(Action.person_id == rep.id, Action.status == "open")
        .order_by(Action.due_date.asc().nulls_last(), Action.id)
    ).all()
    latest = today + dt.timedelta(days=DUE_SOON_DAYS)
    due = tuple(
        AgendaAction(action_id, text, due_date, due_date < today)
        for action_id, text, due_date in rows
        if due_date is not None and due_date <= latest
    )
    return due, len(rows) - len(due)


def _plan(session: Session, rep: Person, default_timezone: str) -> AgendaPlan | None:
    plan = session.scalars(
        select(RecoveryPlan)
        .where(RecoveryPlan.person_id == rep.id, RecoveryPlan.status == "open")
        .order_by(RecoveryPlan.opened_at.desc(), RecoveryPlan.id.desc())
        .limit(1)
    ).first()
    if plan is None:
        return None
    zone = ZoneInfo(rep.timezone or default_timezone)
    checkins = session.scalars(
        select(PlanCheckin).where(PlanCheckin.plan_id == plan.id).order_by(PlanCheckin.asked_at.desc()).limit(MAX_CHECKINS)
    )
    return AgendaPlan(
        plan.period_end, plan.gap_amount, plan.pipeline_to_add, plan.currency,
        tuple(AgendaCheckin(c.asked_at.astimezone(zone).date(), c.answer, c.note) for c in checkins),
    )  # fmt: skip


def _snoozes(session: Session, rep: Person, today: dt.date) -> tuple[AgendaSnooze, ...]:
    rows = session.execute(
        select(Deal.name, ProcessGap.detail, ProcessGap.rule, ProcessGap.snoozed_until, ProcessGap.snooze_reason)
        .join(Deal, Deal.id == ProcessGap.deal_id)
        .where(
            Deal.owner_id == rep.id,
            Deal.is_closed.is_(False),
            Deal.deleted_at.is_(None),
            ProcessGap.resolved_at.is_(None),
            ProcessGap.snoozed_until > today,
        )
        .order_by(ProcessGap.snoozed_until, Deal.name, ProcessGap.rule)
    )
    return tuple(
        AgendaSnooze(name, detail or rule.replace("_", " "), until, reason)
        for name, detail, rule, until, reason in rows
        if until is not None  # the query asks for snoozes that last past today
    )


def _wins(session: Session, rep: Person, since: dt.date, today: dt.date) -> tuple[AgendaWin, ...]:
    rows = session.execute(
        select(Deal.name, Deal.amount, Deal.currency, Deal.close_date, Deal.product_line)
        .where(
            Deal.owner_id == rep.id,
            Deal.is_won.is_(True),
            Deal.deleted_at.is_(None),
            Deal.close_date >= since,
            Deal.close_date <= today,
        )
        .order_by(Deal.close_date.desc(), Deal.name)
    )
    return tuple(
        AgendaWin(name, amount, currency, close_date, line)
        for name, amount, currency, close_date, line in rows
        if close_date is not None  # the query asks for a close date since `since`
    )
