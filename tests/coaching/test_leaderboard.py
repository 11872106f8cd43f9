"""The leaderboard read from the database (SQLite and PostgreSQL): each rep's figures, the ranking, money only when allowed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from bot.coaching.goals import refresh_progress, set_goal
from bot.coaching.leaderboard import Money, RepDiscipline, goals_moved, my_rank, team_leaderboard
from bot.coaching.playbook import load_playbook, parse_playbook
from bot.database import session_scope
from bot.models import Deal, GoalProgress, Person, ProcessGap
from tests.coaching.test_playbook_leaderboard import with_sections
from tests.support.leaderboard_team import D, seed_leaderboard_team

UNTIL = dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.UTC)  # Monday 08:00 in New York


def opted_in(show_money: bool = False) -> object:
    money = ", show_money: true" if show_money else ""
    return parse_playbook(with_sections(f"teams:\n  mia@example.com:\n    leaderboard: {{enabled: true{money}}}"))


def board_of(session, playbook):  # type: ignore[no-untyped-def]
    mia = session.scalar(select(Person).where(Person.email == "mia@example.com"))
    return team_leaderboard(session, mia, playbook, UNTIL, default_timezone="UTC", default_currency="USD")


def test_the_team_is_ranked_on_its_weeks_figures_and_a_rep_without_any_is_listed_unranked(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed_leaderboard_team(session_factory, UNTIL)
    with session_factory() as session:
        board = board_of(session, opted_in())
    assert (board.team_name, board.since, board.until, board.until_day, board.week_of, board.top, board.show_money) == (
        "Mia Manager", UNTIL - 7 * D, UNTIL, dt.date(2026, 11, 30), dt.date(2026, 11, 30), 10, False,
    )  # fmt: skip
    assert [(s.rep, s.rank, s.tied, round(s.score, 3) if s.score else None) for s in board.standings] == [
        (RepDiscipline(ids["nora"], "Nora Rep", 0.5, 7.0, 2, 0.3, None), 1, False, 1.333),
        (RepDiscipline(ids["leo"], "Leo Rep", 1.0, 30.0, 1, 0.1, None), 2, False, 1.667),
        (RepDiscipline(ids["pat"], "Pat Rep", None, None, 0, None, None), None, False, None),
    ]


def test_money_is_read_only_for_a_team_that_allows_it(session_factory) -> None:  # type: ignore[no-untyped-def]
    seed_leaderboard_team(session_factory, UNTIL)
    with session_factory() as session:
        board = board_of(session, opted_in(show_money=True))
    assert [standing.rep.money for standing in board.standings] == [
        Money(0.4, Decimal("40000.00"), "USD"), Money(None, Decimal("12500.00"), "USD"), Money(None, Decimal(0), "USD"),
    ]  # fmt: skip


def test_a_team_that_has_not_opted_in_has_no_board_and_its_reps_no_rank(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed_leaderboard_team(session_factory, UNTIL)
    with session_factory() as session:
        assert board_of(session, load_playbook()) is None
        nora = session.get_one(Person, ids["nora"])
        assert my_rank(session, nora, load_playbook(), UNTIL, default_timezone="UTC", default_currency="USD") is None


def test_a_rep_learns_their_own_place_of_the_reps_ranked(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed_leaderboard_team(session_factory, UNTIL)
    with session_factory() as session:
        places = {
            key: my_rank(
                session, session.get_one(Person, ids[key]), opted_in(), UNTIL, default_timezone="UTC", default_currency="USD"
            )  # fmt: skip
            for key in ("nora", "leo", "pat")
        }
    assert {key: (rank.standing.rank, rank.of) for key, rank in places.items() if rank} == {
        "nora": (1, 2), "leo": (2, 2), "pat": (None, 2),
    }  # fmt: skip


def test_a_goal_set_during_the_week_moves_from_where_it_was_set_not_from_zero(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed_leaderboard_team(session_factory, UNTIL)
    with session_scope(session_factory) as session:
        leo, mia = session.get_one(Person, ids["leo"]), session.get_one(Person, ids["mia"])
        # Leo's one open deal has no gap, a second one does: adherence 50% when the goal is set.
        deal = Deal(crm_source="test", crm_id="L2", owner_id=leo.id, name="L2", amount=Decimal(1), currency="USD",
                    stage="Proposal", is_closed=False, is_won=False, created_at=UNTIL - 9 * D)  # fmt: skip
        session.add(deal)
        session.flush()
        gap = ProcessGap(deal_id=deal.id, rule="close_date_missing", severity="high", opened_at=UNTIL - 5 * D)
        session.add(gap)
        goal = set_goal(session, rep=leo, set_by=mia, competency="Process", description="Clean pipeline", due_date=None,
                        measure="process_adherence", target=1.0, now=UNTIL - 4 * D)  # fmt: skip
        gap.resolved_at = UNTIL - 2 * D
        refresh_progress(session, goal, UNTIL - 2 * D)
        refresh_progress(session, goal, UNTIL - 1 * D)  # nothing moved: nothing recorded
        marks = session.execute(
            select(GoalProgress.recorded_at, GoalProgress.progress)
            .where(GoalProgress.goal_id == goal.id)
            .order_by(GoalProgress.id)
        ).all()
        assert [(recorded_at, progress) for recorded_at, progress in marks] == [(UNTIL - 4 * D, 0.5), (UNTIL - 2 * D, 1.0)]
        moved = goals_moved(session, [ids["leo"], ids["pat"]], UNTIL - 7 * D, UNTIL)
    # Leo: +10 points on the manual goal, +50 on this one (set at 50%); the goal achieved earlier counts nothing.
    assert {person: round(value, 6) for person, value in moved.items()} == {ids["leo"]: 0.6}
