"""Buttons on nudges and coaching messages: done, snooze, plan proposals, check-in answers.

Each click acks first, changes the record through the coaching services (which decide who may
do what), then replaces the clicked buttons with what happened, so the same message cannot be
clicked twice. A click on a stale message gets the service's explanation, privately.

Done and Snooze also sit on the App Home, where a click comes with the view instead of a message:
there is no message to update, and the republished Home shows what happened. After either click
the Homes of the clicker and of the rep concerned are republished.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from sqlalchemy import select

from bot.blocks.coaching import plan_open_modal
from bot.blocks.format import short_date
from bot.blocks.updates import replace_buttons
from bot.coaching import actions, gaps, plans
from bot.coaching.errors import NotAllowed, NotFound, is_in_manager_chain
from bot.coaching.notices import Notices
from bot.delivery.messages import deliver
from bot.models import Deal, Person, ProcessGap, RecoveryPlan
from bot.runtime.callers import required_caller
from bot.runtime.guard import guarded
from bot.runtime.home import publish_homes
from bot.runtime.services import services_of
from bot.runtime.work import unit_of_work
from bot.slack_ids import (
    ACTION_DONE,
    CHECKIN_ANSWERS,
    NUDGE_GAP_SNOOZE,
    NUDGE_OPEN_CRM,
    PLAN_NOT_NOW,
    PLAN_OPEN,
)

SNOOZE_DAYS = 7
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


def handle_gap_snooze(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    ack()
    services = services_of(context)
    now = services.clock()
    caller_id = required_caller(context, client, body["user"]["id"])
    with unit_of_work(context) as session:
        caller = session.get_one(Person, caller_id)
        gap = session.get(ProcessGap, int(_click(body)[1]))
        owner = session.get(Person, session.scalar(select(Deal.owner_id).where(Deal.id == gap.deal_id))) if gap else None
        if gap is None or owner is None:
            raise NotFound("That gap is gone: the deal was fixed or removed.")
        if caller.id != owner.id and not is_in_manager_chain(session, caller, owner):
            raise NotAllowed("Only the deal's owner or their manager can snooze this.")
        today = now.astimezone(ZoneInfo(caller.timezone or services.settings.timezone)).date()
        until = today + dt.timedelta(days=SNOOZE_DAYS)
        where = "the App Home" if body.get("container", {}).get("type") == "view" else "the morning nudge"
        gaps.snooze_gap(session, gap.id, until, f"snoozed from {where}", now, today=today, by=caller)
        owner_id = owner.id
    _update(respond, body, f":zzz: Snoozed until {short_date(until)}. Your manager sees snoozed items.")
    publish_homes(client, services, [caller_id, owner_id], now)


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
    app.action(re.compile(f"^{NUDGE_OPEN_CRM}"))(guarded(handle_open_crm))
    app.action(PLAN_OPEN)(guarded(handle_plan_open))
    app.action(PLAN_NOT_NOW)(guarded(handle_plan_not_now))
    for action_id in CHECKIN_ANSWERS:
        app.action(action_id)(guarded(handle_checkin_answer))
