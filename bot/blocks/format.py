"""How numbers, money, dates and user text read in Slack messages: the domain's plain words
(bot/coaching/words.py) plus mrkdwn escaping for what people and CRMs typed."""

from __future__ import annotations

from bot.coaching.words import (
    CURRENCY_SYMBOLS,
    clip,
    first_name,
    money,
    percent,
    short_date,
)

__all__ = ["CURRENCY_SYMBOLS", "clip", "escape", "first_name", "money", "percent", "short_date"]


def escape(text: str) -> str:
    """Escape user or CRM text for mrkdwn: Slack reads &, < and > as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
