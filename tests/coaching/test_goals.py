"""Development goals: who may set them, how their CRM measures read, progress, and the reminder."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import to_dicts
from bot.blocks.coaching import goal_reminder_message
from bot.coaching import goals
from bot.coaching.errors import InvalidInput, NotAllowed, WrongState
from bot.coaching.goals import measure_value, refresh_progress, set_goal, update_progress
from bot.database import session_scope
from bot.models import CoachAssignment, Deal, Goal, OutboxMessage, Person, ProcessGap, Quota
from tests.support.delivered import delivered
from tests.support.personas import MIA, OUTSIDER, RILEY

goal_reminders = delivered(goals.goal_reminders)


@dataclass(frozen=True)
class Team:
    """Vera manages Mia, who manages Riley; Carl coaches Riley; Olly coaches someone else."""

    vera: int
    mia: int
    riley: int
    carl: int
    olly: int


def seed_people(
    session_factory: sessionmaker[Session], *, riley_slack: str | None = "URILEY", carl_slack: str | None = "UCARL"
) -> Team:
    with session_scope(session_factory) as session:
        vera = Person(
            email="vera.vp@example.com", name="Vera Vp", is_manager=True, slack_user_id="UVERA", timezone="America/New_York"
        )
        session.add(vera)
        session.flush()
        mia = Person(
            email=MIA, name="Mia Manager", is_manager=True, manager_id=vera.id, slack_user_id="UMIA", timezone="America/New_York"
        )
        carl = Person(
            email="carl.coach@example.com", name="Carl Coach", is_coach=True, slack_user_id=carl_slack, timezone="Europe/London"
        )
        olly = Person(email=OUTSIDER, name="Olly Outsider", is_coach=True, slack_user_id="UOLLY", timezone="America/New_York")
        session.add_all([mia, carl, olly])
        session.flush()
        riley = Person(
            email=RILEY, name="Riley Rep", is_rep=True, manager_id=mia.id, slack_user_id=riley_slack, timezone="America/New_York"
        )
        session.add(riley)
        session.flush()
        session.add(CoachAssignment(coach_id=carl.id, rep_id=riley.id))
        session.add(
            Quota(
                person_id=riley.id,
                period_start=dt.date(2026, 10, 1),
                period_end=dt.date(2027, 1, 1),
                amount=Decimal("100000"),
                currency="USD",
            )
        )
        return Team(vera=vera.id, mia=mia.id, riley=riley.id, carl=carl.id, olly=olly.id)


def deal(owner_id: int, crm_id: str, amount: str = "10000", stage: str = "Proposal", **fields: Any) -> Deal:
    """An open deal with a dated next step and nothing wrong with it, unless told otherwise."""
    closed = stage.startswith("Closed")
    values: dict[str, Any] = {
        "crm_source": "test", "crm_id": crm_id, "owner_id": owner_id, "name": f"Deal {crm_id}", "amount": Decimal(amount),
        "currency": "USD", "stage": stage, "is_closed": closed, "is_won": stage == "Closed Won",
        "created_at": dt.datetime(2026, 10, 1, tzinfo=dt.UTC), "close_date": dt.date(2026, 12, 15),
        "next_step": "Call", "next_step_date": dt.date(2026, 12, 1), "product_line": "Core",
    }  # fmt: skip
    values.update(fields)
    return Deal(**values)


def outbox(session_factory: sessionmaker[Session]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(key, recipient, kind, payload) of every queued message, oldest first."""
    with session_factory() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(row.dedupe_key, row.recipient, row.kind, row.payload) for row in rows]


def person(session: Session, person_id: int) -> Person:
    found = session.get(Person, person_id)
    assert found is not None
    return found


@pytest.fixture
def team(session_factory: sessionmaker[Session]) -> Team:
    return seed_people(session_factory)


def goal_rows(session_factory: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with session_factory() as session:
        return list(
            session.execute(
                select(
                    Goal.person_id,
                    Goal.set_by_id,
                    Goal.competency,
                    Goal.description,
                    Goal.due_date,
                    Goal.measure,
                    Goal.target,
                    Goal.progress,
                    Goal.status,
                )
            )
        )


# Who may set a goal -------------------------------------------------------------------------


def test_the_assigned_coach_sets_a_goal(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        goal = set_goal(
            session, rep=person(session, team.riley), set_by=person(session, team.carl), competency="Discovery",
            description="Two contacts on every late-stage deal", due_date=dt.date(2026, 12, 18), now=now,
        )  # fmt: skip
        assert goal.created_at == now
    assert goal_rows(session_factory) == [
        (
            team.riley,
            team.carl,
            "Discovery",
            "Two contacts on every late-stage deal",
            dt.date(2026, 12, 18),
            None,
            None,
            0.0,
            "open",
        )
    ]
    assert outbox(session_factory) == []


@pytest.mark.parametrize("setter", ["mia", "vera"])
def test_anyone_up_the_manager_chain_sets_a_goal(session_factory, team, now, setter) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        set_goal(
            session, rep=person(session, team.riley), set_by=person(session, getattr(team, setter)), competency="Forecasting",
            description="Close dates that hold", due_date=None, now=now,
        )  # fmt: skip
    assert [row[1] for row in goal_rows(session_factory)] == [getattr(team, setter)]


@pytest.mark.parametrize("setter", ["olly", "riley"])
def test_a_coach_of_someone_else_and_the_rep_themselves_may_not_set_a_goal(session_factory, team, now, setter) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        with pytest.raises(NotAllowed) as refused:
            set_goal(
                session, rep=person(session, team.riley), set_by=person(session, getattr(team, setter)), competency="Discovery",
                description="Anything", due_date=None, now=now,
            )  # fmt: skip
    assert str(refused.value) == "Only Riley Rep's managers and assigned coaches can set their goals."
    assert goal_rows(session_factory) == []


def test_a_manager_chain_that_loops_does_not_hang_and_grants_nothing(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        person(session, team.vera).manager_id = team.mia  # Vera -> Mia -> Vera: bad data
    with session_scope(session_factory) as session:
        with pytest.raises(NotAllowed):
            set_goal(
                session, rep=person(session, team.riley), set_by=person(session, team.olly), competency="Discovery",
                description="Anything", due_date=None, now=now,
            )  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"competency": "  "}, "Please fill in the competency."),
        ({"measure": "vibes", "target": 1.0}, "I don't know the measure “vibes”. Choose one of: next_step_coverage, "
         "pipeline_added_per_week, process_adherence, product_lines_in_play, win_rate, old_open_gaps, pipeline_in_line, won_in_line."),
        ({"measure": "next_step_coverage"}, "A measured goal needs a target (e.g. 0.9 for 90% of open deals)."),
        ({"measure": "next_step_coverage", "target": 90}, "The target of next_step_coverage is a share: a number above 0 and at most 1 (0.9 for 90%)."),
        ({"target": 0.9}, "A target needs a measure to be compared with; choose one, or leave the target out."),
        ({"due_date": dt.date(2026, 11, 24)}, "Nov 24 has already passed where Riley Rep is; pick today or later."),
    ],
)  # fmt: skip
def test_a_goal_that_cannot_be_measured_or_is_already_due_is_refused(session_factory, team, now, fields, message) -> None:  # type: ignore[no-untyped-def]
    values = {"competency": "Discovery", "description": "Better discovery", "due_date": None, **fields}
    with session_scope(session_factory) as session:
        with pytest.raises(InvalidInput) as refused:
            set_goal(session, rep=person(session, team.riley), set_by=person(session, team.carl), now=now, **values)
    assert str(refused.value) == message
    assert goal_rows(session_factory) == []


# Measures on hand-made deals ----------------------------------------------------------------


@pytest.fixture
def deals(session_factory, team, now):  # type: ignore[no-untyped-def]
    """Riley's book: four open deals (one without a dated next step, one with an open gap),
    deals created this week and before, a won deal in another line, and someone else's deal."""
    with session_scope(session_factory) as session:
        session.add_all(
            [
                deal(team.riley, "A", "10000", product_line="Core"),
                deal(team.riley, "B", "20000", next_step_date=None, product_line="Analytics"),
                deal(team.riley, "C", "30000", next_step="   ", product_line="Analytics",
                     created_at=now - dt.timedelta(days=6, hours=23)),
                deal(team.riley, "D", "5000", product_line=None, created_at=now - dt.timedelta(days=2)),
                deal(team.riley, "E", "7000", "Closed Won", close_date=dt.date(2026, 10, 5), product_line="Services",
                     created_at=now - dt.timedelta(days=1)),
                deal(team.riley, "F", "9000", "Closed Won", close_date=dt.date(2026, 8, 1), product_line="Training"),
                deal(team.riley, "G", "4000", created_at=now - dt.timedelta(days=7)),  # exactly a week ago: not this week
                deal(team.riley, "H", "8000", currency="EUR", created_at=now - dt.timedelta(days=1)),
                deal(team.riley, "I", "1000", deleted_at=now, created_at=now - dt.timedelta(days=1)),
                deal(team.mia, "M", "99000", created_at=now - dt.timedelta(days=1), product_line="Hardware"),
            ]
        )  # fmt: skip
        session.flush()
        gap_deal = session.scalar(select(Deal.id).where(Deal.crm_id == "A"))
        resolved_deal = session.scalar(select(Deal.id).where(Deal.crm_id == "D"))
        session.add_all(
            [
                ProcessGap(deal_id=gap_deal, rule="stale_stage", severity="medium", opened_at=now),
                ProcessGap(deal_id=gap_deal, rule="close_date_past", severity="high", opened_at=now),
                ProcessGap(deal_id=resolved_deal, rule="stale_stage", severity="medium", opened_at=now, resolved_at=now),
            ]
        )


@pytest.mark.parametrize(
    ("measure", "value"),
    [
        # open: A, B, C, D, G, H (I is deleted); dated next step: A, D, G, H
        ("next_step_coverage", 4 / 6),
        # open deals with no open gap: all but A
        ("process_adherence", 5 / 6),
        # created in the last 7 days, in USD, not deleted: C, D, E
        ("pipeline_added_per_week", 42000.0),
        # open A, B, C, G, H and E won within 90 days: Core, Analytics, Services (Training was won in August)
        ("product_lines_in_play", 3.0),
    ],
)
def test_measures_read_the_reps_own_deals(session_factory, team, deals, now, measure, value) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        assert measure_value(session, person(session, team.riley), measure, now) == pytest.approx(value)


def test_share_measures_are_undefined_without_open_deals_and_progress_stays(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        goal = set_goal(
            session, rep=person(session, team.riley), set_by=person(session, team.carl), competency="Pipeline hygiene",
            description="Dated next steps", due_date=None, measure="next_step_coverage", target=0.9, now=now,
        )  # fmt: skip
        assert refresh_progress(session, goal, now) is None
        assert goal.progress == 0.0


def test_a_measured_goal_starts_at_its_current_progress_and_refreshes(session_factory, team, deals, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        goal = set_goal(
            session, rep=person(session, team.riley), set_by=person(session, team.carl), competency="Pipeline hygiene",
            description="A dated next step on nine deals in ten", due_date=dt.date(2026, 12, 18),
            measure="next_step_coverage", target=0.8, now=now,
        )  # fmt: skip
        assert goal.progress == pytest.approx((4 / 6) / 0.8)
        session.add(deal(team.riley, "J", "1000"))
        session.flush()
        assert refresh_progress(session, goal, now) == pytest.approx(5 / 7)
        assert goal.progress == pytest.approx((5 / 7) / 0.8)
    with session_scope(session_factory) as session:
        goal = set_goal(
            session, rep=person(session, team.riley), set_by=person(session, team.mia), competency="Prospecting",
            description="$30k of new pipeline a week", due_date=None, measure="pipeline_added_per_week", target=30000, now=now,
        )  # fmt: skip
        assert goal.progress == 1.0  # 42,000 against 30,000: progress stops at 100%


# The rep's own progress -----------------------------------------------------------------------


def test_the_rep_reports_progress_on_an_unmeasured_goal(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        goal = set_goal(
            session, rep=person(session, team.riley), set_by=person(session, team.carl), competency="Negotiation",
            description="Hold price on two deals", due_date=None, now=now,
        )  # fmt: skip
        update_progress(session, goal, person(session, team.riley), 0.5, "  Held price at Acme  ", now)
    with session_factory() as session:
        stored = session.scalars(select(Goal)).one()
        assert (stored.progress, stored.progress_note) == (0.5, "Held price at Acme")


def test_only_the_rep_reports_progress_and_only_on_an_unmeasured_goal(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        rep, coach = person(session, team.riley), person(session, team.carl)
        unmeasured = set_goal(
            session, rep=rep, set_by=coach, competency="Negotiation", description="Hold price", due_date=None, now=now
        )
        measured = set_goal(
            session, rep=rep, set_by=coach, competency="Hygiene", description="Next steps", due_date=None,
            measure="next_step_coverage", target=0.9, now=now,
        )  # fmt: skip
        with pytest.raises(NotAllowed, match="Only the rep whose goal it is can report its progress."):
            update_progress(session, unmeasured, coach, 0.5, None, now)
        with pytest.raises(WrongState, match="This goal is measured from the CRM: its progress updates itself."):
            update_progress(session, measured, rep, 0.5, None, now)
        with pytest.raises(InvalidInput, match=r"Progress is a share from 0 to 1 \(0.5 for half way\)."):
            update_progress(session, unmeasured, rep, 1.5, None, now)
        assert unmeasured.progress == 0.0


# The reminder ---------------------------------------------------------------------------------


def add_goal(session_factory: sessionmaker[Session], team: Team, due: dt.date, **fields: Any) -> int:
    values: dict[str, Any] = {
        "person_id": team.riley, "set_by_id": team.carl, "competency": "Discovery", "description": "Two contacts per deal",
        "due_date": due, "progress": 0.4, "status": "open", "created_at": dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    }  # fmt: skip
    values.update(fields)
    with session_scope(session_factory) as session:
        goal = Goal(**values)
        session.add(goal)
        session.flush()
        return goal.id


def test_a_goal_due_within_three_days_is_reminded_once(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    due_soon = add_goal(session_factory, team, dt.date(2026, 11, 28))
    add_goal(session_factory, team, dt.date(2026, 11, 29))  # four days out: not yet
    add_goal(session_factory, team, dt.date(2026, 11, 27), status="closed")
    for _ in range(2):
        with session_scope(session_factory) as session:
            queued = goal_reminders(session, now)
    assert queued == 0  # the second run
    expected = goal_reminder_message(
        competency="Discovery", description="Two contacts per deal", due_date=dt.date(2026, 11, 28), days_left=3,
        progress=0.4, measure=None, target=None,
    )  # fmt: skip
    assert outbox(session_factory) == [
        (f"goal_reminder:{due_soon}", "URILEY", "goal_reminder", {"text": expected.text, "blocks": to_dicts(expected.blocks)})
    ]
    assert expected.text == "Your goal Discovery is due in 3 days (Sat, Nov 28): 40% done."
    with session_factory() as session:
        assert session.get(Goal, due_soon).reminded_at == now  # type: ignore[union-attr]


def test_goal_reminders_wait_for_the_reps_morning_and_skip_the_day_the_goal_was_set(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    add_goal(session_factory, team, dt.date(2026, 11, 27), created_at=now - dt.timedelta(hours=1))
    older = add_goal(session_factory, team, dt.date(2026, 11, 27))
    early = dt.datetime(2026, 11, 25, 13, 59, tzinfo=dt.UTC)  # 08:59 in New York
    with session_scope(session_factory) as session:
        assert goal_reminders(session, early) == 0
    with session_scope(session_factory) as session:
        assert goal_reminders(session, now) == 1
    assert [row[0] for row in outbox(session_factory)] == [f"goal_reminder:{older}"]


def test_a_rep_without_slack_gets_no_reminder_and_it_is_logged(session_factory, now, caplog) -> None:  # type: ignore[no-untyped-def]
    team = seed_people(session_factory, riley_slack=None)
    goal_id = add_goal(session_factory, team, dt.date(2026, 11, 27))
    with caplog.at_level(logging.WARNING), session_scope(session_factory) as session:
        assert goal_reminders(session, now) == 0
    assert outbox(session_factory) == []
    assert f"goal_reminder not queued (goal_reminder:{goal_id}): person {team.riley} has no Slack account linked" in caplog.text
    with session_factory() as session:
        assert session.get(Goal, goal_id).reminded_at is None  # type: ignore[union-attr]  # reminded once they are linked


# Progress history, for the digest's "goals that moved" ---------------------------------------------


def history(session: Session, goal_id: int) -> list[tuple[dt.datetime, float]]:
    from bot.models import GoalProgress

    rows = session.execute(
        select(GoalProgress.recorded_at, GoalProgress.progress).where(GoalProgress.goal_id == goal_id).order_by(GoalProgress.id)
    )
    return [(at, progress) for at, progress in rows]


def test_a_goals_progress_is_kept_when_set_and_each_time_it_changes_not_when_it_stays(session_factory, team, deals, now) -> None:  # type: ignore[no-untyped-def]
    hour = dt.timedelta(hours=1)
    with session_scope(session_factory) as session:
        measured = set_goal(
            session, rep=person(session, team.riley), set_by=person(session, team.carl), competency="Pipeline hygiene",
            description="A dated next step on nine deals in ten", due_date=None, measure="next_step_coverage", target=0.8, now=now,
        )  # fmt: skip
        refresh_progress(session, measured, now + hour)  # the same deals: the same progress, nothing kept
        session.add(deal(team.riley, "J", "1000"))
        session.flush()
        refresh_progress(session, measured, now + 2 * hour)
        unmeasured = set_goal(
            session, rep=person(session, team.riley), set_by=person(session, team.carl), competency="Negotiation",
            description="Hold price on two deals", due_date=None, now=now,
        )  # fmt: skip
        rep = person(session, team.riley)
        update_progress(session, unmeasured, rep, 0.5, "Held price at Acme", now + hour)
        update_progress(session, unmeasured, rep, 0.5, "Still held", now + 2 * hour)
        measured_id, unmeasured_id = measured.id, unmeasured.id
    with session_factory() as session:
        assert history(session, measured_id) == [
            (now, pytest.approx((4 / 6) / 0.8)),
            (now + 2 * hour, pytest.approx((5 / 7) / 0.8)),
        ]
        assert history(session, unmeasured_id) == [(now, 0.0), (now + hour, 0.5)]
