""" "Update…" on a gap (App Home, /myperf, nudges): opens the Update modal for the deal."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.blocks.writeback import update_modal
from bot.runtime.callers import required_caller
from bot.runtime.guard import guarded
from bot.runtime.services import services_of
from bot.runtime.writeback import update_form
from bot.slack_ids import DEAL_UPDATE


def handle_open_update(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    person_id = required_caller(context, client, body["user"]["id"])
    # Who may write is decided in update_form: a refusal (NotAllowed) is a private reply from the guard.
    form = update_form(services_of(context), person_id, int(body["actions"][0]["value"]))
    client.views_open(trigger_id=body["trigger_id"], view=update_modal(form))


def register(app: App) -> None:
    app.action(DEAL_UPDATE)(guarded(handle_open_update))
