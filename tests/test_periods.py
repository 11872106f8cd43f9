import datetime as dt
import re

import pytest

from bot.org.quota_periods import parse_quota_period
from bot.periods import period_containing

WEDNESDAY = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("kind", "start", "end", "label"),
    [
        ("week", dt.date(2026, 11, 23), dt.date(2026, 11, 30), "week of Nov 23"),
        ("month", dt.date(2026, 11, 1), dt.date(2026, 12, 1), "November 2026"),
        ("quarter", dt.date(2026, 10, 1), dt.date(2027, 1, 1), "Q4 2026"),
        ("year", dt.date(2026, 1, 1), dt.date(2027, 1, 1), "2026"),
    ],
)
def test_calendar_periods_hold_now(kind, start, end, label) -> None:  # type: ignore[no-untyped-def]
    period = period_containing(kind, WEDNESDAY, "America/New_York")
    assert (period.start, period.end, period.label) == (start, end, label)


def test_a_fiscal_year_starting_in_february_is_named_by_the_year_it_ends() -> None:
    quarter = period_containing("quarter", WEDNESDAY, "UTC", fiscal_year_start_month=2)
    year = period_containing("year", WEDNESDAY, "UTC", fiscal_year_start_month=2)
    assert (quarter.start, quarter.end, quarter.label) == (dt.date(2026, 11, 1), dt.date(2027, 2, 1), "Q4 FY2027")
    assert (year.start, year.end, year.label) == (dt.date(2026, 2, 1), dt.date(2027, 2, 1), "FY2027")


def test_elapsed_share_counts_real_time_across_a_dst_change() -> None:
    # November 2026 in New York lasts 721 hours (clocks go back on Nov 1): from 04:00 UTC on
    # Nov 1 to 05:00 UTC on Dec 1.
    month = period_containing("month", WEDNESDAY, "America/New_York")
    assert month.elapsed_share(dt.datetime(2026, 11, 1, 4, 0, tzinfo=dt.UTC)) == 0.0
    assert month.elapsed_share(dt.datetime(2026, 11, 16, 4, 30, tzinfo=dt.UTC)) == pytest.approx(360.5 / 721)
    assert month.elapsed_share(dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)) == pytest.approx(720 / 721)
    assert month.elapsed_share(dt.datetime(2026, 12, 1, 5, 0, tzinfo=dt.UTC)) == 1.0


@pytest.mark.parametrize(
    ("key", "fiscal_start", "span"),
    [
        ("2026-Q4", 1, (dt.date(2026, 10, 1), dt.date(2027, 1, 1))),
        ("2027-Q1", 2, (dt.date(2026, 2, 1), dt.date(2026, 5, 1))),
        ("2026-11", 1, (dt.date(2026, 11, 1), dt.date(2026, 12, 1))),
        ("2026", 1, (dt.date(2026, 1, 1), dt.date(2027, 1, 1))),
        ("FY2027", 7, (dt.date(2026, 7, 1), dt.date(2027, 7, 1))),
        ("2026-10-01..2026-12-31", 1, (dt.date(2026, 10, 1), dt.date(2027, 1, 1))),
    ],
)
def test_quota_period_keys(key, fiscal_start, span) -> None:  # type: ignore[no-untyped-def]
    assert parse_quota_period(key, fiscal_start) == span


@pytest.mark.parametrize("key", ["2026-Q5", "2026-13", "Q4", "2026-12-31..2026-10-01", "next quarter"])
def test_bad_quota_period_keys_are_refused_with_the_key(key) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=re.escape(repr(key)) + "|" + re.escape(key)):
        parse_quota_period(key)
