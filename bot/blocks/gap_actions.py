"""What a rep sees when acting on one gap: the snooze modal, the replies, and the recheck's answer."""

from __future__ import annotations

import datetime as dt
import json

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.blocks.coaching import Message
from bot.blocks.format import clip, escape, short_date
from bot.slack_ids import (
    NUDGE_OPEN_CRM,
    SNOOZE_REASON_BLOCK,
    SNOOZE_REASON_INPUT,
    SNOOZE_UNTIL_BLOCK,
    SNOOZE_UNTIL_INPUT,
    SNOOZE_VIEW,
)

REASON_MAX = 500  # what snooze_gap keeps; the input refuses more, so nothing is cut silently
DEFAULT_SNOOZE_DAYS = 7  # the date the picker starts at


def snooze_modal(*, gap_id: int, deal_name: str, detail: str, today: dt.date, max_days: int, response_url: str | None) -> View:
    """Snooze…: until when and why, both required; the reason goes to the rep's manager as written."""
    # private_metadata (3,000 characters at most) carries the gap and where to answer the click.
    metadata = json.dumps({"gap": gap_id, "response_url": response_url})
    return View(
        type="modal",
        callback_id=SNOOZE_VIEW,
        private_metadata=metadata,
        title="Snooze a gap",
        submit="Snooze",
        close="Cancel",
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"*{escape(clip(deal_name, 150))}*: {escape(clip(detail, 300))}\n"
                    f"It leaves your nudges until the date you pick (at most {max_days} days), or sooner if the gap is fixed. "
                    "Your manager sees the date and your reason."
                )
            ),
            InputBlock(
                block_id=SNOOZE_UNTIL_BLOCK,
                label="Snooze until",
                element=DatePickerElement(
                    action_id=SNOOZE_UNTIL_INPUT, initial_date=(today + dt.timedelta(days=DEFAULT_SNOOZE_DAYS)).isoformat()
                ),
            ),
            InputBlock(
                block_id=SNOOZE_REASON_BLOCK,
                label="Why",
                element=PlainTextInputElement(
                    action_id=SNOOZE_REASON_INPUT,
                    multiline=True,
                    max_length=REASON_MAX,
                    placeholder="e.g. Buyer on leave until the 14th; call booked for the 15th",
                ),  # fmt: skip
            ),
        ],
    )


def snoozed_note(until: dt.date, reason: str) -> str:
    """The reply after a snooze, in place of the buttons or as a new message."""
    said = escape(clip(" ".join(reason.split()), 200))
    return f":zzz: Snoozed until {short_date(until)}: “{said}”. Your manager sees it; it ends early if the gap is fixed."


def fix_claimed_note(deal_name: str) -> str:
    """The reply to I fixed it."""
    return (
        f":mag: Thanks: coachbot rechecks *{escape(clip(deal_name, 150))}* on the next CRM sync and closes the gap "
        "if the CRM agrees. If it still shows the gap, I'll tell you."
    )


def gap_still_open_message(*, deal_name: str, detail: str, todo: str, deal_url: str | None) -> Message:
    """To the rep, once: they said they fixed it, and the sync since still shows the gap."""
    line = (
        f":mag: You said you fixed *{escape(clip(deal_name, 150))}*, but after the latest CRM sync it still shows: "
        f"{escape(clip(detail, 300))}.\n_Do:_ {escape(clip(todo, 300))}"
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=line))]
    if deal_url:
        blocks.append(
            ActionsBlock(elements=[ButtonElement(text="Open in CRM", url=deal_url, action_id=f"{NUDGE_OPEN_CRM}:recheck")])
        )
    text = f"You said you fixed {escape(clip(deal_name, 150))}, but the CRM still shows: {escape(clip(detail, 300))}."
    return Message(blocks, text)
