"""Each person's own controls: opened from the App Home or a nudge's menu, saved from the modal,
checked field by field, audited, and read by the schedule and the delivery window."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from bot.database import session_scope
from bot.models import AuditEntry, Person
from bot.slack_ids import (
    NUDGE_MENU,
    PREFS_DIGEST_BLOCK,
    PREFS_DIGEST_INPUT,
    PREFS_OPEN,
    PREFS_PAUSE_BLOCK,
    PREFS_PAUSE_INPUT,
    PREFS_TIME_BLOCK,
    PREFS_TIME_INPUT,
    PREFS_VIEW,
)
from tests.handlers.test_home import app, published, send, settings, team, texts

__all__ = ["app", "settings", "team"]


def open_preferences(app, user: str, action_id: str = PREFS_OPEN) -> Any:  # type: ignore[no-untyped-def]
    action: dict[str, Any] = {"action_id": action_id, "block_id": "b1"}
    action |= (
        {"type": "overflow", "selected_option": {"value": "preferences"}}
        if action_id == NUDGE_MENU
        else {"type": "button", "value": "home"}
    )
    payload = {"type": "block_actions", "user": {"id": user}, "team": {"id": "T0001"}, "api_app_id": "A0001", "trigger_id": "7.8.9",
               "container": {"type": "view", "view_id": "V1"}, "actions": [action]}  # fmt: skip
    return send(app, payload, form=True)


def submit(app, user: str, *, time: str | None, paused: str | None, digest: bool | None = None) -> Any:  # type: ignore[no-untyped-def]
    values: dict[str, Any] = {
        PREFS_TIME_BLOCK: {PREFS_TIME_INPUT: {"type": "timepicker", "selected_time": time}},
        PREFS_PAUSE_BLOCK: {PREFS_PAUSE_INPUT: {"type": "datepicker", "selected_date": paused}},
    }
    if digest is not None:
        values[PREFS_DIGEST_BLOCK] = {
            PREFS_DIGEST_INPUT: {"type": "checkboxes", "selected_options": [{"value": "on"}] if digest else []}
        }
    payload = {"type": "view_submission", "user": {"id": user}, "team": {"id": "T0001"}, "api_app_id": "A0001",
               "view": {"id": "V2", "type": "modal", "callback_id": PREFS_VIEW, "state": {"values": values}}}  # fmt: skip
    return send(app, payload, form=True)


def stored(session_factory, person_id: int) -> tuple[Any, ...]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        person = session.get(Person, person_id)
        assert person is not None
        return person.nudge_time, person.paused_until, person.digest_enabled


def test_change_on_the_home_opens_the_modal_with_the_reps_current_choices(app, slack, team) -> None:  # type: ignore[no-untyped-def]
    assert open_preferences(app, "URILEY").status == 200
    [opened] = slack.wait_for("views.open")
    view = opened.body["view"]
    assert (opened.body["trigger_id"], view["callback_id"], view["title"]["text"]) == ("7.8.9", PREFS_VIEW, "My preferences")
    assert [block["block_id"] for block in view["blocks"]] == [
        PREFS_TIME_BLOCK,
        PREFS_PAUSE_BLOCK,
    ]  # no digest: Riley is no manager
    assert view["blocks"][0]["element"] == {"type": "timepicker", "action_id": PREFS_TIME_INPUT, "initial_time": "09:00"}
    assert view["blocks"][0]["hint"]["text"] == "In your time zone, America/New_York."


def test_the_menu_on_a_nudge_opens_the_same_modal_and_a_manager_sees_the_digest_choice(app, slack, team) -> None:  # type: ignore[no-untyped-def]
    open_preferences(app, "UMIA", action_id=NUDGE_MENU)
    [opened] = slack.wait_for("views.open")
    blocks = opened.body["view"]["blocks"]
    assert [block["block_id"] for block in blocks] == [PREFS_TIME_BLOCK, PREFS_PAUSE_BLOCK, PREFS_DIGEST_BLOCK]
    assert [option["value"] for option in blocks[2]["element"]["initial_options"]] == ["on"]


def test_saving_stores_the_choices_audits_them_and_republishes_the_home(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    open_preferences(app, "URILEY")  # links Riley on first contact
    slack.wait_for("views.open")
    response = submit(app, "URILEY", time="08:30", paused="2026-12-04")
    assert (response.status, response.body) == (200, "")
    assert stored(session_factory, team["riley"]) == ("08:30", dt.date(2026, 12, 4), True)
    [(_, blocks)] = published(slack)
    assert texts(blocks)[-1] == "*Your preferences*\nMorning nudge at *08:30* (America/New_York) · paused until *Dec 4*"
    with session_factory() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "change_preferences")).all()
    assert (entry.actor_id, entry.subject_id, entry.detail) == (
        team["riley"],
        team["riley"],
        {"nudge_time": [None, "08:30"], "paused_until": [None, "2026-12-04"]},
    )
    # Clearing the pause ends it; the same time again changes nothing else.
    submit(app, "URILEY", time="08:30", paused=None)
    assert stored(session_factory, team["riley"]) == ("08:30", None, True)


def test_a_manager_turns_the_digest_off(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    submit(app, "UMIA", time="09:00", paused=None, digest=False)
    assert stored(session_factory, team["mia"]) == ("09:00", None, False)


def test_a_time_in_quiet_hours_or_a_pause_in_the_past_comes_back_beside_its_field(app, slack, session_factory, team) -> None:  # type: ignore[no-untyped-def]
    response = submit(app, "UMIA", time="07:00", paused="2026-11-20")
    assert response.status == 200
    assert response.body and __import__("json").loads(response.body) == {
        "response_action": "errors",
        "errors": {
            PREFS_TIME_BLOCK: "07:00 is in the quiet hours (19:00–08:00), when nothing is sent: pick a later time.",
            PREFS_PAUSE_BLOCK: "Nov 20 has passed where you are: pick today or later, or clear it.",
        },
    }
    assert stored(session_factory, team["mia"]) == (None, None, True)
    with session_scope(session_factory) as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "change_preferences")).all() == []
