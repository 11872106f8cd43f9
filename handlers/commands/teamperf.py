"""`/teamperf [@rep] [week|month|quarter|year|help]`: the caller's team, or one rep's scorecard
(with the rep's active snoozes and their reasons), privately."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.blocks import to_dicts
from bot.blocks.format import first_name
from bot.blocks.home import snoozes_block
from bot.blocks.scorecard import scorecard_blocks, scorecard_text
from bot.blocks.team import (
    team_blocks,
    team_text,
    teamperf_help_blocks,
    teamperf_unknown_blocks,
    teamperf_unknown_text,
)
from bot.coaching.gaps import snoozes_of
from bot.coaching.team import person_with_email, rep_scorecard, team_performance
from bot.models import Person
from bot.periods import PERIOD_KINDS, PeriodKind
from bot.runtime.callers import caller_of, caller_or_explain
from bot.runtime.guard import guarded
from bot.runtime.services import services_of
from bot.runtime.work import unit_of_work
from bot.slack_ids import TEAMPERF_COMMAND

# With `should_escape: true` in the manifest Slack sends a mention as <@U123|name> (or <@U123>)
# and an email as <mailto:a@b.example|a@b.example>.
_MENTION = re.compile(r"<@([UW][A-Z0-9]{1,30})(?:\|[^<>]*)?>")
_MAILTO = re.compile(r"<mailto:([^|<>\s]{3,320})(?:\|[^<>]*)?>")
_EMAIL = re.compile(r"[^@\s<>]{1,64}@[^@\s<>]{1,255}\.[^@\s<>]{1,63}")
_QUOTES = "\"'`“”‘’"


@dataclass(frozen=True)
class TeamperfRequest:
    """What the command text asked for; `not_understood` holds whatever else was typed."""

    period: PeriodKind | None = None
    slack_user_id: str | None = None
    email: str | None = None
    help: bool = False
    not_understood: str | None = None

    @property
    def names_a_rep(self) -> bool:
        return self.slack_user_id is not None or self.email is not None


def parse_teamperf_text(text: str | None) -> TeamperfRequest:
    """At most one rep (a mention or an email) and one period, in any order; anything else is not understood."""
    # Control and format characters (NUL, escapes, bidi overrides) become spaces: they are never meant.
    cleaned = "".join(" " if unicodedata.category(char).startswith("C") else char for char in text or "")
    people: list[tuple[str | None, str | None]] = [(match, None) for match in _MENTION.findall(cleaned)]
    cleaned = _MENTION.sub(" ", cleaned)
    people += [(None, match.strip().lower()) for match in _MAILTO.findall(cleaned)]
    cleaned = _MAILTO.sub(" ", cleaned)
    periods: list[PeriodKind] = []
    unknown: list[str] = []
    wants_help = False
    for token in cleaned.split():
        bare = token.strip(_QUOTES).strip()
        word = bare.lower()
        if not bare:
            continue
        if word == "help":
            wants_help = True
        elif word in PERIOD_KINDS:
            periods.append(word)
        elif _EMAIL.fullmatch(bare):
            people.append((None, word))
        else:
            unknown.append(token)
    if wants_help:
        return TeamperfRequest(help=True)
    if len(periods) > 1 or len(people) > 1:
        unknown = [*periods[1:], *(user or email or "" for user, email in people[1:]), *unknown]
    if unknown:
        return TeamperfRequest(not_understood=" ".join(unknown))
    slack_user_id, email = people[0] if people else (None, None)
    return TeamperfRequest(period=periods[0] if periods else None, slack_user_id=slack_user_id, email=email)


def handle_teamperf(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    ack()
    request = parse_teamperf_text(command.get("text"))
    if request.help:
        respond(blocks=to_dicts(teamperf_help_blocks()), text=f"How {TEAMPERF_COMMAND} works", response_type="ephemeral")
        return
    if request.not_understood is not None:
        respond(
            blocks=to_dicts(teamperf_unknown_blocks(request.not_understood)), text=teamperf_unknown_text(request.not_understood),
            response_type="ephemeral",
        )  # fmt: skip
        return

    services = services_of(context)
    settings = services.settings
    kind = request.period or "quarter"
    person_id = caller_or_explain(context, client, command["user_id"], respond)
    if person_id is None:
        return
    # Someone who never used coachbot is linked by their Slack email, as on their first command.
    mentioned = caller_of(context, client, request.slack_user_id).person_id if request.slack_user_id else None
    with unit_of_work(context) as session:
        person = session.get_one(Person, person_id)
        now = services.clock()
        if request.names_a_rep:
            rep = _named_rep(session, request, mentioned)
            # NotAllowed (not theirs to see, or nobody) goes to the app's error handler: a private sentence.
            card = rep_scorecard(
                session, person, rep, kind, now=now, playbook=services.playbook, default_timezone=settings.timezone,
                default_currency=settings.currency, fiscal_year_start_month=settings.fiscal_year_start_month,
            )  # fmt: skip
            blocks, text = scorecard_blocks(card, now), f"{card.person_name}, {scorecard_text(card)}"
            # rep_scorecard refused anyone not theirs to see, so `rep` is a rep they may see.
            assert rep is not None
            today = now.astimezone(ZoneInfo(person.timezone or settings.timezone)).date()
            if snoozes := snoozes_of(session, [rep.id], today):
                blocks = [*blocks, snoozes_block(snoozes, f"Snoozed by {first_name(rep.name)}", with_rep=False)]
                text += f" {len(snoozes)} gap{'s' if len(snoozes) != 1 else ''} snoozed."
        else:
            team = team_performance(
                session, person, kind, now=now, playbook=services.playbook, default_timezone=settings.timezone,
                default_currency=settings.currency, fiscal_year_start_month=settings.fiscal_year_start_month,
            )  # fmt: skip
            blocks, text = team_blocks(team), team_text(team)
    respond(blocks=to_dicts(blocks), text=text, response_type="ephemeral")


def _named_rep(session: Session, request: TeamperfRequest, mentioned_id: int | None) -> Person | None:
    if request.slack_user_id is not None:
        return session.get(Person, mentioned_id) if mentioned_id is not None else None
    return person_with_email(session, request.email or "")


def register(app: App) -> None:
    app.command(TEAMPERF_COMMAND)(guarded(handle_teamperf))
