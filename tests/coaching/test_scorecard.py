"""The scorecard's figures, on examples computed by hand and on the edge cases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bot.coaching.playbook import load_playbook
from bot.coaching.scorecard import (
    DealFacts,
    QuotaSpan,
    build_scorecard,
    prorated_quota,
    sales_velocity,
    win_rates,
)
from bot.periods import Period, period_containing

PLAYBOOK = load_playbook()
Q4 = Period("quarter", dt.date(2026, 10, 1), dt.date(2027, 1, 1), "Q4 2026", "UTC")
# 45 of the quarter's 92 days gone.
NOW = dt.datetime(2026, 11, 15, tzinfo=dt.UTC)
QUOTA = [QuotaSpan(dt.date(2026, 10, 1), dt.date(2027, 1, 1), Decimal("100000"), "USD")]
CATALOGUE = ("Analytics", "Core", "Services", "Training")


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)


def deal(crm_id: str, amount: str, stage: str, **fields: object) -> DealFacts:
    rule = PLAYBOOK.stage(stage)
    values: dict[str, object] = {
        "crm_id": crm_id,
        "name": f"Deal {crm_id}",
        "amount": Decimal(amount),
        "currency": "USD",
        "stage": stage,
        "is_closed": bool(rule and rule.closed),
        "is_won": bool(rule and rule.won),
        "created_at": at("2026-10-01"),
        "close_date": None,
    }
    values.update(fields)
    return DealFacts(**values)  # type: ignore[arg-type]


WON_A = deal("A", "30000", "Closed Won", created_at=at("2026-09-20"), close_date=dt.date(2026, 10, 20), product_line="Core")
WON_B = deal("B", "10000", "Closed Won", created_at=at("2026-10-01"), close_date=dt.date(2026, 11, 10), product_line="Analytics")
LOST_C = deal("C", "20000", "Closed Lost", close_date=dt.date(2026, 11, 1), product_line="Core")
OPEN_CLEAN_D = deal(
    "D", "40000", "Proposal", close_date=dt.date(2026, 12, 15), next_step="Call the CFO",
    next_step_date=dt.date(2026, 11, 20), stage_entered_at=at("2026-11-10"), product_line="Core",
)  # fmt: skip
OPEN_GAPS_E = deal(
    "E", "10000", "Negotiation", close_date=dt.date(2026, 11, 10), stage_entered_at=at("2026-10-01"),
    product_line="Services",
)  # fmt: skip
OPEN_NEXT_QUARTER_F = deal(
    "F", "5000", "Demo", close_date=dt.date(2027, 2, 1), next_step="Demo", next_step_date=dt.date(2026, 11, 16),
    stage_entered_at=at("2026-11-14"), product_line="Core",
)  # fmt: skip
WON_EUR_G = deal(
    "G", "50000", "Closed Won", currency="EUR", created_at=at("2026-10-03"), close_date=dt.date(2026, 11, 2), product_line="Core"
)
WON_LAST_QUARTER = deal("H", "99000", "Closed Won", close_date=dt.date(2026, 9, 30))

ALL = [WON_A, WON_B, LOST_C, OPEN_CLEAN_D, OPEN_GAPS_E, OPEN_NEXT_QUARTER_F, WON_EUR_G, WON_LAST_QUARTER]


def card(deals=ALL, quota=QUOTA, **kwargs):  # type: ignore[no-untyped-def]
    return build_scorecard(
        person_name="Riley Rep", period=Q4, deals=deals, quota_spans=quota, playbook=PLAYBOOK,
        catalogue=CATALOGUE, default_currency="USD", now=NOW, **kwargs,
    )  # fmt: skip


def test_the_number_is_closed_won_in_the_period_against_quota() -> None:
    scorecard = card()
    assert scorecard.won_amount == Decimal("40000")
    assert scorecard.quota == Decimal("100000.00")
    assert scorecard.attainment == pytest.approx(0.40)
    assert scorecard.elapsed_share == pytest.approx(45 / 92)
    assert scorecard.pace == pytest.approx(0.40 / (45 / 92))
    assert scorecard.gap_to_quota == Decimal("60000.00")


def test_projection_weights_open_deals_closing_in_the_period_by_stage_probability() -> None:
    # 40,000 won + 40,000 × 0.6 (Proposal) + 10,000 × 0.8 (Negotiation); F closes next quarter.
    scorecard = card()
    assert scorecard.projected_amount == Decimal("72000.00")
    assert scorecard.projected_attainment == pytest.approx(0.72)


def test_coverage_is_open_pipeline_closing_in_the_period_over_the_gap() -> None:
    scorecard = card()
    assert scorecard.pipeline_in_period == Decimal("50000")
    assert scorecard.coverage == pytest.approx(50000 / 60000)


def test_win_rate_by_count_uses_every_deal_and_by_value_only_the_scorecard_currency() -> None:
    scorecard = card()
    assert scorecard.win_rate_by_count == pytest.approx(3 / 4)  # A, B, G won; C lost
    assert scorecard.win_rate_by_value == pytest.approx(40000 / 60000)  # USD: A + B of A + B + C


def test_deal_size_cycle_and_velocity() -> None:
    scorecard = card()
    assert scorecard.average_deal_size == Decimal("20000.00")
    assert scorecard.sales_cycle_days == pytest.approx((30 + 40 + 30) / 3)
    # 3 open USD deals × 20,000 × 0.75 / 33.33 days
    assert scorecard.velocity_per_day == Decimal("1350.00")


def test_breadth_counts_lines_sold_or_in_pipeline_against_the_catalogue() -> None:
    scorecard = card()
    assert scorecard.lines_in_play == ("Analytics", "Core", "Services")
    assert scorecard.breadth == pytest.approx(0.75)
    assert scorecard.lines_missing == ("Training",)


def test_adherence_and_the_reasons_for_each_gap() -> None:
    scorecard = card()
    assert scorecard.open_deal_count == 3
    assert scorecard.adherence == pytest.approx(2 / 3)
    [gaps] = scorecard.deal_gaps
    assert gaps.deal.crm_id == "E"
    assert [(r.code, r.text) for r in gaps.reasons] == [
        ("next_step_missing", "no dated next step"),
        ("close_date_past", "close date Nov 10 has passed"),
        ("stale_stage", "45 days in Negotiation (limit 14)"),
    ]


def test_an_overdue_next_step_is_a_gap() -> None:
    overdue = deal("X", "1000", "Demo", close_date=dt.date(2026, 12, 1), next_step="Call", next_step_date=dt.date(2026, 11, 1))
    [gaps] = card(deals=[overdue]).deal_gaps
    assert [r.text for r in gaps.reasons] == ["next step was due Nov 1"]


def test_deals_in_another_currency_are_left_out_of_money_and_counted() -> None:
    scorecard = card()
    assert scorecard.other_currency_deals == 1
    assert scorecard.currency == "USD"


def test_the_quota_currency_sets_the_scorecard_currency() -> None:
    euro_quota = [QuotaSpan(dt.date(2026, 10, 1), dt.date(2027, 1, 1), Decimal("80000"), "EUR")]
    scorecard = card(quota=euro_quota)
    assert scorecard.currency == "EUR"
    assert scorecard.won_amount == Decimal("50000")
    assert scorecard.other_currency_deals == 7


def test_without_a_quota_there_is_no_attainment_pace_or_gap() -> None:
    scorecard = card(quota=[])
    assert (scorecard.quota, scorecard.attainment, scorecard.pace, scorecard.gap_to_quota, scorecard.coverage) == (
        None, None, None, None, None,
    )  # fmt: skip
    assert scorecard.won_amount == Decimal("40000")


def test_a_zero_quota_gives_no_ratio_instead_of_dividing_by_zero() -> None:
    zero = [QuotaSpan(dt.date(2026, 10, 1), dt.date(2027, 1, 1), Decimal("0"), "USD")]
    scorecard = card(quota=zero)
    assert scorecard.attainment is None
    assert scorecard.gap_to_quota == Decimal("0")
    assert scorecard.coverage is None


def test_with_no_deals_every_ratio_is_empty_not_an_error() -> None:
    scorecard = card(deals=[])
    assert scorecard.won_amount == Decimal("0")
    assert scorecard.attainment == 0.0
    assert scorecard.pace == 0.0
    assert scorecard.projected_amount == Decimal("0")
    assert scorecard.coverage == 0.0
    assert (scorecard.win_rate_by_count, scorecard.win_rate_by_value) == (None, None)
    assert (scorecard.average_deal_size, scorecard.sales_cycle_days, scorecard.velocity_per_day) == (None, None, None)
    assert scorecard.adherence is None
    assert scorecard.lines_in_play == ()


def test_pace_at_the_first_instant_of_a_period_is_not_a_division_by_zero() -> None:
    scorecard = build_scorecard(
        person_name="R", period=Q4, deals=ALL, quota_spans=QUOTA, playbook=PLAYBOOK, catalogue=CATALOGUE,
        default_currency="USD", now=at("2026-10-01"),
    )  # fmt: skip
    assert scorecard.elapsed_share == 0.0
    assert scorecard.pace is None


def test_an_unknown_stage_weighs_the_crm_probability_or_nothing() -> None:
    known_to_crm = deal("U1", "10000", "Legal review", close_date=dt.date(2026, 12, 1), crm_probability=0.5)
    unknown = deal("U2", "10000", "Legal review 2", close_date=dt.date(2026, 12, 1))
    scorecard = card(deals=[known_to_crm, unknown])
    assert scorecard.projected_amount == Decimal("5000.00")
    assert scorecard.unknown_stages == ("Legal review", "Legal review 2")


def test_a_quarter_quota_is_prorated_by_days_for_a_month() -> None:
    november = Period("month", dt.date(2026, 11, 1), dt.date(2026, 12, 1), "November 2026", "UTC")
    assert prorated_quota(QUOTA, november) == (Decimal("32608.70"), "USD")  # 100,000 × 30 / 92


def test_a_year_quota_is_the_sum_of_its_quarters() -> None:
    year = Period("year", dt.date(2026, 1, 1), dt.date(2027, 1, 1), "2026", "UTC")
    quarters = [
        QuotaSpan(dt.date(2026, month, 1), dt.date(2026 + (month == 10), (month + 2) % 12 + 1, 1), Decimal("25000"), "USD")
        for month in (1, 4, 7, 10)
    ]
    assert prorated_quota(quarters, year) == (Decimal("100000.00"), "USD")


def test_no_overlapping_quota_means_no_quota() -> None:
    assert prorated_quota(QUOTA, Period("month", dt.date(2027, 3, 1), dt.date(2027, 4, 1), "March 2027", "UTC")) is None


def test_win_rates_with_no_closed_deals_are_none() -> None:
    assert win_rates([]) == (None, None)


def test_velocity_needs_a_deal_size_a_win_rate_and_a_cycle() -> None:
    assert sales_velocity(5, None, 0.5, 30) is None
    assert sales_velocity(5, Decimal("1000"), None, 30) is None
    assert sales_velocity(5, Decimal("1000"), 0.5, 0) is None
    assert sales_velocity(5, Decimal("1000"), 0.5, 25) == Decimal("100.00")


def test_periods_are_read_in_the_persons_time_zone() -> None:
    # 02:00 UTC on Jan 1 is still Dec 31 in Los Angeles: Q4 there, Q1 in London.
    moment = dt.datetime(2027, 1, 1, 2, 0, tzinfo=dt.UTC)
    assert period_containing("quarter", moment, "America/Los_Angeles").label == "Q4 2026"
    assert period_containing("quarter", moment, "Europe/London").label == "Q1 2027"


def test_pace_waits_for_a_full_day_of_the_period() -> None:
    def pace_at(moment: dt.datetime) -> float | None:
        return build_scorecard(
            person_name="R", period=Q4, deals=ALL, quota_spans=QUOTA, playbook=PLAYBOOK, catalogue=CATALOGUE,
            default_currency="USD", now=moment,
        ).pace  # fmt: skip

    assert pace_at(at("2026-10-01T23:00:00")) is None
    assert pace_at(at("2026-10-02T00:00:00")) == pytest.approx(0.40 / (1 / 92))


def test_a_cycle_of_zero_or_negative_days_gives_no_velocity() -> None:
    assert sales_velocity(5, Decimal("1000"), 0.5, -3) is None
