"""Domain errors of coaching, and the rule that raises the commonest one: who may coach whom.

Every error's message is a sentence fit to show the person who asked (the app's error handler
can reply with `str(error)`); nothing in it is internal.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import CoachAssignment, Person

# An org chart deeper than this is a loop in the data (A manages B manages A), not a company.
MAX_CHAIN_DEPTH = 25


class CoachingError(Exception):
    """A request the coaching domain refuses; the message says why, in the user's words."""


class NotAllowed(CoachingError):
    """The person asking may not do this to this rep."""


class NotFound(CoachingError):
    """The goal, action, plan or check-in does not exist (any more)."""


class InvalidInput(CoachingError):
    """A value the person typed cannot be used (empty text, a date in the past, ...)."""


class WrongState(CoachingError):
    """The record is not in a state that allows this (a plan already open, a goal measured by the CRM)."""


def manager_chain(session: Session, rep: Person) -> list[int]:
    """Ids of the rep's manager, their manager, and so on up the org chart."""
    chain: list[int] = []
    manager_id = rep.manager_id
    while manager_id is not None and manager_id not in chain and manager_id != rep.id and len(chain) < MAX_CHAIN_DEPTH:
        chain.append(manager_id)
        manager_id = session.scalar(select(Person.manager_id).where(Person.id == manager_id))
    return chain


def is_in_manager_chain(session: Session, person: Person, rep: Person) -> bool:
    return person.id in manager_chain(session, rep)


def may_coach(session: Session, person: Person, rep: Person) -> bool:
    """True for anyone up the rep's manager chain and for a coach assigned to the rep."""
    if is_in_manager_chain(session, person, rep):
        return True
    assignment = select(CoachAssignment.id).where(CoachAssignment.coach_id == person.id, CoachAssignment.rep_id == rep.id)
    return session.scalar(assignment) is not None


def require_coach(session: Session, person: Person, rep: Person, doing: str) -> None:
    """Raise NotAllowed unless `person` may coach `rep`; `doing` completes "Only ... may ___"."""
    if not may_coach(session, person, rep):
        raise NotAllowed(f"Only {rep.name}'s managers and assigned coaches can {doing}.")


def require_manager(session: Session, person: Person, rep: Person, doing: str) -> None:
    """Raise NotAllowed unless `person` is up the rep's manager chain."""
    if not is_in_manager_chain(session, person, rep):
        raise NotAllowed(f"Only {rep.name}'s managers can {doing}.")
