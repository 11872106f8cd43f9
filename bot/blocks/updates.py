"""Messages updated in place after a click, so nobody clicks twice."""

from __future__ import annotations

from typing import Any


def replace_buttons(blocks: list[dict[str, Any]], action_id: str, value: str, note: str) -> list[dict[str, Any]]:
    """The message's blocks with the actions block holding (action_id, value) replaced by `note`."""
    updated = []
    for block in blocks:
        clicked = block.get("type") == "actions" and any(
            element.get("action_id") == action_id and element.get("value") == value for element in block.get("elements", [])
        )
        updated.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]} if clicked else block)
    return updated
