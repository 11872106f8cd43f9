"""Buttons on nudges and coaching messages: done, snooze, I fixed it, plan proposals, check-in answers.

Each click acks first, changes the record through the coaching services (which decide who may
do what), then replaces the clicked buttons with what happened, so the same message cannot be
clicked twice. A click on a stale message gets the service's explanation, privately.

Snooze… opens a modal (its submission is handlers/views/snooze.py). Done and Snooze… also sit on the App Home, where a click comes with the view instead of a message:
there is no message to update, and the republished Home shows what happened. After either click
the Homes of the clicker and of the rep concerned are republished.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.blocks.coaching import plan_open_modal
from bot.blocks.gap_actions import fix_claimed_note, snooze_modal
from bot.blocks.updates import replace_buttons
from bot.coaching import actions, fixes, plans
from bot.coaching.errors import NotAllowed, NotFound, is_in_manager_chain
from bot.coaching.notices import Notices
from bot.delivery.messages import deliver
from bot.models import Deal, Person, RecoveryPlan
from bot.runtime.callers import required_caller
from bot.runtime.guard import guarded
from bot.runtime.home import publish_homes
from bot.runtime.services import services_of
from bot.runtime.work import unit_of_work
from bot.slack_ids import (
    ACTION_DONE,
    CHECKIN_ANSWERS,
    NUDGE_GAP_FIXED,
    NUDGE_GAP_SNOOZE,
    NUDGE_OPEN_CRM,
    PLAN_NOT_NOW,
    PLAN_OPEN,
)

ANSWER_NOTES = {"on_track": ":large_green_circle: You said: on track.", "at_risk": ":large_yellow_circle: You said: at risk.",
                "need_help": ":red_circle: You asked for help; your manager knows."}  # fmt: skip


def _click(body: dict[str, Any]) -> tuple[str, str]:
    action = body["actions"][0]
    return action["action_id"], action.get("value", "")


def _update(respond: Respond | None, body: dict[str, Any], note: str) -> None:
    if respond is None or "message" not in body:
        return  # a click on the App Home: republishing it shows the change
    action_id, value = _click(body)
    blocks = replace_buttons(body.get("message", {}).get("blocks", []), action_id, value, note)
    respond(replace_original=True, blocks=blocks, text=body.get("message", {}).get("text", note))


def handle_action_done(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    ack()
    services = services_of(context)
    now = services.clock()
    caller_id = required_caller(context, client, body["user"]["id"])
    with unit_of_work(context) as session:
        notices = Notices()
        action = actions.complete_action(session, notices, int(_click(body)[1]), session.get_one(Person, caller_id), now)
        deliver(session, notices, now, playbook=services.playbook, default_timezone=services.settings.timezone)
        text, rep_id = action.text, action.person_id
    _update(respond, body, f":white_check_mark: Done: {text[:200]}")
    publish_homes(client, services, [caller_id, rep_id], now)


def handle_gap_snooze(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Snooze…: opens the modal (until when, and why); the submission snoozes (handlers/views/snooze.py)."""
    ack()
    services = services_of(context)
    now = services.clock()
    caller_id = required_caller(context, client, body["user"]["id"])
    with unit_of_work(context) as session:
        caller = session.get_one(Person, caller_id)
        gap, _ = fixes.gap_for(session, int(_click(body)[1]), caller, "snooze")
        deal = session.get_one(Deal, gap.deal_id)
        today = now.astimezone(ZoneInfo(caller.timezone or services.settings.timezone)).date()
        view = snooze_modal(
            gap_id=gap.id, deal_name=deal.name, detail=gap.detail or gap.rule.replace("_", " "), today=today,
            max_days=fixes.MAX_SNOOZE_DAYS, response_url=body.get("response_url"),
        )  # fmt: skip
    client.views_open(trigger_id=body["trigger_id"], view=view)


def handle_gap_fixed(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    """I fixed it: the claim is stored and audited; the next sync rechecks the deal (bot/coaching/fixes.py)."""
    ack()
    services = services_of(context)
    now = services.clock()
    caller_id = required_caller(context, client, body["user"]["id"])
    with unit_of_work(context) as session:
        gap, deal = fixes.claim_fix(session, int(_click(body)[1]), session.get_one(Person, caller_id), now)
        deal_name, owner_id = deal.name, deal.owner_id
    _update(respond, body, fix_claimed_note(deal_name))
    publish_homes(client, services, [caller_id, *([owner_id] if owner_id else [])], now)


def handle_open_crm(ack: Ack) -> None:
    # A link button: Slack opens the URL itself and still tells us about the click.
    ack()


def handle_plan_open(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    services = services_of(context)
    caller_id = required_caller(context, client, body["user"]["id"])
    with unit_of_work(context) as session:
        caller = session.get_one(Person, caller_id)
        plan = session.get(RecoveryPlan, int(_click(body)[1]))
        if plan is None or plan.status != "proposed":
            raise NotFound("That plan was already decided.")
        rep = session.get(Person, plan.person_id)
        if rep is None or not is_in_manager_chain(session, caller, rep):
            raise NotAllowed("Only the rep's manager can open their recovery plan.")
        view = plan_open_modal(
            plan_id=plan.id, rep_name=rep.name, checkin_every_days=services.playbook.recovery.checkin_every_days
        )
    client.views_open(trigger_id=body["trigger_id"], view=view)


def handle_plan_not_now(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    ack()
    services = services_of(context)
    caller_id = required_caller(context, client, body["user"]["id"])
    with unit_of_work(context) as session:
        plans.decline_plan(session, int(_click(body)[1]), session.get_one(Person, caller_id), services.clock(),
                           default_timezone=services.settings.timezone)  # fmt: skip
    _update(respond, body, "Not now: no recovery plan this quarter. You can still coach with /coach.")


def handle_checkin_answer(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    ack()
    services = services_of(context)
    action_id, value = _click(body)
    answer = CHECKIN_ANSWERS[action_id]
    caller_id = required_caller(context, client, body["user"]["id"])
    now = services.clock()
    with unit_of_work(context) as session:
        notices = Notices()
        plans.answer_checkin(session, notices, int(value), session.get_one(Person, caller_id), answer, None, now,
                             default_timezone=services.settings.timezone)  # fmt: skip
        deliver(session, notices, now, playbook=services.playbook, default_timezone=services.settings.timezone)
    _update(respond, body, ANSWER_NOTES[answer])


def register(app: App) -> None:
    app.action(ACTION_DONE)(guarded(handle_action_done))
    app.action(NUDGE_GAP_SNOOZE)(guarded(handle_gap_snooze))
    app.action(NUDGE_GAP_FIXED)(guarded(handle_gap_fixed))
    app.action(re.compile(f"^{NUDGE_OPEN_CRM}"))(guarded(handle_open_crm))
    app.action(PLAN_OPEN)(guarded(handle_plan_open))
    app.action(PLAN_NOT_NOW)(guarded(handle_plan_not_now))
    for action_id in CHECKIN_ANSWERS:
        app.action(action_id)(guarded(handle_checkin_answer))
