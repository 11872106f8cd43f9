"""The `csv` CRM provider, on small files written per test and on the Maven sample export."""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.crm.base import CrmDeal, CrmError
from bot.crm.csv_export import CsvProvider
from tests.conftest import require_shared_data

UTC = dt.UTC


def write(tmp_path: Path, text: str, name: str = "deals.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def fetch_all(provider: CsvProvider) -> tuple[list[CrmDeal], dict[str, list[str]], Counter[str]]:
    deals: list[CrmDeal] = []
    skipped: dict[str, list[str]] = {}
    unknown: Counter[str] = Counter()
    for page in provider.fetch_deals(None):
        deals.extend(page.deals)
        for reason, rows in page.skipped.items():
            skipped.setdefault(reason, []).extend(rows)
        unknown.update(page.unknown_products)
    return deals, skipped, unknown


def load(tmp_path: Path, text: str, **options: Any) -> tuple[list[CrmDeal], dict[str, list[str]], Counter[str]]:
    return fetch_all(CsvProvider(write(tmp_path, text), **options))


# --- reading a deals file --------------------------------------------------------------------


def test_a_minimal_row_becomes_a_deal_with_only_the_required_fields(tmp_path: Path) -> None:
    deals, skipped, unknown = load(tmp_path, "id,owner,stage,created\nD1,Ann Rep,Discovery,2024-03-01\n")

    assert deals == [
        CrmDeal(
            crm_id="D1",
            name="D1",
            owner_key="Ann Rep",
            stage="Discovery",
            created_at=dt.datetime(2024, 3, 1, tzinfo=UTC),
            currency="USD",
        )
    ]
    assert skipped == {}
    assert unknown == Counter()


def test_every_column_is_read_into_its_field(tmp_path: Path) -> None:
    text = (
        "id,owner,name,stage,created,amount,currency,close_date,product,product_line,account,"
        "next_step,next_step_date,last_activity,stage_entered,probability,is_closed,is_won,url\n"
        "D1,ann@example.com,Acme renewal,Negotiation,2024-01-10T09:30:00Z,12500.50,eur,2024-06-30,"
        "Widget,Hardware,Acme,Send proposal,2024-04-02,2024-03-28T16:00:00+02:00,2024-03-15,"
        "0.6,no,false,https://crm.example.com/d/1\n"
    )
    deals, skipped, _ = load(tmp_path, text)

    assert skipped == {}
    assert deals == [
        CrmDeal(
            crm_id="D1",
            name="Acme renewal",
            owner_key="ann@example.com",
            owner_email="ann@example.com",
            stage="Negotiation",
            created_at=dt.datetime(2024, 1, 10, 9, 30, tzinfo=UTC),
            amount=Decimal("12500.50"),
            currency="EUR",
            close_date=dt.date(2024, 6, 30),
            product_name="Widget",
            product_line="Hardware",
            account_name="Acme",
            next_step="Send proposal",
            next_step_date=dt.date(2024, 4, 2),
            last_activity_at=dt.datetime(2024, 3, 28, 14, 0, tzinfo=UTC),
            stage_entered_at=dt.datetime(2024, 3, 15, tzinfo=UTC),
            crm_probability=0.6,
            is_closed=False,
            is_won=False,
            crm_url="https://crm.example.com/d/1",
            stage_history=(("Negotiation", dt.datetime(2024, 3, 15, tzinfo=UTC)),),
        )
    ]


ALIASES = [
    # (canonical column, alias, value in the file, CrmDeal field, expected)
    ("id", "opportunity_id", "X9", "crm_id", "X9"),
    ("id", "deal_id", "X9", "crm_id", "X9"),
    ("id", "crm_id", "X9", "crm_id", "X9"),
    ("owner", "owner_email", "Bo@Example.com", "owner_email", "bo@example.com"),
    ("owner", "sales_agent", "Bo Rep", "owner_key", "Bo Rep"),
    ("owner", "owner_name", "Bo Rep", "owner_key", "Bo Rep"),
    ("name", "deal_name", "Big one", "name", "Big one"),
    ("name", "opportunity_name", "Big one", "name", "Big one"),
    ("stage", "deal_stage", "Won", "stage", "Won"),
    ("stage", "dealstage", "Won", "stage", "Won"),
    ("created", "created_at", "2024-05-06", "created_at", dt.datetime(2024, 5, 6, tzinfo=UTC)),
    ("created", "create_date", "2024-05-06", "created_at", dt.datetime(2024, 5, 6, tzinfo=UTC)),
    ("created", "engage_date", "2024-05-06", "created_at", dt.datetime(2024, 5, 6, tzinfo=UTC)),
    ("created", "createdate", "2024-05-06", "created_at", dt.datetime(2024, 5, 6, tzinfo=UTC)),
    ("amount", "close_value", "1054", "amount", Decimal("1054")),
    ("amount", "value", "1054", "amount", Decimal("1054")),
    ("amount", "deal_value", "1054", "amount", Decimal("1054")),
    ("close_date", "closedate", "2024-07-01", "close_date", dt.date(2024, 7, 1)),
    ("close_date", "expected_close_date", "2024-07-01", "close_date", dt.date(2024, 7, 1)),
    ("product", "product_name", "Widget", "product_name", "Widget"),
    ("product_line", "line", "Hardware", "product_line", "Hardware"),
    ("product_line", "series", "Hardware", "product_line", "Hardware"),
    ("account", "account_name", "Acme", "account_name", "Acme"),
    ("account", "company", "Acme", "account_name", "Acme"),
    ("last_activity", "last_activity_at", "2024-05-07", "last_activity_at", dt.datetime(2024, 5, 7, tzinfo=UTC)),
    ("last_activity", "last_activity_date", "2024-05-07", "last_activity_at", dt.datetime(2024, 5, 7, tzinfo=UTC)),
    ("stage_entered", "stage_entered_at", "2024-05-08", "stage_entered_at", dt.datetime(2024, 5, 8, tzinfo=UTC)),
    ("stage_entered", "stage_date", "2024-05-08", "stage_entered_at", dt.datetime(2024, 5, 8, tzinfo=UTC)),
    ("url", "crm_url", "https://crm/x", "crm_url", "https://crm/x"),
]


@pytest.mark.parametrize(("canonical", "alias", "value", "field", "expected"), ALIASES, ids=[a[1] for a in ALIASES])
def test_each_alias_is_read_as_its_canonical_column(
    tmp_path: Path, canonical: str, alias: str, value: str, field: str, expected: object
) -> None:
    row = {"id": "D1", "owner": "Ann Rep", "stage": "Discovery", "created": "2024-03-01"}
    row.pop(canonical, None)
    row[alias] = value

    deals, skipped, _ = load(tmp_path, ",".join(row) + "\n" + ",".join(row.values()) + "\n")

    assert skipped == {}
    assert getattr(deals[0], field) == expected


def test_column_names_match_regardless_of_case_spaces_underscores_and_hyphens(tmp_path: Path) -> None:
    text = "Opportunity ID,SALES-AGENT,Deal Stage,EngageDate,close  value\nD1,Ann Rep,Won,2024-03-01,99\n"
    deals, skipped, _ = load(tmp_path, text)

    assert skipped == {}
    deal = deals[0]
    assert (deal.crm_id, deal.owner_key, deal.stage, deal.amount) == ("D1", "Ann Rep", "Won", Decimal("99"))


def test_a_byte_order_mark_does_not_hide_the_first_column(tmp_path: Path) -> None:
    path = write(tmp_path, "id,owner,stage,created\nD1,Ann Rep,Won,2024-03-01\n", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    deals, skipped, _ = fetch_all(CsvProvider(path))

    assert [deal.crm_id for deal in deals] == ["D1"]
    assert skipped == {}


def test_the_name_defaults_to_account_and_product_then_to_the_id(tmp_path: Path) -> None:
    text = (
        "id,owner,stage,created,account,product\n"
        "D1,Ann,Won,2024-03-01,Acme,Widget\n"
        "D2,Ann,Won,2024-03-01,,Widget\n"
        "D3,Ann,Won,2024-03-01,,\n"
    )
    deals, _, _ = load(tmp_path, text)

    assert [deal.name for deal in deals] == ["Acme – Widget", "Widget", "D3"]
    assert [deal.account_name for deal in deals] == ["Acme", None, None]


def test_an_owner_with_an_at_sign_is_also_the_owner_email_in_lower_case(tmp_path: Path) -> None:
    text = "id,owner,stage,created\nD1,Ann.Rep@Example.COM,Won,2024-03-01\nD2,Ann Rep,Won,2024-03-01\n"
    deals, _, _ = load(tmp_path, text)

    assert [(deal.owner_key, deal.owner_email) for deal in deals] == [
        ("Ann.Rep@Example.COM", "ann.rep@example.com"),
        ("Ann Rep", None),
    ]


@pytest.mark.parametrize(
    ("value", "expected"), [("0.45", 0.45), ("45", 0.45), ("45%", 0.45), ("1", 1.0), ("100", 1.0), ("0", 0.0)]
)
def test_probability_is_a_fraction_or_a_percentage(tmp_path: Path, value: str, expected: float) -> None:
    deals, _, _ = load(tmp_path, f"id,owner,stage,created,probability\nD1,Ann,Won,2024-03-01,{value}\n")

    assert deals[0].crm_probability == pytest.approx(expected)


def test_currency_defaults_to_the_configured_one_and_is_upper_cased(tmp_path: Path) -> None:
    text = "id,owner,stage,created,currency\nD1,Ann,Won,2024-03-01,\nD2,Ann,Won,2024-03-01,gbp\n"
    deals, _, _ = load(tmp_path, text, default_currency="eur")

    assert [deal.currency for deal in deals] == ["EUR", "GBP"]


def test_amounts_accept_thousands_separators(tmp_path: Path) -> None:
    deals, _, _ = load(tmp_path, 'id,owner,stage,created,amount\nD1,Ann,Won,2024-03-01,"12,500.00"\n')

    assert deals[0].amount == Decimal("12500.00")


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("Yes", True), ("1", True), ("FALSE", False), ("no", False), ("0", False)]
)
def test_closed_and_won_flags_read_true_false_yes_no_one_zero(tmp_path: Path, value: str, expected: bool) -> None:
    deals, _, _ = load(tmp_path, f"id,owner,stage,created,is_closed,is_won\nD1,Ann,Won,2024-03-01,{value},{value}\n")

    assert (deals[0].is_closed, deals[0].is_won) == (expected, expected)


def test_without_closed_and_won_columns_the_playbook_decides(tmp_path: Path) -> None:
    deals, _, _ = load(tmp_path, "id,owner,stage,created,is_closed,is_won\nD1,Ann,Won,2024-03-01,,\n")
    assert (deals[0].is_closed, deals[0].is_won) == (None, None)

    deals, _, _ = load(tmp_path, "id,owner,stage,created\nD1,Ann,Won,2024-03-01\n")
    assert (deals[0].is_closed, deals[0].is_won, deals[0].stage_history) == (None, None, ())


def test_date_only_values_are_midnight_in_the_configured_timezone(tmp_path: Path) -> None:
    text = (
        "id,owner,stage,created,last_activity,stage_entered,close_date\n"
        "D1,Ann,Won,2024-01-15,2024-07-01T09:30:00,2024-07-01T09:30:00+05:00,2024-07-31\n"
    )
    deals, _, _ = load(tmp_path, text, timezone="Europe/Berlin")

    # Berlin is UTC+1 in January and UTC+2 in July; an explicit offset wins over the setting.
    assert deals[0].created_at == dt.datetime(2024, 1, 14, 23, 0, tzinfo=UTC)
    assert deals[0].last_activity_at == dt.datetime(2024, 7, 1, 7, 30, tzinfo=UTC)
    assert deals[0].stage_entered_at == dt.datetime(2024, 7, 1, 4, 30, tzinfo=UTC)
    assert deals[0].close_date == dt.date(2024, 7, 31)
    for moment in (deals[0].created_at, deals[0].last_activity_at, deals[0].stage_entered_at):
        assert moment is not None and moment.utcoffset() == dt.timedelta(0)


def test_a_datetime_in_a_date_column_gives_its_local_date(tmp_path: Path) -> None:
    text = "id,owner,stage,created,close_date\nD1,Ann,Won,2024-01-15,2024-07-31T23:30:00Z\n"
    deals, _, _ = load(tmp_path, text, timezone="Europe/Berlin")

    assert deals[0].close_date == dt.date(2024, 8, 1)


# --- skipping rows ---------------------------------------------------------------------------


SKIPS = [
    # (row after "id,owner,stage,created,amount,currency,close_date,probability,is_won", reason)
    (",Ann,Won,2024-03-01,,,,,", "missing id"),
    ("D2,,Won,2024-03-01,,,,,", "missing owner"),
    ("D2,Ann,,2024-03-01,,,,,", "missing stage"),
    ("D2,Ann,Won,2024-13-01,,,,,", "unreadable date in created"),
    ("D2,Ann,Won,2024-03-01,lots,,,,", "unreadable amount"),
    ("D2,Ann,Won,2024-03-01,1.5.0,,,,", "unreadable amount"),
    ("D2,Ann,Won,2024-03-01,-5,,,,", "amount out of range"),
    ("D2,Ann,Won,2024-03-01,1000000000000,,,,", "amount out of range"),
    ("D2,Ann,Won,2024-03-01,,EURO,,,", "unreadable currency"),
    ("D2,Ann,Won,2024-03-01,,,31/12/2024,,", "unreadable date in close_date"),
    ("D2,Ann,Won,2024-03-01,,,,150,", "unreadable probability"),
    ("D2,Ann,Won,2024-03-01,,,,high,", "unreadable probability"),
    ("D2,Ann,Won,2024-03-01,,,,,maybe", "unreadable yes/no in is_won"),
    ("D2,Ann,Won,2024-03-01,,,,,,surplus", "too many columns"),
    ("D1,Ann,Won,2024-03-01,,,,,", "duplicate id"),
    ("D2," + "A" * 321 + ",Won,2024-03-01,,,,,", "owner longer than 320 characters"),
    ("D2,Ann," + "W" * 101 + ",2024-03-01,,,,,", "stage longer than 100 characters"),
]


@pytest.mark.parametrize(("row", "reason"), SKIPS, ids=[reason for _, reason in SKIPS])
def test_a_bad_row_is_skipped_with_its_reason_and_the_rest_still_loads(tmp_path: Path, row: str, reason: str) -> None:
    header = "id,owner,stage,created,amount,currency,close_date,probability,is_won"
    text = f"{header}\nD1,Ann,Won,2024-03-01,,,,,\n{row}\nD3,Ann,Won,2024-03-01,,,,,\n"

    deals, skipped, _ = load(tmp_path, text)

    row_id = row.split(",")[0]
    assert skipped == {reason: [f"line 3 (id {row_id})" if row_id else "line 3"]}
    assert [deal.crm_id for deal in deals] == ["D1", "D3"]


def estimates(provider: CsvProvider) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for page in provider.fetch_deals(None):
        for how, rows in page.estimated.items():
            found.setdefault(how, []).extend(rows)
    return found


def test_a_row_without_a_created_date_is_kept_dated_by_the_newest_date_in_the_export(tmp_path: Path) -> None:
    text = "opportunity_id,sales_agent,deal_stage,engage_date\nW1,Ann,Won,2024-03-01\nP1,Ann,Prospecting,\nW2,Bo,Won,2024-05-20\n"
    provider = CsvProvider(write(tmp_path, text), timezone="America/New_York")

    deals, skipped, _ = fetch_all(provider)

    assert skipped == {}
    assert [(deal.crm_id, deal.created_at) for deal in deals] == [
        ("W1", dt.datetime(2024, 3, 1, 5, tzinfo=UTC)),
        ("P1", dt.datetime(2024, 5, 20, 4, tzinfo=UTC)),  # midnight of 20 May in New York
        ("W2", dt.datetime(2024, 5, 20, 4, tzinfo=UTC)),
    ]
    assert estimates(provider) == {
        "no created date (engage_date): dated 2024-05-20, the newest date in the export": ["line 3 (id P1)"]
    }


def test_a_row_without_a_created_date_takes_its_own_earliest_date_that_is_not_after_the_export(tmp_path: Path) -> None:
    text = (
        "id,owner,stage,created,stage_entered,last_activity,close_date\n"
        "D1,Ann,Demo,2024-06-30,,,\n"
        "D2,Ann,Demo,,2024-04-10,2024-04-02T09:30:00Z,2024-09-30\n"  # its close date lies after the export: expected
        "D3,Ann,Won,,,,2024-02-15\n"
    )
    provider = CsvProvider(write(tmp_path, text))

    deals, skipped, _ = fetch_all(provider)

    assert skipped == {}
    assert {deal.crm_id: deal.created_at for deal in deals} == {
        "D1": dt.datetime(2024, 6, 30, tzinfo=UTC),
        "D2": dt.datetime(2024, 4, 2, 9, 30, tzinfo=UTC),
        "D3": dt.datetime(2024, 2, 15, tzinfo=UTC),
    }
    assert estimates(provider) == {
        "no created date (created): dated by the row's earliest other date": ["line 3 (id D2)", "line 4 (id D3)"]
    }


def test_an_export_with_no_date_at_all_dates_its_deals_by_when_the_file_was_written(tmp_path: Path) -> None:
    deals_file = write(tmp_path, "id,owner,stage,created\nP1,Ann,Prospecting,\n")
    written = dt.datetime(2025, 1, 31, 12, tzinfo=UTC)
    os.utime(deals_file, (written.timestamp(), written.timestamp()))
    provider = CsvProvider(deals_file)

    deals, _, _ = fetch_all(provider)

    assert [deal.created_at for deal in deals] == [written]
    assert estimates(provider) == {
        "no created date (created): dated 2025-01-31, when the export file was last written": ["line 2 (id P1)"]
    }


def test_a_created_date_that_cannot_be_read_still_skips_the_row(tmp_path: Path) -> None:
    deals, skipped, _ = load(tmp_path, "id,owner,stage,created\nD1,Ann,Won,2024-03-01\nD2,Ann,Won,31/12/2024\n")

    assert [deal.crm_id for deal in deals] == ["D1"]
    assert skipped == {"unreadable date in created": ["line 3 (id D2)"]}


def test_the_first_of_two_rows_with_the_same_id_wins(tmp_path: Path) -> None:
    text = "id,owner,stage,created,amount\nD1,Ann,Won,2024-03-01,100\nD1,Bo,Lost,2024-03-02,200\n"
    deals, skipped, _ = load(tmp_path, text)

    assert [(deal.owner_key, deal.amount) for deal in deals] == [("Ann", Decimal("100"))]
    assert skipped == {"duplicate id": ["line 3 (id D1)"]}


def test_a_row_with_bytes_that_are_not_utf8_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_bytes(b"id,owner,stage,created\nD1,Ann,Won,2024-03-01\nD2,J\xf6rg,Won,2024-03-01\n")

    deals, skipped, _ = fetch_all(CsvProvider(path))

    assert [deal.crm_id for deal in deals] == ["D1"]
    assert skipped == {"not valid UTF-8": ["line 3 (id D2)"]}


def test_a_row_with_a_nul_character_is_skipped(tmp_path: Path) -> None:
    deals, skipped, _ = load(tmp_path, "id,owner,stage,created\nD1,Ann\x00,Won,2024-03-01\nD2,Ann,Won,2024-03-01\n")

    assert [deal.crm_id for deal in deals] == ["D2"]
    assert skipped == {"NUL character": ["line 2 (id D1)"]}


def test_a_record_the_csv_reader_cannot_parse_is_skipped_by_its_line(tmp_path: Path) -> None:
    oversized = '"' + "x" * (csv.field_size_limit() + 1) + '"'
    text = (
        f"id,owner,stage,created,next_step\nD1,Ann,Won,2024-03-01,\nD2,Ann,Won,2024-03-01,{oversized}\nD3,Ann,Won,2024-03-01,\n"
    )

    deals, skipped, _ = load(tmp_path, text)

    assert [deal.crm_id for deal in deals] == ["D1", "D3"]
    assert skipped == {"unreadable CSV row": ["line 3"]}


def test_a_row_reference_is_the_last_line_of_a_multiline_record(tmp_path: Path) -> None:
    text = 'id,owner,stage,created,next_step\nD1,Ann,Won,2024-03-01,"call\nthem"\nD2,,Won,2024-03-01,\n'
    deals, skipped, _ = load(tmp_path, text)

    assert deals[0].next_step == "call\nthem"
    assert skipped == {"missing owner": ["line 4 (id D2)"]}


# --- files that cannot be used at all --------------------------------------------------------


def test_a_missing_required_column_names_the_column_and_the_setting(tmp_path: Path) -> None:
    provider = CsvProvider(write(tmp_path, "id,owner,stage\nD1,Ann,Won\n"))

    with pytest.raises(CrmError) as raised:
        list(provider.fetch_deals(None))

    assert raised.value.setting == "CSV_DEALS_FILE"
    assert str(raised.value) == (
        f"{tmp_path / 'deals.csv'}: no created column (or created_at, create_date, engage_date, createdate); check CSV_DEALS_FILE"
    )


def test_an_unreadable_deals_file_names_the_setting(tmp_path: Path) -> None:
    provider = CsvProvider(tmp_path / "absent.csv")

    with pytest.raises(CrmError) as from_fetch:
        list(provider.fetch_deals(None))
    with pytest.raises(CrmError) as from_count:
        provider.expected_total()

    assert from_fetch.value.setting == from_count.value.setting == "CSV_DEALS_FILE"
    assert str(from_fetch.value) == (
        f"{tmp_path / 'absent.csv'}: cannot read the file (No such file or directory); check CSV_DEALS_FILE"
    )


def test_an_empty_deals_file_asks_for_a_header_row(tmp_path: Path) -> None:
    with pytest.raises(CrmError, match="expected a header row") as raised:
        list(CsvProvider(write(tmp_path, "")).fetch_deals(None))

    assert raised.value.setting == "CSV_DEALS_FILE"


# --- paging and counting ---------------------------------------------------------------------


def test_deals_come_in_pages_of_at_most_a_thousand_without_a_cursor(tmp_path: Path) -> None:
    rows = "".join(f"D{number},Ann,Won,2024-03-01\n" for number in range(2500))
    provider = CsvProvider(write(tmp_path, "id,owner,stage,created\n" + rows))

    pages = list(provider.fetch_deals("ignored"))

    assert [len(page.deals) for page in pages] == [1000, 1000, 500]
    assert [page.cursor for page in pages] == [None, None, None]
    assert pages[2].deals[-1].crm_id == "D2499"
    assert provider.expected_total() == 2500


def test_skipped_rows_count_towards_a_page(tmp_path: Path) -> None:
    rows = "".join(f"D{number},{'Ann' if number % 2 else ''},Won,2024-03-01\n" for number in range(2002))
    pages = list(CsvProvider(write(tmp_path, "id,owner,stage,created\n" + rows)).fetch_deals(None))

    deals_and_skips = [(len(page.deals), sum(map(len, page.skipped.values()))) for page in pages]
    assert deals_and_skips == [(500, 500), (500, 500), (1, 1)]


def test_expected_total_counts_data_rows_and_ignores_blank_lines(tmp_path: Path) -> None:
    text = "id,owner,stage,created\nD1,A,Won,2024-03-01\n\nD2,A,Won,2024-03-01"  # no final newline
    assert CsvProvider(write(tmp_path, text)).expected_total() == 2
    assert CsvProvider(write(tmp_path, "id,owner,stage,created\n", "header.csv")).expected_total() == 0


def test_a_header_only_file_yields_no_pages(tmp_path: Path) -> None:
    assert list(CsvProvider(write(tmp_path, "id,owner,stage,created\n")).fetch_deals(None)) == []


def test_the_provider_is_the_csv_source_and_leaves_the_org_to_org_import(tmp_path: Path) -> None:
    provider = CsvProvider(write(tmp_path, "id,owner,stage,created\n"))

    assert provider.source == "csv"
    assert provider.fetch_org() is None
    assert provider.product_lines() == []


# --- products and owners files ---------------------------------------------------------------

PRODUCTS = "product,series,sales_price\nGTX Pro,GTX,4821\nMG Special,MG,55\nGTK 500,GTK,\n"


def test_the_products_file_gives_product_lines_and_matches_names_loosely(tmp_path: Path) -> None:
    products = write(tmp_path, PRODUCTS, "products.csv")
    text = (
        "id,owner,stage,created,product,amount,product_line\n"
        "D1,Ann,Won,2024-03-01,GTXPro,4514,\n"
        "D2,Ann,Won,2024-03-01,mg-special,50,\n"
        "D3,Ann,Won,2024-03-01,Hoverboard,10,Toys\n"
        "D4,Ann,Won,2024-03-01,Hoverboard,10,\n"
        "D5,Ann,Won,2024-03-01,,10,\n"
    )
    provider = CsvProvider(write(tmp_path, text), products_file=products)

    deals, skipped, unknown = fetch_all(provider)

    assert [(deal.product_name, deal.product_line) for deal in deals] == [
        ("GTXPro", "GTX"),
        ("mg-special", "MG"),
        ("Hoverboard", "Toys"),
        ("Hoverboard", None),
        (None, None),
    ]
    assert unknown == Counter({"Hoverboard": 2})
    assert provider.product_lines() == ["GTK", "GTX", "MG"]
    assert skipped == {}


def test_a_deal_without_an_amount_takes_the_products_list_price(tmp_path: Path) -> None:
    products = write(tmp_path, PRODUCTS, "products.csv")
    text = (
        "id,owner,stage,created,product,amount\n"
        "D1,Ann,Engaging,2024-03-01,GTX Pro,\n"
        "D2,Ann,Lost,2024-03-01,GTX Pro,0\n"
        "D3,Ann,Engaging,2024-03-01,GTK 500,\n"
        "D4,Ann,Engaging,2024-03-01,Hoverboard,\n"
    )
    deals, _, _ = fetch_all(CsvProvider(write(tmp_path, text), products_file=products))

    assert [deal.amount for deal in deals] == [Decimal("4821"), Decimal("0"), None, None]


def test_without_a_products_file_the_product_line_column_is_used_and_nothing_is_unknown(tmp_path: Path) -> None:
    text = "id,owner,stage,created,product,series\nD1,Ann,Won,2024-03-01,GTXPro,GTX\nD2,Ann,Won,2024-03-01,GTXPro,\n"
    deals, _, unknown = load(tmp_path, text)

    assert [(deal.product_line, deal.amount) for deal in deals] == [("GTX", None), (None, None)]
    assert unknown == Counter()


def test_a_products_file_with_an_unreadable_price_names_its_line_and_setting(tmp_path: Path) -> None:
    products = write(tmp_path, "product,price\nWidget,cheap\n", "products.csv")
    provider = CsvProvider(write(tmp_path, "id,owner,stage,created\n"), products_file=products)

    with pytest.raises(CrmError) as raised:
        provider.product_lines()

    assert raised.value.setting == "CSV_PRODUCTS_FILE"
    assert str(raised.value) == f"{products} line 2: unreadable price 'cheap'"


def test_the_owners_file_gives_emails_to_owners_named_by_name(tmp_path: Path) -> None:
    owners = write(tmp_path, "Sales Agent,Email,Manager,Region\nAnn  Rep,Ann@Example.com,Max Boss,East\n", "owners.csv")
    text = "id,owner,stage,created\nD1,ann rep,Won,2024-03-01\nD2,Bo Rep,Won,2024-03-01\nD3,cy@example.com,Won,2024-03-01\n"

    deals, _, _ = fetch_all(CsvProvider(write(tmp_path, text), owners_file=owners))

    assert [deal.owner_email for deal in deals] == ["ann@example.com", None, "cy@example.com"]


def test_an_owners_file_without_emails_changes_nothing(tmp_path: Path) -> None:
    owners = write(tmp_path, "sales_agent,manager,regional_office\nAnn Rep,Max Boss,Central\n", "teams.csv")

    deals_file = write(tmp_path, "id,owner,stage,created\nD1,Ann Rep,Won,2024-03-01\n")

    deals, skipped, _ = fetch_all(CsvProvider(deals_file, owners_file=owners))

    assert [(deal.owner_key, deal.owner_email) for deal in deals] == [("Ann Rep", None)]
    assert skipped == {}


# --- the Maven Analytics sample export -------------------------------------------------------


@pytest.fixture(scope="module")
def maven_dir() -> Path:
    return require_shared_data()


@pytest.fixture(scope="module")
def maven_provider(maven_dir: Path) -> CsvProvider:
    return CsvProvider(
        maven_dir / "sales_pipeline.csv",
        owners_file=maven_dir / "sales_teams.csv",
        products_file=maven_dir / "products.csv",
    )


@pytest.fixture(scope="module")
def maven_load(maven_provider: CsvProvider) -> tuple[list[CrmDeal], dict[str, list[str]], Counter[str]]:
    return fetch_all(maven_provider)


@pytest.fixture(scope="module")
def maven_rows(maven_dir: Path) -> dict[str, dict[str, str]]:
    with (maven_dir / "sales_pipeline.csv").open(encoding="utf-8", newline="") as handle:
        return {row["opportunity_id"]: row for row in csv.DictReader(handle)}


@pytest.mark.maven
def test_maven_pipeline_yields_all_8800_deals_dating_the_500_prospecting_rows_without_engage_date_by_the_export(
    maven_provider: CsvProvider,
    maven_load: tuple[list[CrmDeal], dict[str, list[str]], Counter[str]],
    maven_rows: dict[str, dict[str, str]],
) -> None:
    deals, skipped, unknown = maven_load

    assert maven_provider.expected_total() == 8800
    assert len(deals) == 8800 and skipped == {}
    undated = [deal for deal in deals if not maven_rows[deal.crm_id]["engage_date"]]
    assert len(undated) == 500 and {deal.stage for deal in undated} == {"Prospecting"}
    # The newest engage_date in the file, 2017-12-27: the export was taken no earlier.
    assert {deal.created_at for deal in undated} == {dt.datetime(2017, 12, 27, tzinfo=UTC)}
    (how,) = estimates(maven_provider)
    assert how == "no created date (engage_date): dated 2017-12-27, the newest date in the export"
    assert unknown == Counter()


@pytest.mark.maven
def test_maven_stage_counts_match_the_published_figures(
    maven_load: tuple[list[CrmDeal], dict[str, list[str]], Counter[str]],
) -> None:
    deals, _, _ = maven_load

    assert Counter(deal.stage for deal in deals) == Counter({"Won": 4238, "Lost": 2473, "Engaging": 1589, "Prospecting": 500})


@pytest.mark.maven
def test_maven_open_deals_without_account_have_account_none(
    maven_load: tuple[list[CrmDeal], dict[str, list[str]], Counter[str]], maven_rows: dict[str, dict[str, str]]
) -> None:
    deals, _, _ = maven_load

    # The published 1,425 open deals without an account: 1,088 Engaging and 337 Prospecting.
    without_account = [deal for deal in deals if deal.account_name is None]
    assert Counter(deal.stage for deal in without_account) == Counter({"Engaging": 1088, "Prospecting": 337})
    open_rows_without_account = [
        row for row in maven_rows.values() if row["deal_stage"] in ("Engaging", "Prospecting") and not row["account"]
    ]
    assert len(open_rows_without_account) == 1425


@pytest.mark.maven
def test_maven_gtxpro_is_the_gtx_line_and_open_deals_take_the_list_price(
    maven_provider: CsvProvider, maven_load: tuple[list[CrmDeal], dict[str, list[str]], Counter[str]]
) -> None:
    deals, _, _ = maven_load
    by_id = {deal.crm_id: deal for deal in deals}

    assert {deal.product_line for deal in deals if deal.product_name == "GTXPro"} == {"GTX"}
    assert maven_provider.product_lines() == ["GTK", "GTX", "MG"]
    assert (by_id["EG7OFLFR"].stage, by_id["EG7OFLFR"].product_name, by_id["EG7OFLFR"].amount) == (
        "Engaging",
        "GTX Basic",
        Decimal("550"),
    )
    assert by_id["1C1I7A6R"] == CrmDeal(
        crm_id="1C1I7A6R",
        name="Cancity – GTX Plus Basic",
        owner_key="Moses Frase",
        stage="Won",
        created_at=dt.datetime(2016, 10, 20, tzinfo=UTC),
        amount=Decimal("1054"),
        currency="USD",
        close_date=dt.date(2017, 3, 1),
        product_name="GTX Plus Basic",
        product_line="GTX",
        account_name="Cancity",
    )
    assert all(deal.amount is not None for deal in deals)


@pytest.mark.maven
def test_maven_deals_have_aware_utc_times_and_no_owner_emails(
    maven_load: tuple[list[CrmDeal], dict[str, list[str]], Counter[str]],
) -> None:
    deals, _, _ = maven_load

    assert {deal.created_at.utcoffset() for deal in deals} == {dt.timedelta(0)}
    assert {deal.owner_email for deal in deals} == {None}
    assert {(deal.is_closed, deal.is_won, deal.crm_modified_at, deal.stage_history) for deal in deals} == {(None, None, None, ())}


@pytest.mark.maven
def test_maven_pipeline_loads_without_products_or_owners_files(maven_dir: Path) -> None:
    provider = CsvProvider(maven_dir / "sales_pipeline.csv")

    pages = list(provider.fetch_deals(None))
    deals = [deal for page in pages for deal in page.deals]

    assert len(deals) == 8800
    assert max(len(page.deals) for page in pages) <= 1000
    assert provider.product_lines() == []
    assert {deal.product_line for deal in deals} == {None}
    assert sum(1 for deal in deals if deal.amount is None) == 2089  # every open deal: Engaging and Prospecting
