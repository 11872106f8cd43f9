"""`/myperf [week|month|quarter|year|help]`: the caller's own scorecard, privately."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.blocks import to_dicts
from bot.blocks.leaderboard import my_rank_blocks
from bot.blocks.messages import (
    help_blocks,
    unknown_argument_blocks,
    unknown_argument_text,
)
from bot.blocks.scorecard import scorecard_blocks, scorecard_text
from bot.coaching.leaderboard import my_rank
from bot.coaching.service import scorecard_for
from bot.models import Person
from bot.periods import PERIOD_KINDS
from bot.runtime.callers import caller_or_explain
from bot.runtime.guard import guarded
from bot.runtime.services import services_of
from bot.runtime.work import unit_of_work
from bot.slack_ids import MYPERF_COMMAND

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def parse_myperf_argument(text: str | None) -> str:
    """'' (this quarter), a period kind, 'help', or whatever else was typed, cleaned of control characters."""
    cleaned = _CONTROL_CHARACTERS.sub(" ", text or "").strip().strip("\"'`“”").strip().lower()
    return cleaned


def handle_myperf(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    ack()
    argument = parse_myperf_argument(command.get("text"))
    if argument == "help":
        respond(blocks=to_dicts(help_blocks()), text="How /myperf works", response_type="ephemeral")
        return
    if argument and argument not in PERIOD_KINDS:
        respond(
            blocks=to_dicts(unknown_argument_blocks(argument)), text=unknown_argument_text(argument), response_type="ephemeral"
        )
        return

    services = services_of(context)
    person_id = caller_or_explain(context, client, command["user_id"], respond)
    if person_id is None:
        return
    with unit_of_work(context) as session:
        person = session.get_one(Person, person_id)
        now = services.clock()
        card = scorecard_for(
            session,
            person,
            argument or "quarter",
            now=now,
            playbook=services.playbook,
            default_timezone=services.settings.timezone,
            default_currency=services.settings.currency,
            fiscal_year_start_month=services.settings.fiscal_year_start_month,
        )
        # The rep's own place on their team's board, when it has one: nobody else's name or figures.
        rank = my_rank(
            session, person, services.playbook, now, default_timezone=services.settings.timezone,
            default_currency=services.settings.currency, fiscal_year_start_month=services.settings.fiscal_year_start_month,
        )  # fmt: skip
    blocks = scorecard_blocks(card, now) + my_rank_blocks(rank)
    respond(blocks=to_dicts(blocks), text=scorecard_text(card), response_type="ephemeral")


def register(app: App) -> None:
    app.command(MYPERF_COMMAND)(guarded(handle_myperf))
