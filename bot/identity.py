"""Linking Slack users to people, by the email on their Slack profile."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.database import session_scope
from bot.models import Person

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlackCaller:
    """Who a Slack user is to coachbot: the linked person's id if any, and the email Slack gave for them."""

    person_id: int | None
    email: str | None


def identify(session_factory: sessionmaker[Session], client: WebClient, user_id: str) -> SlackCaller:
    """The person behind `user_id`; on first contact, link them by their Slack email (users.info).

    Slack is asked between two short transactions, never inside one: a request holds no database
    transaction open across a round trip to Slack.
    """
    with session_scope(session_factory) as session:
        linked = session.execute(select(Person.id, Person.email).where(Person.slack_user_id == user_id)).first()
    if linked is not None:
        return SlackCaller(linked.id, linked.email)
    try:
        user = client.users_info(user=user_id)["user"]
    except SlackApiError as exc:
        log.warning("users.info failed for %s: %s", user_id, exc.response.get("error"))
        return SlackCaller(None, None)
    email = (user.get("profile") or {}).get("email")
    if not email:
        return SlackCaller(None, None)
    with session_scope(session_factory) as session:
        person = session.scalar(select(Person).where(Person.email == email.strip().lower()))
        if person is None:
            return SlackCaller(None, email)
        _link(person, user_id, user.get("tz"))
        log.info("linked Slack user %s to person %s", user_id, person.id)
        return SlackCaller(person.id, email)


@dataclass
class LinkReport:
    linked: int = 0
    not_in_slack: list[str] = field(default_factory=list)
    # email -> Slack's error, for lookups that failed for another reason (rate limit, missing scope)
    failed: dict[str, str] = field(default_factory=dict)


def link_people_by_email(session: Session, client: WebClient) -> LinkReport:
    """Link every unlinked person whose email Slack knows (users.lookupByEmail).

    One failed lookup does not undo the others: each link is flushed as it is made, and the
    caller commits whatever was linked; failures are reported, and retried on the next import
    or on the person's first command.
    """
    report = LinkReport()
    for person in session.scalars(select(Person).where(Person.slack_user_id.is_(None), Person.active.is_(True))).all():
        try:
            user = client.users_lookupByEmail(email=person.email)["user"]
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error == "users_not_found":
                report.not_in_slack.append(person.email)
            else:
                report.failed[person.email] = error
            continue
        _link(person, user["id"], user.get("tz"))
        session.flush()
        report.linked += 1
    return report


def _link(person: Person, user_id: str, slack_timezone: str | None) -> None:
    person.slack_user_id = user_id
    # Slack's profile time zone is the one the person lives by; it wins over the org file's.
    if slack_timezone:
        person.timezone = slack_timezone
