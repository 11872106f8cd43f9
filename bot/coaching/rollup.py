"""A leader's org as teams: each team's effectiveness (the number) beside its efficiency (the process).

A leader is a manager with two managers or more under them who have reps of their own. Each rep
belongs to the team of the leader's direct report above them (their own manager for a manager's
direct reports); reps reporting to the leader directly form the leader's own team.

The figures of a team, from the team read model's rows (bot/coaching/team.py) and the week's
discipline (bot/coaching/discipline.py), never read again per team:
- effectiveness: attainment and projection (the team's sums, in its commonest quota currency, as
  `TeamTotals`), pace (attainment ÷ the share of the period gone), win rate (deals won ÷ closed,
  by count), sales cycle (mean days, creation to close, of the deals won), pipeline coverage
  (open pipeline closing in the period ÷ the gap to quota, over the reps the sums count);
- efficiency: process adherence (open deals with no open gap ÷ open deals), median time to fix
  (of the gaps fixed this week, pooled), nudges acted on (nudged gaps fixed within two days).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.access import MAX_CHAIN_DEPTH
from bot.coaching.discipline import Discipline, combined
from bot.coaching.scorecard import gap_to_quota, pace, ratio
from bot.coaching.team import TeamRow, TeamTotals, adherence_of, team_totals
from bot.database import in_chunks
from bot.models import Person
from bot.periods import Period

ZERO = Decimal(0)
OWN_TEAM = "your direct reps"


@dataclass(frozen=True)
class TeamRollup:
    """One team of a leader's org: its head (None: the leader's own direct reports) and its figures."""

    name: str
    head_id: int | None
    rows: tuple[TeamRow, ...]  # who needs attention first, as the team read model orders them
    totals: TeamTotals | None
    pace: float | None
    win_rate: float | None
    sales_cycle_days: float | None
    coverage: float | None
    discipline: Discipline

    @property
    def attainment(self) -> float | None:
        return None if self.totals is None else self.totals.attainment

    @property
    def projected_attainment(self) -> float | None:
        return None if self.totals is None else self.totals.projected_attainment

    @property
    def adherence(self) -> float | None:
        return adherence_of(sum(row.open_deals for row in self.rows), sum(row.deals_with_gaps for row in self.rows))

    @property
    def needing_attention(self) -> int:
        return sum(1 for row in self.rows if row.attention)


def team_heads(session: Session, leader: Person, rep_ids: Sequence[int]) -> dict[int, Person | None]:
    """Each rep's team under `leader`: the leader's direct report above them, or None for the leader's own
    direct reports (and anyone whose chain does not reach the leader). A read per level of the org chart
    (per 500 people), and one of the leader's direct reports."""
    parents: dict[int, int | None] = {}
    frontier = set(rep_ids)
    # Walk up a level at a time: an org chart is a few levels deep, so a few reads of a chunk each.
    for _ in range(MAX_CHAIN_DEPTH):
        frontier -= parents.keys()
        frontier.discard(leader.id)
        if not frontier:
            break
        for chunk in in_chunks(sorted(frontier)):
            for person_id, manager_id in session.execute(select(Person.id, Person.manager_id).where(Person.id.in_(chunk))):
                parents[person_id] = manager_id
        frontier = {parent for parent in parents.values() if parent is not None}
    directs = {person.id: person for person in session.scalars(select(Person).where(Person.manager_id == leader.id))}
    tops: dict[int, Person | None] = {}
    for rep_id in rep_ids:
        seen: set[int] = set()
        current: int | None = rep_id
        while current is not None and parents.get(current) != leader.id and current not in seen:
            seen.add(current)
            current = parents.get(current)
        tops[rep_id] = directs.get(current) if current is not None else None
    # A direct report heads a team when reps other than themselves are under them; a rep reporting
    # to the leader who manages nobody is on the leader's own team.
    managing = {top.id for rep_id, top in tops.items() if top is not None and top.id != rep_id}
    return {rep_id: top if top is not None and top.id in managing else None for rep_id, top in tops.items()}


def is_leader(heads: Mapping[int, Person | None]) -> bool:
    """A leader has teams under two managers of their own or more (over one, the digest is that team's)."""
    return len({head.id for head in heads.values() if head is not None}) >= 2


def rollups(
    rows: Sequence[TeamRow], heads: Mapping[int, Person | None], discipline: Mapping[int, Discipline], period: Period,
    elapsed_share: float, default_currency: str,
) -> tuple[TeamRollup, ...]:  # fmt: skip
    """The teams of the rows by head, by the head's name, the leader's own direct reports last."""
    by_head: dict[int | None, list[TeamRow]] = defaultdict(list)
    names: dict[int | None, str] = {None: OWN_TEAM}
    for row in rows:
        head = heads.get(row.person_id)
        by_head[head.id if head else None].append(row)
        if head is not None:
            names[head.id] = head.name
    teams = [
        _rollup(names[head_id], head_id, team_rows, discipline, period, elapsed_share, default_currency)
        for head_id, team_rows in by_head.items()
    ]
    return tuple(sorted(teams, key=lambda team: (team.head_id is None, team.name, team.head_id or 0)))


def _rollup(
    name: str, head_id: int | None, rows: list[TeamRow], discipline: Mapping[int, Discipline], period: Period,
    elapsed_share: float, default_currency: str,
) -> TeamRollup:  # fmt: skip
    totals = team_totals(rows, default_currency)
    won = [row for row in rows if row.won_deals and row.sales_cycle_days is not None]
    counted = [] if totals is None else [row for row in rows if row.quota is not None and row.currency == totals.currency]
    gap = sum((gap_to_quota(row.quota, row.won_amount) or ZERO for row in counted), ZERO)
    pipeline = sum((row.pipeline_in_period for row in counted), ZERO)
    return TeamRollup(
        name=name,
        head_id=head_id,
        rows=tuple(rows),
        totals=totals,
        pace=None if totals is None else pace(totals.attainment, elapsed_share, period.days),
        win_rate=ratio(sum(row.won_deals for row in rows), sum(row.closed_deals for row in rows)),
        sales_cycle_days=ratio(
            sum((row.sales_cycle_days or 0) * row.won_deals for row in won), sum(row.won_deals for row in won)
        ),
        coverage=None if totals is None else ratio(pipeline, gap),
        discipline=combined(discipline[row.person_id] for row in rows if row.person_id in discipline),
    )
