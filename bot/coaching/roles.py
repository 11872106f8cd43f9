"""Roles and coach assignments, changed by an admin from Slack; every change is audited.

The org file sets the same things (`coachbot org import`); a later import of a file that lists a
person sets their roles and coaches from the file again, so lasting changes belong in the file.

- Removing the coach role also ends that person's coach assignments, and removing the rep role
  the assignments of coaches to them: bot.access lets an assigned coach coach, role or not, and a
  role taken away should take its reach with it.
- The last active admin keeps the role: someone must be able to give it back.
- A change that changes nothing (a role already held, a coach already assigned) is reported as
  such and not audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.access import audit
from bot.coaching.errors import InvalidInput, NotAllowed, WrongState
from bot.coaching.words import clip
from bot.database import insert_ignoring_conflicts
from bot.dml import rows_affected
from bot.models import CoachAssignment, Person
from bot.models.org import ROLES


@dataclass(frozen=True)
class RoleChange:
    """What `change_role` did: `changed` is False when the person already was (or was not) one."""

    role: str
    granted: bool
    changed: bool
    assignments_ended: int = 0


def require_admin(person: Person) -> None:
    if not person.is_admin:
        raise NotAllowed("Only coachbot admins can change roles and coach assignments.")


def change_role(session: Session, admin: Person, person: Person, role: str, *, grant: bool, now: dt.datetime) -> RoleChange:
    """Give `person` the role, or take it away (see the module docstring for what goes with it)."""
    require_admin(admin)
    if role not in ROLES:
        raise InvalidInput(f"There is no role “{clip(role, 20)}”. The roles are {', '.join(ROLES)}.")
    attribute = f"is_{role}"
    if getattr(person, attribute) == grant:
        return RoleChange(role, grant, changed=False)
    if role == "admin" and not grant and _active_admins(session) <= 1:
        raise WrongState(f"{person.name} is the last admin; make someone else an admin first.")
    ended = 0
    if not grant and role in ("coach", "rep"):
        column = CoachAssignment.coach_id if role == "coach" else CoachAssignment.rep_id
        ended = rows_affected(session, delete(CoachAssignment).where(column == person.id))
    setattr(person, attribute, grant)
    session.flush()
    detail = {"role": role, "granted": grant, **({"coach_assignments_ended": ended} if ended else {})}
    audit(session, admin, "set_role", now, subject=person, detail=detail)
    return RoleChange(role, grant, changed=True, assignments_ended=ended)


def assign_coach(session: Session, admin: Person, coach: Person, rep: Person, now: dt.datetime) -> bool:
    """Assign `coach` to `rep`; False when they already were."""
    require_admin(admin)
    if coach.id == rep.id:
        raise InvalidInput("Nobody can be their own coach.")
    for person in (coach, rep):
        if not person.active:
            raise InvalidInput(f"{person.name} is no longer active in coachbot.")
    if not coach.is_coach:
        raise InvalidInput(f"{coach.name} does not have the coach role; give it to them first.")
    if not rep.is_rep:
        raise InvalidInput(f"{rep.name} is not a rep; only reps are coached.")
    # The unique (coach, rep) pair settles two admins assigning at once.
    inserted = session.execute(
        insert_ignoring_conflicts(session, CoachAssignment, ["coach_id", "rep_id"])
        .values(coach_id=coach.id, rep_id=rep.id, created_at=now)
        .returning(CoachAssignment.id)
    ).first()
    if inserted is None:
        return False
    audit(session, admin, "assign_coach", now, subject=rep, detail={"coach_id": coach.id})
    return True


def unassign_coach(session: Session, admin: Person, coach: Person, rep: Person, now: dt.datetime) -> bool:
    """End `coach`'s assignment to `rep`; False when there was none."""
    require_admin(admin)
    removed = rows_affected(
        session,
        delete(CoachAssignment).where(CoachAssignment.coach_id == coach.id, CoachAssignment.rep_id == rep.id),
    )
    if not removed:
        return False
    audit(session, admin, "unassign_coach", now, subject=rep, detail={"coach_id": coach.id})
    return True


def _active_admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Person).where(Person.is_admin.is_(True), Person.active.is_(True))) or 0
