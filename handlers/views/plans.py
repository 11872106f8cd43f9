"""The "Open a recovery plan" modal: validation errors go back inside the modal."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.coaching import plans
from bot.coaching.errors import CoachingError
from bot.coaching.notices import Notices
from bot.delivery.messages import deliver
from bot.models import Person
from bot.runtime.callers import required_caller
from bot.runtime.guard import guarded
from bot.runtime.services import services_of
from bot.runtime.work import unit_of_work
from bot.slack_ids import (
    PLAN_CADENCE_BLOCK,
    PLAN_CADENCE_INPUT,
    PLAN_COMMITMENTS_BLOCK,
    PLAN_COMMITMENTS_INPUT,
    PLAN_OPEN_VIEW,
)


def read_plan_form(view: dict[str, Any]) -> tuple[int, list[str], int]:
    """(plan id, commitments one a line, check-in cadence in days) from the submitted modal."""
    values = view["state"]["values"]
    text = values[PLAN_COMMITMENTS_BLOCK][PLAN_COMMITMENTS_INPUT].get("value") or ""
    cadence = values[PLAN_CADENCE_BLOCK][PLAN_CADENCE_INPUT]["selected_option"]["value"]
    return int(view["private_metadata"]), [line for line in text.splitlines() if line.strip()], int(cadence)


def handle_plan_open_submission(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    plan_id, commitments, cadence = read_plan_form(view)
    try:
        commitments = plans.clean_commitments(commitments)
    except CoachingError as error:
        ack(response_action="errors", errors={PLAN_COMMITMENTS_BLOCK: str(error)})
        return
    services = services_of(context)
    manager_id = required_caller(context, client, body["user"]["id"])
    now = services.clock()
    with unit_of_work(context) as session:
        notices = Notices()
        try:
            plans.open_plan(
                session, notices, plan_id, session.get_one(Person, manager_id), commitments, cadence, now,
                default_timezone=services.settings.timezone,
            )  # fmt: skip
        except CoachingError as error:
            session.rollback()
            ack(response_action="errors", errors={PLAN_COMMITMENTS_BLOCK: str(error)})
            return
        deliver(session, notices, now, playbook=services.playbook, default_timezone=services.settings.timezone)
    ack()


def register(app: App) -> None:
    app.view(PLAN_OPEN_VIEW)(guarded(handle_plan_open_submission))
