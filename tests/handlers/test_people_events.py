"""`user_change` and `team_join` keep people in step with Slack: time zone, email, a deactivated account."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from slack_bolt import BoltRequest
from sqlalchemy import select

from bot.app import create_app
from bot.database import session_scope
from bot.models import AuditEntry, Person
from bot.settings import Settings
from tests.support.personas import MIA, RILEY, seed_team
from tests.support.signing import SIGNING_SECRET, sign


@pytest.fixture
def app(slack, database_url, session_factory, now):  # type: ignore[no-untyped-def]
    settings = Settings(
        _env_file=None, slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
        database_url=database_url,
    )  # type: ignore[call-arg]  # fmt: skip
    return create_app(settings, session_factory=session_factory, clock=lambda: now)


def slack_event(app, event_type: str, user: dict[str, Any]) -> int:  # type: ignore[no-untyped-def]
    payload = {"token": "x", "team_id": "T0001", "api_app_id": "A0001", "type": "event_callback", "event_id": f"Ev{time.time_ns()}",
               "event_time": 1764082800, "event": {"type": event_type, "user": user, "event_ts": "1764082800.000100"}}  # fmt: skip
    body = json.dumps(payload)
    return app.dispatch(BoltRequest(body=body, headers={**sign(body), "content-type": "application/json"})).status


def slack_user(user_id: str, email: str, tz: str = "America/New_York", **fields: Any) -> dict[str, Any]:
    return {"id": user_id, "team_id": "T0001", "name": "someone", "deleted": False, "tz": tz, "is_bot": False,
            "profile": {"email": email, "real_name": "Someone"}, **fields}  # fmt: skip


def eventually(read, expected, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    """Bolt runs event listeners after the ack, on its own thread: wait for their effect."""
    deadline = time.monotonic() + timeout
    while (value := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


def person(session_factory, email: str) -> tuple[Any, ...] | None:  # type: ignore[no-untyped-def]
    """(Slack user id, email, time zone, active) of the person with `email`, if any."""
    with session_factory() as session:
        found = session.scalar(select(Person).where(Person.email == email))
        return None if found is None else (found.slack_user_id, found.email, found.timezone, found.active)


def test_a_move_to_another_time_zone_follows_the_slack_profile_and_is_audited(app, session_factory) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    with session_scope(session_factory) as session:
        session.scalar(select(Person).where(Person.email == RILEY)).slack_user_id = "URILEY"  # type: ignore[union-attr]
    assert slack_event(app, "user_change", slack_user("URILEY", RILEY, tz="Europe/Berlin")) == 200
    assert eventually(lambda: person(session_factory, RILEY), ("URILEY", RILEY, "Europe/Berlin", True)) == (
        "URILEY",
        RILEY,
        "Europe/Berlin",
        True,
    )
    with session_factory() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "slack_profile_change")).all()
    assert (entry.actor_id, entry.detail) == (None, {"by": "slack", "timezone": ["America/New_York", "Europe/Berlin"]})


def test_a_deactivated_slack_account_deactivates_the_person_and_keeps_their_history(app, session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed_team(session_factory)
    with session_scope(session_factory) as session:
        session.get(Person, ids["riley"]).slack_user_id = "URILEY"  # type: ignore[union-attr]
    slack_event(app, "user_change", slack_user("URILEY", RILEY, deleted=True))
    assert eventually(lambda: person(session_factory, RILEY), ("URILEY", RILEY, "America/New_York", False)) == (
        "URILEY",
        RILEY,
        "America/New_York",
        False,
    )
    with session_factory() as session:
        assert session.get(Person, ids["riley"]) is not None  # kept, with everything that points at them


def test_a_new_email_on_slack_becomes_the_persons_email_unless_someone_else_has_it(app, session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed_team(session_factory)
    with session_scope(session_factory) as session:
        session.get(Person, ids["riley"]).slack_user_id = "URILEY"  # type: ignore[union-attr]
    slack_event(app, "user_change", slack_user("URILEY", "Riley.New@Example.com"))
    moved = ("URILEY", "riley.new@example.com", "America/New_York", True)
    assert eventually(lambda: person(session_factory, "riley.new@example.com"), moved) == moved
    slack_event(app, "user_change", slack_user("URILEY", MIA))
    time.sleep(0.3)
    assert person(session_factory, "riley.new@example.com") == moved  # Mia's email stays Mia's
    assert person(session_factory, MIA) == (None, MIA, "America/New_York", True)


def test_someone_joining_slack_with_an_org_email_is_linked_and_a_stranger_is_not(app, session_factory) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    slack_event(app, "team_join", slack_user("UMIA", MIA, tz="America/Chicago"))
    assert eventually(lambda: person(session_factory, MIA), ("UMIA", MIA, "America/Chicago", True)) == (
        "UMIA",
        MIA,
        "America/Chicago",
        True,
    )
    slack_event(app, "team_join", slack_user("UNEW", "stranger@example.com"))
    time.sleep(0.3)
    with session_factory() as session:
        assert session.scalar(select(Person).where(Person.slack_user_id == "UNEW")) is None
