"""Nudge items a rep can act on: each names its deal, says why in the deal's own numbers, and why it ranks there."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bot.coaching.gaps import NudgeItem as GapItem
from bot.coaching.nudges import (
    DealIdentity,
    DueAction,
    NudgeItem,
    collect_items,
    gap_rank_reason,
    gap_why,
    ordinal,
    rank,
    with_rank_reasons,
)

NOW = dt.datetime(2026, 11, 21, 14, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 21)


def gap(rule: str, detail: str, **facts: object) -> GapItem:
    values: dict[str, object] = {
        "account_name": "Northwind Traders", "amount": Decimal("48000"), "currency": "USD", "stage": "Proposal",
        "stage_entered_at": dt.datetime(2026, 10, 11, 9, 0, tzinfo=dt.UTC),
    }  # fmt: skip
    values.update(facts)
    return GapItem(7, 70, "Northwind – Core Platform", "https://crm.example.com/deals/70", rule, "high", detail, 86400.0,
                   **values)  # type: ignore[arg-type]  # fmt: skip


def test_an_overdue_next_step_says_when_it_was_due_and_how_long_ago() -> None:
    overdue = gap("next_step_overdue", "next step was due Nov 12", next_step="Send pricing", next_step_date=dt.date(2026, 11, 12))
    assert gap_why(overdue, NOW, TODAY) == "Next step “Send pricing” was due Nov 12, 9 days ago."


def test_a_stale_stage_says_how_long_and_what_the_playbook_allows() -> None:
    stale = gap("stale_stage", "41 days in Proposal (limit 21)", stage_max_days=21)
    assert gap_why(stale, NOW, TODAY) == "In Proposal 41 days; the playbook allows 21."


def test_each_rule_says_why_in_the_deals_own_numbers() -> None:
    cases = [
        (gap("next_step_missing", "no dated next step"), "No next step is recorded: nobody owns the next move, and the deal drifts."),
        (gap("next_step_missing", "no dated next step", next_step="Call CFO"), "Next step “Call CFO” has no date: nobody owns the next move."),
        (gap("next_step_missing", "no dated next step", next_step_date=dt.date(2026, 11, 30)),
         "A next-step date (Nov 30) but no next step written down."),
        (gap("close_date_past", "close date Nov 20 has passed", close_date=dt.date(2026, 11, 20)),
         "Close date Nov 20 passed 1 day ago and the deal is still open: your forecast is off."),
        (gap("close_date_missing", "no close date"), "No close date: the deal counts in no forecast."),
        (gap("no_activity", "no activity for 20 days (limit 14)", last_activity_at=dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC),
             idle_limit_days=14), "No activity for 20 days; the playbook allows 14."),
        (gap("missing_field", "missing amount and product line"),
         "Missing amount and product line, which the playbook requires in Proposal."),
        (gap("custom_rule", "something the team added"), "Something the team added."),
    ]  # fmt: skip
    assert [gap_why(item, NOW, TODAY) for item, _ in cases] == [why for _, why in cases]


def test_a_gap_item_names_its_deal_account_amount_stage_and_days_in_stage() -> None:
    [item] = collect_items([gap("stale_stage", "41 days in Proposal (limit 21)", stage_max_days=21)], [], [], TODAY, NOW)
    assert item == NudgeItem(
        "gap", 7, "Northwind – Core Platform", "41 days in Proposal (limit 21)", "In Proposal 41 days; the playbook allows 21.",
        "Advance it, or book the step that will.", 1, 86400.0, "https://crm.example.com/deals/70",
        DealIdentity("Northwind – Core Platform", "Northwind Traders", Decimal("48000"), "USD", "Proposal", 41, 70),
        severity="high",
    )  # fmt: skip


def test_ordinals_read_as_english() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th",
    ]  # fmt: skip


def test_the_rank_reason_gives_the_place_the_money_at_stake_and_the_severity() -> None:
    assert gap_rank_reason(1, 18, 48000.0, "high", "USD") == (
        "Ranked 1st: $48,000 at stake at high severity, the biggest risk of your 18 open gaps."
    )
    assert (
        gap_rank_reason(2, 18, 9600.4, "medium", "EUR") == "Ranked 2nd of your 18 open gaps: €9,600 at stake at medium severity."
    )
    assert gap_rank_reason(1, 1, 5000.0, "low", "USD") == "Your only open gap: $5,000 at stake, low severity."
    assert gap_rank_reason(3, 4, 0.0, "high", "USD") == (
        "Ranked 3rd of your 4 open gaps: no amount or win chance is known, so it ranks by severity (high)."
    )
    assert (
        gap_rank_reason(1, 1, 0.0, "low", "USD")
        == "Your only open gap; no amount or win chance is known, so it ranks by severity (low)."
    )


def test_rank_reasons_place_gaps_among_all_the_reps_gaps_and_explain_actions() -> None:
    gaps = [
        gap("stale_stage", "41 days in Proposal (limit 21)", stage_max_days=21),
        GapItem(8, 80, "Globex renewal", None, "close_date_missing", "medium", "no close date", 2 * 12000.0, currency="GBP"),
    ]
    action = DueAction(5, 1, "Send the mutual plan", dt.date(2026, 11, 19))
    chosen = rank(collect_items(gaps, [action], [], TODAY, NOW), 3)
    assert [(item.title, item.rank_reason) for item in with_rank_reasons(chosen, 18)] == [
        ("Send the mutual plan", "Overdue actions your coach set come before everything else."),
        ("Northwind – Core Platform", "Ranked 1st: $28,800 at stake at high severity, the biggest risk of your 18 open gaps."),
        ("Globex renewal", "Ranked 2nd of your 18 open gaps: £12,000 at stake at medium severity."),
    ]
