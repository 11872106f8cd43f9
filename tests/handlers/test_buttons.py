"""Buttons and the plan modal through the Bolt app, with signed requests; the message is updated
in place after a click, and a click that is not allowed or is stale is explained privately."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from decimal import Decimal
from typing import Any

import pytest
from slack_bolt import BoltRequest
from sqlalchemy import select

from bot.app import create_app
from bot.coaching import actions
from bot.database import session_scope
from bot.models import Action, OutboxMessage, Person, PlanCheckin, RecoveryPlan
from bot.settings import Settings
from bot.slack_ids import (
    ACTION_DONE,
    CHECKIN_NEED_HELP,
    CHECKIN_ON_TRACK,
    NUDGE_GAP_SNOOZE,
    PLAN_CADENCE_BLOCK,
    PLAN_CADENCE_INPUT,
    PLAN_COMMITMENTS_BLOCK,
    PLAN_COMMITMENTS_INPUT,
    PLAN_NOT_NOW,
    PLAN_OPEN,
    PLAN_OPEN_VIEW,
)
from tests.support.delivered import delivered
from tests.support.personas import MIA, RILEY, seed_team
from tests.support.signing import SIGNING_SECRET, sign


@pytest.fixture
def app(slack, session_factory, database_url, now):  # type: ignore[no-untyped-def]
    settings = Settings(
        _env_file=None, slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
        database_url=database_url, timezone="America/New_York",
    )  # type: ignore[call-arg]  # fmt: skip
    return create_app(settings, session_factory=session_factory, clock=lambda: now)


@pytest.fixture
def team(session_factory, slack):  # type: ignore[no-untyped-def]
    ids = seed_team(session_factory)
    with session_scope(session_factory) as session:
        session.get(Person, ids["riley"]).slack_user_id = "URILEY"  # type: ignore[union-attr]
        session.get(Person, ids["mia"]).slack_user_id = "UMIA"  # type: ignore[union-attr]
    slack.add_user("URILEY", RILEY)
    slack.add_user("UMIA", MIA)
    return ids


def click(app, slack, user: str, action_id: str, value: str, message_blocks: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    payload = {
        "type": "block_actions", "user": {"id": user}, "team": {"id": "T0001"}, "api_app_id": "A0001",
        "trigger_id": "1.2.3", "response_url": slack.response_url(user),
        "message": {"text": "the original", "blocks": message_blocks},
        "actions": [{"action_id": action_id, "block_id": "b1", "type": "button", "value": value}],
    }  # fmt: skip
    body = "payload=" + urllib.parse.quote(json.dumps(payload))
    return app.dispatch(BoltRequest(body=body, headers=sign(body)))


def buttons(action_id: str, value: str) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Book a QBR"}},
        {
            "type": "actions",
            "block_id": "b1",
            "elements": [
                {"type": "button", "action_id": action_id, "value": value, "text": {"type": "plain_text", "text": "Go"}}
            ],
        },
    ]


def assign(session_factory, team, now) -> int:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        rep, manager = session.get(Person, team["riley"]), session.get(Person, team["mia"])
        return delivered(actions.assign_action)(
            session, rep=rep, assigned_by=manager, text="Book a QBR with Globex", due_date=dt.date(2026, 11, 27), now=now
        ).id  # type: ignore[arg-type]


def test_a_done_click_marks_the_action_done_and_updates_the_message_in_place(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    action_id = assign(session_factory, team, now)
    assert click(app, slack, "URILEY", ACTION_DONE, str(action_id), buttons(ACTION_DONE, str(action_id))).status == 200
    [update] = slack.wait_for("response")
    assert update.body["replace_original"] is True
    assert update.body["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Book a QBR"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": ":white_check_mark: Done: Book a QBR with Globex"}]},
    ]
    with session_factory() as session:
        assert session.get(Action, action_id).status == "done"  # type: ignore[union-attr]
        notices = session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.kind == "action_done")).all()
    assert notices == ["UMIA"]  # the manager who assigned it is told


def test_someone_else_cannot_mark_a_reps_action_done(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    action_id = assign(session_factory, team, now)
    slack.add_user("UOLLY", "olly@example.com")
    with session_scope(session_factory) as session:
        session.add(Person(email="olly@example.com", name="Olly Other", is_rep=True, slack_user_id="UOLLY"))
    click(app, slack, "UOLLY", ACTION_DONE, str(action_id), buttons(ACTION_DONE, str(action_id)))
    [reply] = slack.wait_for("response")
    assert reply.body["response_type"] == "ephemeral" and reply.body.get("replace_original") is False
    assert reply.body["text"] == "Only Riley Rep, whoever assigned it and Riley Rep's managers can mark this action done."
    with session_factory() as session:
        assert session.get(Action, action_id).status == "open"  # type: ignore[union-attr]


def test_a_click_on_a_stale_message_explains_itself(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    click(app, slack, "URILEY", NUDGE_GAP_SNOOZE, "999999", buttons(NUDGE_GAP_SNOOZE, "999999"))
    [reply] = slack.wait_for("response")
    assert reply.body["text"] == "That gap is gone: the deal was fixed or removed."


def test_the_plan_form_returns_a_field_error_without_commitments(app, slack, team) -> None:  # type: ignore[no-untyped-def]
    view = {
        "type": "modal", "callback_id": PLAN_OPEN_VIEW, "private_metadata": "1",
        "state": {"values": {PLAN_COMMITMENTS_BLOCK: {PLAN_COMMITMENTS_INPUT: {"type": "plain_text_input", "value": "  \n - \n"}},
                             PLAN_CADENCE_BLOCK: {PLAN_CADENCE_INPUT: {"type": "static_select", "selected_option": {"value": "7"}}}}},
    }  # fmt: skip
    payload = {"type": "view_submission", "user": {"id": "UMIA"}, "team": {"id": "T0001"}, "api_app_id": "A0001", "view": view}
    body = "payload=" + urllib.parse.quote(json.dumps(payload))
    response = app.dispatch(BoltRequest(body=body, headers=sign(body)))
    assert response.status == 200
    assert json.loads(response.body) == {
        "response_action": "errors",
        "errors": {PLAN_COMMITMENTS_BLOCK: "Add at least one weekly commitment, e.g. “15 prospecting calls a week”."},
    }


def propose_plan(session_factory, team, now) -> int:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        plan = RecoveryPlan(
            person_id=team["riley"], manager_id=team["mia"], period_start=dt.date(2026, 10, 1), period_end=dt.date(2026, 12, 31),
            gap_amount=Decimal("60000"), pipeline_to_add=Decimal("150000"), currency="USD", status="proposed", opened_at=now,
        )  # fmt: skip
        session.add(plan)
        session.flush()
        return plan.id


def test_open_a_recovery_plan_opens_the_form_for_the_manager_only(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    plan_id = propose_plan(session_factory, team, now)
    click(app, slack, "URILEY", PLAN_OPEN, str(plan_id), buttons(PLAN_OPEN, str(plan_id)))
    [refusal] = slack.wait_for("response")
    assert refusal.body["text"] == "Only the rep's manager can open their recovery plan."
    click(app, slack, "UMIA", PLAN_OPEN, str(plan_id), buttons(PLAN_OPEN, str(plan_id)))
    [opened] = slack.wait_for("views.open")
    view = json.loads(opened.body["view"]) if isinstance(opened.body["view"], str) else opened.body["view"]
    assert (opened.body["trigger_id"], view["callback_id"], view["private_metadata"]) == (
        "1.2.3",
        "coaching_plan_open_view",
        str(plan_id),
    )


def test_not_now_declines_the_plan_and_updates_the_message(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    plan_id = propose_plan(session_factory, team, now)
    click(app, slack, "UMIA", PLAN_NOT_NOW, str(plan_id), buttons(PLAN_NOT_NOW, str(plan_id)))
    [update] = slack.wait_for("response")
    assert (
        update.body["blocks"][1]["elements"][0]["text"]
        == "Not now: no recovery plan this quarter. You can still coach with /coach."
    )
    with session_factory() as session:
        assert session.get(RecoveryPlan, plan_id).status == "cancelled"  # type: ignore[union-attr]


@pytest.mark.parametrize(("action_id", "answer", "note"), [
    (CHECKIN_ON_TRACK, "on_track", ":large_green_circle: You said: on track."),
    (CHECKIN_NEED_HELP, "need_help", ":red_circle: You asked for help; your manager knows."),
])  # fmt: skip
def test_a_check_in_answer_is_recorded_and_the_manager_told(
    app, slack, session_factory, team, now, action_id, answer, note
) -> None:  # type: ignore[no-untyped-def]
    plan_id = propose_plan(session_factory, team, now)
    with session_scope(session_factory) as session:
        plan = session.get(RecoveryPlan, plan_id)
        plan.status, plan.next_checkin_at = "open", now - dt.timedelta(minutes=1)  # type: ignore[union-attr]
        checkin = PlanCheckin(plan_id=plan_id, asked_at=now - dt.timedelta(minutes=1))
        session.add(checkin)
        session.flush()
        checkin_id = checkin.id
    click(app, slack, "URILEY", action_id, str(checkin_id), buttons(action_id, str(checkin_id)))
    [update] = slack.wait_for("response")
    assert update.body["blocks"][1]["elements"][0]["text"] == note
    with session_factory() as session:
        assert session.get(PlanCheckin, checkin_id).answer == answer  # type: ignore[union-attr]
        told = session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.kind == "checkin_answer")).all()
    assert told == ["UMIA"]
