"""Recovery plans: proposed to the manager when a rep falls behind, opened by them, checked, closed.

One plan per rep per quarter (the fiscal quarter, read in the rep's time zone):
1. `plans_to_propose` finds reps projected below `projected_below` of quota with at least
   `min_period_left` of the quarter to go and no plan for it yet, and asks the rep's manager,
   never the rep: a plan row in status "proposed" keeps the numbers the manager was shown, and
   the question (Open a recovery plan / Not now) is queued under plan_proposal:<rep>:<quarter start>.
2. The manager opens it with weekly commitments (`open_plan`, which tells the rep, key
   plan_opened:<plan>) or says "Not now" (`decline_plan`: cancelled, and not asked again this quarter).
3. `due_checkins` asks the rep every `checkin_every_days` days at the same wall-clock time where
   they are (09:00 unless told otherwise), across DST changes; key checkin:<plan>:<local date>.
   `answer_checkin` records the answer and tells the manager (key checkin_answer:<check-in>).
4. `close_finished_plans` closes a plan as "recovered" once the rep projects at or above quota or
   has won it, or as "missed" when the quarter ends short, and keeps the outcome in words
   (keys plan_closed:<plan>:rep and plan_closed:<plan>:manager). Proposals nobody answered
   before the quarter ended are cancelled quietly.

The money a plan holds (`shortfall`):
    gap_amount      = quota − closed-won                              (the scorecard's gap)
    conversion      = stage-weighted open pipeline closing this quarter ÷ that pipeline's amount
                      (the rate the playbook expects the rep's own pipeline to convert at)
    pipeline_to_add = max(gap ÷ conversion − open pipeline closing this quarter, 0)
                    = max((quota − projected) ÷ conversion, 0)
i.e. the new pipeline that, converting like the rep's current pipeline, closes the gap. With no
open pipeline in the quarter there is no playbook rate; the rep's win rate by value this quarter
stands in, then `fallback_conversion`.

`period_end` on a plan is the quarter's last day (inclusive), as people read it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.access import audit
from bot.coaching.actions import clean_text, local_now
from bot.coaching.errors import (
    InvalidInput,
    NotAllowed,
    NotFound,
    WrongState,
    require_manager,
)
from bot.coaching.notices import (
    CheckinAnswered,
    Notices,
    PlanCheckinAsked,
    PlanClosed,
    PlanOpened,
    PlanProposal,
    reachable,
)
from bot.coaching.playbook import Playbook
from bot.coaching.scorecard import Scorecard
from bot.coaching.service import scorecard_for
from bot.coaching.words import money, percent
from bot.dml import rows_affected
from bot.models import Action, Person, PlanCheckin, RecoveryPlan
from bot.periods import period_containing

log = logging.getLogger(__name__)

ANSWERS = ("on_track", "at_risk", "need_help")
CHECKIN_TIME = dt.time(9, 0)
MAX_COMMITMENTS = 10
MAX_COMMITMENT_TEXT = 300
MAX_NOTE = 2000
CENT = Decimal("0.01")
# The rate a plan assumes when the rep has neither open pipeline nor wins to read one from.
FALLBACK_CONVERSION = 0.25


@dataclass(frozen=True)
class Shortfall:
    """What a rep must still close, and how much new pipeline that takes."""

    gap: Decimal
    pipeline_to_add: Decimal
    conversion: float


def needs_recovery(card: Scorecard, *, projected_below: float, min_period_left: float) -> bool:
    """Projected under `projected_below` of quota with at least `min_period_left` of the period to go."""
    if card.projected_attainment is None:
        return False  # no quota, nothing to recover towards
    return card.projected_attainment < projected_below and 1 - card.elapsed_share >= min_period_left


def shortfall(card: Scorecard, *, fallback_conversion: float) -> Shortfall:
    """The gap and the pipeline to add (formulas in the module docstring). Needs a quota."""
    assert card.quota is not None and card.gap_to_quota is not None
    weighted = card.projected_amount - card.won_amount
    if card.pipeline_in_period > 0 and weighted > 0:
        conversion = float(weighted / card.pipeline_in_period)
    else:
        conversion = card.win_rate_by_value or fallback_conversion
    needed = card.gap_to_quota / Decimal(str(conversion)) - card.pipeline_in_period
    to_add = max(needed, Decimal(0)).quantize(CENT, rounding=ROUND_CEILING)
    return Shortfall(card.gap_to_quota, to_add, conversion)


def plans_to_propose(
    session: Session,
    notices: Notices,
    now: dt.datetime,
    *,
    playbook: Playbook,
    default_timezone: str,
    default_currency: str,
    fiscal_year_start_month: int = 1,
    projected_below: float = 0.8,
    min_period_left: float = 0.25,
    checkin_every_days: int = 7,
    fallback_conversion: float = FALLBACK_CONVERSION,
) -> int:
    """Ask each falling-behind rep's manager whether to open a recovery plan; the number asked.

    A rep is asked about at most once a quarter: any plan for the quarter (proposed, open,
    declined or closed) stops a new proposal.
    """
    reps = session.scalars(
        select(Person).where(Person.is_rep.is_(True), Person.active.is_(True), Person.manager_id.is_not(None)).order_by(Person.id)
    ).all()
    asked = 0
    for rep in reps:
        # The quarter's plan, if any, first: this runs every hour, and a scorecard is the costly part.
        # Run from one process at a time (the hourly housekeeping slot is claimed in job_runs):
        # recovery_plans has no unique (person, quarter) to stop a concurrent run adding a second
        # proposed row, though the outbox key would still stop a second question.
        quarter = period_containing("quarter", now, rep.timezone or default_timezone, fiscal_year_start_month)
        planned = select(RecoveryPlan.id).where(RecoveryPlan.person_id == rep.id, RecoveryPlan.period_start == quarter.start)
        if session.scalar(planned.limit(1)) is not None:
            continue
        card = scorecard_for(
            session, rep, "quarter", now=now, playbook=playbook, default_timezone=default_timezone,
            default_currency=default_currency, fiscal_year_start_month=fiscal_year_start_month,
        )  # fmt: skip
        if not needs_recovery(card, projected_below=projected_below, min_period_left=min_period_left):
            continue
        manager = session.get(Person, rep.manager_id)
        key = f"plan_proposal:{rep.id}:{card.period.start.isoformat()}"
        if not reachable(manager, "plan_proposal", key):
            continue  # no plan row either: a proposal nobody can see would block the quarter
        assert manager is not None and card.quota is not None and card.projected_attainment is not None
        needed = shortfall(card, fallback_conversion=fallback_conversion)
        plan = _proposed_plan(session, rep, manager, card, needed, checkin_every_days, now)
        proposal = PlanProposal(
            key=key, plan_id=plan.id, rep_name=rep.name, period_label=card.period.label, projected=card.projected_attainment,
            period_left=1 - card.elapsed_share, quota=card.quota, won=card.won_amount, gap=needed.gap,
            pipeline_to_add=needed.pipeline_to_add, conversion=needed.conversion, currency=card.currency,
        )  # fmt: skip
        asked += notices.tell(manager, proposal)
    return asked


def propose_plan(
    session: Session, rep: Person, manager: Person, now: dt.datetime, *, playbook: Playbook, default_timezone: str,
    default_currency: str, fiscal_year_start_month: int = 1, fallback_conversion: float = FALLBACK_CONVERSION,
) -> RecoveryPlan:  # fmt: skip
    """The plan for `rep`'s quarter that the manager asked for (`/coach plan`): the one already
    proposed, or a new proposal; WrongState when the quarter's plan is open or closed, or there is
    nothing to recover."""
    require_manager(session, manager, rep, "open a recovery plan for them")
    card = scorecard_for(
        session, rep, "quarter", now=now, playbook=playbook, default_timezone=default_timezone,
        default_currency=default_currency, fiscal_year_start_month=fiscal_year_start_month,
    )  # fmt: skip
    latest = session.scalars(
        select(RecoveryPlan)
        .where(RecoveryPlan.person_id == rep.id, RecoveryPlan.period_start == card.period.start)
        .order_by(RecoveryPlan.id.desc())
    ).first()
    if latest is not None and latest.status == "open":
        raise WrongState(
            f"{rep.name}'s recovery plan for {card.period.label} is already open; its check-ins tell you how it goes."
        )
    if latest is not None and latest.status in ("recovered", "missed"):
        raise WrongState(f"{rep.name}'s recovery plan for {card.period.label} is already closed ({latest.status}).")
    if latest is not None and latest.status == "proposed":
        return latest
    # None yet, or a "Not now" the manager has thought better of: propose it as the projection would.
    if card.quota is None or card.gap_to_quota is None:
        raise WrongState(f"{rep.name} has no quota for {card.period.label}, so a recovery plan would have no gap to close.")
    if card.gap_to_quota <= 0:
        raise WrongState(f"{rep.name} has already made quota for {card.period.label}.")
    needed = shortfall(card, fallback_conversion=fallback_conversion)
    plan = _proposed_plan(session, rep, manager, card, needed, playbook.recovery.checkin_every_days, now)
    audit(session, manager, "propose_plan", now, subject=rep, detail={"plan_id": plan.id})
    return plan


def _proposed_plan(
    session: Session, rep: Person, manager: Person, card: Scorecard, needed: Shortfall, checkin_every_days: int, now: dt.datetime
) -> RecoveryPlan:
    plan = RecoveryPlan(
        person_id=rep.id, manager_id=manager.id, period_start=card.period.start, period_end=card.period.end - dt.timedelta(days=1),
        gap_amount=needed.gap, pipeline_to_add=needed.pipeline_to_add, currency=card.currency,
        checkin_every_days=checkin_every_days, status="proposed", opened_at=now,
    )  # fmt: skip
    session.add(plan)
    session.flush()
    return plan


def _plan_and_rep(session: Session, plan_id: int) -> tuple[RecoveryPlan, Person]:
    plan = session.get(RecoveryPlan, plan_id)
    if plan is None:
        raise NotFound("That recovery plan no longer exists.")
    rep = session.get(Person, plan.person_id)
    assert rep is not None  # plans are deleted with their rep
    return plan, rep


def clean_commitments(commitments: list[str]) -> list[str]:
    """Commitments as typed, one a line: blank lines and leading bullets dropped."""
    cleaned = [line.strip().lstrip("-•*").strip() for line in commitments]
    cleaned = [line for line in cleaned if line]
    if not cleaned:
        raise InvalidInput("Add at least one weekly commitment, e.g. “15 prospecting calls a week”.")
    if len(cleaned) > MAX_COMMITMENTS:
        raise InvalidInput(f"That is {len(cleaned)} commitments; a plan works best with a few, at most {MAX_COMMITMENTS}.")
    return [clean_text(line, "commitment", MAX_COMMITMENT_TEXT) for line in cleaned]


def open_plan(
    session: Session,
    notices: Notices,
    plan_id: int,
    manager: Person,
    weekly_commitments: list[str],
    checkin_every_days: int,
    now: dt.datetime,
    *,
    checkin_time: dt.time = CHECKIN_TIME,
    default_timezone: str = "UTC",
) -> RecoveryPlan:
    """Open a proposed plan: the commitments become the rep's actions, check-ins are scheduled, the rep is told."""
    plan, rep = _plan_and_rep(session, plan_id)
    require_manager(session, manager, rep, "open a recovery plan for them")
    if plan.status != "proposed":
        raise WrongState(f"This recovery plan is already {plan.status}.")
    zone = ZoneInfo(rep.timezone or default_timezone)
    today = now.astimezone(zone).date()
    if today > plan.period_end:
        raise WrongState("The quarter this plan was for has ended.")
    commitments = clean_commitments(weekly_commitments)
    if not 1 <= checkin_every_days <= 28:
        raise InvalidInput("Check in every 1 to 28 days.")
    first_day = today + dt.timedelta(days=checkin_every_days)
    first_checkin = None if first_day > plan.period_end else dt.datetime.combine(first_day, checkin_time, zone).astimezone(dt.UTC)
    opened = rows_affected(
        session,
        update(RecoveryPlan)
        .where(RecoveryPlan.id == plan.id, RecoveryPlan.status == "proposed")
        .values(
            status="open",
            manager_id=manager.id,
            opened_at=now,
            checkin_every_days=checkin_every_days,
            next_checkin_at=first_checkin,
        ),
    )
    if opened != 1:
        raise WrongState("Someone opened or declined this recovery plan a moment ago.")
    # Commitments are weekly habits, not one-off tasks: no due date, so nothing escalates them;
    # the check-ins are their rhythm, and they close with the plan.
    session.add_all(
        Action(
            person_id=rep.id, assigned_by_id=manager.id, text=text, due_date=None, plan_id=plan.id, status="open", created_at=now
        )
        for text in commitments
    )
    session.flush()
    opened_notice = PlanOpened(
        key=f"plan_opened:{plan.id}", manager_name=manager.name, period_end=plan.period_end, gap=plan.gap_amount, pipeline_to_add=plan.pipeline_to_add,
        currency=plan.currency, commitments=commitments, checkin_every_days=checkin_every_days,
        first_checkin=first_checkin.astimezone(zone).date() if first_checkin else None,
    )  # fmt: skip
    notices.tell(rep, opened_notice)
    audit(session, manager, "open_plan", now, subject=rep, detail={"plan_id": plan.id, "commitments": len(commitments)})
    return plan


def decline_plan(
    session: Session, plan_id: int, manager: Person, now: dt.datetime, *, default_timezone: str = "UTC"
) -> RecoveryPlan:
    """The manager's “Not now”: the proposal is cancelled and not made again this quarter. Idempotent."""
    plan, rep = _plan_and_rep(session, plan_id)
    require_manager(session, manager, rep, "decide on their recovery plan")
    if plan.status == "cancelled":
        return plan
    if plan.status != "proposed":
        raise WrongState(f"This recovery plan is already {plan.status}.")
    today = local_now(manager, now, default_timezone).date()
    outcome = f"Not opened: {manager.name} chose “Not now” on {today:%b} {today.day}."
    session.execute(
        update(RecoveryPlan)
        .where(RecoveryPlan.id == plan.id, RecoveryPlan.status == "proposed")
        .values(status="cancelled", outcome=outcome, closed_at=now)
    )
    audit(session, manager, "decline_plan", now, subject=rep, detail={"plan_id": plan.id})
    return plan


def _commitments(session: Session, plan: RecoveryPlan) -> list[str]:
    query = select(Action.text).where(Action.plan_id == plan.id, Action.status == "open").order_by(Action.id)
    return list(session.scalars(query))


def _following(scheduled: dt.datetime, every_days: int, zone: ZoneInfo, now: dt.datetime) -> tuple[dt.date, dt.datetime]:
    """The first check-in after `now` on the cadence of `scheduled`, at its local wall-clock time."""
    local = scheduled.astimezone(zone)
    day = local.date()
    while True:
        day += dt.timedelta(days=every_days)
        # combine() in the zone keeps 09:00 at 09:00 when the UTC offset changes in between.
        instant = dt.datetime.combine(day, local.time(), zone).astimezone(dt.UTC)
        if instant > now:
            return day, instant


def due_checkins(session: Session, notices: Notices, now: dt.datetime, *, default_timezone: str = "UTC") -> int:
    """Ask each rep with an open plan whose check-in time has come how it is going; the number asked.

    A check-in missed while coachbot was down is asked once, not once per missed week.
    """
    plans = session.scalars(
        select(RecoveryPlan).where(RecoveryPlan.status == "open", RecoveryPlan.next_checkin_at <= now).order_by(RecoveryPlan.id)
    ).all()
    asked = 0
    for plan in plans:
        rep = session.get(Person, plan.person_id)
        assert rep is not None and plan.next_checkin_at is not None
        if not rep.active:
            continue  # a leaver is asked nothing; the plan closes with its quarter
        zone = ZoneInfo(rep.timezone or default_timezone)
        scheduled = plan.next_checkin_at
        key = f"checkin:{plan.id}:{scheduled.astimezone(zone).date().isoformat()}"
        if not reachable(rep, "plan_checkin", key):
            continue
        next_day, next_instant = _following(scheduled, plan.checkin_every_days, zone, now)
        claimed = rows_affected(
            session,
            update(RecoveryPlan)
            .where(RecoveryPlan.id == plan.id, RecoveryPlan.status == "open", RecoveryPlan.next_checkin_at == scheduled)
            .values(next_checkin_at=None if next_day > plan.period_end else next_instant),
        )
        if claimed != 1:
            continue
        checkin = PlanCheckin(plan_id=plan.id, asked_at=now)
        session.add(checkin)
        session.flush()
        manager = session.get(Person, plan.manager_id) if plan.manager_id else None
        asking = PlanCheckinAsked(
            key=key, checkin_id=checkin.id, manager_name=manager.name if manager else "your manager", period_end=plan.period_end,
            days_left=(plan.period_end - now.astimezone(zone).date()).days, gap=plan.gap_amount,
            pipeline_to_add=plan.pipeline_to_add, currency=plan.currency, commitments=_commitments(session, plan),
        )  # fmt: skip
        asked += notices.tell(rep, asking)
    return asked


def answer_checkin(
    session: Session,
    notices: Notices,
    checkin_id: int,
    rep: Person,
    answer: str,
    note: str | None,
    now: dt.datetime,
    *,
    default_timezone: str = "UTC",
) -> PlanCheckin:
    """Record the rep's answer and tell their manager. The first answer stands; a second changes nothing."""
    checkin = session.get(PlanCheckin, checkin_id)
    if checkin is None:
        raise NotFound("That check-in no longer exists.")
    plan, plan_rep = _plan_and_rep(session, checkin.plan_id)
    if rep.id != plan_rep.id:
        raise NotAllowed("Only the rep whose plan it is can answer its check-in.")
    if answer not in ANSWERS:
        raise InvalidInput(f"The answer is one of: {', '.join(ANSWERS)}.")
    if plan.status != "open":
        raise WrongState("This recovery plan is closed: no answer is needed.")
    cleaned = (note or "").strip() or None
    if cleaned and len(cleaned) > MAX_NOTE:
        raise InvalidInput(f"The note is {len(cleaned)} characters long; keep it under {MAX_NOTE}.")
    recorded = rows_affected(
        session,
        update(PlanCheckin)
        .where(PlanCheckin.id == checkin.id, PlanCheckin.answered_at.is_(None))
        .values(answer=answer, note=cleaned, answered_at=now),
    )
    if recorded == 1:
        manager_id = plan.manager_id or rep.manager_id
        answered = CheckinAnswered(
            key=f"checkin_answer:{checkin.id}", rep_name=rep.name, answer=answer, note=cleaned,
            asked_on=local_now(rep, checkin.asked_at, default_timezone).date(),
        )  # fmt: skip
        notices.tell(session.get(Person, manager_id) if manager_id else None, answered)
        audit(
            session,
            rep,
            "answer_checkin",
            now,
            subject=rep,
            detail={"plan_id": plan.id, "checkin_id": checkin.id, "answer": answer},
        )
    return checkin


def close_finished_plans(
    session: Session,
    notices: Notices,
    now: dt.datetime,
    *,
    playbook: Playbook,
    default_timezone: str,
    default_currency: str,
    fiscal_year_start_month: int = 1,
) -> int:
    """Close open plans that recovered or whose quarter ended, and expire unanswered proposals; the number closed."""
    plans = session.scalars(
        select(RecoveryPlan).where(RecoveryPlan.status.in_(("proposed", "open"))).order_by(RecoveryPlan.id)
    ).all()
    closed = 0
    for plan in plans:
        rep = session.get(Person, plan.person_id)
        assert rep is not None
        zone = ZoneInfo(rep.timezone or default_timezone)
        ended = now.astimezone(zone).date() > plan.period_end
        if plan.status == "proposed":
            if ended:
                closed += _close(session, plan, "proposed", "cancelled", "Not opened before the quarter ended.", now)
            continue
        # Judged on the plan's own quarter: at its last moment once it is over.
        last_moment = dt.datetime.combine(plan.period_end + dt.timedelta(days=1), dt.time(), zone) - dt.timedelta(microseconds=1)
        card = scorecard_for(
            session, rep, "quarter", now=min(now, last_moment.astimezone(dt.UTC)), playbook=playbook,
            default_timezone=default_timezone, default_currency=default_currency, fiscal_year_start_month=fiscal_year_start_month,
        )  # fmt: skip
        verdict = _verdict(card, ended, now.astimezone(zone).date())
        if verdict is None:
            continue
        status, outcome = verdict
        if not _close(session, plan, "open", status, outcome, now):
            continue
        closed += 1
        audit(session, None, "close_plan", now, subject=rep, detail={"plan_id": plan.id, "status": status})
        # The commitments end with their plan: neither done nor overdue.
        session.execute(update(Action).where(Action.plan_id == plan.id, Action.status == "open").values(status="closed"))
        manager = session.get(Person, plan.manager_id) if plan.manager_id else None
        for reader, role in ((rep, "rep"), (manager, "manager")):
            closing = PlanClosed(
                key=f"plan_closed:{plan.id}:{role}", rep_name=rep.name, period_label=card.period.label, status=status,
                outcome=outcome, for_manager=role == "manager",
            )  # fmt: skip
            notices.tell(reader, closing)
    return closed


def _verdict(card: Scorecard, ended: bool, today: dt.date) -> tuple[str, str] | None:
    """("recovered" | "missed", the outcome in words), or None while the plan runs on."""
    currency = card.currency
    if card.quota is None:
        return ("missed", "The quarter ended with no quota set to measure against.") if ended else None
    if card.won_amount >= card.quota:
        return "recovered", (
            f"Quota made: {money(card.won_amount, currency)} won of {money(card.quota, currency)} ({percent(card.attainment)})."
        )
    if not ended and card.projected_attainment is not None and card.projected_attainment >= 1.0:
        return "recovered", (
            f"Back on track on {today:%b} {today.day}: projected {percent(card.projected_attainment)} of quota "
            f"({money(card.projected_amount, currency)} of {money(card.quota, currency)}), {money(card.won_amount, currency)} won so far."
        )
    if ended:
        return "missed", (
            f"{card.period.label} ended at {percent(card.attainment)} of quota: {money(card.won_amount, currency)} won "
            f"of {money(card.quota, currency)}, {money(card.gap_to_quota, currency)} short."
        )
    return None


def _close(session: Session, plan: RecoveryPlan, from_status: str, status: str, outcome: str, now: dt.datetime) -> bool:
    """Claim the plan's closing: True for the one caller whose UPDATE moved it out of `from_status`."""
    closed = rows_affected(
        session,
        update(RecoveryPlan)
        .where(RecoveryPlan.id == plan.id, RecoveryPlan.status == from_status)
        .values(status=status, outcome=outcome, closed_at=now, next_checkin_at=None),
    )
    return closed == 1
