"""`/coach 1on1 @rep` and the agenda's buttons through the Bolt app with signed requests: the agenda
is shown only to the asker, Send to <rep> queues the rep's copy, Mark held records the day, and
every refusal is a private sentence.

The team (tests/coaching/test_goals.py): Vera manages Mia, who manages Riley; Carl coaches Riley;
Olly coaches nobody; Ada is an admin. Riley's history is tests/coaching/test_agenda.py's.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from typing import Any

import pytest
from slack_bolt import BoltRequest, BoltResponse
from sqlalchemy import select

from bot.blocks import to_dicts
from bot.blocks.agenda import agenda_message, one_on_one_copy_message
from bot.coaching.agenda import OWN_AGENDA, one_on_one_agenda
from bot.coaching.playbook import load_playbook
from bot.models import OneOnOne, Person
from bot.slack_ids import ONE_ON_ONE_HELD, ONE_ON_ONE_OPEN, ONE_ON_ONE_SEND
from tests.coaching.test_agenda import seed_history
from tests.coaching.test_goals import Team
from tests.handlers.test_coach import RILEY_MENTION, app, audit_log, coach, outbox, reply, team
from tests.handlers.test_home import open_home
from tests.support.signing import sign

__all__ = ["app", "team"]


@pytest.fixture
def history(session_factory, team):  # type: ignore[no-untyped-def]
    return seed_history(session_factory, team, with_admin=False)


def expected_agenda(session_factory, coach_id: int, rep_id: int, now):  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return one_on_one_agenda(
            session, session.get_one(Person, coach_id), session.get_one(Person, rep_id), now, load_playbook(),
            default_timezone="America/New_York", default_currency="USD", audited=False,
        )  # fmt: skip


def click(  # type: ignore[no-untyped-def]
    app, slack, user: str, action_id: str, value: str, message: dict[str, Any] | None = None, *, ephemeral: bool = False
) -> BoltResponse:
    """A click on a message Slack sends back with it, on an ephemeral message (sent without it), or on the App Home."""
    payload: dict[str, Any] = {
        "type": "block_actions", "user": {"id": user}, "team": {"id": "T0001"}, "api_app_id": "A0001", "trigger_id": "1.2.3",
        "actions": [{"action_id": action_id, "block_id": "b1", "type": "button", "value": value}],
    }  # fmt: skip
    if message is not None:
        payload |= {"response_url": slack.response_url(user), "message": message, "container": {"type": "message"}}
    elif ephemeral:
        payload |= {"response_url": slack.response_url(user), "container": {"type": "message", "is_ephemeral": True}}
    else:
        payload["container"] = {"type": "view", "view_id": "V1"}
    body = "payload=" + urllib.parse.quote(json.dumps(payload))
    return app.dispatch(BoltRequest(body=body, headers=sign(body)))


def rows(session_factory) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return [tuple(row) for row in session.execute(select(OneOnOne.coach_id, OneOnOne.rep_id, OneOnOne.held_on))]


# The command ----------------------------------------------------------------------------------


def test_a_manager_gets_the_agenda_privately_and_the_look_is_audited(app, slack, session_factory, team, history, now) -> None:  # type: ignore[no-untyped-def]
    assert coach(app, slack, "UMIA", f"1on1 {RILEY_MENTION}").status == 200
    message = reply(slack)
    expected = agenda_message(expected_agenda(session_factory, team.mia, team.riley, now))
    assert (message["response_type"], message["text"]) == ("ephemeral", "1:1 agenda for Riley Rep")
    assert message["blocks"] == to_dicts(expected.blocks)
    assert message["blocks"][0]["text"]["text"] == "1:1 agenda: Riley Rep"
    assert message["blocks"][-2]["elements"][0]["value"] == str(team.riley)
    assert audit_log(session_factory) == [(team.mia, "view_one_on_one", team.riley, {"since": "2026-11-11"})]
    assert outbox(session_factory) == [] and slack.calls_to("chat.postMessage") == []


def test_the_reps_coach_and_a_manager_further_up_get_it_too(app, slack, session_factory, team, history) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, "UCARL", f"1on1 {RILEY_MENTION}")
    coach(app, slack, "UVERA", "1on1 riley.rep@example.com")
    assert [call.body["text"] for call in slack.wait_for("response", 2)] == ["1:1 agenda for Riley Rep"] * 2


@pytest.mark.parametrize(
    ("user", "text", "shown"),
    [
        ("UMIA", "1on1", "Say who: `/coach 1on1 @rep`."),
        ("UMIA", "1on1 riley", "I couldn't tell who “riley” is: mention them (@name, picked from Slack's list) or give their email."),
        ("UMIA", "1on1 nobody@example.com", "Nobody in coachbot's org has the email nobody@example.com."),
        ("UOLLY", f"1on1 {RILEY_MENTION}", "Only Riley Rep's managers, assigned coaches and coachbot admins can prepare their 1:1 agenda."),
        ("URILEY", f"1on1 {RILEY_MENTION}", OWN_AGENDA),
        ("UVERA", "1on1 <@UMIA|mia>", "Mia Manager is not an active rep in coachbot's org."),
    ],
)  # fmt: skip
def test_bad_input_and_people_who_may_not_get_a_clear_private_answer(
    app, slack, session_factory, team, user, text, shown
) -> None:  # type: ignore[no-untyped-def]
    coach(app, slack, user, text)
    message = reply(slack)
    assert (message["response_type"], message["text"]) == ("ephemeral", shown)
    assert audit_log(session_factory) == [] and outbox(session_factory) == []


def test_an_unknown_mention_is_named(app, slack, team) -> None:  # type: ignore[no-untyped-def]
    slack.add_user("UNEW", "new.hire@example.com")
    coach(app, slack, "UMIA", "1on1 <@UNEW|newbie>")
    assert reply(slack)["text"] == "<@UNEW> is not in coachbot's org yet; an admin adds people with `coachbot org import`."


# The digest's button --------------------------------------------------------------------------


def test_the_digests_button_answers_the_clicking_manager_privately(app, slack, session_factory, team, history, now) -> None:  # type: ignore[no-untyped-def]
    click(app, slack, "UMIA", f"{ONE_ON_ONE_OPEN}:{team.riley}", str(team.riley), {"text": "digest", "blocks": []})
    [response] = slack.wait_for("response")
    expected = agenda_message(expected_agenda(session_factory, team.mia, team.riley, now))
    assert response.body == {
        "text": expected.text, "blocks": to_dicts(expected.blocks), "response_type": "ephemeral", "replace_original": False,
    }  # fmt: skip
    assert audit_log(session_factory) == [(team.mia, "view_one_on_one", team.riley, {"since": "2026-11-11"})]


def test_the_button_on_the_app_home_answers_in_a_direct_message(app, slack, session_factory, team, history, now) -> None:  # type: ignore[no-untyped-def]
    open_home(app, "UMIA")
    [publish] = slack.wait_for("views.publish")
    [button] = [
        element for block in publish.body["view"]["blocks"] if block["type"] == "actions" for element in block["elements"]
        if element["action_id"].startswith(ONE_ON_ONE_OPEN)
    ]  # fmt: skip
    assert (button["action_id"], button["value"], button["text"]["text"]) == (
        f"{ONE_ON_ONE_OPEN}:{team.riley}",
        str(team.riley),
        "1:1 agenda: Riley",
    )
    click(app, slack, "UMIA", button["action_id"], button["value"])  # from the Home tab: no message, no response_url
    [posted] = slack.wait_for("chat.postMessage")
    expected = agenda_message(expected_agenda(session_factory, team.mia, team.riley, now))
    assert (posted.body["channel"], posted.body["text"]) == ("UMIA", expected.text)
    assert posted.body["blocks"] == to_dicts(expected.blocks)


def test_the_button_is_refused_to_someone_who_may_not_see_the_rep(app, slack, session_factory, team, history) -> None:  # type: ignore[no-untyped-def]
    click(app, slack, "UOLLY", f"{ONE_ON_ONE_OPEN}:{team.riley}", str(team.riley), {"text": "digest", "blocks": []})
    [response] = slack.wait_for("response")
    assert (
        response.body["text"] == "Only Riley Rep's managers, assigned coaches and coachbot admins can prepare their 1:1 agenda."
    )
    assert audit_log(session_factory) == []


# Send and Mark held ---------------------------------------------------------------------------


def shown_agenda(app, slack, session_factory, team) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    coach(app, slack, "UMIA", f"1on1 {RILEY_MENTION}")
    body = reply(slack)
    return {"text": body["text"], "blocks": body["blocks"]}


def test_send_queues_the_reps_copy_and_takes_its_button_out(app, slack, session_factory, team, history, now) -> None:  # type: ignore[no-untyped-def]
    message = shown_agenda(app, slack, session_factory, team)
    click(app, slack, "UMIA", ONE_ON_ONE_SEND, str(team.riley), message)
    updated = slack.wait_for("response", 2)[-1].body
    copy = one_on_one_copy_message(agenda=expected_agenda(session_factory, team.mia, team.riley, now))
    key = f"one_on_one_copy:{team.mia}:{team.riley}:2026-11-25"
    assert outbox(session_factory) == [(key, "URILEY", "one_on_one_copy", {"text": copy.text, "blocks": to_dicts(copy.blocks)})]
    assert updated["replace_original"] is True
    assert updated["blocks"][-3]["elements"] == [message["blocks"][-2]["elements"][1]]  # Mark held stays
    assert updated["blocks"][-2] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": ":outbox_tray: Sent to Riley in a direct message."}],
    }
    assert audit_log(session_factory)[-1] == (team.mia, "send_one_on_one", team.riley, {"key": key})
    # A second click (another copy of the message) sends nothing more today, and says so.
    click(app, slack, "UMIA", ONE_ON_ONE_SEND, str(team.riley), message)
    again = slack.wait_for("response", 3)[-1].body
    assert again["blocks"][-2]["elements"][0]["text"] == "Riley already has a copy from you today."
    assert len(outbox(session_factory)) == 1


def test_mark_held_records_the_day_and_the_next_agenda_starts_there(app, slack, session_factory, team, history) -> None:  # type: ignore[no-untyped-def]
    message = shown_agenda(app, slack, session_factory, team)
    click(app, slack, "UMIA", ONE_ON_ONE_HELD, str(team.riley), message)
    updated = slack.wait_for("response", 2)[-1].body
    assert updated["blocks"][-2]["elements"][0]["text"] == (
        ":white_check_mark: Held on Wed, Nov 25: your next agenda with Riley starts from that day."
    )
    assert [element["action_id"] for element in updated["blocks"][-3]["elements"]] == [ONE_ON_ONE_SEND]
    assert rows(session_factory) == [(team.mia, team.riley, dt.date(2026, 11, 25))]
    [(actor, action, subject, detail)] = [row for row in audit_log(session_factory) if row[1] == "one_on_one_held"]
    assert (actor, subject, detail["held_on"]) == (team.mia, team.riley, "2026-11-25")
    click(app, slack, "UMIA", ONE_ON_ONE_HELD, str(team.riley), message)
    again = slack.wait_for("response", 3)[-1].body
    assert (
        again["blocks"][-2]["elements"][0]["text"] == "Already marked held today: your next agenda with Riley starts from today."
    )
    assert len(rows(session_factory)) == 1
    coach(app, slack, "UMIA", f"1on1 {RILEY_MENTION}")
    assert slack.wait_for("response", 4)[-1].body["blocks"][1]["elements"][0]["text"] == (
        "Since *Wed, Nov 25*, your last one-on-one with Riley · only you see this"
    )


def test_send_and_mark_held_are_refused_to_outsiders(app, slack, session_factory, team: Team, history) -> None:  # type: ignore[no-untyped-def]
    for action_id in (ONE_ON_ONE_SEND, ONE_ON_ONE_HELD):
        click(app, slack, "UOLLY", action_id, str(team.riley), {"text": "x", "blocks": []})
    responses = slack.wait_for("response", 2)
    assert [(r.body["text"], r.body["response_type"]) for r in responses] == [
        ("Only Riley Rep's managers, assigned coaches and coachbot admins can prepare their 1:1 agenda.", "ephemeral")
    ] * 2
    assert outbox(session_factory) == [] and rows(session_factory) == [] and audit_log(session_factory) == []


def test_a_copy_for_a_rep_without_slack_says_why_none_was_sent(app, slack, session_factory, team, history) -> None:  # type: ignore[no-untyped-def]
    message = shown_agenda(app, slack, session_factory, team)
    with session_factory.begin() as session:
        session.get_one(Person, team.riley).slack_user_id = None
    click(app, slack, "UMIA", ONE_ON_ONE_SEND, str(team.riley), message)
    updated = slack.wait_for("response", 2)[-1].body
    assert (
        updated["blocks"][-2]["elements"][0]["text"] == "Riley has no Slack account linked to coachbot yet, so no copy was sent."
    )
    assert outbox(session_factory) == []


def test_clicks_on_the_ephemeral_agenda_are_answered_with_a_new_private_note(app, slack, session_factory, team, history) -> None:  # type: ignore[no-untyped-def]
    click(app, slack, "UMIA", ONE_ON_ONE_SEND, str(team.riley), ephemeral=True)
    slack.wait_for("response")  # Bolt runs listeners on its own threads: one click at a time
    click(app, slack, "UMIA", ONE_ON_ONE_HELD, str(team.riley), ephemeral=True)
    sent, held = (call.body for call in slack.wait_for("response", 2))
    assert sent == {
        "text": ":outbox_tray: Sent to Riley in a direct message.",
        "response_type": "ephemeral",
        "replace_original": False,
    }
    assert held == {
        "text": ":white_check_mark: Held on Wed, Nov 25: your next agenda with Riley starts from that day.",
        "response_type": "ephemeral", "replace_original": False,
    }  # fmt: skip
    assert len(outbox(session_factory)) == 1 and len(rows(session_factory)) == 1


@pytest.mark.parametrize(
    ("value", "shown"),
    [("x", "That agenda button names nobody; open the agenda again with `/coach 1on1 @rep`."),
     ("999999", "That rep is no longer in coachbot's org.")],
)  # fmt: skip
def test_a_button_naming_nobody_is_explained(app, slack, session_factory, team, value, shown) -> None:  # type: ignore[no-untyped-def]
    click(app, slack, "UMIA", ONE_ON_ONE_SEND, value, ephemeral=True)
    assert slack.wait_for("response")[0].body["text"] == shown
    assert outbox(session_factory) == [] and audit_log(session_factory) == []
