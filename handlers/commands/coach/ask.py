"""One `/coach` request on its way through: who asks, the people it names, and what to answer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from slack_sdk.models.views import View
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.blocks.coaching import Message
from bot.coaching.errors import InvalidInput, NotFound
from bot.coaching.notices import Notices
from bot.coaching.words import clip
from bot.models import Person
from bot.runtime.services import Services
from handlers.commands.coach.parsing import PersonRef


@dataclass
class Ask:
    """A parsed request inside its unit of work. `mentioned` holds the people its mentions name,
    looked up (and linked by Slack email) before the unit of work opened."""

    session: Session
    caller: Person
    services: Services
    now: dt.datetime
    mentioned: dict[str, int | None]
    notices: Notices = field(default_factory=Notices)

    @property
    def timezone(self) -> str:
        return self.caller.timezone or self.services.settings.timezone

    def person(self, ref: PersonRef) -> Person:
        """The person behind a mention or an email; NotFound names who is missing."""
        if ref.slack_user_id:
            person_id = self.mentioned.get(ref.slack_user_id)
            person = self.session.get(Person, person_id) if person_id is not None else None
            if person is None:
                raise NotFound(
                    "That person is not in coachbot's org yet; an admin adds people with `coachbot org import`.",
                    mrkdwn=f"<@{ref.slack_user_id}> is not in coachbot's org yet; an admin adds people with `coachbot org import`.",
                )
            return person
        email = (ref.email or "").strip().lower()
        person = self.session.scalar(select(Person).where(Person.email == email))
        if person is None:
            raise NotFound(f"Nobody in coachbot's org has the email {clip(email, 80)}.")
        return person


def require_rep(person: Person) -> None:
    if not person.is_rep or not person.active:
        raise InvalidInput(f"{person.name} is not an active rep in coachbot's org.")


@dataclass(frozen=True)
class Reply:
    """What the caller sees (a private message or a modal), and whose Homes the change touched."""

    message: Message | None = None
    view: View | None = None
    homes: tuple[int, ...] = ()
