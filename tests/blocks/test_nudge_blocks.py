"""The morning nudge's heading and its plain-text fallback read the same, escaped alike."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackObjectFormationError

from bot.blocks import to_dicts
from bot.blocks.nudges import nudge_block_dicts, nudge_blocks, nudge_text
from bot.coaching.nudges import NudgeItem


def test_a_name_with_markup_is_escaped_in_the_fallback_exactly_as_in_the_blocks() -> None:
    assert nudge_text("<!here> Riley", [], 0) == "Good morning &lt;!here&gt;: 0 things worth doing today."
    heading = to_dicts(nudge_blocks("<!here> Riley", [], 0))[0]["text"]["text"]
    assert heading == "*Good morning &lt;!here&gt;: 0 things worth doing today.*"


def test_a_plain_name_reads_as_typed() -> None:
    assert nudge_text("Riley Rep", [], 0) == "Good morning Riley: 0 things worth doing today."


def test_the_nudge_json_built_directly_is_what_the_block_models_render() -> None:
    items = [
        NudgeItem(
            "gap",
            7,
            "Acme <Renewal> & Co",
            "no dated next step",
            "Why & how",
            "Fix it",
            1,
            3000.0,
            "https://crm.example.com/deals/O1",
        ),
        NudgeItem("gap", 8, "Globex", "close date passed", "Why", "Do", 1, 10.0),
        NudgeItem("action", 9, "Send the plan", "overdue since Nov 23", "Your coach asked for it.", "Do it.", 0),
        NudgeItem("goal", 10, "Goal: Discovery", "40% done, due Nov 30", "x" * 400, "Take one step toward it today.", 3),
    ]
    for shown, total in ((items, 4), (items[:2], 6), (items[2:], 3), ([], 0)):
        assert nudge_block_dicts("Riley <Rep>", shown, total) == to_dicts(nudge_blocks("Riley <Rep>", shown, total))


def test_a_link_past_slacks_limit_fails_as_the_block_models_always_did() -> None:
    too_long = NudgeItem("gap", 7, "Acme", "no dated next step", "Why", "Do", 1, 1.0, "https://crm.example.com/" + "x" * 3000)
    with pytest.raises(SlackObjectFormationError, match="url attribute cannot exceed 3000 characters"):
        nudge_block_dicts("Riley Rep", [too_long], 1)
