"""`/coach plan @rep`: propose a recovery plan for this quarter (or take the one proposed) and open its form."""

from __future__ import annotations

from bot.blocks.coaching import plan_open_modal
from bot.coaching import plans
from bot.slack_ids import COACH_COMMAND
from handlers.commands.coach.ask import Ask, Reply
from handlers.commands.coach.parsing import PersonRef, take_person


def parse(words: str) -> PersonRef:
    return take_person(words, f"`{COACH_COMMAND} plan @rep`")[0]


def run(ask: Ask, rep_ref: PersonRef) -> Reply:
    rep = ask.person(rep_ref)
    settings = ask.services.settings
    plan = plans.propose_plan(
        ask.session, rep, ask.caller, ask.now, playbook=ask.services.playbook, default_timezone=settings.timezone,
        default_currency=settings.currency, fiscal_year_start_month=settings.fiscal_year_start_month,
    )  # fmt: skip
    checkin_every_days = ask.services.playbook.recovery.checkin_every_days
    return Reply(view=plan_open_modal(plan_id=plan.id, rep_name=rep.name, checkin_every_days=checkin_every_days))
