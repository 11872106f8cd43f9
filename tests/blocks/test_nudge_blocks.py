"""The morning nudge's heading and its plain-text fallback read the same, escaped alike."""

from __future__ import annotations

from bot.blocks import to_dicts
from bot.blocks.nudges import nudge_blocks, nudge_text


def test_a_name_with_markup_is_escaped_in_the_fallback_exactly_as_in_the_blocks() -> None:
    assert nudge_text("<!here> Riley", [], 0) == "Good morning &lt;!here&gt;: 0 things worth doing today."
    heading = to_dicts(nudge_blocks("<!here> Riley", [], 0))[0]["text"]["text"]
    assert heading == "*Good morning &lt;!here&gt;: 0 things worth doing today.*"


def test_a_plain_name_reads_as_typed() -> None:
    assert nudge_text("Riley Rep", [], 0) == "Good morning Riley: 0 things worth doing today."
