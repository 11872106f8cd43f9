"""The checked-in manifest lists exactly what the app registers, and the reverse."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import yaml
from slack_bolt import BoltRequest, BoltResponse

from bot.app import create_app
from bot.doctor import REQUIRED_BOT_SCOPES
from bot.settings import Settings
from bot.slack_ids import ACTION_IDS, COMMANDS, EVENTS, NUDGE_OPEN_CRM, VIEW_CALLBACK_IDS
from tests.support.signing import SIGNING_SECRET, sign, slash_command_body

MANIFEST = yaml.safe_load((Path(__file__).resolve().parent.parent / "manifest.yml").read_text())


def manifest_commands() -> list[str]:
    return [command["command"] for command in MANIFEST["features"].get("slash_commands", [])]


def interactivity_enabled() -> bool:
    return bool(MANIFEST["settings"].get("interactivity", {}).get("is_enabled"))


def manifest_requests() -> list[BoltRequest]:
    """One request for every command the manifest lists, and, when it turns interactivity on,
    for every button and modal coachbot's messages carry (bot/slack_ids.py lists them)."""
    requests = []
    for command in manifest_commands():
        body = slash_command_body(command, "", "U1", "https://hooks.slack.com/commands/x")
        requests.append(BoltRequest(body=body, headers=sign(body)))
    for event in MANIFEST["settings"].get("event_subscriptions", {}).get("bot_events", []):
        payload = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": "Ev1", "event_time": 1,
                   "event": {"type": event, "user": "U1", "tab": "home"}}  # fmt: skip
        body = json.dumps(payload)
        requests.append(BoltRequest(body=body, headers={**sign(body), "content-type": "application/json"}))
    if interactivity_enabled():
        for action_id in (*ACTION_IDS, f"{NUDGE_OPEN_CRM}:1"):
            payload = {"type": "block_actions", "user": {"id": "U1"}, "team": {"id": "T1"}, "api_app_id": "A1",
                       "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": "1"}]}  # fmt: skip
            body = "payload=" + urllib.parse.quote(json.dumps(payload))
            requests.append(BoltRequest(body=body, headers=sign(body)))
        for callback_id in VIEW_CALLBACK_IDS:
            payload = {"type": "view_submission", "user": {"id": "U1"}, "team": {"id": "T1"}, "api_app_id": "A1",
                       "view": {"type": "modal", "callback_id": callback_id, "state": {"values": {}}}}  # fmt: skip
            body = "payload=" + urllib.parse.quote(json.dumps(payload))
            requests.append(BoltRequest(body=body, headers=sign(body)))
    return requests


def build_app(slack, database_url):  # type: ignore[no-untyped-def]
    settings = Settings(
        slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url, database_url=database_url
    )
    return create_app(settings)


def test_every_registered_listener_answers_something_in_the_manifest(slack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = build_app(slack, f"sqlite:///{tmp_path / 'x.db'}")
    requests = manifest_requests()
    listeners = app._listeners  # Bolt keeps no public listing of what was registered
    assert listeners, "the app registered no listeners"
    for listener in listeners:
        assert any(listener.matches(req=request, resp=BoltResponse(status=200)) for request in requests), (
            f"a registered listener matches nothing in manifest.yml: {listener}"
        )


def test_every_manifest_command_button_and_modal_has_a_listener(slack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = build_app(slack, f"sqlite:///{tmp_path / 'x.db'}")
    for request in manifest_requests():
        assert any(listener.matches(req=request, resp=BoltResponse(status=200)) for listener in app._listeners), (
            f"nothing handles {request.body.get('command') or request.body.get('actions') or request.body.get('view')}"
        )


def test_the_manifest_subscribes_to_exactly_the_events_coachbot_handles() -> None:
    assert tuple(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == EVENTS
    assert tuple(command["command"] for command in MANIFEST["features"]["slash_commands"]) == COMMANDS


def test_interactivity_is_on_because_messages_carry_buttons() -> None:
    assert interactivity_enabled()
    assert MANIFEST["settings"]["interactivity"]["request_url"].endswith("/slack/events")


def test_the_manifest_asks_for_exactly_the_scopes_doctor_checks() -> None:
    assert sorted(MANIFEST["oauth_config"]["scopes"]["bot"]) == sorted(REQUIRED_BOT_SCOPES)


def test_every_command_points_at_the_events_endpoint() -> None:
    for command in MANIFEST["features"]["slash_commands"]:
        assert command["url"].endswith("/slack/events")
