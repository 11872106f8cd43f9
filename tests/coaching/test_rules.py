"""The rules engine on hand-made deals: each rule fires exactly when it should, and stays quiet otherwise."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from bot.coaching.playbook import RULE_SPECS, load_playbook, parse_playbook
from bot.coaching.rules import DEAL_RULES, PERSON_RULES, Finding, evaluate_deal, evaluate_person, ranked
from bot.coaching.scorecard import DealFacts, deal_gaps

PLAYBOOK = load_playbook()
# Wednesday 2026-11-25, 15:00 UTC.
NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
CATALOGUE = ("Analytics", "Core", "Services")

# A deal that breaks no rule: the starting point every test changes one thing of.
CLEAN = DealFacts(
    crm_id="C1", name="Clean deal", amount=Decimal("50000"), currency="USD", stage="Negotiation", is_closed=False,
    is_won=False, created_at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC), close_date=dt.date(2026, 12, 15),
    stage_entered_at=NOW - dt.timedelta(days=14), next_step="Send contract", next_step_date=TODAY,
    product_line="Core", last_activity_at=NOW - dt.timedelta(days=14), product_name="Core Pro", account_name="Acme",
)  # fmt: skip


def findings(deal: DealFacts, playbook=PLAYBOOK) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [(f.rule, f.severity, f.detail) for f in evaluate_deal(deal, playbook, NOW, TODAY)]


def changed(**fields: object) -> DealFacts:
    return dataclasses.replace(CLEAN, **fields)  # type: ignore[arg-type]


def test_a_deal_that_follows_the_process_has_no_finding_even_on_every_limit() -> None:
    assert findings(CLEAN) == []


def test_every_rule_the_playbook_accepts_has_exactly_one_check() -> None:
    assert sorted(DEAL_RULES + PERSON_RULES) == sorted(RULE_SPECS)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"next_step": None}, [("next_step_missing", "high", "no dated next step")]),
        ({"next_step": "   "}, [("next_step_missing", "high", "no dated next step")]),
        ({"next_step_date": None}, [("next_step_missing", "high", "no dated next step")]),
        ({"next_step_date": TODAY - dt.timedelta(days=1)}, [("next_step_overdue", "medium", "next step was due Nov 24")]),
        ({"close_date": None}, [("close_date_missing", "high", "no close date")]),
        ({"close_date": TODAY - dt.timedelta(days=1)}, [("close_date_past", "high", "close date Nov 24 has passed")]),
        ({"stage_entered_at": NOW - dt.timedelta(days=15)}, [("stale_stage", "medium", "15 days in Negotiation (limit 14)")]),
        ({"last_activity_at": NOW - dt.timedelta(days=15)}, [("no_activity", "medium", "no activity for 15 days (limit 14)")]),
        ({"amount": None}, [("missing_field", "low", "missing amount")]),
        ({"amount": None, "product_line": ""}, [("missing_field", "low", "missing amount and product line")]),
    ],
)
def test_each_rule_fires_on_the_deal_that_breaks_it(fields: dict[str, object], expected: list[tuple[str, str, str]]) -> None:
    assert findings(changed(**fields)) == expected


@pytest.mark.parametrize(
    "fields",
    [
        {"next_step_date": TODAY},  # due today is not overdue yet
        {"close_date": TODAY},
        {"stage_entered_at": NOW - dt.timedelta(days=14, hours=23)},  # 14 whole days: at the limit, not over it
        {"stage": "Contract Sent"},  # an alias reads as its stage
        {"stage": "Legal review", "stage_entered_at": NOW - dt.timedelta(days=90)},  # an unknown stage has no limit
        {"stage_entered_at": None},
        {"last_activity_at": None},  # the CRM reports no activity dates: silence is not inactivity
        {"stage": "Prospecting", "amount": None, "product_line": None},  # required only from later stages
        {"stage": "Demo", "product_line": None},  # product line is required from Proposal on
        {"amount": Decimal(0)},  # zero is an amount
        {"is_closed": True, "next_step": None, "close_date": None, "stage": "Closed Won"},  # closed deals are not judged
    ],
)
def test_rules_stay_quiet_on_a_deal_that_does_not_break_them(fields: dict[str, object]) -> None:
    assert findings(changed(**fields)) == []


def test_findings_come_in_the_playbook_order_of_rules() -> None:
    neglected = changed(
        next_step=None, close_date=TODAY - dt.timedelta(days=5), stage_entered_at=NOW - dt.timedelta(days=45),
        last_activity_at=NOW - dt.timedelta(days=30), amount=None,
    )  # fmt: skip
    assert findings(neglected) == [
        ("next_step_missing", "high", "no dated next step"),
        ("close_date_past", "high", "close date Nov 20 has passed"),
        ("stale_stage", "medium", "45 days in Negotiation (limit 14)"),
        ("no_activity", "medium", "no activity for 30 days (limit 14)"),
        ("missing_field", "low", "missing amount"),
    ]


def test_a_disabled_rule_is_silent_and_a_changed_severity_shows() -> None:
    playbook = parse_playbook(
        _stages() + "rules:\n  next_step_missing: {enabled: false}\n  close_date_missing: {severity: low}\n", "team.yml"
    )
    assert findings(changed(next_step=None, close_date=None), playbook) == [("close_date_missing", "low", "no close date")]


def test_missing_field_names_next_step_and_close_date_only_when_their_own_rules_are_off() -> None:
    required = "required_fields: {next_step: Discovery, close_date: Discovery, account_name: Discovery}\n"
    playbook = parse_playbook(_stages() + required, "team.yml")
    assert findings(changed(next_step=None, close_date=None, account_name=None), playbook) == [
        ("next_step_missing", "high", "no dated next step"),
        ("close_date_missing", "high", "no close date"),
        ("missing_field", "low", "missing account name"),
    ]
    quiet = parse_playbook(
        _stages() + required + "rules: {next_step_missing: {enabled: false}, close_date_missing: {enabled: false}}\n", "team.yml"
    )
    assert findings(changed(next_step=None, close_date=None, account_name=None), quiet) == [
        ("missing_field", "low", "missing next step, close date and account name"),
    ]


def test_a_team_parameter_changes_when_no_activity_fires() -> None:
    playbook = parse_playbook(_stages() + "teams:\n  mia@example.com:\n    rules: {no_activity: {days: 7}}\n", "team.yml")
    idle = changed(last_activity_at=NOW - dt.timedelta(days=8))
    assert findings(idle, playbook.for_team(["mia@example.com"])) == [
        ("no_activity", "medium", "no activity for 8 days (limit 7)")
    ]
    assert findings(idle, playbook.for_team(["olly@example.com"])) == []


def test_impact_is_severity_weight_times_amount_times_stage_probability() -> None:
    [missing] = evaluate_deal(changed(next_step=None), PLAYBOOK, NOW, TODAY)
    assert missing.impact == 3 * 50000 * 0.8
    [stale] = evaluate_deal(changed(stage="Demo", stage_entered_at=NOW - dt.timedelta(days=20)), PLAYBOOK, NOW, TODAY)
    assert stale.impact == 2 * 50000 * 0.4
    # An unknown stage uses the CRM's probability; without one, nothing is at stake.
    [crm] = evaluate_deal(changed(stage="Legal", crm_probability=0.5, next_step=None), PLAYBOOK, NOW, TODAY)
    assert crm.impact == 3 * 50000 * 0.5
    unpriced = evaluate_deal(changed(amount=None, next_step_date=None), PLAYBOOK, NOW, TODAY)
    assert [(f.rule, f.impact) for f in unpriced] == [("next_step_missing", 0.0), ("missing_field", 0.0)]


def test_ranking_puts_money_at_stake_first_then_severity() -> None:
    big_low = Finding("missing_field", "low", "missing account name", 90_000.0)
    small_high = Finding("next_step_missing", "high", "no dated next step", 3_000.0)
    unpriced_high = Finding("close_date_missing", "high", "no close date", 0.0)
    unpriced_medium = Finding("stale_stage", "medium", "30 days in Demo (limit 14)", 0.0)
    assert ranked([unpriced_medium, small_high, unpriced_high, big_low]) == [big_low, small_high, unpriced_high, unpriced_medium]


def in_line(crm_id: str, line: str | None, amount: str = "10000", **fields: object) -> DealFacts:
    return changed(crm_id=crm_id, name=f"Deal {crm_id}", product_line=line, amount=Decimal(amount), **fields)


def test_single_product_line_fires_when_all_open_pipeline_is_in_one_line_and_the_catalogue_has_more() -> None:
    deals = [in_line("A", "Core"), in_line("B", "Core"), in_line("C", "Core", "20000"), in_line("D", None)]
    [finding] = evaluate_person(deals, CATALOGUE, PLAYBOOK)
    assert (finding.rule, finding.severity, finding.detail) == (
        "single_product_line", "low", "all 3 open deals are in Core; none in Analytics or Services",
    )  # fmt: skip
    assert finding.impact == 1 * 40000 * 0.8


@pytest.mark.parametrize(
    ("deals", "catalogue"),
    [
        ([in_line("A", "Core"), in_line("B", "Core")], CATALOGUE),  # fewer than min_deals (3)
        ([in_line("A", "Core"), in_line("B", "Core"), in_line("C", "Services")], CATALOGUE),  # two lines
        ([in_line("A", "Core"), in_line("B", "Core"), in_line("C", "Core")], ("Core",)),  # nothing else to sell
        (
            [in_line("A", "Core"), in_line("B", "Core"), in_line("C", "Analytics", is_closed=True)],
            CATALOGUE,
        ),  # closed ones do not count either way
        ([in_line("A", None), in_line("B", None), in_line("C", None)], CATALOGUE),
    ],
)
def test_single_product_line_stays_quiet_otherwise(deals: list[DealFacts], catalogue: tuple[str, ...]) -> None:
    assert evaluate_person(deals, catalogue, PLAYBOOK) == []


def test_a_long_catalogue_is_named_briefly() -> None:
    deals = [in_line(crm_id, "Core") for crm_id in "ABC"]
    [finding] = evaluate_person(deals, ("Core", "A1", "A2", "A3", "A4", "A5"), PLAYBOOK)
    assert finding.detail == "all 3 open deals are in Core; none in A1, A2, A3 or 2 more lines"


def test_the_scorecard_shows_the_rules_engine_findings() -> None:
    # One definition of each rule: turning one off in the playbook takes it off the scorecard too.
    deal = changed(next_step=None, close_date=TODAY - dt.timedelta(days=5))
    assert [(r.code, r.text) for r in deal_gaps(deal, PLAYBOOK, NOW, TODAY)] == [
        ("next_step_missing", "no dated next step"),
        ("close_date_past", "close date Nov 20 has passed"),
    ]
    playbook = parse_playbook(_stages() + "rules: {close_date_past: {enabled: false}}\n", "team.yml")
    assert [r.code for r in deal_gaps(deal, playbook, NOW, TODAY)] == ["next_step_missing"]


def _stages() -> str:
    return (
        "stages:\n"
        "  - {name: Discovery, probability: 0.25, max_days: 21}\n"
        "  - {name: Negotiation, probability: 0.8, max_days: 14}\n"
        "  - {name: Closed Won, probability: 1, closed: true, won: true}\n"
    )
