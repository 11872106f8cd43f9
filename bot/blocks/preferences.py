"""Each person's own controls: the line on their App Home, the menu on every nudge, and the modal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    CheckboxesElement,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextObject,
    SectionBlock,
    TimePickerElement,
)
from slack_sdk.models.views import View

from bot.blocks.format import escape, short_date
from bot.slack_ids import (
    NUDGE_MENU,
    PREFS_DIGEST_BLOCK,
    PREFS_DIGEST_INPUT,
    PREFS_OPEN,
    PREFS_PAUSE_BLOCK,
    PREFS_PAUSE_INPUT,
    PREFS_TIME_BLOCK,
    PREFS_TIME_INPUT,
    PREFS_VIEW,
)

if TYPE_CHECKING:
    from bot.coaching.preferences import Preferences

DIGEST_ON = "on"
MENU_PREFERENCES = "preferences"


def preferences_line(prefs: Preferences, timezone: str) -> str:
    """How the person's own controls stand, in one line."""
    whose = "" if prefs.own_nudge_time else ", the playbook's time"
    parts = [f"Morning nudge at *{prefs.nudge_time}* ({escape(timezone)}){whose}"]
    parts.append(f"paused until *{short_date(prefs.paused_until)}*" if prefs.paused_until else "not paused")
    if prefs.is_manager:
        parts.append("weekly digest " + ("on" if prefs.digest_enabled else "*off*"))
    return " · ".join(parts)


def preferences_blocks(prefs: Preferences, timezone: str) -> list[Block]:
    return [
        SectionBlock(
            text=MarkdownTextObject(text=f"*Your preferences*\n{preferences_line(prefs, timezone)}"),
            accessory=ButtonElement(text="Change…", action_id=PREFS_OPEN, value="home"),
        )
    ]


def nudge_menu() -> OverflowMenuElement:
    """The menu on every nudge: the person's own controls, one click away."""
    return OverflowMenuElement(action_id=NUDGE_MENU, options=[Option(value=MENU_PREFERENCES, label="My nudge time, pause…")])


def preferences_modal(prefs: Preferences, timezone: str) -> View:
    blocks: list[Block] = [
        InputBlock(
            block_id=PREFS_TIME_BLOCK,
            label="My morning nudge time",
            hint=f"In your time zone, {timezone}.",
            element=TimePickerElement(action_id=PREFS_TIME_INPUT, initial_time=prefs.nudge_time),
        ),
        InputBlock(
            block_id=PREFS_PAUSE_BLOCK,
            label="Pause everything until",
            hint="A vacation: no nudges or reminders through that day. Leave empty to stay on.",
            optional=True,
            element=DatePickerElement(
                action_id=PREFS_PAUSE_INPUT, initial_date=prefs.paused_until.isoformat() if prefs.paused_until else None
            ),
        ),
    ]
    if prefs.is_manager:
        on = Option(value=DIGEST_ON, label="Send me the weekly digest of my team")
        blocks.append(
            InputBlock(
                block_id=PREFS_DIGEST_BLOCK,
                label="Weekly digest",
                optional=True,
                element=CheckboxesElement(
                    action_id=PREFS_DIGEST_INPUT, options=[on], initial_options=[on] if prefs.digest_enabled else None
                ),
            )
        )
    return View(
        type="modal",
        callback_id=PREFS_VIEW,
        title=PlainTextObject(text="My preferences"),
        submit="Save",
        close="Cancel",
        blocks=blocks,
    )
