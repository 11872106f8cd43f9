"""Due dates in plain words, read on the calendar of whoever typed them; nothing else is guessed at."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.coaching.dates import DateNotUnderstood, parse_date, parse_date_on
from bot.coaching.errors import InvalidInput

WEDNESDAY = dt.date(2026, 11, 25)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("today", dt.date(2026, 11, 25)),
        ("Tomorrow", dt.date(2026, 11, 26)),
        ("  TODAY. ", dt.date(2026, 11, 25)),
    ],
)
def test_today_and_tomorrow_are_read_on_the_given_day(words, expected) -> None:  # type: ignore[no-untyped-def]
    assert parse_date_on(words, WEDNESDAY) == expected


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("thursday", dt.date(2026, 11, 26)),
        ("friday", dt.date(2026, 11, 27)),
        ("Fri", dt.date(2026, 11, 27)),
        ("this friday", dt.date(2026, 11, 27)),
        ("sunday", dt.date(2026, 11, 29)),
        ("monday", dt.date(2026, 11, 30)),
        ("tues", dt.date(2026, 12, 1)),
        ("wednesday", dt.date(2026, 12, 2)),  # said on a Wednesday: a week on, never today
    ],
)
def test_a_weekday_is_the_next_one_and_never_today(words, expected) -> None:  # type: ignore[no-untyped-def]
    assert parse_date_on(words, WEDNESDAY) == expected


def test_next_and_a_weekday_is_that_day_of_next_week() -> None:
    assert parse_date_on("next friday", WEDNESDAY) == dt.date(2026, 12, 4)
    assert parse_date_on("next monday", WEDNESDAY) == dt.date(2026, 11, 30)
    assert parse_date_on("next sunday", dt.date(2026, 11, 29)) == dt.date(2026, 12, 6)


def test_next_week_is_next_monday_even_on_a_monday() -> None:
    assert parse_date_on("next week", WEDNESDAY) == dt.date(2026, 11, 30)
    assert parse_date_on("next week", dt.date(2026, 11, 30)) == dt.date(2026, 12, 7)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("in 3 days", dt.date(2026, 11, 28)),
        ("in 1 day", dt.date(2026, 11, 26)),
        ("in a day", dt.date(2026, 11, 26)),
        ("in 0 days", dt.date(2026, 11, 25)),
        ("in a week", dt.date(2026, 12, 2)),
        ("in 2 weeks", dt.date(2026, 12, 9)),
        ("in 40 days", dt.date(2027, 1, 4)),
    ],
)
def test_in_so_many_days_or_weeks_counts_from_today(words, expected) -> None:  # type: ignore[no-untyped-def]
    assert parse_date_on(words, WEDNESDAY) == expected


def test_end_of_month_is_the_last_day_of_this_month() -> None:
    assert parse_date_on("end of month", WEDNESDAY) == dt.date(2026, 11, 30)
    assert parse_date_on("end of the month", dt.date(2028, 2, 3)) == dt.date(2028, 2, 29)
    assert parse_date_on("End of month", dt.date(2026, 12, 31)) == dt.date(2026, 12, 31)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("2026-12-01", dt.date(2026, 12, 1)),
        ("2027-1-5", dt.date(2027, 1, 5)),
        ("Dec 5", dt.date(2026, 12, 5)),
        ("december 5th", dt.date(2026, 12, 5)),
        ("5 Dec", dt.date(2026, 12, 5)),
        ("5th of December", dt.date(2026, 12, 5)),
        ("Dec 5, 2027", dt.date(2027, 12, 5)),
        ("5 Dec 2027", dt.date(2027, 12, 5)),
        ("sept 3", dt.date(2027, 9, 3)),
        ("12/5", dt.date(2026, 12, 5)),
        ("1/10", dt.date(2027, 1, 10)),
        ("12/5/2027", dt.date(2027, 12, 5)),
    ],
)
def test_calendar_dates_read_with_the_month_by_name_or_first(words, expected) -> None:  # type: ignore[no-untyped-def]
    assert parse_date_on(words, WEDNESDAY) == expected


def test_a_month_and_day_without_a_year_is_the_next_one_unless_it_passed_within_a_month() -> None:
    assert parse_date_on("Nov 24", WEDNESDAY) == dt.date(2026, 11, 24)  # yesterday: the caller refuses it as past
    assert parse_date_on("Oct 26", WEDNESDAY) == dt.date(2026, 10, 26)
    assert parse_date_on("Oct 25", WEDNESDAY) == dt.date(2027, 10, 25)
    assert parse_date_on("Jun 1", WEDNESDAY) == dt.date(2027, 6, 1)
    assert parse_date_on("Dec 20", dt.date(2027, 1, 5)) == dt.date(2026, 12, 20)


def test_feb_29_without_a_year_waits_for_a_leap_year() -> None:
    assert parse_date_on("Feb 29", WEDNESDAY) == dt.date(2028, 2, 29)
    assert parse_date_on("29 feb", dt.date(2028, 2, 10)) == dt.date(2028, 2, 29)


def test_words_are_read_on_the_calendar_of_the_given_time_zone() -> None:
    now = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)  # Wednesday in London, already Thursday on Kiritimati
    assert parse_date("tomorrow", now=now, timezone="Europe/London") == dt.date(2026, 11, 26)
    assert parse_date("tomorrow", now=now, timezone="Pacific/Kiritimati") == dt.date(2026, 11, 27)
    assert parse_date("thursday", now=now, timezone="Europe/London") == dt.date(2026, 11, 26)
    assert parse_date("thursday", now=now, timezone="Pacific/Kiritimati") == dt.date(2026, 12, 3)


@pytest.mark.parametrize("words", ["soon", "", "next blah", "fri day", "the 5th", "in three days", "2026/12/01", "asap!"])
def test_anything_else_is_refused_with_what_is_understood(words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DateNotUnderstood) as refused:
        parse_date_on(words, WEDNESDAY)
    assert str(refused.value) == (
        f"I couldn't read “{' '.join(words.split())}” as a date. "
        "Try today, tomorrow, friday, next week, in 3 days, end of month, 2026-12-01, Dec 5 or 12/5."
    )
    assert isinstance(refused.value, InvalidInput)  # shown to the user by the app's error handler


def test_refused_words_are_quoted_short_on_one_line_as_plain_text() -> None:
    # Plain text: a modal shows it as typed; a reply escapes it for mrkdwn (tests/handlers/test_coach.py).
    with pytest.raises(DateNotUnderstood) as refused:
        parse_date_on("<!channel> & friends\x00" + "x" * 100, WEDNESDAY)
    assert str(refused.value).startswith("I couldn't read “<!channel> & friends xxxxxxxxxxxxxxxxxx…” as a date.")


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("feb 30", "“feb 30” is not a date on the calendar."),
        ("2026-02-30", "“2026-02-30” is not a date on the calendar."),
        ("2/30", "“2/30” is not a date on the calendar."),
        ("13/5", "13/5 reads month first, and there is no month 13. For the day first, write the month's name (13 May)."),
        ("25/12", "25/12 reads month first, and there is no month 25. For the day first, write the month's name (25 Dec)."),
        ("31/31", "31/31 reads month first, and there is no month 31. For the day first, write the month's name."),
        ("in 5000 days", "That is more than ten years away; pick a nearer date."),
    ],
)
def test_impossible_dates_say_what_is_wrong(words, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DateNotUnderstood) as refused:
        parse_date_on(words, WEDNESDAY)
    assert str(refused.value) == message
