"""The snooze modal's submission: until when and why, both required; errors go back inside the modal.

On success the gap is snoozed with the rep's own reason (audited by gaps.snooze_gap), the rep is
told where they clicked (the nudge's response_url, when the click came from a message), and the
Homes of the rep and of whoever snoozed are republished.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.webhook import WebhookClient

from bot.blocks.gap_actions import snoozed_note
from bot.coaching import fixes, gaps
from bot.coaching.errors import CoachingError
from bot.models import Person
from bot.runtime.callers import required_caller
from bot.runtime.guard import guarded
from bot.runtime.home import publish_homes
from bot.runtime.services import services_of
from bot.runtime.work import unit_of_work
from bot.slack_ids import SNOOZE_REASON_BLOCK, SNOOZE_REASON_INPUT, SNOOZE_UNTIL_BLOCK, SNOOZE_UNTIL_INPUT, SNOOZE_VIEW

log = logging.getLogger(__name__)


def read_snooze_form(view: dict[str, Any]) -> tuple[int, str | None, dt.date | None, str]:
    """(gap id, response_url or None, the date picked or None, the reason as typed) from the submitted modal."""
    metadata = json.loads(view["private_metadata"])
    values = view["state"]["values"]
    picked = values[SNOOZE_UNTIL_BLOCK][SNOOZE_UNTIL_INPUT].get("selected_date")
    try:
        until = dt.date.fromisoformat(picked) if picked else None
    except ValueError:
        until = None
    reason = values[SNOOZE_REASON_BLOCK][SNOOZE_REASON_INPUT].get("value") or ""
    return int(metadata["gap"]), metadata.get("response_url"), until, reason


def handle_snooze_submission(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    gap_id, response_url, until, reason = read_snooze_form(view)
    services = services_of(context)
    now = services.clock()
    caller_id = required_caller(context, client, body["user"]["id"])
    with unit_of_work(context) as session:
        caller = session.get_one(Person, caller_id)
        today = now.astimezone(ZoneInfo(caller.timezone or services.settings.timezone)).date()
        date_problem, reason_problem = fixes.snooze_problem(until, reason, today)
        if date_problem or reason_problem:
            errors = {SNOOZE_UNTIL_BLOCK: date_problem, SNOOZE_REASON_BLOCK: reason_problem}
            ack(response_action="errors", errors={block: text for block, text in errors.items() if text})
            return
        assert until is not None  # snooze_problem names a missing date
        try:
            gap, owner = fixes.gap_for(session, gap_id, caller, "snooze")
            gaps.snooze_gap(session, gap.id, until, reason, now, today=today, by=caller)
        except (CoachingError, gaps.GapError) as error:
            session.rollback()
            ack(response_action="errors", errors={SNOOZE_REASON_BLOCK: str(error)})
            return
        owner_id = owner.id
    ack()
    if response_url:
        try:
            WebhookClient(response_url).send(text=snoozed_note(until, reason), replace_original=False, response_type="ephemeral")
        except (SlackClientError, OSError):  # a dead link or network: the snooze stands
            log.warning("the snooze of gap %s is saved; telling the rep through the response_url failed", gap_id)
    publish_homes(client, services, [caller_id, owner_id], now)


def register(app: App) -> None:
    app.view(SNOOZE_VIEW)(guarded(handle_snooze_submission))
