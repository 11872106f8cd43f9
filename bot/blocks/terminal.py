"""Show Block Kit messages in a terminal (what `coachbot demo` prints), close to how Slack draws them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape as rich_escape
from rich.padding import Padding
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

EMOJI = {
    ":large_green_circle:": "[green]●[/green]",
    ":large_yellow_circle:": "[yellow]●[/yellow]",
    ":red_circle:": "[red]●[/red]",
    ":white_check_mark:": "[green]✔[/green]",
    ":tada:": "🎉",
    ":warning:": "⚠",
    ":wave:": "👋",
}
_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_CODE = re.compile(r"`([^`\n]+)`")
_PRE = re.compile(r"```(.*?)```", re.S)
_ITALIC = re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])")


def mrkdwn_to_markup(text: str) -> str:
    """Slack mrkdwn (bold, code, links, a few emoji, &-escapes) as rich console markup."""
    text = rich_escape(text)
    text = _PRE.sub(lambda m: m[1], text)
    text = _ITALIC.sub(r"[italic]\1[/italic]", text)
    text = _LINK.sub(lambda m: f"[underline]{m[2]}[/underline]", text)
    text = _BOLD.sub(r"[bold]\1[/bold]", text)
    text = _CODE.sub(r"[cyan]\1[/cyan]", text)
    for code, glyph in EMOJI.items():
        text = text.replace(code, glyph)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render_blocks(blocks: Sequence[dict[str, Any]], title: str) -> RenderableType:
    parts: list[RenderableType] = []
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            parts.append(Text(block["text"]["text"], style="bold"))
        elif kind == "divider":
            parts.append(Rule(style="dim"))
        elif kind == "context":
            parts.append(Text.from_markup(" ".join(mrkdwn_to_markup(e.get("text", "")) for e in block["elements"]), style="dim"))
        elif kind == "section":
            accessory = _accessory_label(block.get("accessory"))
            if "text" in block:
                text = Text.from_markup(mrkdwn_to_markup(block["text"]["text"]))
                if accessory:
                    text.append(f"  {accessory}", style="cyan")
                parts.append(text)
            elif accessory:
                parts.append(Text(accessory, style="cyan"))
            if block.get("fields"):
                grid = Table.grid(padding=(0, 4))
                grid.add_column(ratio=1)
                grid.add_column(ratio=1)
                fields = [Text.from_markup(mrkdwn_to_markup(f["text"])) for f in block["fields"]]
                for index in range(0, len(fields), 2):
                    grid.add_row(*fields[index : index + 2])
                parts.append(Padding(grid, (1, 0, 0, 2)))
        elif kind == "actions":
            labels = "  ".join(f"[ {element.get('text', {}).get('text', '?')} ]" for element in block["elements"])
            parts.append(Text(labels, style="cyan"))
        else:
            parts.append(Text(f"[{kind} block]", style="dim"))
    return Panel(Group(*parts), title=title, title_align="left", border_style="magenta", padding=(0, 1))


def _accessory_label(accessory: dict[str, Any] | None) -> str | None:
    """What sits beside a section, as the terminal shows it: a button's label, "⋯" for an overflow
    menu, a select's placeholder; nothing for an image (the terminal draws none)."""
    if accessory is None or accessory["type"] == "image":
        return None
    if accessory["type"] == "overflow":
        return "[ ⋯ ]"
    label = accessory.get("text") or accessory.get("placeholder") or {}
    return f"[ {label.get('text', accessory['type'])} ]"
