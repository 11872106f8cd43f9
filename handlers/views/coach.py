"""The `/coach` form: an action or a goal for a rep, checked field by field inside the modal.

Every problem goes back beside its field (`response_action="errors"`); a form that passes becomes
the action or goal, and the modal turns into the confirmation, which only the sender sees.

The optional "Deal or goal" field is plain text: one of the rep's open deals by CRM id or name,
or "goal 3". A select of the rep's deals would need an external data source and a second request
once the rep is picked; typing what `/coach list` and the CRM show needs neither.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.access import may_coach
from bot.blocks.coach import action_confirmation, confirmation_view, goal_confirmation
from bot.blocks.coaching import Message
from bot.blocks.messages import NOT_LINKED_TEXT
from bot.coaching import actions, goals
from bot.coaching.dates import past_due_error
from bot.coaching.errors import CoachingError, InvalidInput
from bot.coaching.notices import Notices
from bot.delivery.messages import deliver
from bot.models import Deal, Goal, Person
from bot.runtime.callers import caller_of
from bot.runtime.guard import guarded
from bot.runtime.home import publish_homes
from bot.runtime.services import Services, services_of
from bot.runtime.work import unit_of_work
from bot.slack_ids import (
    COACH_DUE_BLOCK,
    COACH_DUE_INPUT,
    COACH_KIND_BLOCK,
    COACH_KIND_INPUT,
    COACH_LINK_BLOCK,
    COACH_LINK_INPUT,
    COACH_MEASURE_BLOCK,
    COACH_MEASURE_INPUT,
    COACH_MEASURED_ON_BLOCK,
    COACH_MEASURED_ON_INPUT,
    COACH_PERSON_BLOCK,
    COACH_PERSON_INPUT,
    COACH_TARGET_BLOCK,
    COACH_TARGET_INPUT,
    COACH_TEXT_BLOCK,
    COACH_TEXT_INPUT,
    COACH_VIEW,
)

_GOAL_REFERENCE = re.compile(r"goal\s*#?\s*(?P<id>\d{1,9})", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")  # keeps line breaks


@dataclass(frozen=True)
class CoachForm:
    kind: str  # "action" or "goal"
    slack_user_id: str | None
    text: str
    due: dt.date | None
    link: str
    measure: str | None = None
    measured_on: str = ""
    target: str = ""


def read_coach_form(view: dict[str, Any]) -> CoachForm:
    """The submitted form as plain values."""
    values = view.get("state", {}).get("values", {})

    def field(block_id: str, action_id: str) -> dict[str, Any]:
        return values.get(block_id, {}).get(action_id) or {}

    kind = (field(COACH_KIND_BLOCK, COACH_KIND_INPUT).get("selected_option") or {}).get("value") or "action"
    picked = field(COACH_PERSON_BLOCK, COACH_PERSON_INPUT).get("selected_user")
    text = _CONTROL.sub(" ", field(COACH_TEXT_BLOCK, COACH_TEXT_INPUT).get("value") or "").strip()
    due = field(COACH_DUE_BLOCK, COACH_DUE_INPUT).get("selected_date")
    link = _CONTROL.sub(" ", field(COACH_LINK_BLOCK, COACH_LINK_INPUT).get("value") or "")
    measure = (field(COACH_MEASURE_BLOCK, COACH_MEASURE_INPUT).get("selected_option") or {}).get("value")
    measured_on = _CONTROL.sub(" ", field(COACH_MEASURED_ON_BLOCK, COACH_MEASURED_ON_INPUT).get("value") or "").strip()
    target = (field(COACH_TARGET_BLOCK, COACH_TARGET_INPUT).get("value") or "").strip()
    return CoachForm(
        kind, picked, text, dt.date.fromisoformat(due) if due else None, " ".join(link.split()), measure, measured_on, target
    )


def target_value(written: str) -> float | None:
    """“90%” as 0.9, “50,000” as 50000.0; None when nothing was written; InvalidInput for anything else."""
    if not written:
        return None
    number = written.replace(",", "").strip()
    try:
        return float(number.rstrip("%")) / 100 if number.endswith("%") else float(number)
    except ValueError:
        raise InvalidInput(f"“{written[:20]}” is not a number: write a share (90%), an amount (50,000) or a count (3).") from None


def find_link(session: Session, rep: Person, words: str) -> tuple[Deal | None, Goal | None]:
    """The rep's open goal ("goal 3") or open deal (CRM id, else name) the words name."""
    if match := _GOAL_REFERENCE.fullmatch(words):
        goal = session.get(Goal, int(match["id"]))
        if goal is None or goal.person_id != rep.id or goal.status != "open":
            raise InvalidInput(f"{rep.name} has no open goal {match['id']}.")
        return None, goal
    open_deals = select(Deal).where(Deal.owner_id == rep.id, Deal.deleted_at.is_(None), Deal.is_closed.is_(False))
    by_id = session.scalars(open_deals.where(Deal.crm_id == words)).all()
    found = by_id or session.scalars(open_deals.where(func.lower(Deal.name) == words.lower())).all()
    if not found:
        raise InvalidInput(f"None of {rep.name}'s open deals has the CRM id or name “{words[:60]}”.")
    if len(found) > 1:
        raise InvalidInput(f"{len(found)} of {rep.name}'s open deals are called “{words[:60]}”; give the CRM id instead.")
    return found[0], None


def _check(
    session: Session, caller: Person, rep: Person | None, form: CoachForm, now: dt.datetime, services: Services
) -> tuple[dict[str, str], Deal | None, Goal | None]:
    """(field errors by block id, the linked deal, the linked goal)."""
    errors: dict[str, str] = {}
    try:
        if form.kind == "goal":
            competency, description = goals.goal_parts(form.text)
            actions.clean_text(competency, "goal", goals.MAX_COMPETENCY)
            actions.clean_text(description, "goal", goals.MAX_DESCRIPTION)
        else:
            actions.clean_text(form.text, "action", actions.MAX_ACTION_TEXT)
    except InvalidInput as error:
        errors[COACH_TEXT_BLOCK] = str(error)
    if form.kind == "goal":
        _check_goal_measure(form, errors)
    elif form.measure or form.target or form.measured_on:
        errors[COACH_MEASURE_BLOCK] = "Only a goal is measured from the CRM; leave these empty for an action."
    if form.due and (problem := past_due_error(form.due, actions.local_now(caller, now, services.settings.timezone).date())):
        errors[COACH_DUE_BLOCK] = problem
    if rep is None:
        errors[COACH_PERSON_BLOCK] = "That person is not in coachbot's org yet; pick a rep you coach."
        return errors, None, None
    if not may_coach(session, caller, rep):
        errors[COACH_PERSON_BLOCK] = f"{rep.name} is not a rep you coach: only their managers and assigned coaches can."
    elif not rep.is_rep or not rep.active:
        errors[COACH_PERSON_BLOCK] = f"{rep.name} is not an active rep in coachbot's org."
    elif form.due and COACH_DUE_BLOCK not in errors:
        rep_today = actions.local_now(rep, now, services.settings.timezone).date()
        if problem := past_due_error(form.due, rep_today, f"{rep.name} is"):
            errors[COACH_DUE_BLOCK] = problem
    deal = goal = None
    if form.link and form.kind == "goal":
        errors[COACH_LINK_BLOCK] = "A goal stands on its own; leave this empty, or tie an action to the goal instead."
    elif form.link and COACH_PERSON_BLOCK not in errors:
        try:
            deal, goal = find_link(session, rep, form.link)
        except InvalidInput as error:
            errors[COACH_LINK_BLOCK] = str(error)
    return errors, deal, goal


MEASURE_FIELDS = {"measure": COACH_MEASURE_BLOCK, "argument": COACH_MEASURED_ON_BLOCK, "target": COACH_TARGET_BLOCK}


def _check_goal_measure(form: CoachForm, errors: dict[str, str]) -> None:
    try:
        goals.check_measure(form.measure, target_value(form.target), form.measured_on or None)
    except goals.MeasureError as error:
        errors[MEASURE_FIELDS[error.field]] = str(error)
    except InvalidInput as error:
        errors[COACH_TARGET_BLOCK] = str(error)


def handle_coach_submission(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    form = read_coach_form(view)
    services = services_of(context)
    now = services.clock()
    caller_id = caller_of(context, client, body["user"]["id"]).person_id
    if caller_id is None:
        ack(response_action="errors", errors={COACH_PERSON_BLOCK: NOT_LINKED_TEXT})
        return
    rep_id = caller_of(context, client, form.slack_user_id).person_id if form.slack_user_id else None
    with unit_of_work(context) as session:
        caller = session.get_one(Person, caller_id)
        rep = session.get(Person, rep_id) if rep_id is not None else None
        errors, deal, goal = _check(session, caller, rep, form, now, services)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        assert rep is not None  # _check reports a missing rep as an error
        try:
            notices = Notices()
            message = _record(session, notices, caller, rep, form, deal, goal, now, services)
            deliver(session, notices, now, playbook=services.playbook, default_timezone=services.settings.timezone)
        except CoachingError as error:
            # Checked above; this is a change between the check and the write (a goal closed meanwhile).
            session.rollback()
            ack(response_action="errors", errors={COACH_TEXT_BLOCK: str(error)})
            return
    ack(response_action="update", view=confirmation_view(message))
    publish_homes(client, services, [rep_id], now)


def _record(
    session: Session, notices: Notices, caller: Person, rep: Person, form: CoachForm, deal: Deal | None, goal: Goal | None,
    now: dt.datetime, services: Services,
) -> Message:  # fmt: skip
    """The action or goal the form asks for, recorded and told; the caller's confirmation."""
    settings = services.settings
    told = rep.slack_user_id is not None
    if form.kind == "goal":
        created = goals.give_goal(
            session, notices, rep=rep, set_by=caller, text=form.text, due_date=form.due, now=now, measure=form.measure,
            target=target_value(form.target), measure_arg=form.measured_on or None, default_timezone=settings.timezone,
            default_currency=settings.currency,
        )  # fmt: skip
        return goal_confirmation(
            goal_id=created.id, rep_name=rep.name, competency=created.competency, description=created.description,
            due_date=form.due, rep_told=told, measure=created.measure, target=created.target, measure_arg=created.measure_arg,
            progress=created.progress,
        )  # fmt: skip
    action = actions.assign_action(
        session, notices, rep=rep, assigned_by=caller, text=form.text, due_date=form.due, deal=deal, goal=goal, now=now,
        default_timezone=settings.timezone,
    )  # fmt: skip
    return action_confirmation(
        action_id=action.id, rep_name=rep.name, text=action.text, due_date=form.due, deal_name=deal.name if deal else None,
        goal=goal.competency if goal else None, rep_told=told,
    )  # fmt: skip


def register(app: App) -> None:
    app.view(COACH_VIEW)(guarded(handle_coach_submission))
