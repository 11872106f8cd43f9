"""How numbers, money, dates and names read in coachbot's sentences, as plain text.

The domain writes a few sentences of its own (a plan's outcome, a refusal); Slack messages use
the same words through bot/blocks/format.py, which adds mrkdwn escaping for what people typed.
"""

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


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_name(name: str) -> str:
    """The first word of a name, for a greeting; the whole (blank) name when there is none."""
    return name.split()[0] if name.strip() else name
