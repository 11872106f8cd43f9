"""The team read model: every rep someone may see, the number and the process side by side.

`/teamperf`, the App Home's team summary and the weekly digest all read their team from here, so
for the same people at the same moment they show the same figures. The rows come from a few
aggregate queries over the whole team (closed-won per owner, open pipeline per owner and stage,
open deals and deals with open gaps per owner, overdue actions, goals, plans, quotas), not from
one scorecard per rep: a manager of 200 reps would otherwise read every open deal of the team
into Python. Each figure is computed with the scorecard's own functions
(bot/coaching/scorecard.py) in each rep's own period, time zone and currency, so a rep's row
reads as their `/myperf` does. Process adherence counts the gaps the gap scan stored
(bot/coaching/gaps.py, after every CRM sync and hourly), the same gaps the Home lists.

One rule each, for every surface:
- plan: a proposal waiting for the manager shows over an open plan (it asks them to act);
- overdue: an action is overdue from midnight after its due date where the rep is;
- currency: the team's sums are in the commonest quota currency (a tie goes to the team's default),
  and reps with a quota in another currency are counted as left out, never converted;
- attention: projected below the playbook's `recovery.projected_below`, pace below
  `attention.pace_below`, process adherence below `attention.process_below`, an overdue action, or
  a recovery plan waiting to be opened.

Who may see whom is decided by bot.access; every look at someone else's figures is audited.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from bot.access import audit, audit_views, may_view, people_under, visible_rep_ids
from bot.coaching.errors import NotAllowed
from bot.coaching.playbook import Playbook
from bot.coaching.scorecard import (
    QuotaSpan,
    Scorecard,
    attainment,
    pace,
    prorated_quota,
    ratio,
)
from bot.coaching.service import scorecard_for
from bot.database import in_chunks
from bot.models import Action, Deal, Goal, Person, ProcessGap, Quota, RecoveryPlan
from bot.periods import Period, PeriodKind, period_containing

ZERO = Decimal(0)
CENT = Decimal("0.01")

NO_TEAM = (
    "/teamperf shows the reps you manage or coach, and coachbot has none for you. "
    "Your own scorecard is one `/myperf` away; if you should have a team, ask your coachbot admin."
)
# The same words whether the rep is unknown or not yours to see: a refusal must not tell them apart.
NOT_YOUR_REP = "You can see the scorecards of the reps you manage or coach only, and I can't show you that one."


@dataclass(frozen=True)
class TeamRow:
    """One rep's line in the team view; money in `currency`, the currency of their quota."""

    person_id: int
    name: str
    currency: str
    quota: Decimal | None
    won_amount: Decimal
    attainment: float | None
    pace: float | None
    projected_amount: Decimal
    projected_attainment: float | None
    open_deals: int
    deals_with_gaps: int
    adherence: float | None
    overdue_actions: int
    plan: str | None  # "open", "proposed" or None
    attention: tuple[str, ...]
    goals_open: int = 0
    goals_progress: float | None = None  # the mean progress of the open goals
    paused_until: dt.date | None = None  # while the rep has paused coachbot (their own calendar)


@dataclass(frozen=True)
class TeamTotals:
    """The team's number, over the reps with a quota in the team's commonest currency."""

    currency: str
    reps: int
    quota: Decimal
    won_amount: Decimal
    projected_amount: Decimal
    # Reps without a quota, or with one in another currency: not in these sums.
    left_out: int

    @property
    def attainment(self) -> float | None:
        return ratio(self.won_amount, self.quota)

    @property
    def projected_attainment(self) -> float | None:
        return ratio(self.projected_amount, self.quota)


@dataclass(frozen=True)
class TeamPerformance:
    viewer_name: str
    period: Period  # the viewer's; each rep's figures use the same kind of period in their own time zone
    elapsed_share: float
    rows: tuple[TeamRow, ...]  # who needs attention first
    totals: TeamTotals | None = None

    @property
    def needing_attention(self) -> tuple[TeamRow, ...]:
        return tuple(row for row in self.rows if row.attention)

    @property
    def pace(self) -> float | None:
        """The team's pace: its attainment against the share of the viewer's period gone."""
        return None if self.totals is None else pace(self.totals.attainment, self.elapsed_share, self.period.days)

    @property
    def rep_ids(self) -> tuple[int, ...]:
        return tuple(row.person_id for row in self.rows)

    @property
    def open_deals(self) -> int:
        return sum(row.open_deals for row in self.rows)

    @property
    def adherence(self) -> float | None:
        return adherence_of(self.open_deals, sum(row.deals_with_gaps for row in self.rows))


def adherence_of(open_deals: int, deals_with_gaps: int) -> float | None:
    """Process adherence: open deals with no open gap ÷ open deals (the scorecard's formula); None with none open."""
    return ratio(open_deals - deals_with_gaps, open_deals)


def has_open_gap() -> ColumnElement[bool]:
    """Whether a `Deal` row has a gap the gap scan stored and has not resolved: what adherence counts."""
    return select(ProcessGap.id).where(ProcessGap.deal_id == Deal.id, ProcessGap.resolved_at.is_(None)).exists()


def has_team_role(person: Person) -> bool:
    return person.is_manager or person.is_coach or person.is_admin


def team_performance(
    session: Session, viewer: Person, kind: PeriodKind, *, now: dt.datetime, playbook: Playbook,
    default_timezone: str, default_currency: str, fiscal_year_start_month: int = 1,
) -> TeamPerformance:  # fmt: skip
    """The team view of `viewer` (a manager, coach or admin), audited; NotAllowed for anyone else."""
    if not has_team_role(viewer):
        raise NotAllowed(NO_TEAM)
    reps = visible_reps(session, viewer)
    team = team_view(
        session, viewer, reps, kind, now=now, playbook=playbook, default_timezone=default_timezone,
        default_currency=default_currency, fiscal_year_start_month=fiscal_year_start_month,
    )  # fmt: skip
    audit_views(session, viewer, "view_team", now, reps, detail={"period": kind})
    return team


def visible_reps(session: Session, viewer: Person) -> list[Person]:
    """The active reps `viewer` may see (bot.access: their manager chain's reps, coached reps, everyone for an admin)."""
    return _active_reps(session, sorted(visible_rep_ids(session, viewer)))


def reps_under(session: Session, manager: Person) -> list[Person]:
    """The active reps under a manager, direct and indirect: the team their digest is about."""
    return _active_reps(session, sorted(people_under(session, manager.id)))


def _active_reps(session: Session, ids: list[int]) -> list[Person]:
    reps = [
        rep
        for chunk in in_chunks(ids)
        for rep in session.scalars(select(Person).where(Person.id.in_(chunk), Person.is_rep, Person.active.is_(True)))
    ]
    return sorted(reps, key=lambda rep: (rep.name, rep.id))


def team_view(
    session: Session, viewer: Person, reps: Sequence[Person], kind: PeriodKind, *, now: dt.datetime, playbook: Playbook,
    default_timezone: str, default_currency: str, fiscal_year_start_month: int = 1,
) -> TeamPerformance:  # fmt: skip
    """`reps` as `viewer` sees them (the period read in the viewer's zone), who needs attention first; not audited."""
    rows = team_rows(
        session, reps, kind, now=now, playbook=playbook, default_timezone=default_timezone,
        default_currency=default_currency, fiscal_year_start_month=fiscal_year_start_month,
    )  # fmt: skip
    period = period_containing(kind, now, viewer.timezone or default_timezone, fiscal_year_start_month)
    ordered = sorted(rows, key=attention_order)
    return TeamPerformance(viewer.name, period, period.elapsed_share(now), tuple(ordered), team_totals(ordered, default_currency))


def rep_scorecard(
    session: Session, viewer: Person, rep: Person | None, kind: PeriodKind, *, now: dt.datetime, playbook: Playbook,
    default_timezone: str, default_currency: str, fiscal_year_start_month: int = 1,
) -> Scorecard:  # fmt: skip
    """`rep`'s full scorecard for `viewer`, audited; NotAllowed (saying nothing of the rep) when not theirs to see."""
    if rep is None or not may_view(session, viewer, rep):
        raise NotAllowed(NOT_YOUR_REP)
    if rep.id != viewer.id:
        audit(session, viewer, "view_scorecard", now, subject=rep, detail={"period": kind})
    return scorecard_for(
        session, rep, kind, now=now, playbook=playbook, default_timezone=default_timezone,
        default_currency=default_currency, fiscal_year_start_month=fiscal_year_start_month,
    )  # fmt: skip


def person_with_email(session: Session, email: str) -> Person | None:
    """The person with this email (stored lower-cased), if any."""
    return session.scalar(select(Person).where(Person.email == email.strip().lower()))


def attention_order(row: TeamRow) -> tuple[int, float, str]:
    """Most reasons for attention first, then the lowest projection, then by name."""
    projected = row.projected_attainment if row.projected_attainment is not None else float("inf")
    return (-len(row.attention), projected, row.name)


def team_totals(rows: Sequence[TeamRow], default_currency: str) -> TeamTotals | None:
    """Sums over the reps with a quota in the commonest currency of quotas (on a tie, the team
    default); None when nobody has a quota. Amounts in different currencies are never added up."""
    currencies = Counter(row.currency for row in rows if row.quota is not None)
    if not currencies:
        return None
    currency = max(sorted(currencies), key=lambda name: (currencies[name], name == default_currency))
    counted = [row for row in rows if row.quota is not None and row.currency == currency]
    return TeamTotals(
        currency=currency,
        reps=len(counted),
        quota=sum((row.quota or ZERO for row in counted), ZERO),
        won_amount=sum((row.won_amount for row in counted), ZERO),
        projected_amount=sum((row.projected_amount for row in counted), ZERO),
        left_out=len(rows) - len(counted),
    )


@dataclass
class _Tally:
    """What the queries found for one rep, before the figures are worked out."""

    period: Period
    today: dt.date
    won: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    # Σ amount × stage probability of open deals closing in the period, by currency, unrounded.
    weighted: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    open_deals: int = 0
    deals_with_gaps: int = 0
    overdue_actions: int = 0
    plan: str | None = None
    quotas: list[QuotaSpan] = field(default_factory=list)
    goal_progress: list[float] = field(default_factory=list)


def team_rows(
    session: Session, reps: Sequence[Person], kind: PeriodKind, *, now: dt.datetime, playbook: Playbook,
    default_timezone: str, default_currency: str, fiscal_year_start_month: int = 1,
) -> list[TeamRow]:  # fmt: skip
    """The team rows of `reps` for the `kind` period holding `now` in each rep's time zone (unsorted)."""
    tallies: dict[int, _Tally] = {}
    for rep in reps:
        zone = rep.timezone or default_timezone
        tallies[rep.id] = _Tally(
            period_containing(kind, now, zone, fiscal_year_start_month), now.astimezone(ZoneInfo(zone)).date()
        )
    if not tallies:
        return []
    # Reps in different time zones can be in different periods (a quarter turns over at each
    # one's midnight): one pass of the deal queries per distinct period, usually one.
    by_period: dict[tuple[dt.date, dt.date], list[int]] = defaultdict(list)
    for rep_id, tally in tallies.items():
        by_period[(tally.period.start, tally.period.end)].append(rep_id)
    for (start, end), rep_ids in by_period.items():
        for chunk in in_chunks(rep_ids):
            _read_won(session, chunk, start, end, tallies)
            _read_open(session, chunk, start, end, tallies, playbook)
    for chunk in in_chunks(list(tallies)):
        _read_overdue_actions(session, chunk, tallies)
        _read_plans(session, chunk, tallies)
        _read_quotas(session, chunk, tallies)
        _read_goals(session, chunk, tallies)
    return [_row(rep, tallies[rep.id], now, default_currency, playbook) for rep in reps]


def attention_reasons(
    playbook: Playbook, row_pace: float | None, projected: float | None, adherence: float | None, overdue: int, plan: str | None
) -> tuple[str, ...]:
    """Why a rep needs coaching attention, by the playbook's thresholds (empty: they do not)."""
    thresholds = playbook.attention
    reasons = []
    if projected is not None and projected < playbook.recovery.projected_below:
        reasons.append(f"projected {projected:.0%} of quota")
    if row_pace is not None and row_pace < thresholds.pace_below:
        reasons.append(f"pace {row_pace:.0%}")
    if adherence is not None and adherence < thresholds.process_below:
        reasons.append(f"only {adherence:.0%} of open deals follow the process")
    if overdue:
        reasons.append(f"{overdue} overdue action{'s' if overdue != 1 else ''}")
    if plan == "proposed":
        reasons.append("a recovery plan waits for you to open it")
    return tuple(reasons)


def _row(rep: Person, tally: _Tally, now: dt.datetime, default_currency: str, playbook: Playbook) -> TeamRow:
    quota_and_currency = prorated_quota(tally.quotas, tally.period)
    quota, currency = quota_and_currency or (None, default_currency)
    won = tally.won.get(currency, ZERO)
    attained = attainment(won, quota)
    row_pace = pace(attained, tally.period.elapsed_share(now), tally.period.days)
    projected = won + tally.weighted.get(currency, ZERO).quantize(CENT)
    projected_share = attainment(projected, quota)
    adherence = adherence_of(tally.open_deals, tally.deals_with_gaps)
    return TeamRow(
        person_id=rep.id, name=rep.name, currency=currency, quota=quota, won_amount=won, attainment=attained,
        pace=row_pace, projected_amount=projected, projected_attainment=projected_share, open_deals=tally.open_deals,
        deals_with_gaps=tally.deals_with_gaps, adherence=adherence, overdue_actions=tally.overdue_actions, plan=tally.plan,
        attention=attention_reasons(playbook, row_pace, projected_share, adherence, tally.overdue_actions, tally.plan),
        paused_until=rep.paused_until if rep.paused_until is not None and rep.paused_until >= tally.today else None,
        goals_open=len(tally.goal_progress),
        goals_progress=sum(tally.goal_progress) / len(tally.goal_progress) if tally.goal_progress else None,
    )  # fmt: skip


def _read_won(session: Session, owner_ids: list[int], start: dt.date, end: dt.date, tallies: dict[int, _Tally]) -> None:
    # Served by the index on (owner, closed, close date), like the scorecard's own query.
    won = session.execute(
        select(Deal.owner_id, Deal.currency, func.sum(Deal.amount))
        .where(
            Deal.owner_id.in_(owner_ids),
            Deal.is_closed.is_(True),
            Deal.close_date.between(start, end - dt.timedelta(days=1)),
            Deal.is_won.is_(True),
            Deal.deleted_at.is_(None),
        )
        .group_by(Deal.owner_id, Deal.currency)
    )
    for owner_id, currency, amount in won:
        assert owner_id is not None  # read by owner_id IN (...)
        tallies[owner_id].won[currency] += amount or ZERO


def _read_open(
    session: Session, owner_ids: list[int], start: dt.date, end: dt.date, tallies: dict[int, _Tally], playbook: Playbook
) -> None:
    """Open deals and deals with an open gap per owner, and the open pipeline closing in the period
    per owner, currency and stage, weighted here by the stage's probability."""
    in_period = Deal.close_date.between(start, end - dt.timedelta(days=1))
    groups = session.execute(
        select(
            Deal.owner_id,
            Deal.currency,
            Deal.stage,
            func.count(),
            func.count(case((has_open_gap(), 1))),
            func.sum(case((in_period, Deal.amount))),
        )
        .where(Deal.owner_id.in_(owner_ids), Deal.is_closed.is_(False), Deal.deleted_at.is_(None))
        .group_by(Deal.owner_id, Deal.currency, Deal.stage)
    )
    unknown_stages: set[str] = set()
    for owner_id, currency, stage, deals, with_gaps, amount_in_period in groups:
        tally = tallies[owner_id]
        tally.open_deals += deals
        tally.deals_with_gaps += with_gaps
        rule = playbook.stage(stage)
        if rule is None:
            unknown_stages.add(stage)
        elif amount_in_period and rule.probability:
            tally.weighted[currency] += amount_in_period * Decimal(str(rule.probability))
    if unknown_stages:
        _read_crm_weighted(session, owner_ids, in_period, sorted(unknown_stages), tallies)


def _read_crm_weighted(
    session: Session, owner_ids: list[int], in_period: ColumnElement[bool], stages: list[str], tallies: dict[int, _Tally]
) -> None:
    # A stage the playbook does not know weighs by the CRM's probability, which may differ deal by deal.
    groups = session.execute(
        select(Deal.owner_id, Deal.currency, Deal.crm_probability, func.sum(Deal.amount))
        .where(
            Deal.owner_id.in_(owner_ids),
            Deal.is_closed.is_(False),
            Deal.deleted_at.is_(None),
            Deal.stage.in_(stages),
            in_period,
            Deal.crm_probability.is_not(None),
        )
        .group_by(Deal.owner_id, Deal.currency, Deal.crm_probability)
    )
    for owner_id, currency, probability, amount in groups:
        assert owner_id is not None  # read by owner_id IN (...)
        if amount and probability:
            tallies[owner_id].weighted[currency] += amount * Decimal(str(probability))


def _read_overdue_actions(session: Session, person_ids: list[int], tallies: dict[int, _Tally]) -> None:
    # "Overdue" is judged on each rep's own calendar: read by due date, decide per rep.
    latest_today = max(tallies[person_id].today for person_id in person_ids)
    counts = session.execute(
        select(Action.person_id, Action.due_date, func.count())
        .where(Action.person_id.in_(person_ids), Action.status == "open", Action.due_date < latest_today)
        .group_by(Action.person_id, Action.due_date)
    )
    for person_id, due_date, count in counts:
        if due_date is not None and due_date < tallies[person_id].today:
            tallies[person_id].overdue_actions += count


def _read_plans(session: Session, person_ids: list[int], tallies: dict[int, _Tally]) -> None:
    plans = session.execute(
        select(RecoveryPlan.person_id, RecoveryPlan.status).where(
            RecoveryPlan.person_id.in_(person_ids), RecoveryPlan.status.in_(("proposed", "open"))
        )
    )
    for person_id, status in plans:
        # A proposal waiting for the manager is the one to show: it asks them to act.
        if tallies[person_id].plan != "proposed":
            tallies[person_id].plan = status


def _read_quotas(session: Session, person_ids: list[int], tallies: dict[int, _Tally]) -> None:
    earliest = min(tallies[person_id].period.start for person_id in person_ids)
    latest = max(tallies[person_id].period.end for person_id in person_ids)
    quotas = session.execute(
        select(Quota.person_id, Quota.period_start, Quota.period_end, Quota.amount, Quota.currency)
        .where(Quota.person_id.in_(person_ids), Quota.period_start < latest, Quota.period_end > earliest)
        .order_by(Quota.person_id, Quota.period_start)
    )
    for person_id, period_start, period_end, amount, currency in quotas:
        tallies[person_id].quotas.append(QuotaSpan(period_start, period_end, amount, currency))


def _read_goals(session: Session, person_ids: list[int], tallies: dict[int, _Tally]) -> None:
    goals = session.execute(select(Goal.person_id, Goal.progress).where(Goal.person_id.in_(person_ids), Goal.status == "open"))
    for person_id, progress in goals:
        tallies[person_id].goal_progress.append(progress)
