"""The morning nudge message: few items, each with why it is shown and what to do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks.format import clip, escape, first_name
from bot.blocks.preferences import nudge_menu
from bot.slack_ids import ACTION_DONE, NUDGE_GAP_SNOOZE, NUDGE_OPEN_CRM

if TYPE_CHECKING:
    from bot.coaching.nudges import NudgeItem



def nudge_text(name: str, items: Sequence[NudgeItem], total: int) -> str:
    count = len(items)
    return f"Good morning {escape(first_name(name))}: {count} thing{'s' if count != 1 else ''} worth doing today."


def _buttons(item: NudgeItem) -> list[ButtonElement]:
    buttons = []
    if item.url:
        buttons.append(ButtonElement(text="Open in CRM", url=item.url, action_id=f"{NUDGE_OPEN_CRM}:{item.ref_id}"))
    if item.kind == "action":
        buttons.append(ButtonElement(text="Mark done", action_id=ACTION_DONE, value=str(item.ref_id), style="primary"))
    if item.kind == "gap":
        buttons.append(ButtonElement(text="Snooze a week", action_id=NUDGE_GAP_SNOOZE, value=str(item.ref_id)))
    return buttons


def nudge_blocks(name: str, items: Sequence[NudgeItem], total: int) -> list[Block]:
    # The menu beside the greeting: the rep's own nudge time and pause, one click from every nudge.
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=f"*{nudge_text(name, items, total)}*"), accessory=nudge_menu())]
    for item in items:
        text = (
            f"*{escape(clip(item.title, 120))}*: {escape(clip(item.detail, 200))}\n"
            f"_Why:_ {escape(clip(item.why, 300))}\n_Do:_ {escape(clip(item.todo, 300))}"
        )
        blocks.append(DividerBlock())
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
        if buttons := _buttons(item):
            blocks.append(ActionsBlock(elements=buttons))
    if total > len(items):
        rest = total - len(items)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"{rest} smaller item{'s' if rest != 1 else ''} can wait. `/myperf` shows everything.")]))
    return blocks
