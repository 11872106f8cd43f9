"""The 1:1 agenda's buttons: open it (beside each rep in the digest), Send to <rep>, Mark held.

Every answer is private to the clicker: an ephemeral reply where the click came with a
response_url (a message), else a direct message from coachbot (a click on the App Home). Send and
Mark held take their button out of an agenda Slack sends back with the click (one in a direct
message) and say what happened in its place; on the ephemeral agenda, which Slack does not send
back, the answer is a new ephemeral note. The domain (bot/coaching/agenda.py) does each at most
once a day either way.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.blocks import to_dicts
from bot.blocks.agenda import agenda_message, without_clicked
from bot.blocks.coaching import day
from bot.blocks.format import escape, first_name
from bot.coaching import agenda
from bot.coaching.errors import NotFound
from bot.coaching.notices import Notices
from bot.coaching.policy import window_opens
from bot.delivery.messages import deliver
from bot.models import Person
from bot.runtime.callers import required_caller
from bot.runtime.guard import guarded
from bot.runtime.services import services_of
from bot.runtime.work import unit_of_work
from bot.slack_ids import ONE_ON_ONE_HELD, ONE_ON_ONE_OPEN, ONE_ON_ONE_SEND


def _rep_id(body: dict[str, Any]) -> int:
    value = body["actions"][0].get("value", "")
    if not value.isdigit():
        raise NotFound("That agenda button names nobody; open the agenda again with `/coach 1on1 @rep`.")
    return int(value)


def _rep(session: Session, rep_id: int) -> Person:
    rep = session.get(Person, rep_id)
    if rep is None:
        raise NotFound("That rep is no longer in coachbot's org.")
    return rep


def _answer(respond: Respond, client: WebClient, body: dict[str, Any], note: str) -> None:
    """Say what a click did: in place of its button where the message came with the click, else privately anew.

    Slack sends no `message` with a click on an ephemeral message (the `/coach 1on1` reply), so
    there the note is a new ephemeral reply and the buttons stay (the domain makes each once a day)."""
    if "message" in body:
        action_id = body["actions"][0]["action_id"]
        blocks = without_clicked(body["message"].get("blocks", []), action_id, note)
        respond(replace_original=True, blocks=blocks, text=body["message"].get("text", note))
    elif body.get("response_url"):
        respond(text=note, response_type="ephemeral", replace_original=False)
    else:
        client.chat_postMessage(channel=body["user"]["id"], text=note)


def handle_one_on_one_open(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    ack()
    services = services_of(context)
    settings = services.settings
    now = services.clock()
    caller_id = required_caller(context, client, body["user"]["id"])
    with unit_of_work(context) as session:
        found = agenda.one_on_one_agenda(
            session, session.get_one(Person, caller_id), _rep(session, _rep_id(body)), now, services.playbook,
            default_timezone=settings.timezone, default_currency=settings.currency,
            fiscal_year_start_month=settings.fiscal_year_start_month,
        )  # fmt: skip
        message = agenda_message(found)
    if body.get("response_url"):
        respond(blocks=to_dicts(message.blocks), text=message.text, response_type="ephemeral", replace_original=False)
    else:
        client.chat_postMessage(channel=body["user"]["id"], blocks=to_dicts(message.blocks), text=message.text)


def handle_one_on_one_send(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    ack()
    services = services_of(context)
    settings = services.settings
    now = services.clock()
    caller_id = required_caller(context, client, body["user"]["id"])
    with unit_of_work(context) as session:
        rep = _rep(session, _rep_id(body))
        notices = Notices()
        sent = agenda.send_copy(
            session, notices, session.get_one(Person, caller_id), rep, now, services.playbook,
            default_timezone=settings.timezone, default_currency=settings.currency,
            fiscal_year_start_month=settings.fiscal_year_start_month,
        )  # fmt: skip
        queued = deliver(session, notices, now, playbook=services.playbook, default_timezone=settings.timezone)
        first = escape(first_name(rep.name))
        if sent is None:
            note = f"{first} has no Slack account linked to coachbot yet, so no copy was sent."
        elif not queued:
            note = f"{first} already has a copy from you today."
        elif (opens := window_opens(rep, services.playbook, now, settings.timezone)) > now:
            local = opens.astimezone(ZoneInfo(rep.timezone or settings.timezone))
            note = f":outbox_tray: {first} gets their copy when their working hours begin: {day(local.date())} at {local:%H:%M} their time."
        else:
            note = f":outbox_tray: Sent to {first} in a direct message."
    _answer(respond, client, body, note)


def handle_one_on_one_held(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    ack()
    services = services_of(context)
    now = services.clock()
    caller_id = required_caller(context, client, body["user"]["id"])
    with unit_of_work(context) as session:
        rep = _rep(session, _rep_id(body))
        held_on = agenda.mark_held(
            session, session.get_one(Person, caller_id), rep, now, default_timezone=services.settings.timezone
        )
        first = escape(first_name(rep.name))
    if held_on is None:
        note = f"Already marked held today: your next agenda with {first} starts from today."
    else:
        note = f":white_check_mark: Held on {day(held_on)}: your next agenda with {first} starts from that day."
    _answer(respond, client, body, note)


def register(app: App) -> None:
    app.action(re.compile(f"^{ONE_ON_ONE_OPEN}(:\\d+)?$"))(guarded(handle_one_on_one_open))
    app.action(ONE_ON_ONE_SEND)(guarded(handle_one_on_one_send))
    app.action(ONE_ON_ONE_HELD)(guarded(handle_one_on_one_held))
