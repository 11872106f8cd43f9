"""Read quota period keys from an org file: `2026-Q4`, `2026-11`, `2026`, `2026-10-01..2026-12-31`."""

from __future__ import annotations

import datetime as dt
import re

from bot.periods import _add_months

_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(?:FY)?(\d{4})$", re.IGNORECASE)
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})$")


def parse_quota_period(key: str, fiscal_year_start_month: int = 1) -> tuple[dt.date, dt.date]:
    """The dates [start, end) a period key names. Years and quarters are fiscal, and a fiscal
    year is named by the calendar year it ends in (FY2027 starting February 2026 ends January 2027).
    """
    key = key.strip()
    if match := _QUARTER.match(key):
        year_start = _fiscal_year_start(int(match[1]), fiscal_year_start_month)
        start = _add_months(year_start, 3 * (int(match[2]) - 1))
        return start, _add_months(start, 3)
    if match := _MONTH.match(key):
        month = int(match[2])
        if not 1 <= month <= 12:
            raise ValueError(f"no month {month} in {key!r}")
        start = dt.date(int(match[1]), month, 1)
        return start, _add_months(start, 1)
    if match := _YEAR.match(key):
        start = _fiscal_year_start(int(match[1]), fiscal_year_start_month)
        return start, _add_months(start, 12)
    if match := _RANGE.match(key):
        start, last = dt.date.fromisoformat(match[1]), dt.date.fromisoformat(match[2])
        if last < start:
            raise ValueError(f"range {key!r} ends before it starts")
        return start, last + dt.timedelta(days=1)
    raise ValueError(f"unknown quota period {key!r} (use 2026-Q4, 2026-11, 2026 or 2026-10-01..2026-12-31)")


def _fiscal_year_start(fiscal_year: int, start_month: int) -> dt.date:
    return dt.date(fiscal_year if start_month == 1 else fiscal_year - 1, start_month, 1)
