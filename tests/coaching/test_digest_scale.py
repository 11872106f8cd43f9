"""A leader's digest over 500 reps in 50 teams, on SQLite and PostgreSQL: the same few queries as
over 50 reps in 5 teams, and a message within Slack's limits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import to_dicts
from bot.blocks.digest import digest_blocks
from bot.coaching.digest import build_digest
from bot.database import session_scope
from bot.models import Person, Quota
from tests.coaching.test_team import PLAYBOOK, TIMEZONE, counted_queries
from tests.support.personas import _deal


def seed_org(session_factory: sessionmaker[Session], teams: int, reps_per_team: int, tag: str) -> int:
    """A leader over `teams` managers of `reps_per_team` reps each; every rep has a quota, a win and an open deal."""
    with session_scope(session_factory) as session:
        leader = Person(email=f"leader.{tag}@example.com", name=f"Leader {tag}", is_manager=True, timezone=TIMEZONE)
        session.add(leader)
        session.flush()
        managers = [
            Person(email=f"m{team}.{tag}@example.com", name=f"Manager {team:02d}", is_manager=True, manager_id=leader.id)
            for team in range(teams)
        ]
        session.add_all(managers)
        session.flush()
        reps = [
            Person(email=f"r{team}-{n}.{tag}@example.com", name=f"Rep {team:02d}-{n}", is_rep=True, manager_id=manager.id)
            for team, manager in enumerate(managers)
            for n in range(reps_per_team)
        ]
        session.add_all(reps)
        session.flush()
        session.add_all(
            Quota(person_id=rep.id, period_start=dt.date(2026, 10, 1), period_end=dt.date(2027, 1, 1), amount=Decimal(100000),
                  currency="USD")
            for rep in reps
        )  # fmt: skip
        session.add_all(
            deal
            for rep in reps
            for deal in (
                _deal(rep, f"W-{rep.id}", "20000", "Closed Won", close_date=dt.date(2026, 11, 2)),
                _deal(rep, f"O-{rep.id}", "50000", "Proposal", close_date=dt.date(2026, 12, 10)),
            )
        )
        return leader.id


def test_a_leaders_digest_of_500_reps_reads_as_few_queries_as_one_of_50_and_fits_in_one_message(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    small_id = seed_org(session_factory, 5, 10, "small")
    large_id = seed_org(session_factory, 50, 10, "large")
    with session_factory() as session:
        with counted_queries(session) as small:
            small_digest = build_digest(session, session.get_one(Person, small_id), PLAYBOOK, now, default_timezone=TIMEZONE,
                                        default_currency="USD")  # fmt: skip
        with counted_queries(session) as large:
            digest = build_digest(session, session.get_one(Person, large_id), PLAYBOOK, now, default_timezone=TIMEZONE,
                                  default_currency="USD")  # fmt: skip
    assert (len(small_digest.teams), len(digest.teams), len(digest.rows)) == (5, 50, 500)
    # 550 people under the leader make a second chunk of 500 ids where everyone under them is read
    # (the active reps among them, their snoozes, the org chart); nothing else grows with the org.
    assert len(large) <= len(small) + 3
    blocks = to_dicts(digest_blocks(digest))
    assert len(blocks) <= 50
    assert all(len(block["text"]["text"]) <= 3000 for block in blocks if block["type"] == "section")
    # Every rep: $20,000 of $100,000 won, 1 of 1 won in 32 days, $50,000 closing against an $80,000 gap.
    assert {(team.attainment, team.win_rate, team.sales_cycle_days, team.coverage) for team in digest.teams} == {
        (0.2, 1.0, 32.0, 0.625)
    }
