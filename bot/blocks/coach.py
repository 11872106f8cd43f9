"""What `/coach` shows: help, the form, confirmations, lists of open work, and the rep's goal message."""

from __future__ import annotations

import datetime as dt

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.coaching import MEASURE_WORDS, Message, day, measure_words, one_line, quote
from bot.blocks.format import clip, escape, first_name, percent
from bot.coaching.roles import RoleChange
from bot.coaching.worklist import MAX_REPS_LISTED, OpenAction, OpenGoal, WorkList
from bot.slack_ids import (
    COACH_COMMAND,
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

TEXT_LIMIT = 3000  # a section's text
FORM_TEXT_LIMIT = 2000  # a goal's description; an action's 500 is checked on submission
MAX_ITEMS_SHOWN = 10  # of each kind, per rep

COACH_HELP = (
    f"*{COACH_COMMAND}* assigns actions and sets development goals for the reps you coach, and opens "
    "recovery plans for the reps you manage. Replies are private; a rep is told in a direct message.\n"
    f"• `{COACH_COMMAND}`: a form for an action or a goal\n"
    f"• `{COACH_COMMAND} assign @rep what to do [by date]`: an action, sent to the rep with a Done button\n"
    f"• `{COACH_COMMAND} goal @rep competency: what good looks like [by date]`: a development goal\n"
    f"• `{COACH_COMMAND} plan @rep`: a recovery plan for a rep you manage\n"
    f"• `{COACH_COMMAND} list [@rep]`: open actions and goals of a rep, or of everyone you coach\n"
    f"• `{COACH_COMMAND} done 12`: mark action 12 done\n"
    f"• `{COACH_COMMAND} 1on1 @rep`: a 1:1 agenda for a rep you manage or coach, only you see it; send the rep their copy\n"
    f"• `{COACH_COMMAND} help`: this message"
)
COACH_HELP_DATES = (
    "Name a rep by @mention or email. Dates are read in your time zone: `today`, `tomorrow`, `friday` "
    "(the next one, never today), `next week` (Monday), `in 3 days`, `end of month`, `2026-12-01`, "
    "`Dec 5`, `5 Dec`, `12/5` (month first)."
)
COACH_HELP_ADMIN = (
    f"Admins: `{COACH_COMMAND} admin role @person add|remove rep|manager|coach|admin`, "
    f"`{COACH_COMMAND} admin coach @coach @rep`, `{COACH_COMMAND} admin uncoach @coach @rep`."
)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, TEXT_LIMIT)))


def _context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, TEXT_LIMIT)) for text in texts])


def _due(due_date: dt.date | None) -> str:
    return f"Due *{day(due_date)}*" if due_date else "No due date"


# Help ----------------------------------------------------------------------------------------


def coach_help_blocks() -> list[Block]:
    return [_section(COACH_HELP), _context(COACH_HELP_DATES, COACH_HELP_ADMIN)]


def unknown_subcommand_message(word: str) -> Message:
    shown = escape(clip(word, 40))
    return Message(
        [_section(f"I don't know “{shown}”. Here is what {COACH_COMMAND} does:"), *coach_help_blocks()],
        f"I don't know “{shown}”. Try {COACH_COMMAND} help.",
    )


# The form ------------------------------------------------------------------------------------


def coach_modal() -> View:
    """The form behind a bare `/coach`: an action or a goal, for whom, what, by when, tied to what."""
    action = Option(text="An action", value="action")
    return View(
        type="modal",
        callback_id=COACH_VIEW,
        title="Coach",
        submit="Send",
        close="Cancel",
        blocks=[
            InputBlock(
                block_id=COACH_KIND_BLOCK,
                label="What",
                element=RadioButtonsElement(
                    action_id=COACH_KIND_INPUT,
                    options=[action, Option(text="A development goal", value="goal")],
                    initial_option=action,
                ),
            ),
            InputBlock(
                block_id=COACH_PERSON_BLOCK,
                label="For",
                element=UserSelectElement(action_id=COACH_PERSON_INPUT, placeholder="A rep you coach"),
            ),
            InputBlock(
                block_id=COACH_TEXT_BLOCK,
                label="What to do",
                hint="For a goal, name the competency first: “Discovery: three pain questions on every first call”.",
                element=PlainTextInputElement(
                    action_id=COACH_TEXT_INPUT,
                    multiline=True,
                    max_length=FORM_TEXT_LIMIT,
                    placeholder="e.g. Book a QBR with Globex",
                ),
            ),
            InputBlock(
                block_id=COACH_DUE_BLOCK,
                label="Due",
                optional=True,
                element=DatePickerElement(action_id=COACH_DUE_INPUT, placeholder="No due date"),
            ),
            InputBlock(
                block_id=COACH_LINK_BLOCK,
                label="Deal or goal",
                optional=True,
                hint=(
                    f"For an action: one of the rep's open deals (its CRM id or name), or “goal 3”. "
                    f"{COACH_COMMAND} list shows goal numbers."
                ),
                element=PlainTextInputElement(action_id=COACH_LINK_INPUT, max_length=200, placeholder="e.g. Globex expansion"),
            ),
            InputBlock(
                block_id=COACH_MEASURE_BLOCK,
                label="Measured from the CRM (goals)",
                optional=True,
                hint="Leave empty for a goal the rep reports on; progress then moves when they say so.",
                element=StaticSelectElement(
                    action_id=COACH_MEASURE_INPUT,
                    placeholder="No measure",
                    options=[Option(value=name, text=_measure_label(name, words)) for name, (words, _) in MEASURE_WORDS.items()],
                ),
            ),
            InputBlock(
                block_id=COACH_MEASURED_ON_BLOCK,
                label="Measured on",
                optional=True,
                hint="For the measures that name one: the product line, or the number of days (gaps open more than N days).",
                element=PlainTextInputElement(
                    action_id=COACH_MEASURED_ON_INPUT, max_length=100, placeholder="e.g. Analytics, or 14"
                ),
            ),
            InputBlock(
                block_id=COACH_TARGET_BLOCK,
                label="Target",
                optional=True,
                hint="A share (90%), an amount (50,000) or a count (3); for gaps open too long, the most you accept (0).",
                element=PlainTextInputElement(action_id=COACH_TARGET_INPUT, max_length=20, placeholder="e.g. 90%"),
            ),
        ],
    )


def _measure_label(name: str, words: str) -> str:
    # The form names what the measure is measured on in general; the goal's own words name it.
    return clip(words.format(arg="N" if name == "old_open_gaps" else "a product line"), 75)


def confirmation_view(message: Message) -> View:
    """The form, replaced by what was done once it is sent."""
    return View(type="modal", title="Coach", close="Close", blocks=message.blocks)


# Confirmations -------------------------------------------------------------------------------


def _told(rep_name: str, told: bool, what: str) -> str:
    if told:
        return f"{escape(first_name(rep_name))} gets it in a direct message{what}."
    return f"{escape(rep_name)} has no Slack account linked yet, so I could not tell them; it shows on their /myperf."


def action_confirmation(
    *,
    action_id: int,
    rep_name: str,
    text: str,
    due_date: dt.date | None,
    deal_name: str | None = None,
    goal: str | None = None,
    rep_told: bool,
) -> Message:
    """To whoever assigned the action, privately: what was sent to whom."""
    rep = escape(rep_name)
    details = [_due(due_date)]
    if deal_name:
        details.append(f"Deal: {escape(clip(deal_name, 120))}")
    if goal:
        details.append(f"For the goal: {escape(clip(goal, 100))}")
    details.append(_told(rep_name, rep_told, ", with a Done button"))
    due = f" (due {day(due_date)})" if due_date else ""
    return Message(
        [_section(f":white_check_mark: Action `#{action_id}` for *{rep}*:\n{quote(text)}"), _context(" · ".join(details))],
        f"Action #{action_id} for {rep}: {one_line(text, 200)}{due}",
    )


def goal_confirmation(
    *, goal_id: int, rep_name: str, competency: str, description: str, due_date: dt.date | None, rep_told: bool,
    measure: str | None = None, target: float | None = None, measure_arg: str | None = None, progress: float = 0.0,
) -> Message:  # fmt: skip
    """To whoever set the goal, privately (with where its CRM measure stands today, if it has one)."""
    rep = escape(rep_name)
    body = f":dart: Goal `goal {goal_id}` for *{rep}*: *{escape(competency)}*"
    if description != competency:
        body += f"\n{quote(description)}"
    if measure:
        body += f"\nMeasured from the CRM: {measure_words(measure, target, measure_arg)}; *{percent(progress)}* of the way today."
    due = f" (due {day(due_date)})" if due_date else ""
    return Message(
        [_section(body), _context(f"{_due(due_date)} · {_told(rep_name, rep_told, '')}")],
        f"Goal {goal_id} for {rep}: {one_line(competency, 100)}{due}",
    )


def goal_set_message(
    *, set_by: str, competency: str, description: str, due_date: dt.date | None, measure: str | None = None,
    target: float | None = None, measure_arg: str | None = None,
) -> Message:  # fmt: skip
    """To the rep: a development goal set for them (and how the CRM measures it, if it does)."""
    who = escape(set_by)
    body = f":dart: *{who}* set you a development goal: *{escape(competency)}*"
    if description != competency:
        body += f"\n{quote(description)}"
    if measure:
        body += f"\nMeasured from the CRM: {measure_words(measure, target, measure_arg)}."
    due = f" (due {day(due_date)})" if due_date else ""
    return Message(
        [_section(body), _context(f"{_due(due_date)} · Your progress shows on /myperf.")],
        f"{who} set you a development goal: {one_line(competency, 100)}{due}",
    )


def action_done_confirmation(*, action_id: int, text: str, rep_name: str, status_before: str) -> Message:
    """To whoever typed `/coach done`: done now, or it already was."""
    what = f"“{one_line(text, 300)}” ({escape(rep_name)}'s action #{action_id})"
    if status_before == "open":
        line = f":white_check_mark: Marked done: {what}."
    else:
        line = f"Nothing to do: {what} is already {escape(status_before)}."
    return Message([_section(line)], line)


def role_change_message(person_name: str, change: RoleChange) -> Message:
    """To the admin: the role given or taken, or that nothing needed changing."""
    name, role = escape(person_name), change.role
    if not change.changed:
        line = f"{name} already has the {role} role." if change.granted else f"{name} does not have the {role} role."
        return Message([_section(f":information_source: {line} Nothing changed.")], f"{line} Nothing changed.")
    line = f"{name} now has the {role} role." if change.granted else f"{name} no longer has the {role} role."
    if change.assignments_ended:
        line += f" The {change.assignments_ended} coach assignment(s) that went with it ended."
    return _audited(line, person_name)


def coach_assignment_message(*, coach_name: str, rep_name: str, assigned: bool, changed: bool) -> Message:
    """To the admin: the coach assigned or unassigned, or that nothing needed changing."""
    coach, rep = escape(coach_name), escape(rep_name)
    if not changed:
        line = f"{coach} already coaches {rep}." if assigned else f"{coach} was not coaching {rep}."
        return Message([_section(f":information_source: {line} Nothing changed.")], f"{line} Nothing changed.")
    return _audited(f"{coach} now coaches {rep}." if assigned else f"{coach} no longer coaches {rep}.", rep_name)


def _audited(line: str, person_name: str) -> Message:
    note = (
        f"Written to the audit log. A later `coachbot org import` of a file that lists "
        f"{escape(first_name(person_name))} sets this from the file again."
    )
    return Message([_section(f":white_check_mark: {line}"), _context(note)], line)


# Lists ---------------------------------------------------------------------------------------


def _action_line(action: OpenAction) -> str:
    due = f"due {day(action.due_date)}" if action.due_date else "no due date"
    overdue = " · *overdue*" if action.overdue else ""
    return f"• `#{action.id}` {one_line(action.text, 150)} · {due}{overdue}"


def _goal_line(goal: OpenGoal) -> str:
    due = f"due {day(goal.due_date)}" if goal.due_date else "no due date"
    return f"• `goal {goal.id}` {one_line(goal.competency, 100)} · {percent(goal.progress)} · {due}"


def _shown_lines(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_ITEMS_SHOWN:
        return lines
    return [*lines[:MAX_ITEMS_SHOWN], f"• …and {len(lines) - MAX_ITEMS_SHOWN} more"]


def work_list_message(work: WorkList) -> Message:
    """`/coach list`: open actions and goals, rep by rep, and how many reps were left out (a message holds 50 blocks)."""
    heading, reps, more_reps = work.heading, work.reps, work.more_reps
    blocks: list[Block] = [_section(f"*{escape(heading)}*")]
    for rep in reps[:MAX_REPS_LISTED]:
        lines = [f"*{escape(rep.name)}*"]
        if rep.actions:
            lines += ["Actions:", *_shown_lines([_action_line(action) for action in rep.actions])]
        if rep.goals:
            lines += ["Goals:", *_shown_lines([_goal_line(goal) for goal in rep.goals])]
        if not rep.actions and not rep.goals:
            lines.append("Nothing open.")
        blocks.append(_section("\n".join(lines)))
    if not reps:
        blocks.append(_section("Nobody to show."))
    more_reps += max(len(reps) - MAX_REPS_LISTED, 0)
    if more_reps:
        blocks.append(_context(f"…and {more_reps} more reps: name one with `{COACH_COMMAND} list @rep`."))
    blocks.append(_context(f"Mark an action done with `{COACH_COMMAND} done <number>`."))
    actions = sum(len(rep.actions) for rep in reps)
    goals = sum(len(rep.goals) for rep in reps)
    return Message(blocks, f"{escape(heading)}: {actions} open action(s), {goals} open goal(s).")
