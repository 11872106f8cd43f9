"""Coaching messages: actions, reminders, escalations, recovery plans and their check-ins.

Each builder is a pure function of plain values returning a `Message` (blocks and the plain-text
fallback Slack shows in notifications). Every Slack identifier these messages carry is defined
here, once; listeners import them from here. A button's value is the id of the row it acts on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.format import clip, escape, first_name, money, percent, short_date

# Buttons (action_id) and the blocks that hold them (block_id).
from bot.slack_ids import (
    ACTION_BUTTONS_BLOCK,
    ACTION_DONE,
    CHECKIN_AT_RISK,
    CHECKIN_BUTTONS_BLOCK,
    CHECKIN_NEED_HELP,
    CHECKIN_ON_TRACK,
    PLAN_CADENCE_BLOCK,
    PLAN_CADENCE_INPUT,
    PLAN_COMMITMENTS_BLOCK,
    PLAN_COMMITMENTS_INPUT,
    PLAN_NOT_NOW,
    PLAN_OPEN,
    PLAN_OPEN_VIEW,
    PLAN_PROPOSAL_BUTTONS_BLOCK,
)

TEXT_LIMIT = 3000  # a section's text
QUOTED_LIMIT = 1500  # what we quote of someone's own words, leaving room for the rest
MAX_COMMITMENTS_SHOWN = 10

# How a goal's CRM measure reads, and how its target is written.
MEASURE_WORDS = {
    "next_step_coverage": ("open deals with a dated next step", "share"),
    "pipeline_added_per_week": ("pipeline added in the last 7 days", "amount"),
    "process_adherence": ("open deals with no process gap", "share"),
    "product_lines_in_play": ("product lines in play", "count"),
    "win_rate": ("win rate of deals closed in the last 90 days", "share"),
    "old_open_gaps": ("process gaps open more than {arg} days, at most", "count"),
    "pipeline_in_line": ("open pipeline in {arg}", "amount"),
    "won_in_line": ("deals won in {arg} since the goal was set", "count"),
}


class Message(NamedTuple):
    blocks: list[Block]
    text: str


def day(date: dt.date) -> str:
    """'Fri, Nov 27': the weekday is what a rep plans a week by."""
    return f"{date:%a}, {short_date(date)}"


def relative_days(days: int) -> str:
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "yesterday"
    return f"in {days} days" if days > 0 else f"{-days} days ago"


def cadence_words(days: int) -> str:
    """'week', 'two weeks', '3 days': what follows "every"."""
    return {7: "week", 14: "two weeks"}.get(days, f"{days} days")


def quote(text: str) -> str:
    """Someone's own words as a mrkdwn block quote, escaped so they cannot ping or link."""
    return "\n".join(f">{line}" for line in escape(clip(text.strip(), QUOTED_LIMIT)).splitlines() or [""])


def one_line(text: str, limit: int) -> str:
    """User text for a fallback (a notification): escaped, on one line, clipped."""
    return escape(clip(" ".join(text.split()), limit))


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, TEXT_LIMIT)))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, TEXT_LIMIT))])


def _done_button(action_id: int) -> ActionsBlock:
    return ActionsBlock(
        block_id=ACTION_BUTTONS_BLOCK,
        elements=[ButtonElement(text="Done", action_id=ACTION_DONE, value=str(action_id), style="primary")],
    )


def _bullets(items: Sequence[str]) -> str:
    shown = [f"• {escape(clip(item, 200))}" for item in items[:MAX_COMMITMENTS_SHOWN]]
    if len(items) > MAX_COMMITMENTS_SHOWN:
        shown.append(f"• …and {len(items) - MAX_COMMITMENTS_SHOWN} more")
    return "\n".join(shown)


# Actions ------------------------------------------------------------------------------------


def action_assigned_message(
    *,
    action_id: int,
    text: str,
    assigned_by: str,
    due_date: dt.date | None,
    deal_name: str | None = None,
    deal_url: str | None = None,
    goal: str | None = None,
) -> Message:
    """To the rep: what was asked, by whom, by when, with a Done button."""
    details = [f"Due *{day(due_date)}*" if due_date else "No due date"]
    if deal_name:
        name = escape(clip(deal_name, 120))
        details.append(f"Deal: <{deal_url}|{name}>" if deal_url else f"Deal: {name}")
    if goal:
        details.append(f"For your goal: {escape(clip(goal, 100))}")
    blocks: list[Block] = [
        _section(f":memo: *{escape(assigned_by)}* asked you to:\n{quote(text)}"),
        _context(" · ".join(details)),
        _done_button(action_id),
    ]
    due = f" (due {day(due_date)})" if due_date else ""
    return Message(blocks, f"{escape(assigned_by)} asked you to: {one_line(text, 200)}{due}")


def action_done_message(*, text: str, done_by: str, rep_name: str) -> Message:
    """To whoever assigned the action: it is done."""
    who = escape(done_by)
    whose = "" if done_by == rep_name else f" ({escape(rep_name)}'s action)"
    rest = f" marked “{one_line(text, 300)}” done{whose}."
    return Message([_section(f":white_check_mark: *{who}*{rest}")], who + rest)


def escalation_message(*, rep_name: str, text: str, due_date: dt.date, days_overdue: int) -> Message:
    """To whoever assigned the action: it is overdue. Sent once per action."""
    rep = escape(rep_name)
    rest = f" has not yet done “{one_line(text, 300)}”, due {day(due_date)} ({relative_days(-days_overdue)})."
    return Message(
        [
            _section(f":warning: *{rep}*{rest}"),
            _context(f"This is the only time I'll say so. A quick word with {escape(first_name(rep_name))} may help."),
        ],
        rep + rest,
    )


def action_reminder_message(*, action_id: int, text: str, due_date: dt.date, days_left: int, assigned_by: str | None) -> Message:
    """To the rep, the day before an action is due."""
    by = f" (asked by {escape(assigned_by)})" if assigned_by else ""
    when = f"Due {relative_days(days_left)}, {day(due_date)}"
    return Message(
        [_section(f":alarm_clock: *{when}*: “{one_line(text, 300)}”{by}"), _done_button(action_id)],
        f"{when}: {one_line(text, 200)}{by}",
    )


# Goals --------------------------------------------------------------------------------------


def measure_words(measure: str, target: float | None, argument: str | None = None) -> str:
    """'open deals with a dated next step, target 90%' (escaped: a product line is someone's text)."""
    label, unit = MEASURE_WORDS.get(measure, (measure.replace("_", " "), "count"))
    label = label.format(arg=escape(argument or ""))
    if target is None:
        return label
    if unit == "share":
        shown = percent(target)
    elif unit == "amount":
        shown = f"{target:,.0f}"
    else:
        shown = f"{target:g}"
    return f"{label}, target {shown}"


def goal_reminder_message(
    *,
    competency: str,
    description: str,
    due_date: dt.date,
    days_left: int,
    progress: float,
    measure: str | None,
    target: float | None,
    measure_arg: str | None = None,
) -> Message:
    """To the rep, a few days before a goal is due."""
    when = relative_days(days_left)
    if measure:
        how = f"Progress: *{percent(progress)}*, measured from the CRM ({measure_words(measure, target, measure_arg)})."
    else:
        how = f"Progress: *{percent(progress)}*, as you last reported it. If it has moved, tell your coach."
    return Message(
        [
            _section(
                f":dart: Your goal *{escape(clip(competency, 100))}* is due {when}, {day(due_date)}:\n{quote(description)}\n{how}"
            ),
        ],
        f"Your goal {escape(clip(competency, 100))} is due {when} ({day(due_date)}): {percent(progress)} done.",
    )


# Recovery plans -----------------------------------------------------------------------------


def plan_proposal_message(
    *,
    plan_id: int,
    rep_name: str,
    period_label: str,
    projected: float,
    period_left: float,
    quota: Decimal,
    won: Decimal,
    gap: Decimal,
    pipeline_to_add: Decimal,
    conversion: float,
    currency: str,
) -> Message:
    """To the rep's manager (never the rep): the projection, the gap, and whether to open a plan."""
    rep = escape(rep_name)
    first = escape(first_name(rep_name))
    blocks: list[Block] = [
        _section(
            f":rotating_light: *{rep}* is projected to reach *{percent(projected)}* of quota in {escape(period_label)}, "
            f"with {percent(period_left)} of the quarter still to go."
        ),
        SectionBlock(
            fields=[
                MarkdownTextObject(
                    text=f"*Gap to quota*\n{money(gap, currency)} ({money(won, currency)} won of {money(quota, currency)})"
                ),
                MarkdownTextObject(
                    text=f"*Pipeline to add*\nabout {money(pipeline_to_add, currency)}, if it converts like {first}'s "
                    f"pipeline today ({percent(conversion)} by the playbook's stage odds)"
                ),
            ]
        ),
        _section(
            f"A recovery plan sets a few weekly commitments with {first} and checks in on them until the gap "
            f"is closed or the quarter ends. {first} is told nothing unless you open one."
        ),
        ActionsBlock(
            block_id=PLAN_PROPOSAL_BUTTONS_BLOCK,
            elements=[
                ButtonElement(text="Open a recovery plan", action_id=PLAN_OPEN, value=str(plan_id), style="primary"),
                ButtonElement(text="Not now", action_id=PLAN_NOT_NOW, value=str(plan_id)),
            ],
        ),
    ]
    return Message(
        blocks, f"{rep} is projected at {percent(projected)} of quota for {escape(period_label)}: open a recovery plan?"
    )


def plan_open_modal(*, plan_id: int, rep_name: str, checkin_every_days: int) -> View:
    """The form behind "Open a recovery plan": weekly commitments, one a line, and the check-in cadence."""
    cadences = sorted({3, 7, 14, checkin_every_days})
    options = [Option(text=f"Every {cadence_words(days)}", value=str(days)) for days in cadences]
    chosen = next(option for option, days in zip(options, cadences, strict=True) if days == checkin_every_days)
    return View(
        type="modal",
        callback_id=PLAN_OPEN_VIEW,
        private_metadata=str(plan_id),
        title="Recovery plan",
        submit="Open plan",
        close="Cancel",
        blocks=[
            _section(
                f"Agree a few weekly commitments with *{escape(rep_name)}*: they are sent to "
                f"{escape(first_name(rep_name))}, and each check-in asks how they are going."
            ),
            InputBlock(
                block_id=PLAN_COMMITMENTS_BLOCK,
                label="Weekly commitments, one a line",
                element=PlainTextInputElement(
                    action_id=PLAN_COMMITMENTS_INPUT,
                    multiline=True,
                    max_length=2000,
                    placeholder="e.g. 15 prospecting calls a week",
                ),
            ),
            InputBlock(
                block_id=PLAN_CADENCE_BLOCK,
                label="Check in",
                element=StaticSelectElement(action_id=PLAN_CADENCE_INPUT, options=options, initial_option=chosen),
            ),
        ],
    )


def plan_opened_message(
    *,
    manager_name: str,
    period_end: dt.date,
    gap: Decimal,
    pipeline_to_add: Decimal,
    currency: str,
    commitments: Sequence[str],
    checkin_every_days: int,
    first_checkin: dt.date | None,
) -> Message:
    """To the rep: the plan their manager opened with them, and when the first check-in comes."""
    manager = escape(manager_name)
    blocks: list[Block] = [
        _section(
            f":handshake: *{manager}* opened a recovery plan with you for this quarter.\n"
            f"The aim: close *{money(gap, currency)}* more by {day(period_end)}, which means adding about "
            f"*{money(pipeline_to_add, currency)}* of pipeline."
        ),
        _section(f"*Your weekly commitments*\n{_bullets(commitments)}"),
    ]
    if first_checkin:
        cadence = cadence_words(checkin_every_days)
        blocks.append(
            _context(f"I'll check in with you every {cadence}, first on {day(first_checkin)}: three buttons, ten seconds.")
        )
    return Message(blocks, f"{manager} opened a recovery plan with you: close {money(gap, currency)} more by {day(period_end)}.")


def checkin_message(
    *,
    checkin_id: int,
    manager_name: str,
    period_end: dt.date,
    days_left: int,
    gap: Decimal,
    pipeline_to_add: Decimal,
    currency: str,
    commitments: Sequence[str],
) -> Message:
    """To the rep: how is the plan going? On track, at risk, or need help."""
    left = "the last day" if days_left == 0 else f"{days_left} day{'s' if days_left != 1 else ''} left"
    lines = [
        ":wave: *Recovery plan check-in: how is it going?*",
        f"The quarter ends {day(period_end)} ({left}). The plan: close {money(gap, currency)} more "
        f"and add {money(pipeline_to_add, currency)} of pipeline.",
    ]
    if commitments:
        lines.append(f"Your weekly commitments:\n{_bullets(commitments)}")
    blocks: list[Block] = [
        _section("\n".join(lines)),
        ActionsBlock(
            block_id=CHECKIN_BUTTONS_BLOCK,
            elements=[
                ButtonElement(text="On track", action_id=CHECKIN_ON_TRACK, value=str(checkin_id), style="primary"),
                ButtonElement(text="At risk", action_id=CHECKIN_AT_RISK, value=str(checkin_id)),
                ButtonElement(text="Need help", action_id=CHECKIN_NEED_HELP, value=str(checkin_id)),
            ],
        ),
        _context(f"Your answer goes to {escape(manager_name)}."),
    ]
    return Message(blocks, "Recovery plan check-in: are you on track, at risk, or do you need help?")


_ANSWER_WORDS = {
    "on_track": (":large_green_circle:", "is on track with"),
    "at_risk": (":large_yellow_circle:", "is at risk on"),
    "need_help": (":red_circle:", "needs help with"),
}


def checkin_answer_message(*, rep_name: str, answer: str, note: str | None, asked_on: dt.date) -> Message:
    """To the manager: the rep's answer to a check-in, in their words."""
    emoji, phrase = _ANSWER_WORDS[answer]
    rep = escape(rep_name)
    rest = f" {phrase} their recovery plan (check-in of {day(asked_on)})."
    text = f"{emoji} *{rep}*{rest}"
    if note and note.strip():
        text += f"\n{quote(note)}"
    blocks: list[Block] = [_section(text)]
    if answer == "need_help":
        blocks.append(_context(f"Worth a call with {escape(first_name(rep_name))} today."))
    return Message(blocks, rep + rest)


def plan_closed_message(*, rep_name: str, period_label: str, status: str, outcome: str, for_manager: bool) -> Message:
    """To the rep or their manager: the plan is closed, recovered or missed, and why."""
    period = escape(period_label)
    if status == "recovered":
        headline = (
            f"{escape(rep_name)}'s recovery plan for {period} is closed: recovered."
            if for_manager
            else f"Your recovery plan for {period} is closed: you are back on track."
        )
        emoji = ":tada:"
    else:
        headline = (
            f"{escape(rep_name)}'s recovery plan for {period} has ended: missed."
            if for_manager
            else f"Your recovery plan for {period} has ended."
        )
        emoji = ":checkered_flag:"
    blocks: list[Block] = [_section(f"{emoji} *{headline}*\n{quote(outcome)}")]
    if status != "recovered" and not for_manager:
        blocks.append(_context("Take what worked into next quarter; your manager will talk it through with you."))
    return Message(blocks, f"{headline} {one_line(outcome, 300)}")


def goal_closed_message(*, rep_name: str, competency: str, status: str, progress: float, on: dt.date, for_rep: bool) -> Message:
    """To the rep and to whoever set the goal: it was achieved, or its due date passed first."""
    whose = "Your goal" if for_rep else f"{escape(rep_name)}'s goal"
    if status == "achieved":
        line = f":trophy: {whose} *{escape(clip(competency, 100))}* is achieved ({day(on)})."
    else:
        line = f":hourglass: {whose} *{escape(clip(competency, 100))}* closed on {day(on)} at {percent(progress)}, short of its target."
    return Message([_section(line)], line.replace("*", ""))
