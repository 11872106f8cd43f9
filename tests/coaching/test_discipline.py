"""Each rep's process discipline over a window, on SQLite and PostgreSQL, on a history whose answer is known."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.discipline import Discipline, combined, discipline_by_rep
from bot.database import session_scope
from bot.models import Deal, Person, ProcessGap
from tests.support.personas import _deal

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def gap(deal: Deal, rule: str, opened_at: dt.datetime, resolved_at: dt.datetime | None = None,
        last_nudged_at: dt.datetime | None = None) -> ProcessGap:  # fmt: skip
    return ProcessGap(deal_id=deal.id, rule=rule, severity="medium", opened_at=opened_at, resolved_at=resolved_at,
                      last_nudged_at=last_nudged_at)  # fmt: skip


def seed_history(session_factory: sessionmaker[Session], now: dt.datetime) -> dict[str, int]:
    """Riley and Sam, a week of gaps before `now` (since = now − 7 days), and Quinn with nothing at all."""
    since = now - 7 * DAY
    with session_scope(session_factory) as session:
        riley = Person(email="riley@example.com", name="Riley", is_rep=True)
        sam = Person(email="sam@example.com", name="Sam", is_rep=True)
        quinn = Person(email="quinn@example.com", name="Quinn", is_rep=True)
        session.add_all([riley, sam, quinn])
        session.flush()
        open_a = _deal(riley, "A", "1000", "Proposal")
        open_b = _deal(riley, "B", "1000", "Proposal")
        clean = _deal(riley, "C", "1000", "Proposal")
        won = _deal(riley, "D", "1000", "Closed Won")
        deleted = _deal(sam, "E", "1000", "Demo", deleted_at=now - DAY)
        sams = _deal(sam, "F", "1000", "Demo")
        session.add_all([open_a, open_b, clean, won, deleted, sams])
        session.flush()
        session.add_all(
            [
                # Riley, deal A: opened in the window and fixed 10 h later, a nudge 2 h after opening (fixed within two days).
                gap(open_a, "next_step_missing", since + DAY, since + DAY + 10 * HOUR, last_nudged_at=since + DAY + 2 * HOUR),
                # Deal A: opened at the very start of the window (counts: [since, now)), still open, nudged 3 days
                # before now: its two days ended in the window, unfixed.
                gap(open_a, "close_date_past", since, last_nudged_at=now - 3 * DAY),
                # Deal B: opened before the window, fixed in it after 30 h; nudged a day before the window opened
                # (its two days ended inside the window) and fixed exactly two days after that nudge: within two days.
                gap(open_b, "stale_stage", since - 30 * HOUR + DAY, since + DAY, last_nudged_at=since - DAY),
                # Deal B: nudged a day ago, still open: its two days have not ended, so it is not judged yet.
                gap(open_b, "next_step_overdue", since - 3 * DAY, last_nudged_at=now - DAY),
                # Deal B: opened and fixed before the window: nothing.
                gap(open_b, "amount_missing", since - 5 * DAY, since - 4 * DAY),
                # Deal B: resolved exactly at `now`: not in [since, now), but opened in it.
                gap(open_b, "product_line_missing", since + 2 * DAY, now),
                # Won deal D: resolved in the window when it was won, 50 h after opening; nudged 49 h before
                # the fix (two days passed unfixed).
                gap(won, "next_step_missing", since + HOUR, since + 51 * HOUR, last_nudged_at=since + 2 * HOUR),
                # Sam, deleted deal E: opened and resolved in the window (deleted), 4 h.
                gap(deleted, "next_step_missing", now - 2 * DAY, now - 2 * DAY + 4 * HOUR),
                # Sam, open deal F: still open, opened before the window.
                gap(sams, "next_step_missing", since - DAY),
            ]
        )  # fmt: skip
        return {"riley": riley.id, "sam": sam.id, "quinn": quinn.id}


def test_each_reps_gaps_opened_fixed_time_to_fix_nudges_acted_on_and_adherence(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_history(session_factory, now)
    with session_factory() as session:
        figures = discipline_by_rep(session, [ids["riley"], ids["sam"], ids["quinn"]], now - 7 * DAY, now)
    # Riley opened A's two and B's product-line gap and D's; fixed A (10 h), B (30 h) and D (50 h).
    # Nudges judged: A's first (fixed in 8 h), A's second (open), B's stale stage (fixed in 48 h), D's (49 h).
    # Open deals A, B, C: A and B have open gaps.
    assert figures[ids["riley"]] == Discipline(
        gaps_opened=4, hours_to_fix=(10.0, 30.0, 50.0), nudged=4, nudged_fixed_in_two_days=2, open_deals=3, deals_with_gaps=2
    )
    riley = figures[ids["riley"]]
    assert (riley.gaps_fixed, riley.median_hours_to_fix, riley.nudged_fixed_share, riley.adherence) == (3, 30.0, 0.5, 1 / 3)
    # Sam: the deleted deal's gap, opened and fixed in the window; F's gap keeps his one open deal off the process.
    assert figures[ids["sam"]] == Discipline(gaps_opened=1, hours_to_fix=(4.0,), open_deals=1, deals_with_gaps=1)
    assert figures[ids["sam"]].nudged_fixed_share is None
    assert figures[ids["quinn"]] == Discipline()
    assert (figures[ids["quinn"]].median_hours_to_fix, figures[ids["quinn"]].adherence) == (None, None)


def test_a_team_pools_its_reps_times_to_fix_for_the_median_and_adds_up_the_counts(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_history(session_factory, now)
    with session_factory() as session:
        team = combined(discipline_by_rep(session, list(ids.values()), now - 7 * DAY, now).values())
    assert team == Discipline(
        gaps_opened=5, hours_to_fix=(4.0, 10.0, 30.0, 50.0), nudged=4, nudged_fixed_in_two_days=2, open_deals=4, deals_with_gaps=3
    )
    assert (team.median_hours_to_fix, team.adherence) == (20.0, 0.25)


def test_five_hundred_reps_cost_a_few_queries_per_chunk_not_one_per_rep(session_factory, engine, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        reps = [Person(email=f"rep{n}@example.com", name=f"Rep {n}", is_rep=True) for n in range(500)]
        session.add_all(reps)
        session.flush()
        rep_ids = [rep.id for rep in reps]
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with session_factory() as session:
        figures = discipline_by_rep(session, rep_ids, now - 7 * DAY, now)
    assert len(figures) == 500 and set(figures.values()) == {Discipline()}
    # One chunk of 500 ids: the gaps' counts, their rows, the open deals' counts.
    assert len([sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]) == 3
