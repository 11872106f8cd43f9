"""The playbook back-test on a hand-built history whose answer is worked out below, as values and as stored rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.backtest import (
    APPROXIMATED,
    MIN_DEALS,
    REPLAYED,
    SKIPPED,
    DealHistory,
    Period,
    RuleFigures,
    backtest_playbooks,
    replay,
    replay_status,
)
from bot.coaching.playbook import RULE_SPECS, Playbook, parse_playbook
from bot.coaching.rules import evaluate_deal
from bot.database import session_scope
from bot.models import Deal, DealStageHistory, Person

# Discovery may last 10 days, Proposal 5; an amount is required from Proposal on.
PLAYBOOK_YAML = """\
stages:
  - {name: Discovery, probability: 0.2, max_days: 10}
  - {name: Proposal, probability: 0.6, max_days: 5}
  - {name: Won, probability: 1.0, closed: true, won: true}
  - {name: Lost, probability: 0.0, closed: true}
required_fields:
  amount: Proposal
"""
# The same with Discovery allowed 3 days: a stricter draft.
STRICT_YAML = PLAYBOOK_YAML.replace("max_days: 10", "max_days: 3")
PLAYBOOK = parse_playbook(PLAYBOOK_YAML)
STRICT = parse_playbook(STRICT_YAML)
# Four weeks, Monday Nov 2 to Sunday Nov 29; replayed on Dec 1, so the whole period is in the past.
PERIOD = Period(dt.date(2026, 11, 2), dt.date(2026, 11, 29))
AFTER = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 9, 0, tzinfo=dt.UTC)


# (name, owner, created, ended, won, amount, stages, deleted). Weeks: 0 = Nov 2-8, 1 = Nov 9-15,
# 2 = Nov 16-22, 3 = Nov 23-29. Under PLAYBOOK (stale_stage fires max_days + 1 days after entry):
# - D1 rep1: Discovery Nov 2 -> stale Nov 13 (week 1) until Proposal Nov 20: 7 days; won Nov 24.
# - D2 rep1: Discovery Nov 3, lost Nov 10: stale would fire Nov 14, too late; lost without.
# - D3 rep2, no amount: Discovery Oct 1 (stale from Oct 12, before the period: not counted as
#   opened, but the deal had it), Proposal Nov 4 -> stale Nov 10 (week 1) to Nov 18: 8 days;
#   missing_field Nov 4 (week 0) to Nov 18: 14 days; lost Nov 18.
# - D4 rep2, no amount, no history stored (its stage and stage_entered_at stand in): Proposal
#   Nov 16 -> missing_field Nov 16 (week 2) and stale Nov 22 (week 2), both still open.
# - D5 rep2: Discovery Nov 9, won Nov 12: no gap; won without.
# - D6 no owner: Discovery Nov 2 -> stale Nov 13; lost Nov 20: counted in win rates only.
# - D7 rep1: lost Oct 1, before the period: not replayed at all.
# - D8 rep1: Discovery Nov 2, deleted Nov 5: open for a while, neither won nor lost.
# Rep-weeks: rep1 has open deals in weeks 0-3 (D1), rep2 in weeks 0-3 (D3, D5, D4): 8.
DEALS = (
    ("D1", "rep1", at(11, 2), at(11, 24), True, "100", (("Discovery", at(11, 2)), ("Proposal", at(11, 20)), ("Won", at(11, 24))), False),
    ("D2", "rep1", at(11, 3), at(11, 10), False, "100", (("Discovery", at(11, 3)), ("Lost", at(11, 10))), False),
    ("D3", "rep2", at(10, 1), at(11, 18), False, None, (("Discovery", at(10, 1)), ("Proposal", at(11, 4)), ("Lost", at(11, 18))), False),
    ("D4", "rep2", at(11, 16), None, None, None, (("Proposal", at(11, 16)),), False),
    ("D5", "rep2", at(11, 9), at(11, 12), True, "100", (("Discovery", at(11, 9)), ("Won", at(11, 12))), False),
    ("D6", None, at(11, 2), at(11, 20), False, "100", (("Discovery", at(11, 2)), ("Lost", at(11, 20))), False),
    ("D7", "rep1", at(9, 1), at(10, 1), False, "100", (("Discovery", at(9, 1)), ("Lost", at(10, 1))), False),
    ("D8", "rep1", at(11, 2), at(11, 5), None, "100", (("Discovery", at(11, 2)),), True),
)  # fmt: skip
OWNERS = {"rep1": 1, "rep2": 2, None: None}

EXPECTED_STALE = RuleFigures(
    "stale_stage", REPLAYED, "from the stage history", opened=3, rep_weeks=8, max_in_a_rep_week=1, median_days_open=7.5,
    still_open=1, won_with=1, lost_with=2, won_without=1, lost_without=1,
)  # fmt: skip
EXPECTED_MISSING = RuleFigures(
    "missing_field", APPROXIMATED, "stages from the history; amount, product and account as they are now", opened=2,
    rep_weeks=8, max_in_a_rep_week=1, median_days_open=14, still_open=1, won_with=0, lost_with=1, won_without=2,
    lost_without=2,
)  # fmt: skip
# Under STRICT, Discovery goes stale 4 days in: D1 Nov 6 (week 0, 14 days), D2 Nov 7 (week 0,
# 3 days), D3 Nov 10 (8 days) and D4 as before; D5 closes a day before it would; D6 has it too.
EXPECTED_STRICT_STALE = RuleFigures(
    "stale_stage", REPLAYED, "from the stage history", opened=4, rep_weeks=8, max_in_a_rep_week=2, median_days_open=8,
    still_open=1, won_with=1, lost_with=3, won_without=1, lost_without=0,
)  # fmt: skip


def histories() -> list[DealHistory]:
    return [
        DealHistory(number, OWNERS[owner], created, ended, won, Decimal(amount) if amount else None, "Core", "Core", "Acme",
                    stages)
        for number, (_, owner, created, ended, won, amount, stages, _) in enumerate(DEALS, start=1)
    ]  # fmt: skip


def test_the_replay_counts_each_rules_gaps_days_open_and_win_rates_as_worked_out_by_hand() -> None:
    [backtest] = replay(histories(), [lambda owner: PLAYBOOK], PERIOD, AFTER)
    assert (backtest.deals, backtest.closed, backtest.won, backtest.reps, backtest.rep_weeks) == (7, 5, 2, 2, 8)
    assert backtest.rule("stale_stage") == EXPECTED_STALE
    assert backtest.rule("missing_field") == EXPECTED_MISSING
    assert [figures.rule for figures in backtest.rules] == list(RULE_SPECS)
    assert [figures.replay for figures in backtest.rules] == [
        SKIPPED, SKIPPED, SKIPPED, SKIPPED, REPLAYED, SKIPPED, APPROXIMATED, SKIPPED,
    ]  # fmt: skip


def test_the_figures_read_as_rates_with_the_evidence_judged_against_MIN_DEALS() -> None:
    stale = EXPECTED_STALE
    assert (stale.per_rep_week, stale.win_rate_with, stale.win_rate_without) == (3 / 8, 1 / 3, 1 / 2)
    assert stale.difference == 1 / 3 - 1 / 2
    assert (stale.closed_with, stale.closed_without, stale.enough_deals) == (3, 2, False)
    plenty = RuleFigures("stale_stage", REPLAYED, "", won_with=MIN_DEALS, lost_with=0, won_without=0, lost_without=MIN_DEALS)
    assert (plenty.enough_deals, plenty.difference) == (True, 1.0)
    assert RuleFigures("stale_stage", REPLAYED, "").difference is None


def test_two_playbooks_are_replayed_from_one_pass_and_a_stricter_limit_opens_more_gaps() -> None:
    default, strict = replay(iter(histories()), [lambda owner: PLAYBOOK, lambda owner: STRICT], PERIOD, AFTER)
    assert default.rule("stale_stage") == EXPECTED_STALE
    assert strict.rule("stale_stage") == EXPECTED_STRICT_STALE
    assert strict.rule("missing_field") == EXPECTED_MISSING


def test_a_rule_turned_off_is_shown_as_off_and_its_deals_count_as_without() -> None:
    quiet = parse_playbook(PLAYBOOK_YAML + "rules:\n  stale_stage: {enabled: false}\n")
    [backtest] = replay(histories(), [lambda owner: quiet], PERIOD, AFTER)
    assert backtest.rule("stale_stage") == RuleFigures("stale_stage", "off", "turned off in this playbook")
    assert backtest.rule("missing_field") == EXPECTED_MISSING


def test_a_teams_own_limits_apply_to_that_teams_deals_only() -> None:
    # rep1's team allows Discovery 3 days: D1 and D2 go stale (as under STRICT); rep2's deals as before.
    [backtest] = replay(histories(), [lambda owner: STRICT if owner == 1 else PLAYBOOK], PERIOD, AFTER)
    assert backtest.rule("stale_stage") == EXPECTED_STRICT_STALE


def test_a_replay_up_to_now_stops_at_now() -> None:
    # On Nov 21, D4's gaps have not all opened: only missing_field (Nov 16); stale_stage waits for Nov 22.
    [backtest] = replay(histories(), [lambda owner: PLAYBOOK], PERIOD, at(11, 21))
    stale, missing = backtest.rule("stale_stage"), backtest.rule("missing_field")
    assert (stale.opened, stale.still_open, missing.opened, missing.still_open) == (2, 0, 2, 1)
    assert (backtest.closed, backtest.rep_weeks) == (4, 6)  # D1 closes Nov 24, after now; weeks 0-2 only


def test_stale_stage_opens_in_the_replay_at_the_moment_the_rule_itself_starts_firing() -> None:
    class Probe:
        name, amount, stage, is_closed, close_date = "D", Decimal(1), "Discovery", False, dt.date(2027, 1, 1)
        stage_entered_at, next_step, next_step_date, product_line, crm_probability = (
            at(11, 2),
            "Call",
            dt.date(2027, 1, 1),
            "Core",
            None,
        )

    def fires(moment: dt.datetime) -> bool:
        return any(finding.rule == "stale_stage" for finding in evaluate_deal(Probe(), PLAYBOOK, moment, moment.date()))

    opens_at = at(11, 13)  # the replay's moment for D1, worked out above
    assert (fires(opens_at - dt.timedelta(seconds=1)), fires(opens_at)) == (False, True)


def test_each_rule_says_whether_it_is_replayed_approximated_or_skipped_and_why() -> None:
    assert replay_status("stale_stage") == (REPLAYED, "from the stage history")
    assert replay_status("next_step_overdue") == (SKIPPED, "next steps are stored as they are now, not as of past weeks")
    assert replay_status("no_activity") == (SKIPPED, "last activity is stored as it is now, not as of past weeks")


def test_a_period_counts_the_monday_to_sunday_weeks_it_touches() -> None:
    assert PERIOD.weeks == 4
    assert Period(dt.date(2026, 11, 4), dt.date(2026, 11, 9)).weeks == 2  # a Wednesday to the next Monday


def store_history(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """The deals above as the sync stores them (D4 without history rows); returns the deal ids by name."""
    ids: dict[str, int] = {}
    with session_scope(session_factory) as session:
        reps = {key: Person(email=f"{key}@example.com", name=f"Rep {key[-1]}", is_rep=True) for key in ("rep1", "rep2")}
        session.add_all(reps.values())
        session.flush()
        for name, owner, created, ended, won, amount, stages, deleted in DEALS:
            closed = won is not None
            deal = Deal(
                crm_source="test", crm_id=name, name=f"Deal {name}", currency="USD", owner_id=reps[owner].id if owner else None,
                amount=Decimal(amount) if amount else None, stage=stages[-1][0], stage_entered_at=stages[-1][1],
                is_closed=closed, is_won=bool(won), created_at=created, closed_at=ended if closed else None,
                deleted_at=ended if deleted else None, product_line="Core", product_name="Core", account_name="Acme",
            )  # fmt: skip
            session.add(deal)
            session.flush()
            ids[name] = deal.id
            if name != "D4":
                session.add_all(DealStageHistory(deal_id=deal.id, stage=stage, entered_at=when) for stage, when in stages)
    return ids


def test_the_stored_history_gives_the_same_figures_on_sqlite_and_postgresql(session_factory: sessionmaker[Session]) -> None:
    store_history(session_factory)
    with session_factory() as session:
        default, strict = backtest_playbooks(session, [PLAYBOOK, STRICT], PERIOD, AFTER)
    assert (default.deals, default.closed, default.won, default.reps, default.rep_weeks) == (7, 5, 2, 2, 8)
    assert default.rule("stale_stage") == EXPECTED_STALE
    assert default.rule("missing_field") == EXPECTED_MISSING
    assert strict.rule("stale_stage") == EXPECTED_STRICT_STALE


def test_a_teams_override_in_the_playbook_file_is_applied_to_its_reps_deals(session_factory: sessionmaker[Session]) -> None:
    store_history(session_factory)
    with session_scope(session_factory) as session:
        manager = Person(email="mia@example.com", name="Mia", is_manager=True)
        session.add(manager)
        session.flush()
        rep1 = session.query(Person).filter_by(email="rep1@example.com").one()
        rep1.manager_id = manager.id
    team_playbook: Playbook = parse_playbook(
        PLAYBOOK_YAML + "teams:\n  mia@example.com:\n    stages: {Discovery: {max_days: 3}}\n"
    )
    with session_factory() as session:
        [backtest] = backtest_playbooks(session, [team_playbook], PERIOD, AFTER)
    assert backtest.rule("stale_stage") == EXPECTED_STRICT_STALE


def test_a_deal_without_history_counts_from_its_creation_and_a_deleted_deal_resolves_its_gaps(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        rep = Person(email="rep@example.com", name="Rep", is_rep=True)
        session.add(rep)
        session.flush()
        common = {"crm_source": "test", "currency": "USD", "owner_id": rep.id, "product_line": "Core"}
        # E1: no history and no stage_entered_at: in Proposal since created Nov 2, no amount; still open.
        session.add(Deal(crm_id="E1", name="E1", stage="Proposal", created_at=at(11, 2), amount=None, **common))
        # E2: Discovery from Nov 2, stale from Nov 13, deleted Nov 20: resolved after 7 days, neither won nor lost.
        deleted = Deal(
            crm_id="E2", name="E2", stage="Discovery", created_at=at(11, 2), deleted_at=at(11, 20), amount=Decimal(5), **common
        )
        session.add(deleted)
        session.flush()
        session.add(DealStageHistory(deal_id=deleted.id, stage="Discovery", entered_at=at(11, 2)))
    with session_factory() as session:
        [backtest] = backtest_playbooks(session, [PLAYBOOK], PERIOD, AFTER)
    assert (backtest.deals, backtest.closed, backtest.reps, backtest.rep_weeks) == (2, 0, 1, 4)
    # E1 goes stale Nov 8 (Proposal allows 5 days), E2 Nov 13.
    assert backtest.rule("stale_stage") == RuleFigures(
        "stale_stage", REPLAYED, "from the stage history", opened=2, rep_weeks=4, max_in_a_rep_week=1, median_days_open=7,
        still_open=1,
    )  # fmt: skip
    assert backtest.rule("missing_field") == dataclasses.replace(
        EXPECTED_MISSING, opened=1, rep_weeks=4, median_days_open=None, still_open=1, lost_with=0, won_without=0, lost_without=0
    )
