"""`/coach list [@rep]` and `/coach done <action number>`."""

from __future__ import annotations

import re

from bot.blocks.coach import action_done_confirmation, work_list_message
from bot.coaching import actions
from bot.coaching.errors import InvalidInput
from bot.coaching.worklist import work_list
from bot.models import Action, Person
from bot.slack_ids import COACH_COMMAND
from handlers.commands.coach.ask import Ask, Reply
from handlers.commands.coach.parsing import PersonRef, take_person

_ACTION_NUMBER = re.compile(r"#?(?P<id>\d{1,9})")


def parse_list(words: str) -> PersonRef | None:
    return take_person(words, f"`{COACH_COMMAND} list @rep`")[0] if words.strip() else None


def run_list(ask: Ask, rep_ref: PersonRef | None) -> Reply:
    rep = ask.person(rep_ref) if rep_ref is not None else None
    work = work_list(ask.session, ask.caller, rep, ask.now, default_timezone=ask.services.settings.timezone)
    return Reply(message=work_list_message(work))


def parse_done(words: str) -> int:
    match = _ACTION_NUMBER.fullmatch(words.strip())
    if match is None:
        raise InvalidInput(f"Give the action's number: `{COACH_COMMAND} done 12`. `{COACH_COMMAND} list` shows the numbers.")
    return int(match["id"])


def run_done(ask: Ask, action_id: int) -> Reply:
    found = ask.session.get(Action, action_id)
    status_before = found.status if found is not None else "open"
    action = actions.complete_action(ask.session, ask.notices, action_id, ask.caller, ask.now)
    rep = ask.session.get_one(Person, action.person_id)
    return Reply(
        message=action_done_confirmation(action_id=action.id, text=action.text, rep_name=rep.name, status_before=status_before)
    )
