"""The weekly digest: the team's number and process side by side, what changed since last week for
each rep, who needs coaching attention and why.

`weekly_digest` decides it as values: the team comes from the one team read model
(bot/coaching/team.py, as `/teamperf` and the App Home read it), each rep's week from their process
discipline (bot/coaching/discipline.py: gaps fixed and opened, median time to fix, nudged gaps fixed
within two days), the goals that closed or were set in the week, the week's plan check-in answers
and the active snoozes. A leader over several managers (bot/coaching/rollup.py) also gets each
team's roll-up. The delivery layer (bot/delivery/digests.py) draws its chart and queues it under
`digest:<manager>:<monday>`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from bot.coaching.discipline import Discipline, combined, discipline_by_rep
from bot.coaching.gaps import SnoozedGap, team_snoozes
from bot.coaching.notices import Notice
from bot.coaching.playbook import Playbook
from bot.coaching.rollup import TeamRollup, is_leader, rollups, team_heads
from bot.coaching.team import TeamPerformance, TeamRow, reps_under, team_view
from bot.database import in_chunks
from bot.models import Goal, GoalProgress, Person, PlanCheckin, RecoveryPlan

WEEK = dt.timedelta(days=7)


@dataclass(frozen=True)
class GoalMove:
    """A goal that moved in the week: `status` is "set", "moved" (an open goal's progress changed),
    "achieved" or "missed"; `progress_before` is its progress a week ago, where it is known."""

    competency: str
    description: str
    status: str
    progress: float
    progress_before: float | None = None


@dataclass(frozen=True)
class CheckinAnswer:
    """A recovery-plan check-in the rep answered in the week: on_track, at_risk or need_help."""

    answer: str
    note: str | None
    answered_at: dt.datetime


@dataclass(frozen=True)
class RepWeek:
    """One rep's week in the digest: their team row, process discipline and what else moved."""

    row: TeamRow
    discipline: Discipline
    goals: tuple[GoalMove, ...] = ()
    checkins: tuple[CheckinAnswer, ...] = ()
    snoozes: tuple[SnoozedGap, ...] = ()

    @property
    def person_id(self) -> int:
        return self.row.person_id

    @property
    def name(self) -> str:
        return self.row.name


@dataclass(frozen=True)
class Digest:
    manager_name: str
    week_of: dt.date
    team: TeamPerformance
    changes: Discipline  # the whole team's week
    snoozes: tuple[SnoozedGap, ...] = ()  # the team's active snoozes, with the rep's reason, soonest back first
    weeks: tuple[RepWeek, ...] = ()  # each rep's week, who needs attention first (the team's order)
    teams: tuple[TeamRollup, ...] = ()  # a leader's teams; empty for a manager of one team

    @property
    def rows(self) -> tuple[TeamRow, ...]:
        """The team's reps by name, as the digest's table lists them."""
        return tuple(sorted(self.team.rows, key=lambda row: (row.name, row.person_id)))

    @property
    def attention(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(name, reasons) of who needs coaching attention, most reasons first: who to talk to before Friday."""
        return tuple((row.name, row.attention) for row in self.team.needing_attention)

    @property
    def is_leader(self) -> bool:
        return bool(self.teams)

    @property
    def paused(self) -> tuple[TeamRow, ...]:
        """The reps who paused coachbot, by name: they get no nudges until the day after."""
        return tuple(row for row in self.rows if row.paused_until is not None)

    def team_of(self, person_id: int) -> str | None:
        """The name of the leader's team the rep is in; None in a manager's digest."""
        return next((team.name for team in self.teams for row in team.rows if row.person_id == person_id), None)


@dataclass(frozen=True, kw_only=True)
class WeeklyDigest(Notice):
    kind: ClassVar[str] = "digest"
    digest: Digest


def build_digest(
    session: Session, manager: Person, playbook: Playbook, now: dt.datetime, *, default_timezone: str,
    default_currency: str, fiscal_year_start_month: int = 1,
) -> Digest:  # fmt: skip
    """This week's digest for `manager`: their reps (direct and indirect) this quarter, and the week before `now`."""
    today = now.astimezone(ZoneInfo(manager.timezone or default_timezone)).date()
    since = now - WEEK
    reps = reps_under(session, manager)
    team = team_view(
        session, manager, reps, "quarter", now=now, playbook=playbook, default_timezone=default_timezone,
        default_currency=default_currency, fiscal_year_start_month=fiscal_year_start_month,
    )  # fmt: skip
    rep_ids = [rep.id for rep in reps]
    discipline = discipline_by_rep(session, rep_ids, since, now)
    snoozes = tuple(team_snoozes(session, manager.id, today))
    goals = _goal_moves(session, rep_ids, since, now)
    checkins = _checkin_answers(session, rep_ids, since, now)
    email_to_id = {rep.email: rep.id for rep in reps}
    snoozes_by_rep: dict[int, list[SnoozedGap]] = defaultdict(list)
    for snooze in snoozes:
        if snooze.rep_email in email_to_id:
            snoozes_by_rep[email_to_id[snooze.rep_email]].append(snooze)
    weeks = tuple(
        RepWeek(row, discipline[row.person_id], tuple(goals.get(row.person_id, ())), tuple(checkins.get(row.person_id, ())),
                tuple(snoozes_by_rep.get(row.person_id, ())))
        for row in team.rows
    )  # fmt: skip
    heads = team_heads(session, manager, rep_ids)
    teams = rollups(team.rows, heads, discipline, team.period, team.elapsed_share, default_currency) if is_leader(heads) else ()
    monday = today - dt.timedelta(days=today.weekday())
    return Digest(manager.name, monday, team, combined(discipline.values()), snoozes, weeks, teams)


def weekly_digest(
    session: Session, manager: Person, playbook: Playbook, now: dt.datetime, *, default_timezone: str,
    default_currency: str, fiscal_year_start_month: int = 1,
) -> WeeklyDigest | None:  # fmt: skip
    """This week's digest notice for `manager`, or None when they are not in Slack or have no reps."""
    if not manager.slack_user_id:
        return None
    digest = build_digest(
        session, manager, playbook, now, default_timezone=default_timezone, default_currency=default_currency,
        fiscal_year_start_month=fiscal_year_start_month,
    )  # fmt: skip
    if not digest.team.rows:
        return None
    return WeeklyDigest(key=f"digest:{manager.id}:{digest.week_of.isoformat()}", digest=digest)


def _goal_moves(session: Session, rep_ids: Sequence[int], since: dt.datetime, now: dt.datetime) -> dict[int, list[GoalMove]]:
    """Goals set, moved, achieved or missed in [since, now), per rep: set and closed ones in the order
    that happened, then the open ones whose progress moved (goal_progress: the mark in force at `since`)."""
    moves: dict[int, list[tuple[dt.datetime, GoalMove]]] = defaultdict(list)
    for chunk in in_chunks(list(rep_ids)):
        goals = list(
            session.scalars(
                select(Goal).where(
                    Goal.person_id.in_(chunk), or_(Goal.status == "open", Goal.created_at >= since, Goal.closed_at >= since)
                )
            )
        )
        before = _progress_before(session, [goal.id for goal in goals if goal.created_at < since], since)
        for goal in goals:
            was = before.get(goal.id)
            if since <= goal.created_at < now:
                moves[goal.person_id].append((goal.created_at, GoalMove(goal.competency, goal.description, "set", goal.progress)))
            elif goal.closed_at is not None and since <= goal.closed_at < now and goal.status in ("achieved", "missed"):
                moves[goal.person_id].append(
                    (goal.closed_at, GoalMove(goal.competency, goal.description, goal.status, goal.progress, was))
                )
            elif goal.status == "open" and was is not None and was != goal.progress:
                moves[goal.person_id].append((now, GoalMove(goal.competency, goal.description, "moved", goal.progress, was)))
    return {rep_id: [move for _, move in sorted(found, key=lambda pair: pair[0])] for rep_id, found in moves.items()}


def _progress_before(session: Session, goal_ids: list[int], since: dt.datetime) -> dict[int, float]:
    """Each goal's progress in force at `since`, as the leaderboard reads it (goals with no mark by then: left out)."""
    found: dict[int, float] = {}
    for chunk in in_chunks(goal_ids):
        latest = (
            select(GoalProgress.goal_id, func.max(GoalProgress.recorded_at).label("at"))
            .where(GoalProgress.goal_id.in_(chunk), GoalProgress.recorded_at <= since)
            .group_by(GoalProgress.goal_id)
            .subquery()
        )
        rows = session.execute(
            select(GoalProgress.goal_id, GoalProgress.progress).join(
                latest, and_(GoalProgress.goal_id == latest.c.goal_id, GoalProgress.recorded_at == latest.c.at)
            )
        )
        for goal_id, progress in rows:
            found[goal_id] = progress
    return found


def _checkin_answers(
    session: Session, rep_ids: Sequence[int], since: dt.datetime, now: dt.datetime
) -> dict[int, list[CheckinAnswer]]:
    """Recovery-plan check-ins answered in [since, now), per rep, oldest first."""
    answers: dict[int, list[CheckinAnswer]] = defaultdict(list)
    for chunk in in_chunks(list(rep_ids)):
        rows = session.execute(
            select(RecoveryPlan.person_id, PlanCheckin.answer, PlanCheckin.note, PlanCheckin.answered_at)
            .join(RecoveryPlan, RecoveryPlan.id == PlanCheckin.plan_id)
            .where(
                RecoveryPlan.person_id.in_(chunk),
                PlanCheckin.answer.is_not(None),
                PlanCheckin.answered_at >= since,
                PlanCheckin.answered_at < now,
            )
            .order_by(PlanCheckin.answered_at, PlanCheckin.id)
        )
        for person_id, answer, note, answered_at in rows:
            assert answer is not None and answered_at is not None  # read as answered, since `since`
            answers[person_id].append(CheckinAnswer(answer, note, answered_at))
    return answers
