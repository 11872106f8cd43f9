"""What every command does first: find who is asking, or tell them how to be linked."""

from __future__ import annotations

from slack_bolt import Respond
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.blocks import to_dicts
from bot.blocks.messages import NOT_LINKED_TEXT, not_linked_blocks
from bot.identity import person_for_slack_user
from bot.models import Person


def caller_or_explain(session: Session, client: WebClient, user_id: str, respond: Respond) -> Person | None:
    """The person behind `user_id` (linked by Slack email on first contact); None after telling
    someone coachbot does not know how to be added."""
    caller = person_for_slack_user(session, client, user_id)
    if caller.person is None:
        respond(blocks=to_dicts(not_linked_blocks(caller.email)), text=NOT_LINKED_TEXT, response_type="ephemeral")
    return caller.person
