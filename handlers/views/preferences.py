"""The preferences modal: nudge time, a pause, the weekly digest; errors go back beside their field."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.blocks.messages import NOT_LINKED_TEXT
from bot.blocks.preferences import DIGEST_ON
from bot.coaching.preferences import PreferenceErrors, change_preferences
from bot.models import Person
from bot.runtime.callers import caller_of
from bot.runtime.guard import guarded
from bot.runtime.home import publish_homes
from bot.runtime.services import services_of
from bot.runtime.work import unit_of_work
from bot.slack_ids import (
    PREFS_DIGEST_BLOCK,
    PREFS_DIGEST_INPUT,
    PREFS_PAUSE_BLOCK,
    PREFS_PAUSE_INPUT,
    PREFS_TIME_BLOCK,
    PREFS_TIME_INPUT,
    PREFS_VIEW,
)

FIELD_BLOCKS = {"nudge_time": PREFS_TIME_BLOCK, "paused_until": PREFS_PAUSE_BLOCK}


def read_preferences_form(view: dict[str, Any]) -> tuple[str | None, dt.date | None, bool | None]:
    """(nudge time "HH:MM", pause until, digest on) as submitted; digest None when the form had no such field."""
    values = view.get("state", {}).get("values", {})
    nudge_time = (values.get(PREFS_TIME_BLOCK, {}).get(PREFS_TIME_INPUT) or {}).get("selected_time")
    paused = (values.get(PREFS_PAUSE_BLOCK, {}).get(PREFS_PAUSE_INPUT) or {}).get("selected_date")
    digest_field = values.get(PREFS_DIGEST_BLOCK, {}).get(PREFS_DIGEST_INPUT)
    digest = (
        None
        if digest_field is None
        else any(option.get("value") == DIGEST_ON for option in digest_field.get("selected_options") or [])
    )
    return nudge_time, dt.date.fromisoformat(paused) if paused else None, digest


def handle_preferences_submission(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    services = services_of(context)
    now = services.clock()
    nudge_time, paused_until, digest = read_preferences_form(view)
    person_id = caller_of(context, client, body["user"]["id"]).person_id
    if person_id is None:
        ack(response_action="errors", errors={PREFS_TIME_BLOCK: NOT_LINKED_TEXT})
        return
    with unit_of_work(context) as session:
        person = session.get_one(Person, person_id)
        today = now.astimezone(ZoneInfo(person.timezone or services.settings.timezone)).date()
        try:
            change_preferences(
                session, person, nudge_time=nudge_time, paused_until=paused_until, digest_enabled=digest,
                playbook=services.playbook, today=today, now=now,
            )  # fmt: skip
        except PreferenceErrors as refused:
            session.rollback()
            ack(response_action="errors", errors={FIELD_BLOCKS[name]: text for name, text in refused.fields.items()})
            return
    ack()
    publish_homes(client, services, [person_id], now)


def register(app: App) -> None:
    app.view(PREFS_VIEW)(guarded(handle_preferences_submission))
