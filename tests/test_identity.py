"""Linking Slack users to people by email."""

from __future__ import annotations

from slack_sdk import WebClient
from sqlalchemy import select

from bot.database import session_scope
from bot.identity import link_people_by_email
from bot.models import Person


def test_one_failed_lookup_does_not_undo_the_others(slack, session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        session.add_all(
            [Person(email="ann@example.com", name="Ann", is_rep=True), Person(email="bob@example.com", name="Bob", is_rep=True),
             Person(email="cy@example.com", name="Cy", is_rep=True)]
        )  # fmt: skip
    slack.add_user("UANN", "ann@example.com", tz="Europe/Paris")
    slack.add_user("UBOB", "bob@example.com")
    answers = iter([None, {"ok": False, "error": "ratelimited"}, None])

    original = slack.answer

    def flaky(method, body):  # type: ignore[no-untyped-def]
        canned = next(answers) if method == "users.lookupByEmail" else None
        return (200, canned) if canned else original(method, body)

    slack.answer = flaky
    client = WebClient(token="xoxb-test", base_url=slack.api_url)
    with session_scope(session_factory) as session:
        report = link_people_by_email(session, client)
    assert report.linked == 1
    assert report.failed == {"bob@example.com": "ratelimited"}
    assert report.not_in_slack == ["cy@example.com"]
    with session_factory() as session:
        linked = dict(session.execute(select(Person.email, Person.slack_user_id)).all())
        assert linked == {"ann@example.com": "UANN", "bob@example.com": None, "cy@example.com": None}
        assert session.scalar(select(Person.timezone).where(Person.email == "ann@example.com")) == "Europe/Paris"
