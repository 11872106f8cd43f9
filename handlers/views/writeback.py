"""The Update modal's submission: checked, acknowledged with "Saving…", written, answered in place.

Slack gives a modal's acknowledgement 3 seconds; a CRM write, its read-back and the gap scan may
take longer. So what coachbot can check itself goes back as field errors in the acknowledgement,
and the CRM's answer (what changed, or its refusal beside each field) replaces "Saving…" through
views.update.
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.messages import NOT_LINKED_TEXT
from bot.blocks.writeback import error_blocks, outcome_view, read_submission, saving_view, update_modal
from bot.coaching.errors import CoachingError
from bot.coaching.writeback import GENERAL, FormErrors, parse_submission
from bot.crm.writes import WriteRefused
from bot.models import Person
from bot.runtime.callers import caller_of
from bot.runtime.guard import guarded
from bot.runtime.home import publish_homes
from bot.runtime.services import services_of
from bot.runtime.work import unit_of_work
from bot.runtime.writeback import save_update, update_form
from bot.slack_ids import DEAL_UPDATE_VIEW

log = logging.getLogger(__name__)


def handle_update_submission(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    services = services_of(context)
    now = services.clock()
    deal_id, typed = read_submission(view)
    slack_user_id = body["user"]["id"]
    person_id = caller_of(context, client, slack_user_id).person_id
    if person_id is None:
        ack(response_action="errors", errors=error_blocks({GENERAL: NOT_LINKED_TEXT}))
        return
    with unit_of_work(context) as session:
        person = session.get_one(Person, person_id)
        today = now.astimezone(ZoneInfo(person.timezone or services.settings.timezone)).date()
    try:
        # A read-only CRM's form has no submit button; a submission anyway goes on to be refused
        # (and audited) like any other write.
        form = update_form(services, person_id, deal_id)
        changes = parse_submission(form, typed, today)
    except FormErrors as refused:
        ack(response_action="errors", errors=error_blocks(refused.fields))
        return
    except CoachingError as error:
        ack(response_action="errors", errors=error_blocks({GENERAL: str(error)}))
        return
    ack(response_action="update", view=saving_view(form.deal_name).to_dict())
    try:
        result = save_update(services, person_id, slack_user_id, deal_id, changes)
    except WriteRefused as refused:
        answer = update_modal(form, typed=typed, errors=refused.field_errors)
    except CoachingError as error:  # the person lost the right to write while the modal was open
        answer = update_modal(form, typed=typed, errors={GENERAL: str(error)})
    else:
        answer = outcome_view(result)
    try:
        client.views_update(view_id=body["view"]["id"], view=answer)
    except SlackApiError as exc:  # closed meanwhile: the write stands, audited; the Home shows it
        log.info("Update modal of %s not updated: Slack answered %s", slack_user_id, exc.response.get("error"))
    publish_homes(client, services, [person_id], now)


def register(app: App) -> None:
    app.view(DEAL_UPDATE_VIEW)(guarded(handle_update_submission))
