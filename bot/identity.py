"""Linking Slack users to people, by the email on their Slack profile."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Person

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlackCaller:
    """Who sent a command: the linked person if any, and the email Slack gave for them."""

    person: Person | None
    email: str | None


def person_for_slack_user(session: Session, client: WebClient, user_id: str) -> SlackCaller:
    """The person behind `user_id`; on first contact, link them by their Slack email (users.info)."""
    person = session.scalar(select(Person).where(Person.slack_user_id == user_id))
    if person is not None:
        return SlackCaller(person, person.email)
    try:
        user = client.users_info(user=user_id)["user"]
    except SlackApiError as exc:
        log.warning("users.info failed for %s: %s", user_id, exc.response.get("error"))
        return SlackCaller(None, None)
    email = (user.get("profile") or {}).get("email")
    if not email:
        return SlackCaller(None, None)
    person = session.scalar(select(Person).where(Person.email == email.strip().lower()))
    if person is None:
        return SlackCaller(None, email)
    _link(person, user_id, user.get("tz"))
    log.info("linked Slack user %s to person %s", user_id, person.id)
    return SlackCaller(person, email)


def link_people_by_email(session: Session, client: WebClient) -> tuple[int, list[str]]:
    """Link every unlinked person whose email Slack knows (users.lookupByEmail).

    Returns how many were linked and the emails Slack does not know.
    """
    linked, unknown = 0, []
    for person in session.scalars(select(Person).where(Person.slack_user_id.is_(None), Person.active.is_(True))):
        try:
            user = client.users_lookupByEmail(email=person.email)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") == "users_not_found":
                unknown.append(person.email)
                continue
            raise
        _link(person, user["id"], user.get("tz"))
        linked += 1
    return linked, unknown


def _link(person: Person, user_id: str, slack_timezone: str | None) -> None:
    person.slack_user_id = user_id
    # Slack's profile time zone is the one the person lives by; it wins over the org file's.
    if slack_timezone:
        person.timezone = slack_timezone
