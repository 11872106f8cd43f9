"""Every listener that changes data leaves an audit row: each is driven once through the Bolt app,
and the walk fails when a listener is registered that it neither drives nor knows to be read-only."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltRequest
from sqlalchemy import select

from bot.database import session_scope
from bot.models import AuditEntry, Deal, PlanCheckin, ProcessGap, RecoveryPlan
from bot.slack_ids import (
    ACTION_DONE,
    CHECKIN_ON_TRACK,
    DEAL_UPDATE_BLOCKS,
    DEAL_UPDATE_VIEW,
    NUDGE_GAP_SNOOZE,
    ONE_ON_ONE_HELD,
    ONE_ON_ONE_SEND,
    PLAN_CADENCE_BLOCK,
    PLAN_CADENCE_INPUT,
    PLAN_COMMITMENTS_BLOCK,
    PLAN_COMMITMENTS_INPUT,
    PLAN_NOT_NOW,
    PLAN_OPEN_VIEW,
)
from tests.handlers.test_buttons import app, assign, buttons, click, propose_plan, team
from tests.handlers.test_coach import form
from tests.handlers.test_coach import submit as submit_coach_form
from tests.handlers.test_people_events import slack_event, slack_user
from tests.handlers.test_preferences import submit as submit_preferences
from tests.support.personas import RILEY
from tests.support.signing import sign, slash_command_body

__all__ = ["app", "team"]

# Listeners that read, or only open a form: what they show is audited as a look where it is someone else's.
READ_ONLY = {
    "handle_myperf",
    "handle_teamperf",
    "handle_app_home_opened",
    "handle_open_crm",
    "handle_plan_open",
    "handle_open_preferences",
    "handle_one_on_one_open",
    "handle_open_update",
}


def dispatch_view(app, view: dict[str, Any], user: str) -> None:  # type: ignore[no-untyped-def]
    payload = {"type": "view_submission", "user": {"id": user}, "team": {"id": "T0001"}, "api_app_id": "A0001", "view": view}
    body = "payload=" + urllib.parse.quote(json.dumps(payload))
    app.dispatch(BoltRequest(body=body, headers=sign(body)))


def coach_command(app, slack, user: str, text: str) -> None:  # type: ignore[no-untyped-def]
    body = slash_command_body("/coach", text, user, slack.response_url(user))
    app.dispatch(BoltRequest(body=body, headers=sign(body)))


def open_gap(session_factory, now) -> int:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        gap = ProcessGap(deal_id=session.scalar(select(Deal.id).where(Deal.crm_id == "O2")), rule="close_date_past", severity="high",
                         detail="close date Nov 20 has passed", opened_at=now)  # fmt: skip
        session.add(gap)
        session.flush()
        return gap.id


def open_checkin(session_factory, team, now) -> int:  # type: ignore[no-untyped-def]
    plan_id = propose_plan(session_factory, team, now)
    with session_scope(session_factory) as session:
        session.get(RecoveryPlan, plan_id).status = "open"  # type: ignore[union-attr]
        checkin = PlanCheckin(plan_id=plan_id, asked_at=now - dt.timedelta(minutes=1))
        session.add(checkin)
        session.flush()
        return checkin.id


def update_form(session_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The Update modal submitted for Riley's deal O2 (the demo CRM refuses the write, which is audited too)."""
    with session_factory() as session:
        deal_id = session.scalar(select(Deal.id).where(Deal.crm_id == "O2"))
    block_id, action_id = DEAL_UPDATE_BLOCKS["next_step"]
    return {"type": "modal", "callback_id": DEAL_UPDATE_VIEW, "id": "VUPDATE", "private_metadata": json.dumps({"deal_id": deal_id}),
            "state": {"values": {block_id: {action_id: {"type": "plain_text_input", "value": "Send the order form"}}}}}  # fmt: skip


def plan_form(plan_id: int) -> dict[str, Any]:
    return {"type": "modal", "callback_id": PLAN_OPEN_VIEW, "private_metadata": str(plan_id), "state": {"values": {
        PLAN_COMMITMENTS_BLOCK: {PLAN_COMMITMENTS_INPUT: {"type": "plain_text_input", "value": "15 calls a week"}},
        PLAN_CADENCE_BLOCK: {PLAN_CADENCE_INPUT: {"type": "static_select", "selected_option": {"value": "7"}}}}}}  # fmt: skip


# listener -> (what it is asked to do, the audit action it must leave)
Scenario = Callable[[Any, Any, Any, dict[str, int], dt.datetime], None]
SCENARIOS: dict[str, tuple[Scenario, str]] = {
    "handle_action_done": (lambda app, slack, db, team, now: click(app, slack, "URILEY", ACTION_DONE, str(a := assign(db, team, now)), buttons(ACTION_DONE, str(a))), "complete_action"),
    "handle_gap_snooze": (lambda app, slack, db, team, now: click(app, slack, "URILEY", NUDGE_GAP_SNOOZE, str(g := open_gap(db, now)), buttons(NUDGE_GAP_SNOOZE, str(g))), "snooze_gap"),
    "handle_plan_not_now": (lambda app, slack, db, team, now: click(app, slack, "UMIA", PLAN_NOT_NOW, str(p := propose_plan(db, team, now)), buttons(PLAN_NOT_NOW, str(p))), "decline_plan"),
    "handle_checkin_answer": (lambda app, slack, db, team, now: click(app, slack, "URILEY", CHECKIN_ON_TRACK, str(c := open_checkin(db, team, now)), buttons(CHECKIN_ON_TRACK, str(c))), "answer_checkin"),
    "handle_plan_open_submission": (lambda app, slack, db, team, now: dispatch_view(app, plan_form(propose_plan(db, team, now)), "UMIA"), "open_plan"),
    "handle_coach": (lambda app, slack, db, team, now: coach_command(app, slack, "UMIA", "assign <@URILEY|riley> Call the CFO"), "assign_action"),
    "handle_coach_submission": (lambda app, slack, db, team, now: submit_coach_form(app, "UMIA", form(kind="goal", text="Discovery: three questions")), "set_goal"),
    "handle_preferences_submission": (lambda app, slack, db, team, now: submit_preferences(app, "URILEY", time="08:30", paused=None), "change_preferences"),
    "handle_one_on_one_send": (lambda app, slack, db, team, now: click(app, slack, "UMIA", ONE_ON_ONE_SEND, str(team["riley"]), buttons(ONE_ON_ONE_SEND, str(team["riley"]))), "send_one_on_one"),
    "handle_one_on_one_held": (lambda app, slack, db, team, now: click(app, slack, "UMIA", ONE_ON_ONE_HELD, str(team["riley"]), buttons(ONE_ON_ONE_HELD, str(team["riley"]))), "one_on_one_held"),
    "handle_update_submission": (lambda app, slack, db, team, now: dispatch_view(app, update_form(db), "URILEY"), "crm_write"),
    "handle_profile_event": (lambda app, slack, db, team, now: slack_event(app, "user_change", slack_user("URILEY", RILEY, tz="Europe/Berlin")), "slack_profile_change"),
}  # fmt: skip


def audit_actions(session_factory) -> list[str]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_every_registered_listener_is_either_read_only_or_walked_here(app) -> None:  # type: ignore[no-untyped-def]
    registered = {listener.ack_function.__name__ for listener in app._listeners}  # Bolt keeps no public listing
    assert registered == READ_ONLY | set(SCENARIOS)


def test_every_listener_that_changes_data_leaves_its_audit_row(app, slack, session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    for listener, (scenario, action) in SCENARIOS.items():
        before = audit_actions(session_factory)
        scenario(app, slack, session_factory, team, now)
        deadline = time.monotonic() + 5
        while action not in audit_actions(session_factory)[len(before) :] and time.monotonic() < deadline:
            time.sleep(0.02)  # Bolt runs listeners after the ack, on its own threads
        assert action in audit_actions(session_factory)[len(before) :], f"{listener} left no {action} audit row"
