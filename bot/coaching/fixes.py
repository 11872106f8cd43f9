"""What a rep does about one gap from a nudge or the Home: snooze it with a reason, or say "I fixed it".

"I fixed it" is a claim the CRM settles. The claim is stored on the gap (`fix_claimed_at`) and
audited; after the next CRM sync that started later, the gap scan has judged the deal from the
CRM's own data, and `settle_fix_claims` (run right after that scan) settles each claim once: a
gap the scan resolved is simply closed; a gap still open is told to the rep, once, with what the
CRM still shows. Either way the claim is cleared. A claim keeps its gap out of nudges for
FIX_CLAIM_WAIT_DAYS (bot/coaching/gaps.py) at most, so one no sync settles (syncs off) stops hiding it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.access import audit
from bot.coaching.errors import NotAllowed, NotFound, is_in_manager_chain
from bot.coaching.notices import GapStillOpen, Notices
from bot.coaching.nudges import DEFAULT_GUIDANCE, GUIDANCE
from bot.models import CrmSyncState, Deal, Person, ProcessGap

MAX_SNOOZE_DAYS = 90  # a snooze is a promise to look again: a quarter at most, then it comes back


def gap_for(session: Session, gap_id: int, caller: Person, verb: str) -> tuple[ProcessGap, Person]:
    """The open gap and its deal's owner, when `caller` is that owner or in their manager chain."""
    gap = session.get(ProcessGap, gap_id)
    owner_id = session.scalar(select(Deal.owner_id).where(Deal.id == gap.deal_id)) if gap is not None else None
    owner = session.get(Person, owner_id) if owner_id is not None else None
    if gap is None or owner is None or gap.resolved_at is not None:
        raise NotFound("That gap is gone: the deal was fixed or removed.")
    if caller.id != owner.id and not is_in_manager_chain(session, caller, owner):
        raise NotAllowed(f"Only the deal's owner or their manager can {verb} this.")
    return gap, owner


def snooze_problem(until: dt.date | None, reason: str, today: dt.date) -> tuple[str | None, str | None]:
    """(what is wrong with the date, what is wrong with the reason), each None when it is fine."""
    latest = today + dt.timedelta(days=MAX_SNOOZE_DAYS)
    if until is None:
        date_problem: str | None = "Pick the date it should come back."
    elif until <= today:
        date_problem = "Pick a date after today."
    elif until > latest:
        date_problem = f"Snooze for {MAX_SNOOZE_DAYS} days at most (until {latest:%b} {latest.day})."
    else:
        date_problem = None
    reason_problem = None if reason.strip() else "Say why: your manager sees the reason."
    return date_problem, reason_problem


def claim_fix(session: Session, gap_id: int, caller: Person, now: dt.datetime) -> tuple[ProcessGap, Deal]:
    """Record that `caller` says the gap is fixed in the CRM: the next sync rechecks it. Audited."""
    gap, owner = gap_for(session, gap_id, caller, "mark")
    gap.fix_claimed_at = now
    session.flush()
    audit(session, caller, "claim_gap_fixed", now, subject=owner, detail={"gap_id": gap.id, "rule": gap.rule})
    return gap, session.get_one(Deal, gap.deal_id)


def last_sync_started(session: Session) -> dt.datetime | None:
    """When the latest finished CRM sync started: what it read of the CRM is at least that new."""
    return session.scalar(
        select(func.max(CrmSyncState.last_started_at)).where(
            CrmSyncState.last_finished_at.is_not(None), CrmSyncState.last_finished_at >= CrmSyncState.last_started_at
        )
    )


def settle_fix_claims(session: Session, notices: Notices, now: dt.datetime) -> tuple[int, int]:
    """Settle the claims made before the latest finished sync started; (closed, still open).

    Run after the gap scan that follows the sync, so an open gap here is one the CRM still shows.
    """
    synced = last_sync_started(session)
    if synced is None:
        return 0, 0
    rows = session.execute(
        select(ProcessGap, Deal, Person)
        .join(Deal, Deal.id == ProcessGap.deal_id)
        .outerjoin(Person, Person.id == Deal.owner_id)
        .where(ProcessGap.fix_claimed_at.is_not(None), ProcessGap.fix_claimed_at < synced)
        .order_by(ProcessGap.id)
    ).all()
    closed = still_open = 0
    for gap, deal, owner in rows:
        assert gap.fix_claimed_at is not None  # the query asks for claims
        claimed_at, gap.fix_claimed_at = gap.fix_claimed_at, None
        if gap.resolved_at is not None:
            closed += 1
            outcome = "closed"
        else:
            still_open += 1
            outcome = "still_open"
            notices.tell(
                owner,
                GapStillOpen(
                    key=f"gap_still_open:{gap.id}:{claimed_at.isoformat()}", deal_name=deal.name,
                    detail=gap.detail or gap.rule.replace("_", " "), todo=GUIDANCE.get(gap.rule, DEFAULT_GUIDANCE)[1],
                    deal_url=deal.crm_url,
                ),
            )  # fmt: skip
        audit(session, None, "recheck_gap_fixed", now, subject=owner, detail={"gap_id": gap.id, "outcome": outcome})
    session.flush()
    return closed, still_open
