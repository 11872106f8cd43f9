"""Due dates typed in plain words, read on the calendar of whoever typed them.

`parse_date(words, now=..., timezone=...)` reads `words` on the wall calendar of `timezone` at
`now`; `parse_date_on(words, today)` is the same with the day given. Case, surrounding spaces,
commas, a trailing full stop and ordinal suffixes ("5th") do not matter.

| words                                   | the date                                                   |
|-----------------------------------------|------------------------------------------------------------|
| `today`, `tomorrow`                     |                                                            |
| `friday`, `fri`, `this friday`          | the first Friday after today: said on a Friday, a week on  |
| `next friday`                           | the Friday of next week (the week starting next Monday)    |
| `next week`                             | next Monday (said on a Monday, a week on)                  |
| `in 3 days`, `in a day`, `in 2 weeks`   | counted from today                                         |
| `end of month`, `end of the month`      | the last day of this month (today, on that day)            |
| `2026-12-01`                            | ISO                                                        |
| `Dec 5`, `December 5th`, `5 Dec`        | with no year: the next Dec 5, or one in the last 30 days   |
| `Dec 5 2027`, `5 Dec, 2027`             |                                                            |
| `12/5`, `12/5/2027`                     | month first, as in the US; write `5 Dec` for day first     |

A weekday never means today: "by friday" typed on a Friday morning is read as a week's time,
because someone who meant today says "today". A month and day without a year is the next such
date, except one passed in the last 30 days: "Nov 24" typed on Nov 25 is yesterday (which the
caller refuses as past) rather than a year ahead, while "Jun 1" typed in November is next June and
December's "Jan 10" is next year's. Anything else raises DateNotUnderstood, whose message lists
what is understood. Whether a date is in the past is for the caller to decide.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from zoneinfo import ZoneInfo

from bot.coaching.errors import InvalidInput
from bot.coaching.words import clip

MAX_DAYS_AHEAD = 3660  # "in 100000 days" is a typo, and would overflow a date
# A month and day that passed this recently is read as that (past) day, and refused by the
# caller: "Nov 24" typed on Nov 25 is a slip, not a request for next year.
RECENT_PAST_DAYS = 30
EXAMPLES = "today, tomorrow, friday, next week, in 3 days, end of month, 2026-12-01, Dec 5 or 12/5"

WEEKDAYS = {
    name: number
    for number, names in enumerate(
        (
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu", "thur", "thurs"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        )
    )
    for name in names
}
MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9

_MONTH = "(?P<month>[a-z]+)"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?:\s+(?P<year>\d{4}))?"
_MONTH_DAY = re.compile(rf"^{_MONTH}\s+{_DAY}{_YEAR}$")
_DAY_MONTH = re.compile(rf"^{_DAY}\s+(?:of\s+)?{_MONTH}{_YEAR}$")
_ISO = re.compile(r"^(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})$")
_SLASHED = re.compile(r"^(?P<month>\d{1,2})/(?P<day>\d{1,2})(?:/(?P<year>\d{4}))?$")
_IN = re.compile(r"^in\s+(?P<count>\d{1,6}|an?|one)\s+(?P<unit>days?|weeks?)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WEEKDAY = re.compile(r"^(?P<next>next\s+|this\s+)?(?P<weekday>[a-z]+)$")


class DateNotUnderstood(InvalidInput):
    """Words that are not a date coachbot reads; the message says what it does read."""


def parse_date(words: str, *, now: dt.datetime, timezone: str) -> dt.date:
    """The date `words` mean to someone in `timezone` at `now` (see the module docstring)."""
    return parse_date_on(words, now.astimezone(ZoneInfo(timezone)).date())


def parse_date_on(words: str, today: dt.date) -> dt.date:
    """The date `words` mean on `today` (see the module docstring)."""
    cleaned = " ".join((words or "").lower().replace(",", " ").split()).rstrip(".").strip()
    if cleaned == "today":
        return today
    if cleaned == "tomorrow":
        return today + dt.timedelta(days=1)
    if cleaned == "next week":
        return _next_weekday(today, 0)
    if cleaned in ("end of month", "end of the month"):
        return today.replace(day=calendar.monthrange(today.year, today.month)[1])
    if match := _WEEKDAY.match(cleaned):
        weekday = WEEKDAYS.get(match["weekday"])
        if weekday is not None:
            if (match["next"] or "").startswith("next"):
                next_monday = _next_weekday(today, 0)
                return next_monday + dt.timedelta(days=weekday)
            return _next_weekday(today, weekday)
    if match := _IN.match(cleaned):
        count = 1 if match["count"] in ("a", "an", "one") else int(match["count"])
        days = count * (7 if match["unit"].startswith("week") else 1)
        if days > MAX_DAYS_AHEAD:
            raise DateNotUnderstood("That is more than ten years away; pick a nearer date.")
        return today + dt.timedelta(days=days)
    if match := _ISO.match(cleaned):
        return _date(int(match["year"]), int(match["month"]), int(match["day"]), words)
    if match := _SLASHED.match(cleaned):
        month, day = int(match["month"]), int(match["day"])
        if not 1 <= month <= 12:
            instead = f" ({month} {calendar.month_abbr[day]})" if 1 <= day <= 12 else ""
            raise DateNotUnderstood(
                f"{month}/{day} reads month first, and there is no month {month}. "
                f"For the day first, write the month's name{instead}."
            )
        return _with_year(month, day, match["year"], today, words)
    for pattern in (_MONTH_DAY, _DAY_MONTH):
        if (match := pattern.match(cleaned)) and match["month"] in MONTHS:
            return _with_year(MONTHS[match["month"]], int(match["day"]), match["year"], today, words)
    raise DateNotUnderstood(f"I couldn't read “{_shown(words)}” as a date. Try {EXAMPLES}.")


def _next_weekday(today: dt.date, weekday: int) -> dt.date:
    """The first `weekday` (Monday 0) after today, never today itself."""
    return today + dt.timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def _with_year(month: int, day: int, year: str | None, today: dt.date, words: str) -> dt.date:
    if year is not None:
        return _date(int(year), month, day, words)
    _date(2000, month, day, words)  # a leap year: refuses Feb 30, allows Feb 29
    # Feb 29 may wait for a leap year: one comes within four.
    for candidate_year in range(today.year - 1, today.year + 5):
        try:
            candidate = dt.date(candidate_year, month, day)
        except ValueError:
            continue
        if candidate >= today - dt.timedelta(days=RECENT_PAST_DAYS):
            return candidate
    raise AssertionError("unreachable: every valid month and day recurs within five years")


def _date(year: int, month: int, day: int, words: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise DateNotUnderstood(f"“{_shown(words)}” is not a date on the calendar.") from None


def _shown(words: str) -> str:
    """The typed words as a message may quote them: one line, short (escaped where the reply is drawn)."""
    return clip(" ".join(_CONTROL.sub(" ", words or "").split()), 40)


def past_due_error(due: dt.date, today: dt.date, where: str = "you are") -> str | None:
    """Why `due` cannot be used, when it is before `today` (on the calendar of `where`)."""
    if due >= today:
        return None
    shown = f"{due:%b} {due.day}" + (f", {due.year}" if due.year != today.year else "")
    return f"{shown} has passed where {where}; pick today or later."
