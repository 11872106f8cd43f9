"""Socket Mode, the README's quick start, for real: `coachbot run` as a process with SLACK_APP_TOKEN set
asks the stand-in Slack for a WebSocket URL (`apps.connections.open`), connects to the stand-in Socket
Mode endpoint, acknowledges each envelope Slack sends it and answers through the Web API and the
response_url, as it does in HTTP mode."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot.coaching import actions
from bot.database import session_scope
from bot.models import Action, Deal, Person, Quota
from bot.slack_ids import ACTION_DONE, APP_HOME_OPENED, MYPERF_COMMAND
from tests.support.delivered import delivered
from tests.support.personas import MIA, RILEY
from tests.support.servers import coachbot
from tests.support.socket_mode_standin import (
    SocketModeStandIn,
    app_home_opened_payload,
    button_click_payload,
    slash_command_payload,
)

APP_TOKEN = "xapp-1-A0001-socket-mode-test"


@pytest.fixture
def socket_mode() -> Iterator[SocketModeStandIn]:
    standin = SocketModeStandIn().start()
    yield standin
    standin.stop()


def this_quarter(today: dt.date) -> tuple[dt.date, dt.date, str]:
    """The calendar quarter (the default fiscal year) holding `today`: start, end (exclusive), its name."""
    first_month = (today.month - 1) // 3 * 3 + 1
    start = dt.date(today.year, first_month, 1)
    end = dt.date(today.year + 1, 1, 1) if first_month == 10 else dt.date(today.year, first_month + 3, 1)
    return start, end, f"Q{(first_month - 1) // 3 + 1} {today.year}"


@pytest.fixture
def team(session_factory, slack) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Riley, a rep with a $100,000 quota and $40,000 won this quarter, linked on first contact by email,
    with an action from Mia, Riley's manager, who is already linked. Both in UTC, as the bot is, so the
    real clock the process reads always falls in the quarter seeded here."""
    now = dt.datetime.now(dt.UTC)
    start, end, _ = this_quarter(now.date())
    with session_scope(session_factory) as session:
        mia = Person(email=MIA, name="Mia Manager", is_manager=True, timezone="UTC", slack_user_id="UMIA")
        session.add(mia)
        session.flush()
        riley = Person(email=RILEY, name="Riley Rep", is_rep=True, manager_id=mia.id, timezone="UTC")
        session.add(riley)
        session.flush()
        session.add(Quota(person_id=riley.id, period_start=start, period_end=end, amount=Decimal("100000"), currency="USD"))
        session.add(
            Deal(
                crm_source="test",
                crm_id="W1",
                owner_id=riley.id,
                name="Initech",
                amount=Decimal("40000"),
                currency="USD",
                stage="Closed Won",
                is_closed=True,
                is_won=True,
                close_date=start,
                created_at=dt.datetime.combine(start, dt.time(), dt.UTC) - dt.timedelta(days=30),
            )
        )
        action = delivered(actions.assign_action)(
            session,
            rep=riley,
            assigned_by=mia,
            text="Book a QBR with Globex",
            due_date=now.date() + dt.timedelta(days=3),
            now=now,
        )
        ids = {"riley": riley.id, "mia": mia.id, "action": action.id}
    slack.add_user("URILEY", RILEY, tz="UTC")
    slack.add_user("UMIA", MIA, tz="UTC")
    return ids


@pytest.fixture
def socket_mode_bot(database_url: str, slack, socket_mode: SocketModeStandIn, team, tmp_path: Path) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """`coachbot run` in Socket Mode, connected to the stand-in endpoint (its output in a log file)."""
    slack.overrides["apps.connections.open"] = {"ok": True, "url": socket_mode.url}
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "CRM_", "COACHBOT_", "DATABASE_"))}
    env.update(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN="xoxb-socket-mode",
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=slack.api_url,
        COACHBOT_TIMEZONE="UTC",
        # The schedule is proven elsewhere; here it would only add Web API calls to the record.
        COACHBOT_SCHEDULER="false",
    )
    log_path = tmp_path / "coachbot-socket-mode.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            coachbot("run"), env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            try:
                socket_mode.wait_connected(timeout=30)
            except AssertionError:
                process.poll()
                raise AssertionError(
                    f"coachbot run (exit {process.returncode}) did not connect:\n" + log_path.read_text(errors="replace")
                ) from None
            yield
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def done_button_message(action_id: int) -> list[dict[str, object]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Book a QBR"}},
        {
            "type": "actions",
            "block_id": "b1",
            "elements": [
                {
                    "type": "button",
                    "action_id": ACTION_DONE,
                    "value": str(action_id),
                    "text": {"type": "plain_text", "text": "Done"},
                }
            ],
        },
    ]


def test_the_bot_connects_with_the_app_token_to_the_url_slack_hands_out(socket_mode_bot, slack, socket_mode) -> None:  # type: ignore[no-untyped-def]
    [opened] = slack.calls_to("apps.connections.open")
    # Slack takes the app-level token only in the Authorization header for this method.
    assert opened.headers["Authorization"] == f"Bearer {APP_TOKEN}"
    assert socket_mode.connections == [f"/link/?ticket={socket_mode.ticket}&app_id=A0001"]


def test_a_command_a_click_and_a_home_tab_over_socket_mode_are_each_acknowledged_and_answered(  # type: ignore[no-untyped-def]
    socket_mode_bot, slack, socket_mode, session_factory, team
) -> None:
    command = slash_command_payload(MYPERF_COMMAND, "", "URILEY", slack.response_url("URILEY"))
    envelope_id = socket_mode.send("slash_commands", command, accepts_response_payload=True)
    # ack() with nothing to say: the envelope_id alone, no payload.
    assert socket_mode.wait_for_ack(envelope_id) == {"envelope_id": envelope_id}
    [scorecard] = slack.wait_for("response", 1, timeout=10)
    assert scorecard.path == "/response/URILEY"
    assert scorecard.body["response_type"] == "ephemeral"
    quarter = this_quarter(dt.datetime.now(dt.UTC).date())[2]
    assert scorecard.body["blocks"][0]["text"]["text"] == f"{quarter} scorecard · Riley Rep"
    assert scorecard.body["blocks"][1]["text"]["text"] == "*The number*\n*$40,000* closed-won of *$100,000* quota: *40%*"
    assert [call.body["user"] for call in slack.calls_to("users.info")] == ["URILEY"]  # linked by email on first contact

    click = button_click_payload(
        "URILEY", ACTION_DONE, str(team["action"]), done_button_message(team["action"]), slack.response_url("URILEY")
    )
    envelope_id = socket_mode.send("interactive", click, accepts_response_payload=False)
    assert socket_mode.wait_for_ack(envelope_id) == {"envelope_id": envelope_id}
    update = slack.wait_for("response", 2, timeout=10)[-1]
    assert update.path == "/response/URILEY"
    assert update.body["replace_original"] is True
    assert update.body["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Book a QBR"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": ":white_check_mark: Done: Book a QBR with Globex"}]},
    ]
    with session_factory() as session:
        assert session.get(Action, team["action"]).status == "done"  # type: ignore[union-attr]
    # The click changed Riley's Home, so it is republished.
    [republished] = slack.wait_for("views.publish", 1, timeout=10)
    assert republished.body["user_id"] == "URILEY"
    assert republished.body["view"]["blocks"][0]["text"]["text"] == f"{quarter} · Riley Rep"

    event = app_home_opened_payload("UMIA")
    assert event["event"]["type"] == APP_HOME_OPENED
    envelope_id = socket_mode.send("events_api", event, accepts_response_payload=False, retry_attempt=0, retry_reason="")
    assert socket_mode.wait_for_ack(envelope_id) == {"envelope_id": envelope_id}
    home = slack.wait_for("views.publish", 2, timeout=10)[-1]
    assert home.body["user_id"] == "UMIA"
    assert home.body["view"]["type"] == "home"
    assert home.body["view"]["blocks"][0]["text"]["text"] == f"Your team · {quarter}"
    assert home.body["view"]["blocks"][1]["text"]["text"].startswith(
        "*The team's number*\n*$40,000* closed-won of *$100,000* quota"
    )

    # Only acknowledgements came back over the socket, one per envelope, in order.
    assert [set(message) for message in socket_mode.received] == [{"envelope_id"}] * 3
