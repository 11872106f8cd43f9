"""Who is asking: the calling person, found (or linked) before the request's unit of work opens."""

from __future__ import annotations

from slack_bolt import BoltContext, Respond
from slack_sdk import WebClient

from bot.blocks import to_dicts
from bot.blocks.messages import NOT_LINKED_TEXT, not_linked_blocks
from bot.coaching.errors import NotAllowed
from bot.identity import SlackCaller, identify
from bot.runtime.services import services_of


def caller_of(context: BoltContext, client: WebClient, user_id: str) -> SlackCaller:
    """The person behind a Slack user, linked by their Slack email on first contact."""
    return identify(services_of(context).session_factory, client, user_id)


def caller_or_explain(context: BoltContext, client: WebClient, user_id: str, respond: Respond) -> int | None:
    """The id of the person behind `user_id`; None after telling someone coachbot does not know how to be added."""
    caller = caller_of(context, client, user_id)
    if caller.person_id is None:
        respond(blocks=to_dicts(not_linked_blocks(caller.email)), text=NOT_LINKED_TEXT, response_type="ephemeral")
    return caller.person_id


def required_caller(context: BoltContext, client: WebClient, user_id: str) -> int:
    """The id of the person behind `user_id`, for a click or a form: NotAllowed (a private reply) when unknown."""
    person_id = caller_of(context, client, user_id).person_id
    if person_id is None:
        raise NotAllowed(NOT_LINKED_TEXT)
    return person_id
