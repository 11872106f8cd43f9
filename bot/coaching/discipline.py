"""Process discipline per rep over a window [since, now): how the number is being built, week by week.

The figures, for each rep (and, summed with `combined`, for a team or an org):
- gaps opened: process gaps the gap scan opened on the rep's deals in the window;
- gaps fixed: gaps resolved in the window (a fix in the CRM, or the deal leaving the pipeline),
  each with its time to fix (resolved − opened), so the median is the median of those;
- nudged, fixed within two days: of the gaps whose latest nudge falls in [since − 2 days,
  now − 2 days) (so its two days end inside the window and each nudge is judged once, in the
  week its two days run out), the ones resolved within two days of that nudge. Gaps record only
  their latest nudge (`ProcessGap.last_nudged_at`, set by `bot.coaching.nudges.mark_nudged`): a
  gap nudged again is judged by its latest nudge;
- process adherence: open deals with no open gap ÷ open deals, now, as the team read model
  (bot/coaching/team.py) and `/myperf` count it.

Every figure is read for all reps at once, a few grouped queries per chunk of ids, never a query
per rep: an org of 500 reps costs what a team of 35 does, times fifteen chunks at most.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select, union_all
from sqlalchemy.orm import Session

from bot.coaching.scorecard import ratio
from bot.coaching.team import adherence_of, has_open_gap
from bot.database import in_chunks
from bot.models import Deal, ProcessGap

NUDGE_FIX_WINDOW = dt.timedelta(days=2)


@dataclass(frozen=True)
class Discipline:
    """One rep's (or, `combined`, a team's) process discipline over a window."""

    gaps_opened: int = 0
    # Hours from opened to resolved of each gap resolved in the window, shortest first.
    hours_to_fix: tuple[float, ...] = ()
    # Gaps whose latest nudge's two days ended in the window, and those fixed within those two days.
    nudged: int = 0
    nudged_fixed_in_two_days: int = 0
    # Now, not over the window: the adherence the team read model shows.
    open_deals: int = 0
    deals_with_gaps: int = 0

    @property
    def gaps_fixed(self) -> int:
        return len(self.hours_to_fix)

    @property
    def median_hours_to_fix(self) -> float | None:
        """The median time to fix, in hours, of the gaps fixed in the window; None when none were."""
        return median(self.hours_to_fix) if self.hours_to_fix else None

    @property
    def nudged_fixed_share(self) -> float | None:
        """Share of nudged gaps fixed within two days of the nudge; None when no nudge's two days ended."""
        return ratio(self.nudged_fixed_in_two_days, self.nudged)

    @property
    def adherence(self) -> float | None:
        """Open deals with no open gap ÷ open deals (bot.coaching.team.adherence_of); None with none open."""
        return adherence_of(self.open_deals, self.deals_with_gaps)


def combined(figures: Iterable[Discipline]) -> Discipline:
    """Several reps' figures as one: counts added, times to fix pooled (so the median is the team's)."""
    figures = list(figures)
    return Discipline(
        gaps_opened=sum(figure.gaps_opened for figure in figures),
        hours_to_fix=tuple(sorted(hours for figure in figures for hours in figure.hours_to_fix)),
        nudged=sum(figure.nudged for figure in figures),
        nudged_fixed_in_two_days=sum(figure.nudged_fixed_in_two_days for figure in figures),
        open_deals=sum(figure.open_deals for figure in figures),
        deals_with_gaps=sum(figure.deals_with_gaps for figure in figures),
    )


@dataclass
class _Tally:
    gaps_opened: int = 0
    nudged: int = 0
    nudged_fixed: int = 0
    open_deals: int = 0
    deals_with_gaps: int = 0

    def __post_init__(self) -> None:
        self.hours_to_fix: list[float] = []

    def figures(self) -> Discipline:
        return Discipline(self.gaps_opened, tuple(sorted(self.hours_to_fix)), self.nudged, self.nudged_fixed,
                          self.open_deals, self.deals_with_gaps)  # fmt: skip


def discipline_by_rep(session: Session, rep_ids: Sequence[int], since: dt.datetime, now: dt.datetime) -> dict[int, Discipline]:
    """Each rep's discipline over [since, now), by person id; every id in `rep_ids` has an entry."""
    tallies: dict[int, _Tally] = defaultdict(_Tally)
    nudged_since, nudged_before = since - NUDGE_FIX_WINDOW, now - NUDGE_FIX_WINDOW
    for chunk in in_chunks(sorted(set(rep_ids))):
        _read_gaps(session, chunk, since, now, nudged_since, nudged_before, tallies)
        _read_adherence(session, chunk, tallies)
    return {rep_id: tallies[rep_id].figures() for rep_id in rep_ids}


def _read_gaps(
    session: Session, owner_ids: list[int], since: dt.datetime, now: dt.datetime, nudged_since: dt.datetime,
    nudged_before: dt.datetime, tallies: dict[int, _Tally],
) -> None:  # fmt: skip
    opened = and_(ProcessGap.opened_at >= since, ProcessGap.opened_at < now)
    fixed = and_(ProcessGap.resolved_at >= since, ProcessGap.resolved_at < now)
    nudged = and_(ProcessGap.last_nudged_at >= nudged_since, ProcessGap.last_nudged_at < nudged_before)
    team = Deal.owner_id.in_(owner_ids)
    columns = (Deal.owner_id, ProcessGap.opened_at, ProcessGap.resolved_at, ProcessGap.last_nudged_at)
    # The gaps of the reps' open deals, reached through the open-pipeline index (the same terms).
    open_deals = (team, Deal.is_closed.is_(False), Deal.deleted_at.is_(None), or_(opened, fixed, nudged))
    # A deal that left the pipeline (won, lost, deleted) has its gaps resolved by the next gap scan, so
    # what matters of them here was resolved since the nudge window opened: reached through the index
    # on resolved_at. (A gap still open on a deal that left since the last scan counts once resolved.)
    deals_gone = (
        team, or_(Deal.is_closed.is_(True), Deal.deleted_at.is_not(None)),
        ProcessGap.resolved_at >= min(since, nudged_since), ProcessGap.resolved_at < now,
    )  # fmt: skip
    window = union_all(_gaps(*columns).where(*open_deals), _gaps(*columns).where(*deals_gone)).subquery()
    in_window = and_(window.c.opened_at >= since, window.c.opened_at < now)
    # Opened ones are counted, not read: the first scan of an org opens every gap in one week.
    counts = session.execute(select(window.c.owner_id, func.count(case((in_window, 1)))).group_by(window.c.owner_id))
    for owner_id, count in counts:
        tallies[owner_id].gaps_opened += count
    fixed_or_nudged = or_(
        and_(window.c.resolved_at >= since, window.c.resolved_at < now),
        and_(window.c.last_nudged_at >= nudged_since, window.c.last_nudged_at < nudged_before),
    )
    for owner_id, opened_at, resolved_at, nudged_at in session.execute(select(window).where(fixed_or_nudged)):
        tally = tallies[owner_id]
        if resolved_at is not None and since <= resolved_at < now:
            tally.hours_to_fix.append((resolved_at - opened_at).total_seconds() / 3600)
        if nudged_at is not None and nudged_since <= nudged_at < nudged_before:
            tally.nudged += 1
            if resolved_at is not None and nudged_at <= resolved_at <= nudged_at + NUDGE_FIX_WINDOW and resolved_at < now:
                tally.nudged_fixed += 1


def _read_adherence(session: Session, owner_ids: list[int], tallies: dict[int, _Tally]) -> None:
    counts = session.execute(
        select(Deal.owner_id, func.count(), func.count(case((has_open_gap(), 1))))
        .where(Deal.owner_id.in_(owner_ids), Deal.is_closed.is_(False), Deal.deleted_at.is_(None))
        .group_by(Deal.owner_id)
    )
    for owner_id, deals, with_gaps in counts:
        assert owner_id is not None  # read by owner_id IN (...)
        tallies[owner_id].open_deals += deals
        tallies[owner_id].deals_with_gaps += with_gaps


def _gaps(*columns: Any) -> Select[Any]:
    return select(*columns).join(Deal, Deal.id == ProcessGap.deal_id)
