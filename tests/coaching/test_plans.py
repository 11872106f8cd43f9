"""Recovery plans: proposed to the manager only when warranted, opened, checked in on, closed."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import to_dicts
from bot.blocks.coaching import checkin_answer_message, checkin_message, plan_closed_message, plan_opened_message
from bot.coaching import plans
from bot.coaching.errors import InvalidInput, NotAllowed, WrongState
from bot.coaching.plans import decline_plan
from bot.coaching.playbook import load_playbook
from bot.database import session_scope
from bot.models import Action, PlanCheckin, Quota, RecoveryPlan
from tests.coaching.test_goals import Team, deal, outbox, person, seed_people
from tests.support.delivered import delivered

answer_checkin = delivered(plans.answer_checkin)
close_finished_plans = delivered(plans.close_finished_plans)
due_checkins = delivered(plans.due_checkins)
open_plan = delivered(plans.open_plan)
plans_to_propose = delivered(plans.plans_to_propose)

PLAYBOOK = load_playbook()
SETTINGS = {"playbook": PLAYBOOK, "default_timezone": "UTC", "default_currency": "USD"}
COMMITMENTS = ["15 prospecting calls a week", "Two new opportunities a week"]
# Monday Oct 19, 11:00 in New York (EDT), two weeks before the clocks go back on Nov 1.
OCT_19 = dt.datetime(2026, 10, 19, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def team(session_factory: sessionmaker[Session]) -> Team:
    """Riley: $100k Q4 quota, $20k won, one $50k deal in Negotiation (80%) closing Dec 10:
    projected $60k, 60% of quota."""
    team = seed_people(session_factory)
    with session_scope(session_factory) as session:
        session.add_all(
            [
                deal(team.riley, "W1", "20000", "Closed Won", close_date=dt.date(2026, 10, 10)),
                deal(team.riley, "N1", "50000", "Negotiation", close_date=dt.date(2026, 12, 10)),
            ]
        )
    return team


def propose(session_factory: sessionmaker[Session], at: dt.datetime) -> int:
    with session_scope(session_factory) as session:
        return plans_to_propose(session, at, **SETTINGS)


def plan_rows(session_factory: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    columns = (
        RecoveryPlan.person_id, RecoveryPlan.manager_id, RecoveryPlan.period_start, RecoveryPlan.period_end,
        RecoveryPlan.gap_amount, RecoveryPlan.pipeline_to_add, RecoveryPlan.currency, RecoveryPlan.checkin_every_days,
        RecoveryPlan.status, RecoveryPlan.outcome,
    )  # fmt: skip
    with session_factory() as session:
        return list(session.execute(select(*columns).order_by(RecoveryPlan.id)))


def the_plan(session_factory: sessionmaker[Session]) -> RecoveryPlan:
    with session_factory() as session:
        return session.scalars(select(RecoveryPlan)).one()


def open_q4_plan(session_factory: sessionmaker[Session], team: Team, at: dt.datetime, every_days: int = 7) -> int:
    """Propose Riley's Q4 plan at `at` and have Mia open it there and then; its id."""
    assert propose(session_factory, at) == 1
    plan_id = the_plan(session_factory).id
    with session_scope(session_factory) as session:
        open_plan(session, plan_id, person(session, team.mia), COMMITMENTS, every_days, at)
    return plan_id


def add_won(session_factory: sessionmaker[Session], team: Team, amount: str, closed: dt.date) -> None:
    with session_scope(session_factory) as session:
        session.add(deal(team.riley, f"W{amount}", amount, "Closed Won", close_date=closed))


def checkins(session_factory: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with session_factory() as session:
        columns = (PlanCheckin.asked_at, PlanCheckin.answer, PlanCheckin.answered_at, PlanCheckin.note)
        return list(session.execute(select(*columns).order_by(PlanCheckin.id)))


def payload(message: Any) -> dict[str, Any]:
    return {"text": message.text, "blocks": to_dicts(message.blocks)}


# Proposing ----------------------------------------------------------------------------------------


def test_a_rep_projected_below_80_percent_is_proposed_to_their_manager_not_to_them(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    assert propose(session_factory, now) == 1
    assert propose(session_factory, now + dt.timedelta(hours=1)) == 0

    assert plan_rows(session_factory) == [
        (
            team.riley,
            team.mia,
            dt.date(2026, 10, 1),
            dt.date(2026, 12, 31),
            Decimal("80000"),
            Decimal("50000"),
            "USD",
            7,
            "proposed",
            None,
        )
    ]
    plan_id = the_plan(session_factory).id
    assert outbox(session_factory) == [
        (
            f"plan_proposal:{team.riley}:2026-10-01",
            "UMIA",
            "plan_proposal",
            {
                "text": "Riley Rep is projected at 60% of quota for Q4 2026: open a recovery plan?",
                "blocks": [
                    {
                        "type": "section",
                        "text": {
                            "type": "mrkdwn",
                            "text": ":rotating_light: *Riley Rep* is projected to reach *60%* of quota in Q4 2026, "
                            "with 40% of the quarter still to go.",
                        },
                    },
                    {
                        "type": "section",
                        "fields": [
                            {"type": "mrkdwn", "text": "*Gap to quota*\n$80,000 ($20,000 won of $100,000)"},
                            {
                                "type": "mrkdwn",
                                "text": "*Pipeline to add*\nabout $50,000, if it converts like Riley's pipeline today "
                                "(80% by the playbook's stage odds)",
                            },
                        ],
                    },
                    {
                        "type": "section",
                        "text": {
                            "type": "mrkdwn",
                            "text": "A recovery plan sets a few weekly commitments with Riley and checks in on them until "
                            "the gap is closed or the quarter ends. Riley is told nothing unless you open one.",
                        },
                    },
                    {
                        "type": "actions",
                        "block_id": "coaching_plan_proposal_buttons",
                        "elements": [
                            {"type": "button", "text": {"type": "plain_text", "text": "Open a recovery plan", "emoji": True},
                             "action_id": "coaching_plan_open", "value": str(plan_id), "style": "primary"},
                            {"type": "button", "text": {"type": "plain_text", "text": "Not now", "emoji": True},
                             "action_id": "coaching_plan_not_now", "value": str(plan_id)},
                        ],
                    },
                ],
            },
        )
    ]  # fmt: skip


def test_without_open_pipeline_the_win_rate_stands_in_for_the_playbook_conversion(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    team = seed_people(session_factory)
    with session_scope(session_factory) as session:
        session.add(deal(team.riley, "W1", "20000", "Closed Won", close_date=dt.date(2026, 10, 10)))
        session.add(deal(team.riley, "L1", "20000", "Closed Lost", close_date=dt.date(2026, 10, 20)))
    assert propose(session_factory, now) == 1
    # $80k gap at a 50% win rate by value ($20k won of $40k closed), with no open pipeline to count.
    assert plan_rows(session_factory)[0][4:6] == (Decimal("80000"), Decimal("160000"))


def test_with_nothing_to_learn_from_the_fallback_conversion_is_used(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_people(session_factory)
    assert propose(session_factory, now) == 1
    # $100k gap at the 25% fallback.
    assert plan_rows(session_factory)[0][4:6] == (Decimal("100000"), Decimal("400000"))


def _no_quota(session: Session, team: Team) -> None:
    session.execute(delete(Quota))


def _on_track(session: Session, team: Team) -> None:
    # $40k won + $40k weighted: projected exactly 80%, which is not below 80%.
    session.add(deal(team.riley, "W2", "20000", "Closed Won", close_date=dt.date(2026, 11, 2)))


def _declined_earlier(session: Session, team: Team) -> None:
    session.add(
        RecoveryPlan(
            person_id=team.riley, manager_id=team.mia, period_start=dt.date(2026, 10, 1), period_end=dt.date(2026, 12, 31),
            gap_amount=Decimal("80000"), pipeline_to_add=Decimal("50000"), currency="USD", status="cancelled",
        )
    )  # fmt: skip


def _no_manager(session: Session, team: Team) -> None:
    person(session, team.riley).manager_id = None


@pytest.mark.parametrize(
    ("setup", "at"),
    [
        (_on_track, dt.datetime(2026, 11, 25, 15, tzinfo=dt.UTC)),
        (None, dt.datetime(2026, 12, 10, 15, tzinfo=dt.UTC)),  # 23% of the quarter left
        (_no_quota, dt.datetime(2026, 11, 25, 15, tzinfo=dt.UTC)),
        (_declined_earlier, dt.datetime(2026, 11, 25, 15, tzinfo=dt.UTC)),
        (_no_manager, dt.datetime(2026, 11, 25, 15, tzinfo=dt.UTC)),
    ],
    ids=["projected-at-the-threshold", "too-little-quarter-left", "no-quota", "already-decided-this-quarter", "no-manager"],
)
def test_no_plan_is_proposed_unless_every_condition_holds(session_factory, team, setup, at) -> None:  # type: ignore[no-untyped-def]
    if setup:
        with session_scope(session_factory) as session:
            setup(session, team)
    before = plan_rows(session_factory)
    assert propose(session_factory, at) == 0
    assert plan_rows(session_factory) == before
    assert outbox(session_factory) == []


def test_a_manager_without_slack_is_not_bypassed_and_no_plan_is_made(session_factory, team, now, caplog) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        person(session, team.mia).slack_user_id = None
    with caplog.at_level(logging.WARNING):
        assert propose(session_factory, now) == 0
    assert plan_rows(session_factory) == []
    assert outbox(session_factory) == []
    assert (
        f"plan_proposal not queued (plan_proposal:{team.riley}:2026-10-01): person {team.mia} has no Slack account linked"
        in caplog.text
    )


# Opening and declining ------------------------------------------------------------------------------


def test_opening_a_plan_turns_commitments_into_actions_and_tells_the_rep(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    assert propose(session_factory, now) == 1
    plan_id = the_plan(session_factory).id
    with session_scope(session_factory) as session:
        open_plan(
            session,
            plan_id,
            person(session, team.mia),
            ["- 15 prospecting calls a week", "", "• Two new opportunities a week"],
            7,
            now,
        )

    plan = the_plan(session_factory)
    # Wednesday Dec 2, 09:00 in New York.
    assert (plan.status, plan.opened_at, plan.next_checkin_at) == ("open", now, dt.datetime(2026, 12, 2, 14, tzinfo=dt.UTC))
    with session_factory() as session:
        actions = session.execute(
            select(Action.person_id, Action.assigned_by_id, Action.text, Action.due_date, Action.plan_id, Action.status)
        )
        assert list(actions) == [
            (team.riley, team.mia, "15 prospecting calls a week", None, plan_id, "open"),
            (team.riley, team.mia, "Two new opportunities a week", None, plan_id, "open"),
        ]
    expected = plan_opened_message(
        manager_name="Mia Manager", period_end=dt.date(2026, 12, 31), gap=Decimal("80000"), pipeline_to_add=Decimal("50000"),
        currency="USD", commitments=COMMITMENTS, checkin_every_days=7, first_checkin=dt.date(2026, 12, 2),
    )  # fmt: skip
    assert outbox(session_factory)[1:] == [(f"plan_opened:{plan_id}", "URILEY", "plan_opened", payload(expected))]
    assert expected.text == "Mia Manager opened a recovery plan with you: close $80,000 more by Thu, Dec 31."


def test_only_the_reps_managers_open_a_plan_with_commitments_and_only_once(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    assert propose(session_factory, now) == 1
    plan_id = the_plan(session_factory).id
    with session_scope(session_factory) as session:
        with pytest.raises(NotAllowed, match="Only Riley Rep's managers can open a recovery plan for them."):
            open_plan(session, plan_id, person(session, team.carl), COMMITMENTS, 7, now)
        with pytest.raises(InvalidInput, match="Add at least one weekly commitment"):
            open_plan(session, plan_id, person(session, team.mia), [" ", "-"], 7, now)
        open_plan(session, plan_id, person(session, team.vera), COMMITMENTS, 7, now)
    with session_scope(session_factory) as session:
        with pytest.raises(WrongState, match="This recovery plan is already open."):
            open_plan(session, plan_id, person(session, team.mia), COMMITMENTS, 7, now)
    assert the_plan(session_factory).manager_id == team.vera


def test_not_now_closes_the_proposal_and_the_manager_is_not_asked_again_this_quarter(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    assert propose(session_factory, now) == 1
    plan_id = the_plan(session_factory).id
    for _ in range(2):
        with session_scope(session_factory) as session:
            decline_plan(session, plan_id, person(session, team.mia), now)
    assert propose(session_factory, now + dt.timedelta(days=1)) == 0
    assert [row[-2:] for row in plan_rows(session_factory)] == [
        ("cancelled", "Not opened: Mia Manager chose “Not now” on Nov 25.")
    ]
    assert [row[0] for row in outbox(session_factory)] == [f"plan_proposal:{team.riley}:2026-10-01"]


# Check-ins ------------------------------------------------------------------------------------------


def ask(session_factory: sessionmaker[Session], at: dt.datetime) -> int:
    with session_scope(session_factory) as session:
        return due_checkins(session, at)


def test_checkins_keep_the_reps_wall_clock_time_across_the_dst_change(session_factory, team) -> None:  # type: ignore[no-untyped-def]
    plan_id = open_q4_plan(session_factory, team, OCT_19)
    # Monday Oct 26, 09:00 EDT is 13:00 UTC.
    assert the_plan(session_factory).next_checkin_at == dt.datetime(2026, 10, 26, 13, tzinfo=dt.UTC)
    assert ask(session_factory, dt.datetime(2026, 10, 26, 12, 59, tzinfo=dt.UTC)) == 0
    assert ask(session_factory, dt.datetime(2026, 10, 26, 13, 0, tzinfo=dt.UTC)) == 1
    assert ask(session_factory, dt.datetime(2026, 10, 26, 13, 5, tzinfo=dt.UTC)) == 0
    # Clocks went back on Sunday Nov 1: 09:00 EST on Monday Nov 2 is 14:00 UTC, not 13:00.
    assert the_plan(session_factory).next_checkin_at == dt.datetime(2026, 11, 2, 14, tzinfo=dt.UTC)
    assert ask(session_factory, dt.datetime(2026, 11, 2, 13, 30, tzinfo=dt.UTC)) == 0
    assert ask(session_factory, dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC)) == 1
    assert the_plan(session_factory).next_checkin_at == dt.datetime(2026, 11, 9, 14, tzinfo=dt.UTC)

    assert checkins(session_factory) == [
        (dt.datetime(2026, 10, 26, 13, tzinfo=dt.UTC), None, None, None),
        (dt.datetime(2026, 11, 2, 14, tzinfo=dt.UTC), None, None, None),
    ]
    asked = [row for row in outbox(session_factory) if row[2] == "plan_checkin"]
    assert [(key, recipient) for key, recipient, _, _ in asked] == [
        (f"checkin:{plan_id}:2026-10-26", "URILEY"),
        (f"checkin:{plan_id}:2026-11-02", "URILEY"),
    ]
    with session_factory() as session:
        first_id = session.scalars(select(PlanCheckin.id).order_by(PlanCheckin.id)).first()
    expected = checkin_message(
        checkin_id=first_id, manager_name="Mia Manager", period_end=dt.date(2026, 12, 31), days_left=66,  # type: ignore[arg-type]
        gap=Decimal("80000"), pipeline_to_add=Decimal("50000"), currency="USD", commitments=COMMITMENTS,
    )  # fmt: skip
    assert asked[0][3] == payload(expected)


def test_a_checkin_missed_while_down_is_asked_once_and_the_cadence_resumes(session_factory, team) -> None:  # type: ignore[no-untyped-def]
    open_q4_plan(session_factory, team, OCT_19)
    assert ask(session_factory, dt.datetime(2026, 11, 10, 15, tzinfo=dt.UTC)) == 1
    assert ask(session_factory, dt.datetime(2026, 11, 10, 16, tzinfo=dt.UTC)) == 0
    # Oct 26 + 3 weeks: Monday Nov 16, 09:00 EST.
    assert the_plan(session_factory).next_checkin_at == dt.datetime(2026, 11, 16, 14, tzinfo=dt.UTC)


def test_checkins_stop_at_the_end_of_the_quarter(session_factory, team) -> None:  # type: ignore[no-untyped-def]
    open_q4_plan(session_factory, team, dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC), every_days=14)
    assert the_plan(session_factory).next_checkin_at == dt.datetime(2026, 12, 4, 14, tzinfo=dt.UTC)
    assert ask(session_factory, dt.datetime(2026, 12, 4, 14, tzinfo=dt.UTC)) == 1
    assert the_plan(session_factory).next_checkin_at == dt.datetime(2026, 12, 18, 14, tzinfo=dt.UTC)
    assert ask(session_factory, dt.datetime(2026, 12, 18, 14, tzinfo=dt.UTC)) == 1
    assert the_plan(session_factory).next_checkin_at is None  # Dec 18 + 14 days is past Dec 31


def test_the_reps_answer_reaches_the_manager_once(session_factory, team) -> None:  # type: ignore[no-untyped-def]
    open_q4_plan(session_factory, team, OCT_19)
    asked_at = dt.datetime(2026, 10, 26, 13, tzinfo=dt.UTC)
    assert ask(session_factory, asked_at) == 1
    with session_factory() as session:
        checkin_id = session.scalars(select(PlanCheckin.id)).one()
    answered_at = asked_at + dt.timedelta(hours=2)
    with session_scope(session_factory) as session:
        answer_checkin(session, checkin_id, person(session, team.riley), "need_help", "  Globex went quiet ", answered_at)
    with session_scope(session_factory) as session:
        answer_checkin(session, checkin_id, person(session, team.riley), "on_track", None, answered_at + dt.timedelta(minutes=1))

    assert checkins(session_factory) == [(asked_at, "need_help", answered_at, "Globex went quiet")]
    expected = checkin_answer_message(
        rep_name="Riley Rep", answer="need_help", note="Globex went quiet", asked_on=dt.date(2026, 10, 26)
    )
    assert [row for row in outbox(session_factory) if row[2] == "checkin_answer"] == [
        (f"checkin_answer:{checkin_id}", "UMIA", "checkin_answer", payload(expected))
    ]
    assert expected.text == "Riley Rep needs help with their recovery plan (check-in of Mon, Oct 26)."


def test_only_the_rep_answers_their_checkin_with_a_known_answer(session_factory, team) -> None:  # type: ignore[no-untyped-def]
    open_q4_plan(session_factory, team, OCT_19)
    assert ask(session_factory, dt.datetime(2026, 10, 26, 13, tzinfo=dt.UTC)) == 1
    with session_factory() as session:
        checkin_id = session.scalars(select(PlanCheckin.id)).one()
    at = dt.datetime(2026, 10, 26, 14, tzinfo=dt.UTC)
    with session_scope(session_factory) as session:
        with pytest.raises(NotAllowed, match="Only the rep whose plan it is can answer its check-in."):
            answer_checkin(session, checkin_id, person(session, team.mia), "on_track", None, at)
        with pytest.raises(InvalidInput, match="The answer is one of: on_track, at_risk, need_help."):
            answer_checkin(session, checkin_id, person(session, team.riley), "meh", None, at)
    assert checkins(session_factory)[0][1:] == (None, None, None)


# Closing ------------------------------------------------------------------------------------------


def close(session_factory: sessionmaker[Session], at: dt.datetime) -> int:
    with session_scope(session_factory) as session:
        return close_finished_plans(session, at, **SETTINGS)


def test_a_plan_closes_as_recovered_once_the_projection_reaches_quota(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    plan_id = open_q4_plan(session_factory, team, OCT_19)
    assert close(session_factory, now) == 0
    add_won(session_factory, team, "70000", dt.date(2026, 11, 20))  # $90k won + $40k weighted: 130%
    assert close(session_factory, now) == 1
    assert close(session_factory, now + dt.timedelta(hours=1)) == 0

    outcome = "Back on track on Nov 25: projected 130% of quota ($130,000 of $100,000), $90,000 won so far."
    plan = the_plan(session_factory)
    assert (plan.status, plan.outcome, plan.closed_at, plan.next_checkin_at) == ("recovered", outcome, now, None)
    with session_factory() as session:
        assert list(session.scalars(select(Action.status).where(Action.plan_id == plan_id))) == ["closed", "closed"]
    to_rep = plan_closed_message(
        rep_name="Riley Rep", period_label="Q4 2026", status="recovered", outcome=outcome, for_manager=False
    )
    to_manager = plan_closed_message(
        rep_name="Riley Rep", period_label="Q4 2026", status="recovered", outcome=outcome, for_manager=True
    )
    assert [row for row in outbox(session_factory) if row[2] == "plan_closed"] == [
        (f"plan_closed:{plan_id}:rep", "URILEY", "plan_closed", payload(to_rep)),
        (f"plan_closed:{plan_id}:manager", "UMIA", "plan_closed", payload(to_manager)),
    ]
    assert to_rep.text == f"Your recovery plan for Q4 2026 is closed: you are back on track. {outcome}"


def test_a_plan_closes_as_recovered_when_quota_is_won(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    open_q4_plan(session_factory, team, OCT_19)
    add_won(session_factory, team, "80000", dt.date(2026, 11, 20))
    assert close(session_factory, now) == 1
    assert plan_rows(session_factory)[0][-2:] == ("recovered", "Quota made: $100,000 won of $100,000 (100%).")


def test_a_plan_closes_as_missed_when_the_quarter_ends_on_the_reps_calendar(session_factory, team) -> None:  # type: ignore[no-untyped-def]
    plan_id = open_q4_plan(session_factory, team, OCT_19)
    # 22:00 on Dec 31 in New York: the quarter is not over there yet.
    assert close(session_factory, dt.datetime(2027, 1, 1, 3, tzinfo=dt.UTC)) == 0
    new_year = dt.datetime(2027, 1, 1, 6, tzinfo=dt.UTC)
    assert close(session_factory, new_year) == 1
    assert close(session_factory, new_year + dt.timedelta(hours=1)) == 0

    outcome = "Q4 2026 ended at 20% of quota: $20,000 won of $100,000, $80,000 short."
    plan = the_plan(session_factory)
    assert (plan.status, plan.outcome, plan.closed_at) == ("missed", outcome, new_year)
    assert [(row[0], row[1], row[3]["text"]) for row in outbox(session_factory) if row[2] == "plan_closed"] == [
        (f"plan_closed:{plan_id}:rep", "URILEY", f"Your recovery plan for Q4 2026 has ended. {outcome}"),
        (f"plan_closed:{plan_id}:manager", "UMIA", f"Riley Rep's recovery plan for Q4 2026 has ended: missed. {outcome}"),
    ]


def test_a_proposal_nobody_answered_expires_quietly_with_the_quarter(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    assert propose(session_factory, now) == 1
    assert close(session_factory, dt.datetime(2027, 1, 1, 6, tzinfo=dt.UTC)) == 1
    assert plan_rows(session_factory)[0][-2:] == ("cancelled", "Not opened before the quarter ended.")
    assert [row[2] for row in outbox(session_factory)] == ["plan_proposal"]
    with session_scope(session_factory) as session:
        with pytest.raises(WrongState, match="This recovery plan is already cancelled."):
            open_plan(session, the_plan(session_factory).id, person(session, team.mia), COMMITMENTS, 7, now)
