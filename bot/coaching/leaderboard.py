"""The weekly discipline leaderboard: a team's reps ranked by how they work, not by what they sold.

A team opts in with the playbook's `leaderboard` section (`teams.<manager email>.leaderboard`);
its board ranks the active reps under that manager (direct and indirect) over the 7 days up to
the moment it is made, on three measures:

| measure           | value                                                                  | better |
|-------------------|------------------------------------------------------------------------|--------|
| process adherence | open deals with no open gap ÷ open deals, now                          | higher |
| time to fix       | median hours from opening to fix of the gaps fixed in the week         | lower  |
| goals moved       | Σ over the rep's goals open in the week of (progress at its end − at   | higher |
|                   | its start), from goal_progress; a goal set in the week starts where it |        |
|                   | was set, so only movement counts                                       |        |

The week is [now − 7 days, now). Adherence and time to fix are bot/coaching/discipline.py's, as the
digest reads them (a gap on a deal that left the pipeline counts as fixed when the scan resolves it).

**The ranking rule.** On each measure every rep with a value gets a place: 1 + the number of
reps strictly better, compared as the board shows them (whole percents, whole hours, whole
points), so equals share a place. A rep's score is the average of their places on the measures
they have a value for: a measure with nothing to measure (no open deals, no gap fixed in the
week, no goal) neither helps nor hurts. Lower scores rank first; equal scores are split by
adherence, then time to fix, then goals moved; reps equal on all of that share a rank ("=2").
A rep with no value on any measure is not ranked ("nothing to rank yet") and not counted in the
"of N". Names order reps who share a rank.

**Money.** Attainment and closed-won (this quarter, the team read model's) are read, carried and
shown only when the team's `show_money` is true, and never used to rank.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.access import manager_chain
from bot.coaching.discipline import discipline_by_rep
from bot.coaching.notices import Notice
from bot.coaching.playbook import LeaderboardSettings, Playbook
from bot.coaching.team import reps_under, team_rows
from bot.database import in_chunks
from bot.models import Goal, GoalProgress, Person

WEEK = dt.timedelta(days=7)


@dataclass(frozen=True)
class Money:
    """A rep's number this quarter, carried only when the team's board may show money."""

    attainment: float | None
    won_amount: Decimal
    currency: str


@dataclass(frozen=True)
class RepDiscipline:
    """One rep's figures over the board's week (None: nothing to measure)."""

    person_id: int
    name: str
    adherence: float | None = None
    median_hours_to_fix: float | None = None
    gaps_fixed: int = 0
    goals_moved: float | None = None  # progress points as a share: 0.25 is 25 points
    money: Money | None = None


# How each measure is compared: its value as the board shows it, signed so that smaller is better.
_MEASURES: tuple[Callable[[RepDiscipline], float | None], ...] = (
    lambda rep: None if rep.adherence is None else -round(rep.adherence * 100),
    lambda rep: None if rep.median_hours_to_fix is None else round(rep.median_hours_to_fix),
    lambda rep: None if rep.goals_moved is None else -round(rep.goals_moved * 100),
)
_LAST = float("inf")


@dataclass(frozen=True)
class Standing:
    rep: RepDiscipline
    rank: int | None  # None: nothing to rank on
    tied: bool = False
    score: float | None = None  # the average of the rep's places


@dataclass(frozen=True)
class Leaderboard:
    team_name: str  # the manager's
    since: dt.datetime
    until: dt.datetime
    until_day: dt.date  # `until` on the manager's calendar
    week_of: dt.date  # the Monday of that day's week
    standings: tuple[Standing, ...]  # ranked best first, then the unranked by name
    top: int
    show_money: bool

    @property
    def ranked(self) -> tuple[Standing, ...]:
        return tuple(standing for standing in self.standings if standing.rank is not None)

    @property
    def unranked(self) -> tuple[Standing, ...]:
        return tuple(standing for standing in self.standings if standing.rank is None)

    def standing_of(self, person_id: int) -> Standing | None:
        return next((standing for standing in self.standings if standing.rep.person_id == person_id), None)


@dataclass(frozen=True, kw_only=True)
class LeaderboardNotice(Notice):
    """This week's board, for a channel or for the manager right after their digest."""

    kind: ClassVar[str] = "leaderboard"
    board: Leaderboard


@dataclass(frozen=True)
class MyRank:
    """A rep's own place on their team's board, for their eyes only (no one else's name)."""

    standing: Standing
    of: int  # reps ranked


def rank_reps(reps: Sequence[RepDiscipline]) -> tuple[Standing, ...]:
    """Standings by the module's ranking rule: ranked best first, then the unranked by name."""
    places: dict[int, list[int]] = defaultdict(list)
    for measure in _MEASURES:
        values = [(rep.person_id, value) for rep in reps if (value := measure(rep)) is not None]
        for person_id, value in values:
            places[person_id].append(1 + sum(other < value for _, other in values))

    def order(rep: RepDiscipline) -> tuple[float, ...]:
        score = sum(places[rep.person_id]) / len(places[rep.person_id])
        return (score, *(_LAST if (value := measure(rep)) is None else value for measure in _MEASURES))

    ranked = sorted((rep for rep in reps if places[rep.person_id]), key=lambda rep: (order(rep), rep.name, rep.person_id))
    keys = [order(rep) for rep in ranked]
    standings = [
        Standing(rep, keys.index(key) + 1, tied=keys.count(key) > 1, score=key[0]) for rep, key in zip(ranked, keys, strict=True)
    ]
    unranked = sorted((rep for rep in reps if not places[rep.person_id]), key=lambda rep: (rep.name, rep.person_id))
    return (*standings, *(Standing(rep, None) for rep in unranked))


def team_leaderboard(
    session: Session, manager: Person, playbook: Playbook, now: dt.datetime, *, default_timezone: str,
    default_currency: str, fiscal_year_start_month: int = 1,
) -> Leaderboard | None:  # fmt: skip
    """The board of the team under `manager` over the 7 days up to `now`; None when the team has not
    opted in (`leaderboard.enabled`) or has no active reps."""
    settings = playbook.leaderboard_for(manager.email)
    if not settings.enabled:
        return None
    reps = reps_under(session, manager)
    if not reps:
        return None
    figures = discipline_figures(
        session, reps, playbook, now, settings, default_timezone=default_timezone, default_currency=default_currency,
        fiscal_year_start_month=fiscal_year_start_month,
    )  # fmt: skip
    today = now.astimezone(ZoneInfo(manager.timezone or default_timezone)).date()
    return Leaderboard(
        team_name=manager.name, since=now - WEEK, until=now, until_day=today, week_of=today - dt.timedelta(days=today.weekday()),
        standings=rank_reps(figures), top=settings.top, show_money=settings.show_money,
    )  # fmt: skip


def leaderboard_notice(board: Leaderboard, manager: Person) -> LeaderboardNotice:
    """The notice of `manager`'s team board, keyed once per team and week."""
    return LeaderboardNotice(key=f"leaderboard:{manager.id}:{board.week_of.isoformat()}", board=board)


def my_rank(
    session: Session, rep: Person, playbook: Playbook, now: dt.datetime, *, default_timezone: str, default_currency: str,
    fiscal_year_start_month: int = 1,
) -> MyRank | None:  # fmt: skip
    """`rep`'s place on the board of their nearest manager whose team has opted in; None when no team of theirs has."""
    if not rep.is_rep or not playbook.has_leaderboards:
        return None  # no board anywhere: /myperf reads nothing more
    for manager_id in manager_chain(session, rep):
        manager = session.get(Person, manager_id)
        if manager is None or not manager.active or not playbook.leaderboard_for(manager.email).enabled:
            continue
        board = team_leaderboard(
            session, manager, playbook, now, default_timezone=default_timezone, default_currency=default_currency,
            fiscal_year_start_month=fiscal_year_start_month,
        )  # fmt: skip
        standing = board.standing_of(rep.id) if board is not None else None
        return None if board is None or standing is None else MyRank(standing, len(board.ranked))
    return None


def discipline_figures(
    session: Session, reps: Sequence[Person], playbook: Playbook, now: dt.datetime, settings: LeaderboardSettings, *,
    default_timezone: str, default_currency: str, fiscal_year_start_month: int = 1,
) -> list[RepDiscipline]:  # fmt: skip
    """Each rep's figures over the 7 days up to `now`, read for the whole team at once."""
    since = now - WEEK
    rep_ids = [rep.id for rep in reps]
    # Adherence and time to fix as the digest reads them (bot/coaching/discipline.py).
    discipline = discipline_by_rep(session, rep_ids, since, now)
    moved = goals_moved(session, rep_ids, since, now)
    money: dict[int, Money] = {}
    if settings.show_money:
        # The team read model's number, so the board agrees with /myperf and the digest.
        rows = team_rows(
            session, reps, "quarter", now=now, playbook=playbook, default_timezone=default_timezone,
            default_currency=default_currency, fiscal_year_start_month=fiscal_year_start_month,
        )  # fmt: skip
        money = {row.person_id: Money(row.attainment, row.won_amount, row.currency) for row in rows}
    return [
        RepDiscipline(
            person_id=rep.id,
            name=rep.name,
            adherence=discipline[rep.id].adherence,
            median_hours_to_fix=discipline[rep.id].median_hours_to_fix,
            gaps_fixed=discipline[rep.id].gaps_fixed,
            goals_moved=moved.get(rep.id),
            money=money.get(rep.id),
        )  # fmt: skip
        for rep in reps
    ]


def goals_moved(session: Session, rep_ids: Sequence[int], since: dt.datetime, now: dt.datetime) -> dict[int, float]:
    """Per rep with a goal open at some time in [since, now): Σ of each such goal's progress just before
    `now` minus its progress at `since` (or where it was set, when set later), read from goal_progress."""
    moved: dict[int, float] = {}
    for chunk in in_chunks(list(rep_ids)):
        goals = dict(
            session.execute(
                select(Goal.id, Goal.person_id).where(
                    Goal.person_id.in_(chunk), Goal.created_at < now, or_(Goal.closed_at.is_(None), Goal.closed_at >= since)
                )
            ).all()
        )
        start: dict[int, float] = {}
        end: dict[int, float] = {}
        for goal_ids in in_chunks(list(goals)):
            marks = session.execute(
                select(GoalProgress.goal_id, GoalProgress.recorded_at, GoalProgress.progress)
                .where(GoalProgress.goal_id.in_(goal_ids), GoalProgress.recorded_at < now)
                .order_by(GoalProgress.goal_id, GoalProgress.recorded_at, GoalProgress.id)
            )
            for goal_id, recorded_at, progress in marks:
                # The mark in force at `since`, else the first one after it (where the goal was set).
                if recorded_at <= since or goal_id not in start:
                    start[goal_id] = progress
                end[goal_id] = progress
        for goal_id, person_id in goals.items():
            moved[person_id] = moved.get(person_id, 0.0) + end.get(goal_id, 0.0) - start.get(goal_id, 0.0)
    return moved
