"""The people a per-person job runs for when it is run by hand."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Person


def active_people(session: Session, audience: str, email: str | None = None) -> list[Person]:
    """Active reps (or managers), by name; only the one with `email` when given."""
    query = select(Person).where(Person.active.is_(True), Person.is_manager if audience == "managers" else Person.is_rep)
    if email:
        query = query.where(Person.email == email.strip().lower())
    return list(session.scalars(query.order_by(Person.name)))
