"""The person's own controls: "Change…" on their App Home and the menu on every nudge open the modal."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.blocks.preferences import preferences_modal
from bot.coaching.preferences import preferences_of
from bot.models import Person
from bot.runtime.callers import required_caller
from bot.runtime.guard import guarded
from bot.runtime.services import services_of
from bot.runtime.work import unit_of_work
from bot.slack_ids import NUDGE_MENU, PREFS_OPEN


def handle_open_preferences(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    services = services_of(context)
    person_id = required_caller(context, client, body["user"]["id"])
    with unit_of_work(context) as session:
        person = session.get_one(Person, person_id)
        timezone = person.timezone or services.settings.timezone
        today = services.clock().astimezone(ZoneInfo(timezone)).date()
        view = preferences_modal(preferences_of(person, services.playbook, today), timezone)
    client.views_open(trigger_id=body["trigger_id"], view=view)


def register(app: App) -> None:
    app.action(PREFS_OPEN)(guarded(handle_open_preferences))
    app.action(NUDGE_MENU)(guarded(handle_open_preferences))
