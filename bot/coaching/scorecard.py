"""The scorecard: the number, and how it is being built. Pure functions over plain values.

Money figures are in one currency, the scorecard's: the currency of the person's quota, or the
team default (COACHBOT_CURRENCY) when there is no quota. Deals in any other currency are left out
of every money figure and counted in `Scorecard.other_currency_deals`, because converting without
a trusted rate would show a number nobody can check. Count-based figures (win rate by count,
process adherence, product-line breadth) use every deal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from statistics import fmean
from zoneinfo import ZoneInfo

from bot.coaching.playbook import Playbook
from bot.coaching.rules import evaluate_deal
from bot.periods import Period

ZERO = Decimal(0)


@dataclass(frozen=True)
class DealFacts:
    """What the scorecard needs to know about one deal."""

    crm_id: str
    name: str
    amount: Decimal | None
    currency: str
    stage: str
    is_closed: bool
    is_won: bool
    created_at: dt.datetime
    close_date: dt.date | None
    stage_entered_at: dt.datetime | None = None
    next_step: str | None = None
    next_step_date: dt.date | None = None
    product_line: str | None = None
    crm_probability: float | None = None
    crm_url: str | None = None
    last_activity_at: dt.datetime | None = None
    product_name: str | None = None
    account_name: str | None = None
    # coachbot's own id of the deal (what "Update…" acts on); None where a deal is not stored.
    deal_id: int | None = None


@dataclass(frozen=True)
class QuotaSpan:
    start: dt.date
    end: dt.date
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class GapReason:
    code: str
    text: str


@dataclass(frozen=True)
class DealGaps:
    deal: DealFacts
    reasons: tuple[GapReason, ...]


@dataclass(frozen=True)
class GoalFacts:
    competency: str
    description: str
    due_date: dt.date | None
    progress: float


@dataclass(frozen=True)
class ActionFacts:
    text: str
    due_date: dt.date | None
    overdue: bool


@dataclass(frozen=True)
class PlanFacts:
    status: str
    gap_amount: Decimal
    pipeline_to_add: Decimal
    currency: str
    period_end: dt.date


@dataclass(frozen=True)
class Development:
    goals: tuple[GoalFacts, ...] = ()
    actions: tuple[ActionFacts, ...] = ()
    plan: PlanFacts | None = None


@dataclass(frozen=True)
class Scorecard:
    person_name: str
    period: Period
    currency: str
    # The number
    quota: Decimal | None
    won_amount: Decimal
    attainment: float | None
    elapsed_share: float
    pace: float | None
    projected_amount: Decimal
    projected_attainment: float | None
    gap_to_quota: Decimal | None
    # How it is being built
    pipeline_in_period: Decimal
    coverage: float | None
    win_rate_by_count: float | None
    win_rate_by_value: float | None
    average_deal_size: Decimal | None
    sales_cycle_days: float | None
    velocity_per_day: Decimal | None
    lines_in_play: tuple[str, ...]
    catalogue: tuple[str, ...]
    open_deal_count: int
    deal_gaps: tuple[DealGaps, ...]
    adherence: float | None
    other_currency_deals: int = 0
    unknown_stages: tuple[str, ...] = ()
    development: Development = field(default_factory=Development)

    @property
    def lines_in_catalogue(self) -> tuple[str, ...]:
        """Lines in play that the catalogue lists (a line the catalogue lacks cannot count)."""
        return tuple(line for line in self.catalogue if line in self.lines_in_play)

    @property
    def breadth(self) -> float | None:
        return ratio(len(self.lines_in_catalogue), len(self.catalogue))

    @property
    def lines_missing(self) -> tuple[str, ...]:
        return tuple(line for line in self.catalogue if line not in self.lines_in_play)


def ratio(numerator: float | Decimal, denominator: float | Decimal) -> float | None:
    """numerator / denominator, or None where the denominator is zero."""
    if not denominator:
        return None
    return float(numerator) / float(denominator)


def prorated_quota(spans: Iterable[QuotaSpan], period: Period) -> tuple[Decimal, str] | None:
    """The quota for `period`: Σ amount × (days of the span inside the period / days of the span).

    One formula covers a quota set for exactly the period, a quarter's quota read for a month
    (a third, by days) and a year read as the sum of its quarters. Spans in a currency other than
    the first span's are ignored (org import refuses them). None when no span overlaps.
    """
    total = ZERO
    currency: str | None = None
    for span in spans:
        overlap = (min(span.end, period.end) - max(span.start, period.start)).days
        if overlap <= 0:
            continue
        currency = currency or span.currency
        if span.currency != currency:
            continue
        total += span.amount * overlap / (span.end - span.start).days
    if currency is None:
        return None
    return total.quantize(Decimal("0.01")), currency


def attainment(won: Decimal, quota: Decimal | None) -> float | None:
    """Attainment = closed-won amount / quota. None without a quota."""
    return None if quota is None else ratio(won, quota)


def pace(attainment_share: float | None, elapsed_share: float, period_days: int) -> float | None:
    """Pace = attainment / share of the period elapsed; 1.0 means exactly on pace.

    None until a full day of the period has passed: an hour into a quarter, one deal closed
    would read as a pace of thousands of percent.
    """
    if attainment_share is None or elapsed_share * period_days < 1:
        return None
    return ratio(attainment_share, elapsed_share)


def stage_probability(deal: DealFacts, playbook: Playbook) -> float | None:
    """The playbook's win probability for the deal's stage, else the CRM's, else None."""
    rule = playbook.stage(deal.stage)
    if rule is not None:
        return rule.probability
    return deal.crm_probability


def weighted_pipeline(open_deals: Iterable[DealFacts], playbook: Playbook) -> Decimal:
    """Σ amount × stage probability over open deals; unknown stages weigh 0."""
    total = ZERO
    for deal in open_deals:
        probability = stage_probability(deal, playbook)
        if deal.amount and probability:
            total += deal.amount * Decimal(str(probability))
    return total.quantize(Decimal("0.01"))


def gap_to_quota(quota: Decimal | None, won: Decimal) -> Decimal | None:
    """Gap = max(quota − closed-won, 0). None without a quota."""
    return None if quota is None else max(quota - won, ZERO)


def pipeline_coverage(pipeline: Decimal, gap: Decimal | None) -> float | None:
    """Coverage = open pipeline closing in the period / gap to quota. None once the gap is 0."""
    return None if gap is None else ratio(pipeline, gap)


def win_rates(closed: Sequence[DealFacts]) -> tuple[float | None, float | None]:
    """(won count / closed count, won amount / closed amount) over deals closed in the period."""
    won = [deal for deal in closed if deal.is_won]
    by_count = ratio(len(won), len(closed))
    by_value = ratio(sum((d.amount or ZERO for d in won), ZERO), sum((d.amount or ZERO for d in closed), ZERO))
    return by_count, by_value


def average_deal_size(won: Sequence[DealFacts]) -> Decimal | None:
    """Mean amount of the deals won in the period (deals with no amount left out)."""
    amounts = [deal.amount for deal in won if deal.amount is not None]
    if not amounts:
        return None
    return (sum(amounts, ZERO) / len(amounts)).quantize(Decimal("0.01"))


def sales_cycle_days(won: Sequence[DealFacts]) -> float | None:
    """Mean days from creation to close date over the deals won in the period."""
    cycles = [(deal.close_date - deal.created_at.date()).days for deal in won if deal.close_date]
    return fmean(cycles) if cycles else None


def sales_velocity(
    open_count: int, deal_size: Decimal | None, win_rate: float | None, cycle_days: float | None
) -> Decimal | None:
    """Velocity = open deals × average deal size × win rate / sales-cycle days (money a day)."""
    if deal_size is None or win_rate is None or cycle_days is None or cycle_days <= 0:
        return None  # a cycle of zero or fewer days means bad dates, not infinite speed
    value = Decimal(open_count) * deal_size * Decimal(str(win_rate)) / Decimal(str(cycle_days))
    return value.quantize(Decimal("0.01"))


def lines_in_play(won: Iterable[DealFacts], open_deals: Iterable[DealFacts]) -> tuple[str, ...]:
    """Product lines the person sold in the period or has in open pipeline."""
    lines = {deal.product_line for deal in [*won, *open_deals] if deal.product_line}
    return tuple(sorted(lines))


def deal_gaps(deal: DealFacts, playbook: Playbook, now: dt.datetime, today: dt.date) -> tuple[GapReason, ...]:
    """Why an open deal breaks the process: the playbook's rules that fire on it (bot/coaching/rules.py),
    e.g. no dated next step, an overdue next step, a close date missing or past, too long in its stage."""
    return tuple(GapReason(finding.rule, finding.detail) for finding in evaluate_deal(deal, playbook, now, today))


def process_adherence(open_count: int, gaps: Sequence[DealGaps]) -> float | None:
    """Adherence = open deals with no gap / open deals. None with no open deals."""
    return ratio(open_count - len(gaps), open_count)


def build_scorecard(
    *,
    person_name: str,
    period: Period,
    deals: Sequence[DealFacts],
    quota_spans: Sequence[QuotaSpan],
    playbook: Playbook,
    catalogue: Sequence[str],
    default_currency: str,
    now: dt.datetime,
    development: Development = Development(),
) -> Scorecard:
    """One person's scorecard for `period` as of `now`.

    `deals` are the person's open deals and the deals closed in the period; others are ignored.
    Deals whose close date lies in the period count for it; open deals without one count for
    adherence only.
    """
    quota_and_currency = prorated_quota(quota_spans, period)
    quota, currency = quota_and_currency or (None, default_currency)
    today = now.astimezone(ZoneInfo(period.tz)).date()

    open_deals = [deal for deal in deals if not deal.is_closed]
    closed_in_period = [d for d in deals if d.is_closed and d.close_date and period.contains(d.close_date)]
    in_currency = [deal for deal in deals if deal.currency == currency]
    other_currency = len(deals) - len(in_currency)

    won_money = [d for d in closed_in_period if d.is_won and d.currency == currency]
    closed_money = [d for d in closed_in_period if d.currency == currency]
    open_money = [d for d in open_deals if d.currency == currency]
    open_in_period = [d for d in open_money if d.close_date and period.contains(d.close_date)]

    won_amount = sum((d.amount or ZERO for d in won_money), ZERO)
    attained = attainment(won_amount, quota)
    elapsed = period.elapsed_share(now)
    projected = won_amount + weighted_pipeline(open_in_period, playbook)
    gap = gap_to_quota(quota, won_amount)
    pipeline = sum((d.amount or ZERO for d in open_in_period), ZERO)

    win_by_count, _ = win_rates(closed_in_period)
    _, win_by_value = win_rates(closed_money)
    deal_size = average_deal_size(won_money)
    cycle = sales_cycle_days([d for d in closed_in_period if d.is_won])

    gaps = []
    for deal in open_deals:
        reasons = deal_gaps(deal, playbook, now, today)
        if reasons:
            gaps.append(DealGaps(deal, reasons))
    unknown = sorted({deal.stage for deal in deals if playbook.stage(deal.stage) is None})

    return Scorecard(
        person_name=person_name,
        period=period,
        currency=currency,
        quota=quota,
        won_amount=won_amount,
        attainment=attained,
        elapsed_share=elapsed,
        pace=pace(attained, elapsed, period.days),
        projected_amount=projected,
        projected_attainment=attainment(projected, quota),
        gap_to_quota=gap,
        pipeline_in_period=pipeline,
        coverage=pipeline_coverage(pipeline, gap),
        win_rate_by_count=win_by_count,
        win_rate_by_value=win_by_value,
        average_deal_size=deal_size,
        sales_cycle_days=cycle,
        velocity_per_day=sales_velocity(len(open_money), deal_size, win_by_count, cycle),
        lines_in_play=lines_in_play([d for d in closed_in_period if d.is_won], open_deals),
        catalogue=tuple(catalogue),
        open_deal_count=len(open_deals),
        deal_gaps=tuple(sorted(gaps, key=_gap_rank)),
        adherence=process_adherence(len(open_deals), gaps),
        other_currency_deals=other_currency,
        unknown_stages=tuple(unknown),
        development=development,
    )


def _gap_rank(gaps: DealGaps) -> tuple[int, Decimal, str]:
    # Most reasons first, then the biggest deal: the ones worth fixing today.
    return (-len(gaps.reasons), -(gaps.deal.amount or ZERO), gaps.deal.name)
