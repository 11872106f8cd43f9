"""The manager's weekly digest: the team's number and process side by side, what changed since
last week, who needs coaching attention and why.

`weekly_digest` decides it as values: the team comes from the one team read model
(bot/coaching/team.py, as `/teamperf` and the App Home read it), the week's changes from the
gaps opened and fixed. The delivery layer (bot/delivery/digests.py) draws its chart and queues it
under `digest:<manager>:<monday>`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from statistics import median
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select, union_all
from sqlalchemy.orm import Session

from bot.coaching.gaps import SnoozedGap, team_snoozes
from bot.coaching.notices import Notice
from bot.coaching.playbook import Playbook
from bot.coaching.team import TeamPerformance, TeamRow, reps_under, team_view
from bot.database import in_chunks
from bot.models import Deal, Person, ProcessGap


@dataclass(frozen=True)
class WeekChanges:
    gaps_fixed: int
    median_hours_to_fix: float | None
    gaps_opened: int
    nudged_then_fixed: int


@dataclass(frozen=True)
class Digest:
    manager_name: str
    week_of: dt.date
    team: TeamPerformance
    changes: WeekChanges
    snoozes: tuple[SnoozedGap, ...] = ()  # the team's active snoozes, with the rep's reason, soonest back first

    @property
    def rows(self) -> tuple[TeamRow, ...]:
        """The team's reps by name, as the digest's table lists them."""
        return tuple(sorted(self.team.rows, key=lambda row: (row.name, row.person_id)))

    @property
    def attention(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(name, reasons) of who needs coaching attention, most reasons first: who to talk to before Friday."""
        return tuple((row.name, row.attention) for row in self.team.needing_attention)


@dataclass(frozen=True, kw_only=True)
class WeeklyDigest(Notice):
    kind: ClassVar[str] = "digest"
    digest: Digest


def build_digest(
    session: Session, manager: Person, playbook: Playbook, now: dt.datetime, *, default_timezone: str,
    default_currency: str, fiscal_year_start_month: int = 1,
) -> Digest:  # fmt: skip
    """This week's digest for `manager`: their reps (direct and indirect) this quarter."""
    today = now.astimezone(ZoneInfo(manager.timezone or default_timezone)).date()
    reps = reps_under(session, manager)
    team = team_view(
        session, manager, reps, "quarter", now=now, playbook=playbook, default_timezone=default_timezone,
        default_currency=default_currency, fiscal_year_start_month=fiscal_year_start_month,
    )  # fmt: skip
    changes = _week_changes(session, [rep.id for rep in reps], now - dt.timedelta(days=7), now)
    snoozes = tuple(team_snoozes(session, manager.id, today))
    return Digest(manager.name, today - dt.timedelta(days=today.weekday()), team, changes, snoozes)


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


def _week_changes(session: Session, rep_ids: list[int], since: dt.datetime, now: dt.datetime) -> WeekChanges:
    """The team's gaps opened and fixed in (since, now], read so the cost follows the team's open
    deals and the week's fixes, not the years of closed deals and resolved gaps behind them."""
    if not rep_ids:
        return WeekChanges(0, None, 0, 0)
    opened_in_week = and_(ProcessGap.opened_at > since, ProcessGap.opened_at <= now)
    fixed_in_week = and_(ProcessGap.resolved_at > since, ProcessGap.resolved_at <= now)
    columns = (ProcessGap.opened_at, ProcessGap.resolved_at, ProcessGap.last_nudged_at)
    fixed: list[tuple[dt.datetime, dt.datetime, dt.datetime | None]] = []
    opened = 0
    for chunk in in_chunks(rep_ids):
        team = Deal.owner_id.in_(chunk)
        # The gaps of the team's open deals, reached through the open-pipeline index (the same terms).
        open_deals = (team, Deal.is_closed.is_(False), Deal.deleted_at.is_(None))
        # A deal that left the pipeline (won, lost, deleted) has its gaps resolved by the next gap scan,
        # so its gaps of this week were fixed this week: reached through the index on resolved_at.
        # (A gap still open on a deal that left in the hour since the last scan counts once resolved.)
        deals_gone = (fixed_in_week, team, or_(Deal.is_closed.is_(True), Deal.deleted_at.is_not(None)))
        week = union_all(
            _gaps(*columns).where(*open_deals, or_(opened_in_week, fixed_in_week)), _gaps(*columns).where(*deals_gone)
        ).subquery()
        fixed += [(opened_at, resolved, nudged_at) for opened_at, resolved, nudged_at in session.execute(
            select(week).where(week.c.resolved_at > since, week.c.resolved_at <= now)
        )]  # fmt: skip
        # Opened ones are counted, not read: the first scan of an org opens every gap in one week.
        opened += (
            session.scalar(select(func.count()).select_from(week).where(week.c.opened_at > since, week.c.opened_at <= now)) or 0
        )
    hours = [(resolved - opened_at).total_seconds() / 3600 for opened_at, resolved, _ in fixed]
    nudged = sum(1 for _, resolved, nudged_at in fixed if nudged_at is not None and nudged_at <= resolved)
    return WeekChanges(len(fixed), median(hours) if hours else None, opened, nudged)


def _gaps(*columns: Any) -> Select[Any]:
    return select(*columns).join(Deal, Deal.id == ProcessGap.deal_id)
