"""Who may see and change what: decided here, and only here.

- A rep sees their own scorecard, goals, actions, gaps and plan.
- A manager sees everyone under them, directly or further down; a coach, the reps assigned to
  them; an admin, everyone. Someone with several roles sees the union.
- Coaching notes and plans are visible to the rep, their manager chain, their assigned coaches and
  admins only.
Every look at someone else's data and every change is written to the audit log (`audit`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.models import AuditEntry, CoachAssignment, Person

MAX_CHAIN_DEPTH = 50  # an org chart deeper than this is a loop in the data


def manager_chain(session: Session, rep: Person) -> list[int]:
    """Ids of the rep's manager, their manager, and so on up the org chart."""
    chain: list[int] = []
    manager_id = rep.manager_id
    while manager_id is not None and manager_id not in chain and manager_id != rep.id and len(chain) < MAX_CHAIN_DEPTH:
        chain.append(manager_id)
        manager_id = session.scalar(select(Person.manager_id).where(Person.id == manager_id))
    return chain


def people_under(session: Session, manager_id: int) -> set[int]:
    """Everyone under the manager, directly or further down (a loop in the org chart ends the walk)."""
    # One recursive query down the manager_id index: it reads the manager's subtree, not the whole
    # people table. UNION, not UNION ALL: a loop yields ids already found, which ends the recursion.
    below = select(Person.id).where(Person.manager_id == manager_id).cte("below", recursive=True)
    below = below.union(select(Person.id).join(below, Person.manager_id == below.c.id))
    return set(session.scalars(select(below.c.id))) - {manager_id}


def coached_by(session: Session, coach_id: int) -> set[int]:
    return set(session.scalars(select(CoachAssignment.rep_id).where(CoachAssignment.coach_id == coach_id)))


def visible_rep_ids(session: Session, viewer: Person) -> set[int]:
    """The reps whose coaching data `viewer` may see, other than their own."""
    if viewer.is_admin:
        return set(session.scalars(select(Person.id).where(Person.is_rep, Person.active.is_(True)))) - {viewer.id}
    visible: set[int] = set()
    if viewer.is_manager:
        visible |= people_under(session, viewer.id)
    if viewer.is_coach:
        visible |= coached_by(session, viewer.id)
    return visible - {viewer.id}


def may_view(session: Session, viewer: Person, rep: Person) -> bool:
    return viewer.id == rep.id or viewer.is_admin or rep.id in visible_rep_ids(session, viewer)


def may_coach(session: Session, person: Person, rep: Person) -> bool:
    """Anyone up the rep's manager chain and a coach assigned to the rep (not admins as such)."""
    if person.id in manager_chain(session, rep):
        return True
    assignment = select(CoachAssignment.id).where(CoachAssignment.coach_id == person.id, CoachAssignment.rep_id == rep.id)
    return session.scalar(assignment) is not None


def audit_views(
    session: Session, actor: Person, action: str, now: dt.datetime, subjects: Iterable[Person], detail: dict[str, Any]
) -> None:
    """`audit` for a look at many people at once (a team view): one multi-row INSERT, not one per person."""
    rows = [
        {"actor_id": actor.id, "action": action, "subject_id": subject.id, "detail": detail, "at": now} for subject in subjects
    ]
    if rows:
        session.execute(insert(AuditEntry), rows)


def audit(
    session: Session, actor: Person | None, action: str, now: dt.datetime, *, subject: Person | None = None,
    detail: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """Record a look at someone else's data, or a change, in the same transaction as the work."""
    session.add(
        AuditEntry(
            actor_id=actor.id if actor else None,
            action=action,
            subject_id=subject.id if subject else None,
            detail=detail or {},
            at=now,
        )  # fmt: skip
    )
