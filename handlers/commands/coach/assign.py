"""`/coach assign @rep what to do [by date]` and `/coach goal @rep competency: text [by date]`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.blocks.coach import action_confirmation, goal_confirmation
from bot.coaching import actions, goals
from bot.coaching.dates import past_due_error
from bot.coaching.errors import InvalidInput, require_coach
from bot.slack_ids import COACH_COMMAND
from handlers.commands.coach.ask import Ask, Reply, require_rep
from handlers.commands.coach.parsing import MeasureWords, PersonRef, due_date, plain_text, split_due, split_measure, take_person


@dataclass(frozen=True)
class AssignRequest:
    kind: str  # "assign" or "goal"
    rep: PersonRef
    text: str
    due_words: str | None
    measure: MeasureWords | None = None


def usage(kind: str) -> str:
    what = "what to do" if kind == "assign" else "competency: what good looks like [measure NAME[:ON] TARGET]"
    return f"`{COACH_COMMAND} {kind} @rep {what} [by date]`"


def parse(kind: str, words: str) -> AssignRequest:
    ref, rest = take_person(words, usage(kind))
    text, due_words = split_due(plain_text(rest))
    measure = None
    if kind == "goal":
        text, measure = split_measure(text)
    return AssignRequest(kind, ref, text, due_words, measure)


def run(ask: Ask, request: AssignRequest) -> Reply:
    rep = ask.person(request.rep)
    require_coach(ask.session, ask.caller, rep, "assign them actions" if request.kind == "assign" else "set their goals")
    require_rep(rep)
    if not request.text:
        raise InvalidInput(f"Say what {'to do' if request.kind == 'assign' else 'the goal is'}: {usage(request.kind)}.")
    due = due_date(request.due_words, now=ask.now, timezone=ask.timezone)
    if due is not None and (problem := past_due_error(due, actions.local_now(ask.caller, ask.now, ask.timezone).date())):
        raise InvalidInput(problem)
    settings = ask.services.settings
    if request.kind == "assign":
        action = actions.assign_action(
            ask.session, ask.notices, rep=rep, assigned_by=ask.caller, text=request.text, due_date=due, now=ask.now,
            default_timezone=settings.timezone,
        )  # fmt: skip
        message = action_confirmation(
            action_id=action.id, rep_name=rep.name, text=action.text, due_date=due, deal_name=None, goal=None,
            rep_told=rep.slack_user_id is not None,
        )  # fmt: skip
    else:
        measure = request.measure
        goal = goals.give_goal(
            ask.session, ask.notices, rep=rep, set_by=ask.caller, text=request.text, due_date=due, now=ask.now,
            measure=measure.name if measure else None, target=measure.target if measure else None,
            measure_arg=measure.argument if measure else None, default_timezone=settings.timezone,
            default_currency=settings.currency,
        )  # fmt: skip
        message = goal_confirmation(
            goal_id=goal.id, rep_name=rep.name, competency=goal.competency, description=goal.description, due_date=due,
            rep_told=rep.slack_user_id is not None, measure=goal.measure, target=goal.target, measure_arg=goal.measure_arg,
            progress=goal.progress,
        )  # fmt: skip
    # The rep's Home lists the new action or goal.
    return Reply(message=message, homes=(rep.id,))
