"""`/coach`: actions, goals and recovery plans for the reps you coach; role changes for admins.

    /coach                                   the form (handlers/views/coach.py takes it back)
    /coach assign @rep what to do [by date]  an action; the rep gets it with a Done button
    /coach goal @rep competency: text [by date]
    /coach plan @rep                         a recovery plan (the rep's manager chain only)
    /coach list [@rep]                       open actions and goals
    /coach 1on1 @rep                         the rep's 1:1 agenda, privately
    /coach done <action number>
    /coach admin role @person add|remove rep|manager|coach|admin
    /coach admin coach|uncoach @coach @rep

Each subcommand parses its words into plain values first (parsing.py); the people it mentions are
looked up, and linked by their Slack email on first sight, before the unit of work opens; the
domain then decides (who may do what is bot.access's and the coaching services' to say, and they
audit every change), and the reply, a modal and the touched App Homes go out after the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, is_dataclass
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.access import coached_by, people_under
from bot.blocks import to_dicts
from bot.blocks.coach import coach_help_blocks, coach_modal, unknown_subcommand_message
from bot.coaching.errors import NotAllowed
from bot.delivery.messages import deliver
from bot.models import Person
from bot.runtime.callers import caller_of, caller_or_explain
from bot.runtime.guard import guarded
from bot.runtime.home import publish_homes
from bot.runtime.services import services_of
from bot.runtime.work import unit_of_work
from bot.slack_ids import COACH_COMMAND
from handlers.commands.coach import admin, assign, listing, one_on_one, plan
from handlers.commands.coach.ask import Ask, Reply
from handlers.commands.coach.parsing import PersonRef, clean, plain_text, split_word


@dataclass(frozen=True)
class Subcommand:
    parse: Callable[[str], Any]
    run: Callable[[Ask, Any], Reply]


SUBCOMMANDS: dict[str, Subcommand] = {
    "assign": Subcommand(partial(assign.parse, "assign"), assign.run),
    "goal": Subcommand(partial(assign.parse, "goal"), assign.run),
    "plan": Subcommand(plan.parse, plan.run),
    "list": Subcommand(listing.parse_list, listing.run_list),
    "done": Subcommand(listing.parse_done, listing.run_done),
    "1on1": Subcommand(one_on_one.parse, one_on_one.run),
    "admin": Subcommand(admin.parse, admin.run),
}


def mentions(request: Any) -> Iterator[str]:
    """The Slack user ids a parsed request mentions, wherever in it they are."""
    if isinstance(request, PersonRef):
        if request.slack_user_id:
            yield request.slack_user_id
    elif isinstance(request, tuple | list):
        for item in request:
            yield from mentions(item)
    elif is_dataclass(request) and not isinstance(request, type):
        for item in fields(request):
            yield from mentions(getattr(request, item.name))


def _open_form(ask: Ask) -> Reply:
    caller = ask.caller
    if not (people_under(ask.session, caller.id) | coached_by(ask.session, caller.id)):
        raise NotAllowed(
            "You don't coach anyone in coachbot yet: only a rep's managers and assigned coaches can assign them actions or "
            f"set their goals. `{COACH_COMMAND} list` shows your own."
        )
    return Reply(view=coach_modal())


def handle_coach(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    ack()
    name, words = split_word(clean(command.get("text")))
    if name == "help":
        respond(blocks=to_dicts(coach_help_blocks()), text=f"How {COACH_COMMAND} works", response_type="ephemeral")
        return
    if name and name not in SUBCOMMANDS:
        message = unknown_subcommand_message(plain_text(name))
        respond(blocks=to_dicts(message.blocks), text=message.text, response_type="ephemeral")
        return
    services = services_of(context)
    caller_id = caller_or_explain(context, client, command["user_id"], respond)
    if caller_id is None:
        return
    subcommand = SUBCOMMANDS.get(name)
    request = subcommand.parse(words) if subcommand else None
    mentioned = {user_id: caller_of(context, client, user_id).person_id for user_id in mentions(request)}
    now = services.clock()
    with unit_of_work(context) as session:
        ask = Ask(session, session.get_one(Person, caller_id), services, now, mentioned)
        reply = subcommand.run(ask, request) if subcommand else _open_form(ask)
        deliver(session, ask.notices, now, playbook=services.playbook, default_timezone=services.settings.timezone)
    # After the commit: a plan the form opens must exist when the form comes back.
    if reply.view is not None:
        client.views_open(trigger_id=command["trigger_id"], view=reply.view)
    if reply.message is not None:
        respond(blocks=to_dicts(reply.message.blocks), text=reply.message.text, response_type="ephemeral")
    publish_homes(client, services, reply.homes, now)


def register(app: App) -> None:
    app.command(COACH_COMMAND)(guarded(handle_coach))
