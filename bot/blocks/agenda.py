"""The 1:1 agenda as a Slack message: the coach's private copy (with Send and Mark held) and the rep's.

Both copies show the same blocks in the same order: the number and pace, the wins since the last
one-on-one, the biggest process gaps, goals, actions due and overdue, the recovery plan and its
last check-ins, and the active snoozes with their reasons. The rep's copy leaves out only the
buttons and the line saying only the coach sees it: every line on it is the rep's own data, which
they see on their App Home and in /myperf anyway. Each list shows at most `MAX_LISTED` items and
counts the rest; each section stays under Slack's 3,000 characters.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks.coaching import Message, day, measure_words, one_line
from bot.blocks.format import clip, escape, first_name, money, percent, short_date
from bot.blocks.scorecard import pace_label
from bot.coaching.agenda import (
    DEFAULT_SINCE_DAYS,
    Agenda,
    AgendaAction,
    AgendaCheckin,
    AgendaGap,
    AgendaGoal,
    AgendaSnooze,
    AgendaWin,
)
from bot.slack_ids import ONE_ON_ONE_BUTTONS_BLOCK, ONE_ON_ONE_HELD, ONE_ON_ONE_OPEN, ONE_ON_ONE_SEND

TEXT_LIMIT = 3000  # a section's text
HEADER_LIMIT = 150  # a header's plain text
BUTTON_LIMIT = 75  # a button's label
MAX_LISTED = 10  # goals, actions, snoozes and wins each
ANSWER_WORDS = {
    "on_track": ":large_green_circle: on track",
    "at_risk": ":large_yellow_circle: at risk",
    "need_help": ":red_circle: needs help",
}


def one_on_one_button(rep_id: int, rep_name: str) -> ButtonElement:
    """The "1:1 agenda" button to sit beside a rep (in the digest): opens their agenda for whoever clicks.

    Its action_id carries the rep's id so several can share one actions block."""
    return ButtonElement(
        text=clip(f"1:1 agenda: {first_name(rep_name)}", BUTTON_LIMIT),
        action_id=f"{ONE_ON_ONE_OPEN}:{rep_id}",
        value=str(rep_id),
    )


def agenda_message(agenda: Agenda) -> Message:
    """The coach's private agenda, with "Send to <rep>" and "Mark held"."""
    first = first_name(agenda.rep_name)
    if agenda.last_held is not None:
        since = f"Since *{day(agenda.since)}*, your last one-on-one with {escape(first)}"
    else:
        since = (
            f"Since *{day(agenda.since)}*: no one-on-one with {escape(first)} marked held yet, "
            f"so the last {DEFAULT_SINCE_DAYS} days"
        )
    buttons = ActionsBlock(
        block_id=ONE_ON_ONE_BUTTONS_BLOCK,
        elements=[
            ButtonElement(text=clip(f"Send to {first}", BUTTON_LIMIT), action_id=ONE_ON_ONE_SEND, value=str(agenda.rep_id)),
            ButtonElement(text="Mark held", action_id=ONE_ON_ONE_HELD, value=str(agenda.rep_id), style="primary"),
        ],
    )
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"1:1 agenda: {agenda.rep_name}", HEADER_LIMIT)),
        _context(f"{since} · only you see this"),
        *_body(agenda),
        buttons,
        _context(
            f"*Send to {escape(first)}* sends them this agenda in a direct message. *Mark held* after you meet: "
            "the next agenda starts from that day."
        ),
    ]
    return Message(blocks, f"1:1 agenda for {one_line(agenda.rep_name, 100)}")


def one_on_one_copy_message(*, agenda: Agenda) -> Message:
    """The rep's copy: the same agenda, from their manager or coach, without the buttons."""
    coach = escape(agenda.coach_name)
    since = "your last one-on-one" if agenda.last_held is not None else f"the last {DEFAULT_SINCE_DAYS} days"
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"Your 1:1 agenda with {agenda.coach_name}", HEADER_LIMIT)),
        _context(f"From {coach}, as of {day(agenda.today)} · since *{day(agenda.since)}*, {since}"),
        *_body(agenda),
    ]
    return Message(blocks, f"Your 1:1 agenda with {one_line(agenda.coach_name, 100)}")


def without_clicked(blocks: list[dict[str, Any]], action_id: str, note: str) -> list[dict[str, Any]]:
    """The agenda's blocks after a click: the clicked button gone (its block too, once empty), the note after it."""
    updated: list[dict[str, Any]] = []
    for block in blocks:
        elements = block.get("elements", [])
        if block.get("type") != "actions" or not any(element.get("action_id") == action_id for element in elements):
            updated.append(block)
            continue
        left = [element for element in elements if element.get("action_id") != action_id]
        if left:
            updated.append({**block, "elements": left})
        updated.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return updated


def _body(agenda: Agenda) -> list[Block]:
    return [
        _section(_number(agenda)),
        _section(_wins(agenda)),
        _section(_gaps(agenda)),
        _section(_listing("*Goals*", [_goal_line(goal) for goal in agenda.goals], "none open.")),
        _section(_actions(agenda)),
        _section(_plan(agenda)),
        _section(_listing("*Snoozed*", [_snooze_line(snooze) for snooze in agenda.snoozes], "nothing.")),
    ]


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, TEXT_LIMIT)))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, TEXT_LIMIT))])


def _listing(title: str, lines: list[str], empty: str, more: str = "") -> str:
    """`title` and up to MAX_LISTED lines, the rest counted, clipped line by line to fit a section."""
    if not lines:
        return f"{title}: {empty}{more}"
    shown, left = [title], len(lines)
    for line in lines[:MAX_LISTED]:
        if sum(len(part) + 1 for part in shown) + len(line) > TEXT_LIMIT - 200:
            break
        shown.append(line)
        left -= 1
    if left:
        shown.append(f"…and {left} more")
    return "\n".join(shown) + more


def _number(agenda: Agenda) -> str:
    card = agenda.card
    title = f"*The number* ({escape(card.period.label)})"
    won = money(card.won_amount, card.currency)
    if card.quota is None:
        return f"{title}: *{won}* closed-won; no quota is set, so there is no pace or gap."
    return (
        f"{title}: *{won}* closed-won of *{money(card.quota, card.currency)}* quota (*{percent(card.attainment)}*)\n"
        f"Pace *{percent(card.pace)}*: {pace_label(card.pace)} · projected *{percent(card.projected_attainment)}* "
        f"({money(card.projected_amount, card.currency)}) · gap to quota {money(card.gap_to_quota, card.currency)}"
    )


def _win_line(win: AgendaWin) -> str:
    line = f" ({escape(clip(win.product_line, 40))})" if win.product_line else ""
    return f"• {one_line(win.deal_name, 80)}: {money(win.amount, win.currency)}{line}, won {short_date(win.close_date)}"


def _wins(agenda: Agenda) -> str:
    title = f"*Wins since {short_date(agenda.since)}*"
    if not agenda.wins:
        return f"{title}: none yet."
    count = len(agenda.wins)
    total = f"{count} deal{'s' if count != 1 else ''}, {money(agenda.won_since, agenda.card.currency)} :tada:"
    return _listing(f"{title}: {total}", [_win_line(win) for win in agenda.wins], "")


def _gap_line(gap: AgendaGap) -> str:
    name = one_line(gap.deal_name, 80)
    title = f"<{gap.crm_url}|{name}>" if gap.crm_url else f"*{name}*"
    amount = money(gap.amount, gap.currency) if gap.amount is not None else "no amount"
    reasons = "; ".join(escape(reason) for reason in gap.reasons)
    return f"• {title}: {money(gap.stake, gap.currency)} at stake ({amount} in {escape(gap.stage)}): {reasons}"


def _gaps(agenda: Agenda) -> str:
    title = "*Biggest process gaps*, by money at stake"
    more = f"\n…and {agenda.more_gap_deals} more deals with gaps" if agenda.more_gap_deals else ""
    return _listing(title, [_gap_line(gap) for gap in agenda.gaps], "none open :white_check_mark:", more)


def _goal_line(goal: AgendaGoal) -> str:
    due = f"due {day(goal.due_date)}" if goal.due_date else "no due date"
    measured = f" ({measure_words(goal.measure, goal.target, goal.measure_arg)})" if goal.measure else ""
    return (
        f"• *{one_line(goal.competency, 100)}*: {one_line(goal.description, 200)}{measured} · *{percent(goal.progress)}* · {due}"
    )


def _action_line(action: AgendaAction) -> str:
    due = f"*overdue*, was due {day(action.due_date)}" if action.overdue else f"due {day(action.due_date)}"
    return f"• `#{action.id}` {one_line(action.text, 150)} · {due}"


def _actions(agenda: Agenda) -> str:
    others = agenda.other_open_actions
    more = f"\n{others} other open action{'s' if others != 1 else ''}, due later or undated" if others else ""
    return _listing("*Actions due and overdue*", [_action_line(action) for action in agenda.actions], "none.", more)


def _checkin_line(checkin: AgendaCheckin) -> str:
    answer = ANSWER_WORDS.get(checkin.answer or "", "no answer yet")
    note = f": “{one_line(checkin.note, 200)}”" if checkin.note else ""
    return f"• {short_date(checkin.asked_on)}: {answer}{note}"


def _plan(agenda: Agenda) -> str:
    plan = agenda.plan
    if plan is None:
        return "*Recovery plan*: none open."
    head = (
        f"*Recovery plan* to {short_date(plan.period_end)}: gap {money(plan.gap_amount, plan.currency)}, "
        f"pipeline to add {money(plan.pipeline_to_add, plan.currency)}"
    )
    if not plan.checkins:
        return f"{head}\nNo check-ins yet."
    return "\n".join([head, "Last check-ins:", *(_checkin_line(checkin) for checkin in plan.checkins)])


def _snooze_line(snooze: AgendaSnooze) -> str:
    reason = f": “{one_line(snooze.reason, 200)}”" if snooze.reason else ": no reason given"
    detail = f" ({escape(snooze.detail)})" if snooze.detail else ""
    return f"• {one_line(snooze.deal_name, 80)}{detail} until {day(snooze.snoozed_until)}{reason}"
