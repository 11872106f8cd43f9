"""The morning nudge message: few items, each with why it is shown and what to do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks import to_dicts
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


def _item_text(item: NudgeItem) -> str:
    return (
        f"*{escape(clip(item.title, 120))}*: {escape(clip(item.detail, 200))}\n"
        f"_Why:_ {escape(clip(item.why, 300))}\n_Do:_ {escape(clip(item.todo, 300))}"
    )


def _rest_text(items: Sequence[NudgeItem], total: int) -> str | None:
    rest = total - len(items)
    return f"{rest} smaller item{'s' if rest != 1 else ''} can wait. `/myperf` shows everything." if rest > 0 else None


def nudge_blocks(name: str, items: Sequence[NudgeItem], total: int) -> list[Block]:
    # The menu beside the greeting: the rep's own nudge time and pause, one click from every nudge.
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*{nudge_text(name, items, total)}*"), accessory=nudge_menu())
    ]
    for item in items:
        blocks.append(DividerBlock())
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_item_text(item))))
        if buttons := _buttons(item):
            blocks.append(ActionsBlock(elements=buttons))
    if rest := _rest_text(items, total):
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=rest)]))
    return blocks


# The morning run renders 10,000 nudges, and the models' to_dict (introspection and validators
# on every object) costs more than deciding a nudge. Every nudge has one shape, so its JSON is
# built here from parts the models rendered once; a text or link past a limit the models check
# goes through them instead, so it fails exactly as it always did. A test holds the two equal.
_MENU = nudge_menu().to_dict()
_DIVIDER = DividerBlock().to_dict()
_OPEN_CRM, _MARK_DONE, _SNOOZE = (
    ButtonElement(text=text).to_dict()["text"] for text in ("Open in CRM", "Mark done", "Snooze a week")
)


def _button_dicts(item: NudgeItem) -> list[dict[str, Any]]:
    buttons: list[dict[str, Any]] = []
    if item.url:
        buttons.append({"type": "button", "text": _OPEN_CRM, "url": item.url, "action_id": f"{NUDGE_OPEN_CRM}:{item.ref_id}"})
    if item.kind == "action":
        buttons.append(
            {"type": "button", "text": _MARK_DONE, "action_id": ACTION_DONE, "value": str(item.ref_id), "style": "primary"}
        )
    if item.kind == "gap":
        buttons.append({"type": "button", "text": _SNOOZE, "action_id": NUDGE_GAP_SNOOZE, "value": str(item.ref_id)})
    return buttons


def nudge_block_dicts(name: str, items: Sequence[NudgeItem], total: int) -> list[dict[str, Any]]:
    """The JSON of nudge_blocks(name, items, total), built without the models' per-object cost."""
    heading = f"*{nudge_text(name, items, total)}*"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": heading}, "accessory": _MENU}]
    within_limits = len(heading) <= SectionBlock.text_max_length
    for item in items:
        text = _item_text(item)
        within_limits &= len(text) <= SectionBlock.text_max_length and len(item.url or "") <= ButtonElement.url_max_length
        blocks.append(_DIVIDER)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
        if buttons := _button_dicts(item):
            blocks.append({"type": "actions", "elements": buttons})
    if rest := _rest_text(items, total):
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": rest}]})
    return blocks if within_limits else to_dicts(nudge_blocks(name, items, total))
