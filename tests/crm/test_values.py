import datetime as dt
from decimal import Decimal

import pytest

from bot.crm import values
from bot.crm.values import BadValue


@pytest.mark.parametrize("raw", ["999999999999.995", "1e30", "-1", "NaN", "abc", True])
def test_amounts_the_column_cannot_hold_are_bad_values(raw: object) -> None:
    with pytest.raises(BadValue, match="^amount: "):
        values.amount(raw, "amount")


def test_amounts_are_rounded_to_cents() -> None:
    assert values.amount("1200.505", "amount") == Decimal("1200.50")  # banker's rounding, as Decimal does
    assert values.amount(999999999999.99, "amount") == Decimal("999999999999.99")
    assert values.amount("", "amount") is None


def test_probabilities_keep_their_precision() -> None:
    assert values.probability("0.125", "p") == 0.125
    with pytest.raises(BadValue, match="not between 0 and 1"):
        values.probability("40", "p")


@pytest.mark.parametrize("raw", [10**20, "99999999999999999999", float("nan"), "٣٣٣", "yesterday", ["2026"]])
def test_timestamps_that_are_not_times_are_bad_values(raw: object) -> None:
    with pytest.raises(BadValue, match="^created: "):
        values.timestamp(raw, "created")


def test_timestamps_are_aware_utc_from_iso_or_epoch_milliseconds() -> None:
    expected = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
    assert values.timestamp("2026-11-25T15:00:00Z", "t") == expected
    assert values.timestamp("2026-11-25T16:00:00+01:00", "t") == expected
    assert values.timestamp("2026-11-25T15:00:00", "t") == expected
    assert values.timestamp(str(int(expected.timestamp() * 1000)), "t") == expected
    assert values.date("2026-11-25", "d") == dt.date(2026, 11, 25)


def test_the_field_map_reads_pairs_and_refuses_nonsense() -> None:
    assert values.parse_field_map(" product_line=product_family , next_step_date=ns_date") == {
        "product_line": "product_family", "next_step_date": "ns_date",
    }  # fmt: skip
    with pytest.raises(ValueError, match="CRM_FIELD_MAP: expected field=property, got 'oops'"):
        values.parse_field_map("oops")
