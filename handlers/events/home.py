"""The App Home tab: published when the person opens it (bot/runtime/home.py builds and sends it)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.blocks.home import not_linked_home_view
from bot.models import Person
from bot.runtime.callers import caller_of
from bot.runtime.guard import guarded
from bot.runtime.home import build_home, send_home
from bot.runtime.services import services_of
from bot.runtime.work import unit_of_work
from bot.slack_ids import APP_HOME_OPENED


def handle_app_home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    if event.get("tab") != "home":
        return  # the Messages tab fires the same event
    services = services_of(context)
    now = services.clock()
    user_id = event["user"]
    caller = caller_of(context, client, user_id)
    if caller.person_id is None:
        view = not_linked_home_view(caller.email)
    else:
        with unit_of_work(context) as session:
            view = build_home(session, session.get_one(Person, caller.person_id), now, services)
    # After the commit: no transaction held open across a Slack round trip.
    send_home(client, user_id, view)


def register(app: App) -> None:
    app.event(APP_HOME_OPENED)(guarded(handle_app_home_opened))
