"""Keeping people in step with their Slack profiles: time zone, email and deactivation.

Slack sends `user_change` when a profile changes (a move to another time zone, a new email, an
account deactivated) and `team_join` when someone joins; both carry the whole user object, so no
Web API call is needed. A deactivated Slack account deactivates the person (no messages, out of
team views, history kept); their org-file entry brings them back on the next import only if Slack
has reactivated them too, since an import sets `active` again. Every change is audited, by Slack.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.access import audit
from bot.models import Person
from bot.periods import is_timezone


@dataclass(frozen=True)
class SlackProfile:
    user_id: str
    email: str | None
    timezone: str | None
    deleted: bool

    @classmethod
    def from_event_user(cls, user: Any) -> SlackProfile | None:
        """The profile in a `user_change` or `team_join` event; None for anything else (a bare id, a bot)."""
        if not isinstance(user, dict) or not isinstance(user.get("id"), str) or user.get("is_bot"):
            return None
        email = (user.get("profile") or {}).get("email")
        timezone = user.get("tz")
        return cls(
            user_id=user["id"],
            email=email.strip().lower() if isinstance(email, str) and email.strip() else None,
            timezone=timezone if isinstance(timezone, str) and is_timezone(timezone) else None,
            deleted=bool(user.get("deleted")),
        )


def follow_slack_profile(session: Session, profile: SlackProfile, now: dt.datetime) -> dict[str, Any]:
    """Bring the person behind `profile` in step with it; what changed (empty: nothing, or nobody)."""
    person = session.scalar(select(Person).where(Person.slack_user_id == profile.user_id))
    changes: dict[str, Any] = {}
    if person is None:
        if profile.email is None or profile.deleted:
            return changes
        person = session.scalar(select(Person).where(Person.email == profile.email, Person.slack_user_id.is_(None)))
        if person is None:
            return changes  # not in coachbot's org: an admin adds them with `coachbot org import`
        person.slack_user_id = profile.user_id
        changes["linked"] = profile.user_id
    if profile.timezone and person.timezone != profile.timezone:
        changes["timezone"] = [person.timezone, profile.timezone]
        person.timezone = profile.timezone
    if profile.email and person.email != profile.email:
        taken = session.scalar(select(Person.id).where(Person.email == profile.email, Person.id != person.id))
        if taken is None:  # two people cannot share an email; the org file settles a clash
            changes["email"] = [person.email, profile.email]
            person.email = profile.email
    if profile.deleted and person.active:
        changes["active"] = [True, False]
        person.active = False
    if changes:
        audit(session, None, "slack_profile_change", now, subject=person, detail={"by": "slack", **changes})
    return changes
