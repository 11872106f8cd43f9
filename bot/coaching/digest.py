"""The manager's weekly digest: the team's number and process side by side, what changed since
last week, who needs coaching attention and why, and a chart."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from statistics import median
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.access import people_under
from bot.blocks import to_dicts
from bot.blocks.digest import digest_blocks, digest_text
from bot.charts import team_attainment_chart
from bot.coaching.playbook import Playbook
from bot.coaching.service import scorecard_for
from bot.messaging.outbox import enqueue
from bot.models import Action, Deal, Goal, Person, ProcessGap, RecoveryPlan


@dataclass(frozen=True)
class TeamRow:
    name: str
    attainment: float | None
    pace: float | None
    projected: float | None
    adherence: float | None
    goals_open: int
    goals_progress: float | None
    overdue_actions: int
    plan: str | None
    attention: tuple[str, ...]


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
    period_label: str
    elapsed_share: float
    rows: tuple[TeamRow, ...]
    changes: WeekChanges
    attention: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())


def team_of(session: Session, manager_id: int) -> list[Person]:
    """The active reps under a manager, direct and indirect, by name."""
    ids = people_under(session, manager_id)
    reps = session.scalars(select(Person).where(Person.id.in_(ids), Person.is_rep, Person.active.is_(True))) if ids else []
    return sorted(reps, key=lambda person: person.name)


def attention_reasons(row_pace: float | None, projected: float | None, adherence: float | None, overdue: int, plan: str | None) -> tuple[str, ...]:
    """Why a rep needs coaching attention this week (empty: they do not)."""
    reasons = []
    if projected is not None and projected < 0.8:
        reasons.append(f"projected {projected:.0%} of quota")
    if row_pace is not None and row_pace < 0.8:
        reasons.append(f"pace {row_pace:.0%}")
    if adherence is not None and adherence < 0.6:
        reasons.append(f"only {adherence:.0%} of open deals follow the process")
    if overdue:
        reasons.append(f"{overdue} overdue action{'s' if overdue != 1 else ''}")
    if plan == "proposed":
        reasons.append("a recovery plan waits for you to open it")
    return tuple(reasons)


def build_digest(
    session: Session, manager: Person, playbook: Playbook, now: dt.datetime, *, default_timezone: str,
    default_currency: str, fiscal_year_start_month: int = 1,
) -> Digest:  # fmt: skip
    tz = ZoneInfo(manager.timezone or default_timezone)
    today = now.astimezone(tz).date()
    week_ago = now - dt.timedelta(days=7)
    rows = []
    period_label, elapsed = "", 0.0
    team = team_of(session, manager.id)
    for rep in team:
        card = scorecard_for(
            session, rep, "quarter", now=now, playbook=playbook, default_timezone=default_timezone,
            default_currency=default_currency, fiscal_year_start_month=fiscal_year_start_month,
        )  # fmt: skip
        period_label, elapsed = card.period.label, card.elapsed_share
        goals = session.scalars(select(Goal.progress).where(Goal.person_id == rep.id, Goal.status == "open")).all()
        overdue = session.scalar(
            select(func.count()).select_from(Action).where(Action.person_id == rep.id, Action.status == "open", Action.due_date < today)
        ) or 0
        plan = session.scalar(
            select(RecoveryPlan.status).where(RecoveryPlan.person_id == rep.id, RecoveryPlan.status.in_(("proposed", "open")))
        )
        rows.append(
            TeamRow(
                name=rep.name, attainment=card.attainment, pace=card.pace, projected=card.projected_attainment,
                adherence=card.adherence, goals_open=len(goals), goals_progress=(sum(goals) / len(goals)) if goals else None,
                overdue_actions=overdue, plan=plan,
                attention=attention_reasons(card.pace, card.projected_attainment, card.adherence, overdue, plan),
            )  # fmt: skip
        )
    changes = _week_changes(session, [rep.id for rep in team], week_ago, now)
    # Most reasons first: who to talk to before Friday.
    attention = tuple((row.name, row.attention) for row in sorted(rows, key=lambda r: (-len(r.attention), r.name)) if row.attention)
    return Digest(manager.name, today - dt.timedelta(days=today.weekday()), period_label, elapsed, tuple(rows), changes, attention)


def _week_changes(session: Session, rep_ids: list[int], since: dt.datetime, now: dt.datetime) -> WeekChanges:
    if not rep_ids:
        return WeekChanges(0, None, 0, 0)
    team_gaps = select(ProcessGap).join(Deal, Deal.id == ProcessGap.deal_id).where(Deal.owner_id.in_(rep_ids))
    fixed = session.execute(
        team_gaps.with_only_columns(ProcessGap.opened_at, ProcessGap.resolved_at, ProcessGap.last_nudged_at).where(
            ProcessGap.resolved_at > since, ProcessGap.resolved_at <= now
        )
    ).all()
    opened = session.scalar(
        team_gaps.with_only_columns(func.count()).where(ProcessGap.opened_at > since, ProcessGap.opened_at <= now)
    )
    hours = [(resolved - opened_at).total_seconds() / 3600 for opened_at, resolved, _ in fixed]
    nudged = sum(1 for _, resolved, nudged_at in fixed if nudged_at is not None and nudged_at <= resolved)
    return WeekChanges(len(fixed), median(hours) if hours else None, opened or 0, nudged)


def queue_weekly_digest(
    session: Session, manager: Person, playbook: Playbook, now: dt.datetime, *, default_timezone: str,
    default_currency: str, fiscal_year_start_month: int = 1,
) -> bool:  # fmt: skip
    """Queue this week's digest for `manager` (key digest:<manager>:<monday>); True if queued."""
    if not manager.slack_user_id:
        return False
    digest = build_digest(
        session, manager, playbook, now, default_timezone=default_timezone, default_currency=default_currency,
        fiscal_year_start_month=fiscal_year_start_month,
    )  # fmt: skip
    if not digest.rows:
        return False
    charted = [row for row in digest.rows if row.attainment is not None][:40]
    chart = team_attainment_chart(
        [row.name for row in charted], [row.attainment or 0 for row in charted], [row.projected or 0 for row in charted],
        digest.elapsed_share, f"{digest.period_label}: attainment and projection",
    )  # fmt: skip
    return enqueue(
        session,
        key=f"digest:{manager.id}:{digest.week_of.isoformat()}",
        recipient=manager.slack_user_id,
        kind="digest",
        text=digest_text(digest),
        blocks=to_dicts(digest_blocks(digest)),
        now=now,
        extra={"chart": {"filename": f"team-{digest.week_of.isoformat()}.png", "title": f"Team, week of {digest.week_of:%b %d}",
                         "png_base64": base64.b64encode(chart).decode()}},  # fmt: skip
    )
