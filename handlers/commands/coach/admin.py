"""`/coach admin role @person add|remove ROLE` and `/coach admin coach|uncoach @coach @rep`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.blocks.coach import coach_assignment_message, role_change_message
from bot.coaching import roles
from bot.coaching.errors import InvalidInput
from bot.slack_ids import COACH_COMMAND
from handlers.commands.coach.ask import Ask, Reply
from handlers.commands.coach.parsing import PersonRef, split_word, take_person

USAGE = (
    f"`{COACH_COMMAND} admin role @person add|remove rep|manager|coach|admin`, "
    f"`{COACH_COMMAND} admin coach @coach @rep` or `{COACH_COMMAND} admin uncoach @coach @rep`"
)


@dataclass(frozen=True)
class AdminRequest:
    what: str  # "role", "coach" or "uncoach"
    people: tuple[PersonRef, ...] = ()
    change: str = ""
    role: str = ""
    # Words that are not an admin command; said only to an admin, so nobody else learns the syntax.
    problem: str | None = None


def parse(words: str) -> AdminRequest:
    what, rest = split_word(words)
    try:
        if what == "role":
            ref, rest = take_person(rest, USAGE)
            change, rest = split_word(rest)
            role, _ = split_word(rest)
            if change not in ("add", "remove") or not role:
                raise InvalidInput(f"Say `add` or `remove`, then the role: {USAGE}.")
            return AdminRequest(what, (ref,), change, role)
        if what in ("coach", "uncoach"):
            coach_ref, rest = take_person(rest, USAGE)
            rep_ref, _ = take_person(rest, USAGE)
            return AdminRequest(what, (coach_ref, rep_ref))
        raise InvalidInput(f"Admin commands: {USAGE}.")
    except InvalidInput as error:
        return AdminRequest(what, problem=str(error))


def run(ask: Ask, request: AdminRequest) -> Reply:
    roles.require_admin(ask.caller)
    if request.problem is not None:
        raise InvalidInput(request.problem)
    if request.what == "role":
        person = ask.person(request.people[0])
        result = roles.change_role(ask.session, ask.caller, person, request.role, grant=request.change == "add", now=ask.now)
        return Reply(message=role_change_message(person.name, result))
    coach, rep = ask.person(request.people[0]), ask.person(request.people[1])
    change_assignment = roles.assign_coach if request.what == "coach" else roles.unassign_coach
    changed = change_assignment(ask.session, ask.caller, coach, rep, ask.now)
    message = coach_assignment_message(
        coach_name=coach.name, rep_name=rep.name, assigned=request.what == "coach", changed=changed
    )
    return Reply(message=message)
