"""Block Kit builders: small pure functions from domain values to blocks, each with a text fallback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block


def to_dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    """Blocks as the JSON the Web API takes (slack_sdk validates lengths and shapes here)."""
    return [block.to_dict() for block in blocks]
