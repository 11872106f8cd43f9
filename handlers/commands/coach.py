"""`/coach`: actions, goals and recovery plans for the reps you coach; role changes for admins.

    /coach                                   the form (handlers/views/coach.py takes it back)
    /coach assign @rep what to do [by date]  an action; the rep gets it with a Done button
    /coach goal @rep competency: text [by date]
    /coach plan @rep                         a recovery plan (the rep's manager chain only)
    /coach list [@rep]                       open actions and goals
    /coach done <action number>
    /coach admin role @person add|remove rep|manager|coach|admin
    /coach admin coach|uncoach @coach @rep

People are named by mention or email. Mentions arrive as `<@U123|name>` only when the command's
manifest entry has `should_escape: true`. The due date is whatever follows the last word "by",
read in the caller's time zone (bot/coaching/dates.py); words there that are not a date are an
error rather than part of the text, so a typo never sends a rep an undated action. Who may do
what is decided by bot.access and the coaching services; every change is audited here or there.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.models.views import View
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.access import audit, coached_by, may_view, people_under, visible_rep_ids
from bot.app import Services, guarded, unit_of_work
from bot.blocks import to_dicts
from bot.blocks.coach import (
    MAX_REPS_SHOWN,
    OpenAction,
    OpenGoal,
    RepWork,
    action_confirmation,
    action_done_confirmation,
    coach_assignment_message,
    coach_help_blocks,
    coach_modal,
    coaching_list_message,
    goal_confirmation,
    goal_set_message,
    role_change_message,
    unknown_subcommand_message,
)
from bot.blocks.coaching import Message, plan_open_modal
from bot.blocks.format import clip, escape
from bot.coaching import actions, goals, plans, roles
from bot.coaching.dates import DateNotUnderstood, parse_date
from bot.coaching.errors import (
    InvalidInput,
    NotAllowed,
    NotFound,
    WrongState,
    require_coach,
    require_manager,
)
from bot.coaching.scorecard import Scorecard
from bot.coaching.service import scorecard_for
from bot.identity import person_for_slack_user
from bot.models import Action, Deal, Goal, Person, RecoveryPlan
from bot.slack_ids import COACH_COMMAND
from handlers.common import caller_or_explain
from handlers.events.home import publish_home

FALLBACK_CONVERSION = 0.25  # as plans_to_propose: the rate a plan assumes when the rep has no pipeline or wins

_UNSEEN = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")  # zero-width and bidi controls
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MENTION = re.compile(r"<@(?P<user>[UW][A-Z0-9]{1,20})(?:\|[^<>]*)?>")
_MAILTO = re.compile(r"<mailto:(?P<email>[^|<>\s]+)(?:\|[^<>]*)?>")
_EMAIL = re.compile(r"(?P<email>[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+)(?=\s|$)")
_MARKUP = re.compile(r"<(?P<target>[^<>|]*)(?:\|(?P<label>[^<>]*))?>")
_DUE = re.compile(r"^(?:(?P<text>.*\S)\s+)?by\s+(?P<due>\S.*)$", re.IGNORECASE | re.DOTALL)
_ACTION_NUMBER = re.compile(r"#?(?P<id>\d{1,9})")


@dataclass(frozen=True)
class PersonRef:
    """Someone named in a command: by Slack user id (a mention) or by email."""

    slack_user_id: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Ask:
    """One `/coach` request, parsed: who asked, the words after the subcommand, and the means to answer."""

    session: Session
    client: WebClient
    caller: Person
    words: str
    services: Services
    now: dt.datetime


# Parsing Slack's text ---------------------------------------------------------------------------


def clean(text: str | None) -> str:
    """Slack text without control characters or invisible direction marks."""
    return _CONTROL.sub(" ", _UNSEEN.sub("", text or "")).strip()


def split_word(text: str) -> tuple[str, str]:
    """(first word in lower case, the rest)."""
    parts = text.strip().split(maxsplit=1)
    return (parts[0].lower() if parts else "", parts[1] if len(parts) > 1 else "")


def take_person(text: str, usage: str) -> tuple[PersonRef, str]:
    """The person named first in `text` (mention, mailto link or bare email) and the rest."""
    text = text.lstrip()
    for pattern, field in ((_MENTION, "slack_user_id"), (_MAILTO, "email"), (_EMAIL, "email")):
        if match := pattern.match(text):
            value = match["user"] if field == "slack_user_id" else match["email"]
            return PersonRef(**{field: value}), text[match.end() :]
    word, _ = split_word(text)
    if not word:
        raise InvalidInput(f"Say who: {usage}.")
    raise InvalidInput(
        f"I couldn't tell who “{escape(clip(plain_text(word), 40))}” is: "
        "mention them (@name, picked from Slack's list) or give their email."
    )


def plain_text(text: str) -> str:
    """Slack's escaped text as the words people read: mentions and links unwrapped, &lt; &gt; &amp; decoded."""

    def unwrap(match: re.Match[str]) -> str:
        target, label = match["target"], match["label"]
        if target[:1] in ("@", "#"):
            return target[0] + (label or target[1:]).lstrip("@#")
        if target.startswith("!"):
            return "@" + (label or target[1:]).split("^")[0].lstrip("@")  # <!channel> pings nobody as "@channel"
        return target.removeprefix("mailto:")

    unwrapped = _MARKUP.sub(unwrap, text)
    decoded = unwrapped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(decoded.split())


def split_due(text: str) -> tuple[str, str | None]:
    """(the text, the words after its last "by") or (the text, None)."""
    if match := _DUE.match(text):
        return (match["text"] or "").strip(), match["due"].strip()
    return text.strip(), None


def goal_parts(text: str) -> tuple[str, str]:
    """(competency, description) from “Discovery: three pain questions…”; without a “: ”, the text is both."""
    competency, separator, description = text.partition(": ")
    if separator and competency.strip() and description.strip() and len(competency.strip()) <= goals.MAX_COMPETENCY:
        return competency.strip(), description.strip()
    return clip(text.strip(), goals.MAX_COMPETENCY), text.strip()


# The changes, shared with the form -----------------------------------------------------------


def caller_today(caller: Person, now: dt.datetime, services: Services) -> dt.date:
    return actions.local_now(caller, now, services.settings.timezone).date()


def past_due_error(due: dt.date, today: dt.date, where: str = "you are") -> str | None:
    """Why `due` cannot be used, when it is before `today` (on the calendar of `where`)."""
    if due >= today:
        return None
    shown = f"{due:%b} {due.day}" + (f", {due.year}" if due.year != today.year else "")
    return f"{shown} has passed where {where}; pick today or later."


def resolve(session: Session, client: WebClient, ref: PersonRef) -> Person:
    """The person behind a mention (linked by their Slack email on first sight) or an email."""
    if ref.slack_user_id:
        person = person_for_slack_user(session, client, ref.slack_user_id).person
        if person is None:
            raise NotFound(
                f"<@{ref.slack_user_id}> is not in coachbot's org yet; an admin adds people with `coachbot org import`."
            )
        return person
    email = (ref.email or "").strip().lower()
    person = session.scalar(select(Person).where(Person.email == email))
    if person is None:
        raise NotFound(f"Nobody in coachbot's org has the email {escape(clip(email, 80))}.")
    return person


def require_rep(person: Person) -> None:
    if not person.is_rep or not person.active:
        raise InvalidInput(f"{person.name} is not an active rep in coachbot's org.")


def record_action(
    session: Session, caller: Person, rep: Person, text: str, due: dt.date | None, now: dt.datetime, services: Services,
    *, deal: Deal | None = None, goal: Goal | None = None,
) -> Message:  # fmt: skip
    """Assign the action (queued to the rep with a Done button), audit it; the caller's confirmation."""
    action = actions.assign_action(
        session, rep=rep, assigned_by=caller, text=text, due_date=due, deal=deal, goal=goal, now=now,
        default_timezone=services.settings.timezone,
    )  # fmt: skip
    audit(session, caller, "assign_action", now, subject=rep, detail={"action_id": action.id})
    return action_confirmation(
        action_id=action.id, rep_name=rep.name, text=action.text, due_date=due, deal_name=deal.name if deal else None,
        goal=goal.competency if goal else None, rep_told=rep.slack_user_id is not None,
    )  # fmt: skip


def record_goal(
    session: Session, caller: Person, rep: Person, text: str, due: dt.date | None, now: dt.datetime, services: Services
) -> Message:
    """Set the goal, tell the rep (key goal_set:<id>), audit it; the caller's confirmation."""
    competency, description = goal_parts(text)
    goal = goals.set_goal(
        session, rep=rep, set_by=caller, competency=competency, description=description, due_date=due, now=now,
        default_timezone=services.settings.timezone, default_currency=services.settings.currency,
    )  # fmt: skip
    message = goal_set_message(set_by=caller.name, competency=goal.competency, description=goal.description, due_date=due)
    told = actions.notify(session, rep, key=f"goal_set:{goal.id}", kind="goal_set", message=message, now=now)
    audit(session, caller, "set_goal", now, subject=rep, detail={"goal_id": goal.id})
    return goal_confirmation(
        goal_id=goal.id, rep_name=rep.name, competency=goal.competency, description=goal.description, due_date=due, rep_told=told
    )


# Subcommands ---------------------------------------------------------------------------------


def _action_or_goal(ask: Ask, kind: str) -> Message:
    usage = f"`{COACH_COMMAND} {kind} @rep {'what to do' if kind == 'assign' else 'competency: what good looks like'} [by date]`"
    ref, rest = take_person(ask.words, usage)
    rep = resolve(ask.session, ask.client, ref)
    require_coach(ask.session, ask.caller, rep, "assign them actions" if kind == "assign" else "set their goals")
    require_rep(rep)
    text, due_words = split_due(plain_text(rest))
    if not text:
        raise InvalidInput(f"Say what {'to do' if kind == 'assign' else 'the goal is'}: {usage}.")
    due = None
    if due_words is not None:
        try:
            due = parse_date(due_words, now=ask.now, timezone=ask.caller.timezone or ask.services.settings.timezone)
        except DateNotUnderstood as error:
            raise DateNotUnderstood(
                f"{error} I read what follows the last “by” as the due date; to keep “by” in the text, "
                f"end it with a date, or use the form ({COACH_COMMAND})."
            ) from None
        if problem := past_due_error(due, caller_today(ask.caller, ask.now, ask.services)):
            raise InvalidInput(problem)
    record = record_action if kind == "assign" else record_goal
    message = record(ask.session, ask.caller, rep, text, due, ask.now, ask.services)
    # The rep's Home lists the new action or goal; it reads this session, so it sees it before commit.
    publish_home(ask.client, ask.session, rep, ask.now, playbook=ask.services.playbook, settings=ask.services.settings)
    return message


def _plan(ask: Ask) -> View:
    """Propose a plan for this quarter (or take the one proposed) and open its form."""
    ref, _ = take_person(ask.words, f"`{COACH_COMMAND} plan @rep`")
    session, services = ask.session, ask.services
    rep = resolve(session, ask.client, ref)
    require_manager(session, ask.caller, rep, "open a recovery plan for them")
    card = scorecard_for(
        session, rep, "quarter", now=ask.now, playbook=services.playbook, default_timezone=services.settings.timezone,
        default_currency=services.settings.currency, fiscal_year_start_month=services.settings.fiscal_year_start_month,
    )  # fmt: skip
    latest = session.scalars(
        select(RecoveryPlan)
        .where(RecoveryPlan.person_id == rep.id, RecoveryPlan.period_start == card.period.start)
        .order_by(RecoveryPlan.id.desc())
    ).first()
    if latest is not None and latest.status == "open":
        raise WrongState(
            f"{rep.name}'s recovery plan for {card.period.label} is already open; its check-ins tell you how it goes."
        )
    if latest is not None and latest.status in ("recovered", "missed"):
        raise WrongState(f"{rep.name}'s recovery plan for {card.period.label} is already closed ({latest.status}).")
    if latest is not None and latest.status == "proposed":
        plan = latest
    else:  # none yet, or a "Not now" the manager has thought better of
        plan = _propose_plan(session, rep, ask.caller, card, ask.now, services)
    return plan_open_modal(plan_id=plan.id, rep_name=rep.name, checkin_every_days=services.playbook.recovery.checkin_every_days)


def _propose_plan(
    session: Session, rep: Person, manager: Person, card: Scorecard, now: dt.datetime, services: Services
) -> RecoveryPlan:
    # plans_to_propose's row, for one rep, asked for by the manager rather than by the projection.
    if card.quota is None or card.gap_to_quota is None:
        raise WrongState(f"{rep.name} has no quota for {card.period.label}, so a recovery plan would have no gap to close.")
    if card.gap_to_quota <= 0:
        raise WrongState(f"{rep.name} has already made quota for {card.period.label}.")
    needed = plans.shortfall(card, fallback_conversion=FALLBACK_CONVERSION)
    plan = RecoveryPlan(
        person_id=rep.id, manager_id=manager.id, period_start=card.period.start, period_end=card.period.end - dt.timedelta(days=1),
        gap_amount=needed.gap, pipeline_to_add=needed.pipeline_to_add, currency=card.currency,
        checkin_every_days=services.playbook.recovery.checkin_every_days, status="proposed", opened_at=now,
    )  # fmt: skip
    session.add(plan)
    session.flush()
    audit(session, manager, "propose_plan", now, subject=rep, detail={"plan_id": plan.id})
    return plan


def _list(ask: Ask) -> Message:
    session, caller = ask.session, ask.caller
    if ask.words.strip():
        rep = resolve(session, ask.client, take_person(ask.words, f"`{COACH_COMMAND} list @rep`")[0])
        if not may_view(session, caller, rep):
            raise NotAllowed(f"Only {rep.name}, their managers and their coaches can see their actions and goals.")
        reps, heading = [rep], ("Your open actions and goals" if rep.id == caller.id else f"Open actions and goals of {rep.name}")
    else:
        ids = visible_rep_ids(session, caller)
        query = (
            select(Person)
            .where(Person.id.in_(ids), Person.is_rep.is_(True), Person.active.is_(True))
            .order_by(Person.name, Person.id)
        )
        reps = list(session.scalars(query)) if ids else []
        heading = "Open actions and goals of your reps"
        if not reps:
            reps, heading = [caller], "Your open actions and goals"
    shown = reps[:MAX_REPS_SHOWN]
    for rep in shown:
        if rep.id != caller.id:
            audit(session, caller, "view_coaching", ask.now, subject=rep)
    return coaching_list_message(heading, _open_work(session, shown, ask.now, ask.services), more_reps=len(reps) - len(shown))


def _open_work(session: Session, reps: list[Person], now: dt.datetime, services: Services) -> list[RepWork]:
    ids = [rep.id for rep in reps]
    open_actions = session.scalars(
        select(Action)
        .where(Action.person_id.in_(ids), Action.status == "open")
        .order_by(Action.due_date.is_(None), Action.due_date, Action.id)
    ).all()
    open_goals = session.scalars(
        select(Goal)
        .where(Goal.person_id.in_(ids), Goal.status == "open")
        .order_by(Goal.due_date.is_(None), Goal.due_date, Goal.id)
    ).all()
    work = []
    for rep in reps:
        today = actions.local_now(rep, now, services.settings.timezone).date()
        rep_actions = [
            OpenAction(a.id, a.text, a.due_date, a.due_date is not None and a.due_date < today)
            for a in open_actions
            if a.person_id == rep.id
        ]
        rep_goals = [OpenGoal(g.id, g.competency, g.due_date, g.progress) for g in open_goals if g.person_id == rep.id]
        work.append(RepWork(rep.name, rep_actions, rep_goals))
    return work


def _done(ask: Ask) -> Message:
    match = _ACTION_NUMBER.fullmatch(ask.words.strip())
    if match is None:
        raise InvalidInput(f"Give the action's number: `{COACH_COMMAND} done 12`. `{COACH_COMMAND} list` shows the numbers.")
    found = ask.session.get(Action, int(match["id"]))
    status_before = found.status if found is not None else "open"
    action = actions.complete_action(ask.session, int(match["id"]), ask.caller, ask.now)
    rep = ask.session.get(Person, action.person_id)
    assert rep is not None  # actions are deleted with their rep
    if status_before == "open":
        audit(ask.session, ask.caller, "complete_action", ask.now, subject=rep, detail={"action_id": action.id})
    return action_done_confirmation(action_id=action.id, text=action.text, rep_name=rep.name, status_before=status_before)


def _admin(ask: Ask) -> Message:
    roles.require_admin(ask.caller)
    session, client = ask.session, ask.client
    usage = (
        f"`{COACH_COMMAND} admin role @person add|remove rep|manager|coach|admin`, "
        f"`{COACH_COMMAND} admin coach @coach @rep` or `{COACH_COMMAND} admin uncoach @coach @rep`"
    )
    what, rest = split_word(ask.words)
    if what == "role":
        ref, rest = take_person(rest, usage)
        change, rest = split_word(rest)
        role, _ = split_word(rest)
        if change not in ("add", "remove") or not role:
            raise InvalidInput(f"Say `add` or `remove`, then the role: {usage}.")
        person = resolve(session, client, ref)
        result = roles.change_role(session, ask.caller, person, role, grant=change == "add", now=ask.now)
        return role_change_message(person.name, result)
    if what in ("coach", "uncoach"):
        coach_ref, rest = take_person(rest, usage)
        rep_ref, _ = take_person(rest, usage)
        coach, rep = resolve(session, client, coach_ref), resolve(session, client, rep_ref)
        change_assignment = roles.assign_coach if what == "coach" else roles.unassign_coach
        changed = change_assignment(session, ask.caller, coach, rep, ask.now)
        return coach_assignment_message(coach_name=coach.name, rep_name=rep.name, assigned=what == "coach", changed=changed)
    raise InvalidInput(f"Admin commands: {usage}.")


SUBCOMMANDS: dict[str, Callable[[Ask], Message | View]] = {
    "assign": lambda ask: _action_or_goal(ask, "assign"),
    "goal": lambda ask: _action_or_goal(ask, "goal"),
    "plan": _plan,
    "list": _list,
    "done": _done,
    "admin": _admin,
}


def _open_form(ask: Ask) -> View:
    caller = ask.caller
    if not (people_under(ask.session, caller.id) | coached_by(ask.session, caller.id)):
        raise NotAllowed(
            "You don't coach anyone in coachbot yet: only a rep's managers and assigned coaches can assign them actions or "
            f"set their goals. `{COACH_COMMAND} list` shows your own."
        )
    return coach_modal()


# The listener --------------------------------------------------------------------------------


def handle_coach(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient, context: BoltContext) -> None:
    ack()
    subcommand, words = split_word(clean(command.get("text")))
    if subcommand == "help":
        respond(blocks=to_dicts(coach_help_blocks()), text=f"How {COACH_COMMAND} works", response_type="ephemeral")
        return
    if subcommand and subcommand not in SUBCOMMANDS:
        message = unknown_subcommand_message(plain_text(subcommand))
        respond(blocks=to_dicts(message.blocks), text=message.text, response_type="ephemeral")
        return
    services = context["services"]
    with unit_of_work(context) as session:
        person = caller_or_explain(session, client, command["user_id"], respond)
        if person is None:
            return
        ask = Ask(session, client, person, words, services, services.clock())
        reply = SUBCOMMANDS[subcommand](ask) if subcommand else _open_form(ask)
    # After the commit: a plan the form opens must exist when the form comes back.
    if isinstance(reply, View):
        client.views_open(trigger_id=command["trigger_id"], view=reply)
    else:
        respond(blocks=to_dicts(reply.blocks), text=reply.text, response_type="ephemeral")


def register(app: App) -> None:
    app.command(COACH_COMMAND)(guarded(handle_coach))
