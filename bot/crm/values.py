"""Reading CRM values strictly: a value of the wrong shape is a BadValue, never a silent guess."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.crm.base import CrmError

# NUMERIC(14, 2) holds at most this; a bigger amount is garbage, not a deal.
MAX_AMOUNT = Decimal("999999999999.99")


class BadValue(ValueError):
    """A record field that cannot be read; the message names the field."""


class FieldMapError(CrmError, ValueError):
    """CRM_FIELD_MAP cannot be read; the sync stops naming the setting."""

    def __init__(self, message: str) -> None:
        super().__init__(message, setting="CRM_FIELD_MAP")


def parse_field_map(text: str) -> dict[str, str]:
    """'product_line=product_family, next_step_date=hs_next_step_date' -> {field: crm property}."""
    mapping: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        field, sep, prop = pair.partition("=")
        if not sep or not field.strip() or not prop.strip():
            raise FieldMapError(f"CRM_FIELD_MAP: expected field=property, got {pair!r}")
        mapping[field.strip()] = prop.strip()
    return mapping


def text(value: Any, field: str, limit: int = 1000) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise BadValue(f"{field}: expected text, got {type(value).__name__}")
    value = str(value).strip()
    if "\x00" in value:
        raise BadValue(f"{field}: contains a NUL character")
    return value[:limit] or None


def _number(value: Any, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadValue(f"{field}: expected a number, got a boolean")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise BadValue(f"{field}: {str(value)[:40]!r} is not a number") from None
    if not number.is_finite():
        raise BadValue(f"{field}: {str(value)[:40]!r} is not a number")
    return number


def amount(value: Any, field: str) -> Decimal | None:
    """Money, 0 to MAX_AMOUNT, rounded to cents before the range check so rounding cannot overflow."""
    number = _number(value, field)
    if number is None:
        return None
    try:
        number = number.quantize(Decimal("0.01"))
    except InvalidOperation:
        raise BadValue(f"{field}: {str(value)[:40]!r} is out of range") from None
    if not 0 <= number <= MAX_AMOUNT:
        raise BadValue(f"{field}: {str(value)[:40]!r} is out of range")
    return number


def probability(value: Any, field: str) -> float | None:
    """0..1; CRMs that speak in percent (Salesforce, Pipedrive) are divided by 100 by the caller."""
    number = _number(value, field)
    if number is None:
        return None
    if not 0 <= number <= 1:
        raise BadValue(f"{field}: probability {number} is not between 0 and 1")
    return float(number)


def timestamp(value: Any, field: str) -> dt.datetime | None:
    """An aware UTC datetime from ISO 8601 (with Z or an offset) or epoch milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch_ms(value, field)
    if isinstance(value, str):
        raw = value.strip()
        if raw.isascii() and raw.isdigit():
            return _from_epoch_ms(int(raw), field)
        try:
            moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise BadValue(f"{field}: {raw[:40]!r} is not a date-time") from None
        if moment.tzinfo is None:
            # CRM APIs speak UTC; a naive value is read as UTC rather than the server's zone.
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC)
    raise BadValue(f"{field}: expected a date-time, got {type(value).__name__}")


def _from_epoch_ms(value: float, field: str) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise BadValue(f"{field}: {str(value)[:40]!r} is not a time") from None


def date(value: Any, field: str) -> dt.date | None:
    """A calendar date from 'YYYY-MM-DD', an ISO date-time (its UTC date) or epoch milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise BadValue(f"{field}: {value[:40]!r} is not a date") from None
    moment = timestamp(value, field)
    return moment.date() if moment else None


def boolean(value: Any, field: str) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BadValue(f"{field}: {str(value)[:40]!r} is not true or false")
