"""`/coach 1on1 @rep`: the rep's 1:1 agenda, privately, with Send to <rep> and Mark held
(handlers/actions/agenda.py takes the clicks)."""

from __future__ import annotations

from bot.blocks.agenda import agenda_message
from bot.coaching.agenda import one_on_one_agenda
from bot.slack_ids import COACH_COMMAND
from handlers.commands.coach.ask import Ask, Reply
from handlers.commands.coach.parsing import PersonRef, take_person

USAGE = f"`{COACH_COMMAND} 1on1 @rep`"


def parse(words: str) -> PersonRef:
    return take_person(words, USAGE)[0]


def run(ask: Ask, rep_ref: PersonRef) -> Reply:
    rep = ask.person(rep_ref)
    settings = ask.services.settings
    agenda = one_on_one_agenda(
        ask.session, ask.caller, rep, ask.now, ask.services.playbook, default_timezone=settings.timezone,
        default_currency=settings.currency, fiscal_year_start_month=settings.fiscal_year_start_month,
    )  # fmt: skip
    return Reply(message=agenda_message(agenda))
