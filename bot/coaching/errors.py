"""Domain errors of coaching, and the checks that raise the commonest one (the rules live in bot.access).

Every error's message is a plain-text sentence fit to show the person who asked; nothing in it is
internal. Whoever shows it escapes it for where it goes (mrkdwn in a reply, plain text beside a
modal's field), so what someone typed is quoted, never read as markup.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.access import manager_chain, may_coach
from bot.models import Person


class CoachingError(Exception):
    """A request the coaching domain refuses; the message says why, in the user's words.

    `mrkdwn`, when given, is the same sentence as a listener drew it for a Slack reply (with a
    mention, say); replies use it instead of the escaped plain text.
    """

    def __init__(self, message: str, *, mrkdwn: str | None = None) -> None:
        super().__init__(message)
        self.mrkdwn = mrkdwn


class NotAllowed(CoachingError):
    """The person asking may not do this to this rep."""


class NotFound(CoachingError):
    """The goal, action, plan or check-in does not exist (any more)."""


class InvalidInput(CoachingError):
    """A value the person typed cannot be used (empty text, a date in the past, ...)."""


class WrongState(CoachingError):
    """The record is not in a state that allows this (a plan already open, a goal measured by the CRM)."""


def is_in_manager_chain(session: Session, person: Person, rep: Person) -> bool:
    return person.id in manager_chain(session, rep)


def require_coach(session: Session, person: Person, rep: Person, doing: str) -> None:
    """Raise NotAllowed unless `person` may coach `rep`; `doing` completes "Only ... may ___"."""
    if not may_coach(session, person, rep):
        raise NotAllowed(f"Only {rep.name}'s managers and assigned coaches can {doing}.")


def require_manager(session: Session, person: Person, rep: Person, doing: str) -> None:
    """Raise NotAllowed unless `person` is up the rep's manager chain."""
    if not is_in_manager_chain(session, person, rep):
        raise NotAllowed(f"Only {rep.name}'s managers can {doing}.")
