"""Calendar periods (week, month, quarter, year) seen from a person's own time zone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

PeriodKind = Literal["week", "month", "quarter", "year"]


def is_timezone(name: str) -> bool:
    """True for an IANA zone name; zoneinfo raises more than one kind of error for the rest."""
    try:
        ZoneInfo(name)
    # ZoneInfoNotFoundError is a KeyError; "Europe" (a folder) and over-long names are OSErrors.
    except (KeyError, ValueError, OSError):
        return False
    return True


PERIOD_KINDS: tuple[PeriodKind, ...] = ("week", "month", "quarter", "year")


@dataclass(frozen=True)
class Period:
    """The dates [start, end) of a period, read in time zone `tz`."""

    kind: PeriodKind
    start: dt.date
    end: dt.date
    label: str
    tz: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def contains(self, day: dt.date) -> bool:
        return self.start <= day < self.end

    def elapsed_share(self, now: dt.datetime) -> float:
        """Share of the period behind `now`, 0..1, measured in wall-clock time in `tz`."""
        zone = ZoneInfo(self.tz)
        # In UTC: Python subtracts two datetimes of one zone as wall-clock times, which would
        # lose (or gain) the DST hour.
        start = dt.datetime.combine(self.start, dt.time(), zone).astimezone(dt.UTC)
        end = dt.datetime.combine(self.end, dt.time(), zone).astimezone(dt.UTC)
        share = (now.astimezone(dt.UTC) - start) / (end - start)
        return min(max(share, 0.0), 1.0)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_containing(kind: PeriodKind, now: dt.datetime, tz: str, fiscal_year_start_month: int = 1) -> Period:
    """The `kind` period that holds `now` in `tz`; quarters and years follow the fiscal year."""
    today = now.astimezone(ZoneInfo(tz)).date()
    if kind == "week":
        start = today - dt.timedelta(days=today.weekday())
        return Period(kind, start, start + dt.timedelta(days=7), f"week of {start:%b} {start.day}", tz)
    if kind == "month":
        start = today.replace(day=1)
        return Period(kind, start, _add_months(start, 1), f"{start:%B %Y}", tz)

    # Months since the fiscal year began, 0..11.
    offset = (today.month - fiscal_year_start_month) % 12
    fiscal_start = _add_months(today.replace(day=1), -offset)
    fiscal_year = (_add_months(fiscal_start, 11)).year  # named by the year it ends in
    prefix = "" if fiscal_year_start_month == 1 else "FY"
    if kind == "quarter":
        quarter = offset // 3
        start = _add_months(fiscal_start, quarter * 3)
        return Period(kind, start, _add_months(start, 3), f"Q{quarter + 1} {prefix}{fiscal_year}", tz)
    return Period(kind, fiscal_start, _add_months(fiscal_start, 12), f"{prefix}{fiscal_year}", tz)
