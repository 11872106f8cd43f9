"""How numbers, money, dates and user text read in Slack messages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "AUD": "A$", "CAD": "C$", "INR": "₹"}


def money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return "–"
    symbol = CURRENCY_SYMBOLS.get(currency)
    whole = f"{amount:,.0f}"
    return f"{symbol}{whole}" if symbol else f"{whole} {currency}"


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.0f}%"


def short_date(day: dt.date) -> str:
    return f"{day:%b} {day.day}"


def escape(text: str) -> str:
    """Escape user or CRM text for mrkdwn: Slack reads &, < and > as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
