"""`/myperf` through the Bolt app: signed requests in, the stand-in Slack records what was shown."""

from __future__ import annotations

import time

import pytest
from slack_bolt import BoltRequest
from sqlalchemy import select

from bot.app import create_app
from bot.models import Person
from bot.settings import Settings
from tests.support.personas import OUTSIDER, RILEY, seed_team
from tests.support.signing import SIGNING_SECRET, sign, slash_command_body


@pytest.fixture
def app(slack, session_factory, database_url, now):  # type: ignore[no-untyped-def]
    settings = Settings(
        slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
        database_url=database_url, timezone="America/New_York",
    )  # fmt: skip
    return create_app(settings, session_factory=session_factory, clock=lambda: now)


def myperf(app, slack, user_id: str, text: str = "", headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    body = slash_command_body("/myperf", text, user_id, slack.response_url())
    return app.dispatch(BoltRequest(body=body, headers=headers if headers is not None else sign(body)))


def shown(slack, count: int = 1) -> dict:  # type: ignore[no-untyped-def]
    return slack.wait_for("response", count)[-1].body


def texts(message: dict) -> list[str]:
    """Every piece of text in a message's blocks, in order."""
    found = []
    for block in message["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        found.extend(field["text"] for field in block.get("fields", []))
        found.extend(element["text"] for element in block.get("elements", []))
    return found


def test_a_rep_gets_their_scorecard_privately_and_is_linked_by_email(app, slack, session_factory) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    slack.add_user("URILEY", RILEY, tz="America/Los_Angeles")
    response = myperf(app, slack, "URILEY")
    assert (response.status, response.body) == (200, "")
    message = shown(slack)
    assert message["response_type"] == "ephemeral"
    assert message["text"] == ("Q4 2026: $40,000 of $100,000 (40%), pace 67%, projected 86%, 1 deal(s) with process gaps.")
    assert texts(message)[:2] == [
        "Q4 2026 scorecard · Riley Rep",
        "*The number*\n*$40,000* closed-won of *$100,000* quota: *40%*",
    ]
    assert (
        "*Process*: 1 of 2 open deals follow the process (50%)\n"
        "• <https://crm.example.com/deals/O2|Globex expansion> ($20,000, Negotiation): no dated next step; "
        "close date Nov 20 has passed; 36 days in Negotiation (limit 14)"
    ) in texts(message)
    assert [call.body["user"] for call in slack.calls_to("users.info")] == ["URILEY"]
    with session_factory() as session:
        riley = session.scalar(select(Person).where(Person.email == RILEY))
        assert (riley.slack_user_id, riley.timezone) == ("URILEY", "America/Los_Angeles")


def test_a_linked_rep_is_not_looked_up_again(app, slack, session_factory) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    slack.add_user("URILEY", RILEY)
    myperf(app, slack, "URILEY")
    shown(slack, 1)
    myperf(app, slack, "URILEY", "month")
    message = shown(slack, 2)
    assert texts(message)[0] == "November 2026 scorecard · Riley Rep"
    assert len(slack.calls_to("users.info")) == 1


@pytest.mark.parametrize(
    ("text", "header"),
    [
        ("week", "week of Nov 23 scorecard · Riley Rep"),
        ("YEAR", "2026 scorecard · Riley Rep"),
        ("  quarter ", "Q4 2026 scorecard · Riley Rep"),
    ],
)
def test_a_period_can_be_asked_for(app, slack, session_factory, text, header) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    slack.add_user("URILEY", RILEY)
    myperf(app, slack, "URILEY", text)
    assert texts(shown(slack))[0] == header


def test_help_explains_the_command(app, slack) -> None:  # type: ignore[no-untyped-def]
    myperf(app, slack, "UANY", "help")
    message = shown(slack)
    assert message["text"] == "How /myperf works"
    assert texts(message)[0].startswith("*/myperf* shows your scorecard, privately")
    assert slack.calls_to("users.info") == []


def test_someone_the_bot_does_not_know_is_told_how_to_be_linked(app, slack, session_factory) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    slack.add_user("UOLLY", OUTSIDER)
    myperf(app, slack, "UOLLY")
    message = shown(slack)
    assert message["text"] == "coachbot does not know you yet: ask your admin to add your Slack email to the org file."
    assert texts(message)[0] == (
        ":wave: I don't know you yet. Your Slack account (olly.outsider@example.com) is not in coachbot's org yet. "
        "Ask your coachbot admin to add that email to the org file and run `coachbot org import`; "
        "use the same email as in the CRM."
    )


def test_a_slack_account_without_a_visible_email_is_told_what_the_admin_must_fix(app, slack) -> None:  # type: ignore[no-untyped-def]
    slack.add_user("UNOMAIL", None)
    myperf(app, slack, "UNOMAIL")
    assert "`users:read.email` scope" in texts(shown(slack))[0]


@pytest.mark.parametrize(
    "hostile",
    [
        '"; DROP TABLE deals; --',
        "quarter\x00\x07\x1b[31m",
        "<!channel> *bold* `code`",
        "x" * 5000,
        "'quarter'"[:0] + "q\u202euarter",
    ],
)
def test_hostile_text_gets_a_polite_answer(app, slack, hostile) -> None:  # type: ignore[no-untyped-def]
    response = myperf(app, slack, "UANY", hostile)
    assert response.status == 200
    message = shown(slack)
    first = texts(message)[0]
    assert first.startswith("I don't know the period “")
    assert first.endswith("”. Try `week`, `month`, `quarter` or `year`.")
    assert "<!channel>" not in first and "\x00" not in first
    assert len(first) < 200


def test_quoted_and_padded_periods_are_understood(app, slack, session_factory) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    slack.add_user("URILEY", RILEY)
    myperf(app, slack, "URILEY", ' "month"\t')
    assert texts(shown(slack))[0] == "November 2026 scorecard · Riley Rep"


def test_an_unsigned_request_is_refused_and_nothing_runs(app, slack) -> None:  # type: ignore[no-untyped-def]
    assert myperf(app, slack, "URILEY", headers={"content-type": "application/x-www-form-urlencoded"}).status == 401
    assert slack.calls_to("response") == [] and slack.calls_to("users.info") == []


def test_a_wrongly_signed_request_is_refused(app, slack) -> None:  # type: ignore[no-untyped-def]
    body = slash_command_body("/myperf", "", "URILEY", slack.response_url())
    headers = sign(body, secret="not-the-secret")
    assert app.dispatch(BoltRequest(body=body, headers=headers)).status == 401


def test_a_replayed_request_older_than_five_minutes_is_refused(app, slack) -> None:  # type: ignore[no-untyped-def]
    body = slash_command_body("/myperf", "", "URILEY", slack.response_url())
    assert app.dispatch(BoltRequest(body=body, headers=sign(body, timestamp=int(time.time()) - 6 * 60))).status == 401
    time.sleep(0.2)
    assert slack.calls_to("response") == []


def test_an_unexpected_error_gives_the_user_a_reference_and_logs_the_traceback(app, slack, caplog) -> None:  # type: ignore[no-untyped-def]
    slack.overrides["users.info"] = {"ok": True}  # a malformed answer: no "user"
    myperf(app, slack, "URILEY")
    first = texts(shown(slack))[0]
    assert first.startswith(":warning: Something went wrong on my side.")
    reference = first.rsplit("`", 2)[1]
    assert len(reference) == 8
    logged = [record for record in caplog.records if reference in record.getMessage()]
    assert logged and logged[0].exc_info is not None


def test_the_fallback_text_escapes_what_was_typed_as_the_blocks_do(app, slack) -> None:  # type: ignore[no-untyped-def]
    myperf(app, slack, "UANY", "<!channel> & co")
    message = shown(slack)
    assert message["text"] == "I don't know the period “&lt;!channel&gt; &amp; co”. Try week, month, quarter or year."
    assert texts(message)[0] == "I don't know the period “&lt;!channel&gt; &amp; co”. Try `week`, `month`, `quarter` or `year`."
