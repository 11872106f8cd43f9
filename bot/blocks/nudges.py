"""The morning nudge message: few items, each naming its deal, why it is shown and why it ranks there.

A gap item reads: the deal's name; its account, amount, stage and days in stage; why, in the
deal's own numbers; what to do; and, in small print, why it ranks where it does. Its buttons are
Open in CRM (a link, when the CRM gives one), Update… (the CRM write-back form, bot/blocks/writeback.py),
Snooze… (a modal: until when and why) and I fixed it (rechecked on the next sync). `GAP_BUTTONS` lists the action buttons in order: one more is one
more entry there. A rep with more than `max_items` things gets "…and N more", linked to their App
Home when the app's ids are known (SLACK_TEAM_ID, SLACK_APP_ID).
"""

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
from bot.blocks.format import clip, escape, first_name, money
from bot.blocks.preferences import nudge_menu
from bot.blocks.writeback import update_button
from bot.slack_ids import ACTION_DONE, NUDGE_GAP_FIXED, NUDGE_GAP_SNOOZE, NUDGE_OPEN_CRM

if TYPE_CHECKING:
    from bot.coaching.nudges import DealIdentity, NudgeItem

# (button text, action_id) of each gap's action buttons after Open in CRM; the value is the gap id.
GAP_BUTTONS: tuple[tuple[str, str], ...] = (("Snooze…", NUDGE_GAP_SNOOZE), ("I fixed it", NUDGE_GAP_FIXED))


def app_home_url(team_id: str | None, app_id: str | None) -> str | None:
    """Slack's deep link to the app's Home tab (docs.slack.dev "Deep linking into Slack"); None without both ids."""
    return f"slack://app?team={team_id}&id={app_id}&tab=home" if team_id and app_id else None


def _greeting(name: str, items: Sequence[NudgeItem]) -> str:
    count = len(items)
    return f"Good morning {escape(first_name(name))}: {count} thing{'s' if count != 1 else ''} worth doing today."


def identity_line(deal: DealIdentity) -> str:
    """'Northwind Traders · $48,000 · Proposal, 41 days in stage' (plain words, escaped)."""
    parts = [escape(clip(deal.account, 100))] if deal.account else []
    if deal.amount is not None:
        parts.append(money(deal.amount, deal.currency))
    if deal.stage:
        stage = escape(clip(deal.stage, 60))
        days = deal.days_in_stage
        parts.append(f"{stage}, {days} day{'s' if days != 1 else ''} in stage" if days is not None else stage)
    return " · ".join(parts)


def nudge_text(name: str, items: Sequence[NudgeItem], total: int, home_url: str | None = None) -> str:
    """The plain-text fallback: the greeting, then one line an item (what notifications show)."""
    lines = [_greeting(name, items)]
    for item in items:
        identity = identity_line(item.deal) if item.deal else ""
        what = f"{escape(clip(item.title, 120))} ({identity})" if identity else escape(clip(item.title, 120))
        lines.append(f"• {what}: {escape(clip(item.why, 300))}")
    if rest := _rest_text(items, total, home_url):
        lines.append(rest)
    return "\n".join(lines)


def _item_text(item: NudgeItem) -> str:
    if item.deal is not None:
        identity = identity_line(item.deal)
        head = f"*{escape(clip(item.title, 150))}*" + (f"\n{identity}" if identity else "")
    else:
        head = f"*{escape(clip(item.title, 120))}*: {escape(clip(item.detail, 200))}"
    return f"{head}\n_Why:_ {escape(clip(item.why, 400))}\n_Do:_ {escape(clip(item.todo, 300))}"


def _rest_text(items: Sequence[NudgeItem], total: int, home_url: str | None) -> str | None:
    rest = total - len(items)
    if rest <= 0:
        return None
    where = f"<{home_url}|your coachbot Home>" if home_url else "your coachbot Home tab"
    return f"…and {rest} more: see them all in {where}."


def _buttons(item: NudgeItem) -> list[ButtonElement]:
    buttons = []
    if item.url:
        buttons.append(ButtonElement(text="Open in CRM", url=item.url, action_id=f"{NUDGE_OPEN_CRM}:{item.ref_id}"))
    if item.kind == "action":
        buttons.append(ButtonElement(text="Mark done", action_id=ACTION_DONE, value=str(item.ref_id), style="primary"))
    if item.kind == "gap" and item.deal is not None and item.deal.deal_id is not None:
        buttons.append(update_button(item.deal.deal_id))
    if item.kind == "gap":
        buttons += [ButtonElement(text=text, action_id=action_id, value=str(item.ref_id)) for text, action_id in GAP_BUTTONS]
    return buttons


def nudge_blocks(name: str, items: Sequence[NudgeItem], total: int, home_url: str | None = None) -> list[Block]:
    # The menu beside the greeting: the rep's own nudge time and pause, one click from every nudge.
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=f"*{_greeting(name, items)}*"), accessory=nudge_menu())]
    for item in items:
        blocks.append(DividerBlock())
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_item_text(item))))
        if item.rank_reason:
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=escape(clip(item.rank_reason, 300)))]))
        if buttons := _buttons(item):
            blocks.append(ActionsBlock(elements=buttons))
    if rest := _rest_text(items, total, home_url):
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=rest)]))
    return blocks


# The morning run renders 10,000 nudges, and the models' to_dict (introspection and validators
# on every object) costs more than deciding a nudge. Every nudge has one shape, so its JSON is
# built here from parts the models rendered once; a text or link past a limit the models check
# goes through them instead, so it fails exactly as it always did. A test holds the two equal.
_MENU = nudge_menu().to_dict()
_DIVIDER = DividerBlock().to_dict()
_OPEN_CRM, _MARK_DONE = (ButtonElement(text=text).to_dict()["text"] for text in ("Open in CRM", "Mark done"))
_UPDATE = {key: value for key, value in update_button(0).to_dict().items() if key != "value"}
_GAP_BUTTON_TEXTS = tuple((ButtonElement(text=text).to_dict()["text"], action_id) for text, action_id in GAP_BUTTONS)


def _button_dicts(item: NudgeItem) -> list[dict[str, Any]]:
    buttons: list[dict[str, Any]] = []
    if item.url:
        buttons.append({"type": "button", "text": _OPEN_CRM, "url": item.url, "action_id": f"{NUDGE_OPEN_CRM}:{item.ref_id}"})
    if item.kind == "action":
        buttons.append(
            {"type": "button", "text": _MARK_DONE, "action_id": ACTION_DONE, "value": str(item.ref_id), "style": "primary"}
        )
    if item.kind == "gap" and item.deal is not None and item.deal.deal_id is not None:
        buttons.append({**_UPDATE, "value": str(item.deal.deal_id)})
    if item.kind == "gap":
        buttons += [
            {"type": "button", "text": text, "action_id": action_id, "value": str(item.ref_id)}
            for text, action_id in _GAP_BUTTON_TEXTS
        ]
    return buttons


def nudge_block_dicts(name: str, items: Sequence[NudgeItem], total: int, home_url: str | None = None) -> list[dict[str, Any]]:
    """The JSON of nudge_blocks(name, items, total, home_url), built without the models' per-object cost."""
    heading = f"*{_greeting(name, items)}*"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": heading}, "accessory": _MENU}]
    within_limits = len(heading) <= SectionBlock.text_max_length
    for item in items:
        text = _item_text(item)
        within_limits &= len(text) <= SectionBlock.text_max_length and len(item.url or "") <= ButtonElement.url_max_length
        blocks.append(_DIVIDER)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
        if item.rank_reason:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(clip(item.rank_reason, 300))}]})
        if buttons := _button_dicts(item):
            blocks.append({"type": "actions", "elements": buttons})
    if rest := _rest_text(items, total, home_url):
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": rest}]})
    return blocks if within_limits else to_dicts(nudge_blocks(name, items, total, home_url))
