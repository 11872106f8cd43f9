"""The `csv` CRM provider: deals from a CSV export of any CRM or spreadsheet.

Deals file (`CSV_DEALS_FILE`)
-----------------------------
UTF-8 (a byte-order mark is fine) with a header row. Column names are matched without regard to
case, spaces, underscores or hyphens ("Deal Stage" = "deal_stage" = "DealStage"), and each column
also answers to the aliases listed, so that a Maven Analytics `sales_pipeline.csv` loads as it is.
Other columns are ignored.

- `id` (or opportunity_id, deal_id, crm_id): required; unique, a repeated id keeps the first row.
- `owner` (or owner_email, sales_agent, owner_name): required; an email or a name.
- `stage` (or deal_stage, dealstage): required; matched to the playbook's stages and aliases.
- `created` (or created_at, create_date, engage_date, createdate): the column is required; a row
  with it empty is kept, dated as "Deals without a created date" says.
- `name` (or deal_name, opportunity_name): default "<account> – <product>", else the id.
- `amount` (or close_value, value, deal_value): when empty, the product's list price if known.
- `currency`: three letters; default `COACHBOT_CURRENCY`.
- `close_date` (or closedate, expected_close_date): expected while open, actual once closed.
- `product` (or product_name); `product_line` (or line, series), used when the products file
  does not know the product.
- `account` (or account_name, company).
- `next_step`, `next_step_date`.
- `last_activity` (or last_activity_at, last_activity_date).
- `stage_entered` (or stage_entered_at, stage_date): when the deal entered its current stage.
- `probability`: 0..1, or a percentage ("40", "40%"); a value above 1 is a percentage.
- `is_closed`, `is_won`: true/false, yes/no, 1/0; without these columns the playbook decides.
- `url` (or crm_url): the deal's page in the CRM.

Dates are ISO: `2024-03-31` or `2024-03-31T14:05:00` (an offset such as `+02:00` or `Z` is
honoured). A date without a time, or a time without an offset, is read in `COACHBOT_TIMEZONE`.

Deals without a created date
----------------------------
A row with an empty created date (Maven's 500 Prospecting deals have no engage_date) is kept, not
dropped, and dated by the best evidence of when the deal existed by:
1. the earliest of its own stage_entered, last_activity and close_date (each proves the deal existed
   by then), leaving out a close date later than the export's date (that is an expected one);
2. else the export's date: the newest created, stage_entered or last_activity date anywhere in the
   file (the export was taken no earlier, and the deal existed when it was taken); a file without
   a single such date is dated by its modification time.
The second choice is the latest date the evidence allows, on purpose: an earlier guess would make
the deal look older than it may be and set off stale-deal nudges no one can act on. The sync
summary lists these deals under "Kept with an estimated value", by how each was dated.

A row that cannot be used is skipped, never the whole file; the sync summary lists each reason
with the rows it applies to ("line 12 (id 1C1I7A6R)"): missing id, missing owner, missing stage,
duplicate id, unreadable amount, amount out of range, unreadable
currency, unreadable probability, unreadable date in <column>, unreadable yes/no in <column>,
<column> longer than N characters, too many columns, not valid UTF-8, NUL character, unreadable
CSV row.

Products file (`CSV_PRODUCTS_FILE`, optional)
---------------------------------------------
Columns `product`, `series` (or `line`, `product_line`) and `sales_price` (or `price`,
`list_price`), as in Maven's `products.csv`. It gives each product its product line and a list
price for deals without an amount. Product names match ignoring case, spaces, hyphens and
underscores, so "GTXPro" is "GTX Pro". Deal products it does not list are reported as unknown.

Owners file (`CSV_OWNERS_FILE`, optional)
-----------------------------------------
Columns `owner` (or `sales_agent`, `name`, `owner_name`) and `email`; other columns are ignored.
It gives an email to owners the deals file names by name. A file without an `email` column (such
as Maven's `sales_teams.csv`) changes nothing; the org itself comes from `coachbot org import`.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, TypeVar

from bot.crm.base import CrmDeal, CrmError, DealPage, SkipRecord
from bot.crm.values import MAX_AMOUNT
from bot.crm.writes import Changes, read_only
from bot.org.records import OrgPerson

PAGE_SIZE = 1000  # rows read per page: deals and skipped rows together, so memory stays bounded

DEAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("opportunity_id", "deal_id", "crm_id"),
    "owner": ("owner_email", "sales_agent", "owner_name"),
    "name": ("deal_name", "opportunity_name"),
    "stage": ("deal_stage", "dealstage"),
    "created": ("created_at", "create_date", "engage_date", "createdate"),
    "amount": ("close_value", "value", "deal_value"),
    "currency": (),
    "close_date": ("closedate", "expected_close_date"),
    "product": ("product_name",),
    "product_line": ("line", "series"),
    "account": ("account_name", "company"),
    "next_step": (),
    "next_step_date": (),
    "last_activity": ("last_activity_at", "last_activity_date"),
    "stage_entered": ("stage_entered_at", "stage_date"),
    "probability": (),
    "is_closed": (),
    "is_won": (),
    "url": ("crm_url",),
}
REQUIRED_DEAL_COLUMNS = ("id", "owner", "stage", "created")
PRODUCT_COLUMNS = {
    "product": ("product_name",),
    "line": ("series", "product_line"),
    "price": ("sales_price", "list_price"),
}
OWNER_COLUMNS = {"owner": ("sales_agent", "name", "owner_name"), "email": ("owner_email",)}

# The widths of the deals table's columns: a longer value would fail the whole page on PostgreSQL.
_MAX_LENGTH = {"id": 64, "owner": 320, "stage": 100, "account": 300, "product": 200, "product_line": 100, "url": 1000}
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_GROUPED_NUMBER = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")  # "12,500.00"; a lone "1,5" stays unreadable
_IGNORED_IN_NAMES = re.compile(r"[\s_\-]+")

Row = dict[str | None, str | list[str] | None]  # csv.DictReader puts surplus fields under None
T = TypeVar("T")


class _ExportDating:
    """The export's date, worked out on first need: most files have no undated row."""

    def __init__(self, work_out: Callable[[], tuple[dt.datetime, str]]) -> None:
        self._work_out = work_out
        self._found: tuple[dt.datetime, str] | None = None

    def get(self) -> tuple[dt.datetime, str]:
        if self._found is None:
            self._found = self._work_out()
        return self._found


@dataclass(frozen=True)
class Product:
    line: str | None
    list_price: Decimal | None


class CsvProvider:
    """Deals from a CSV file, with optional products and owners files."""

    source = "csv"

    def __init__(
        self,
        deals_file: Path,
        owners_file: Path | None = None,
        products_file: Path | None = None,
        default_currency: str = "USD",
        timezone: str = "UTC",
    ) -> None:
        self.deals_file = deals_file
        self.owners_file = owners_file
        self.products_file = products_file
        self.default_currency = default_currency.upper()
        self.timezone = zoneinfo.ZoneInfo(timezone)

    def fetch_org(self) -> list[OrgPerson] | None:
        """None: with CSV files the org comes from `coachbot org import`."""
        return None

    def write_fields(self) -> tuple[str, ...]:
        """None: the csv export is read-only."""
        return ()

    def write_deal(self, crm_id: str, changes: Changes) -> None:
        """Always refused: the CSV export is read-only."""
        raise read_only(
            "The CSV export", "Change the deal in your CRM; the next export and `coachbot sync` bring the change here."
        )

    def read_deal(self, crm_id: str) -> CrmDeal:
        """Never asked (every write is refused), and refused the same way."""
        raise read_only(
            "The CSV export", "Change the deal in your CRM; the next export and `coachbot sync` bring the change here."
        )

    def product_lines(self) -> list[str]:
        """The product lines the products file names, sorted."""
        return sorted({product.line for product in self._catalogue().values() if product.line})

    def expected_total(self) -> int | None:
        """The number of data rows (non-blank lines after the header) in the deals file."""
        try:
            with self.deals_file.open("rb") as handle:
                lines = sum(1 for line in handle if line.strip())
        except OSError as exc:
            raise _unreadable(self.deals_file, exc, "CSV_DEALS_FILE") from None
        return max(lines - 1, 0)

    def fetch_deals(self, cursor: str | None) -> Iterator[DealPage]:
        """Every deal in the file, page by page; `cursor` is ignored, a CSV is always read whole."""
        catalogue = self._catalogue()
        owner_emails = self._owner_emails()
        # Bad bytes are kept as surrogates so that only the rows holding them are skipped.
        with _open(self.deals_file, "CSV_DEALS_FILE", errors="surrogateescape") as handle:
            reader = csv.DictReader(handle)
            columns = _match_columns(_header(reader, self.deals_file, "CSV_DEALS_FILE"), DEAL_COLUMNS)
            missing = [name for name in REQUIRED_DEAL_COLUMNS if name not in columns]
            if missing:
                raise CrmError(
                    f"{self.deals_file}: no "
                    + ", ".join(f"{name} column (or {', '.join(DEAL_COLUMNS[name])})" for name in missing)
                    + "; check CSV_DEALS_FILE",
                    setting="CSV_DEALS_FILE",
                )
            # The ids seen so far are the one thing kept across pages: duplicates can be anywhere.
            seen_ids: set[str] = set()
            dating = _ExportDating(lambda: self._export_date(columns))
            page, rows_in_page = DealPage(deals=[]), 0
            while True:
                row_id, previous_line = "", reader.line_num
                try:
                    row = next(reader)
                    # "replace": the reference must stay storable even when the id holds bad bytes.
                    row_id = _value(row, columns, "id").encode("utf-8", "replace").decode("utf-8")
                    deal, estimate = self._deal(row, columns, catalogue, owner_emails, dating)
                    if deal.crm_id in seen_ids:
                        raise SkipRecord("duplicate id")
                    seen_ids.add(deal.crm_id)
                    page.deals.append(deal)
                    if estimate:
                        page.estimated.setdefault(estimate, []).append(f"line {reader.line_num} (id {row_id})")
                    if deal.product_name and self.products_file and _normalise(deal.product_name) not in catalogue:
                        page.unknown_products[deal.product_name] += 1
                except StopIteration:
                    break
                except SkipRecord as exc:
                    where = f"line {reader.line_num}" + (f" (id {row_id})" if row_id else "")
                    page.skipped.setdefault(str(exc), []).append(where)
                except csv.Error:
                    # line_num is not reliable after a parse error; the record began after the last good one.
                    page.skipped.setdefault("unreadable CSV row", []).append(f"line {previous_line + 1}")
                rows_in_page += 1
                if rows_in_page == PAGE_SIZE:
                    yield page
                    page, rows_in_page = DealPage(deals=[]), 0
            if rows_in_page:
                yield page

    def _deal(
        self,
        row: Row,
        columns: dict[str, str],
        catalogue: dict[str, Product],
        owner_emails: dict[str, str],
        dating: _ExportDating,
    ) -> tuple[CrmDeal, str | None]:
        """The row's deal, and how its created date was estimated when the row has none (else None)."""
        values = "".join(value for value in row.values() if isinstance(value, str))
        try:
            values.encode("utf-8")
        except UnicodeEncodeError:
            raise SkipRecord("not valid UTF-8") from None
        if "\x00" in values:
            raise SkipRecord("NUL character")  # PostgreSQL refuses it in text columns
        if any(value.strip() for value in row.get(None) or ()):
            raise SkipRecord("too many columns")

        def text(name: str) -> str | None:
            value = _value(row, columns, name)
            limit = _MAX_LENGTH.get(name)
            if limit is not None and len(value) > limit:
                raise SkipRecord(f"{columns[name]} longer than {limit} characters")
            return value or None

        def parsed(name: str, parse: Callable[[str], T], what: str) -> T | None:
            value = text(name)
            if value is None:
                return None
            try:
                return parse(value)
            except (ValueError, OverflowError):
                raise SkipRecord(what.format(column=columns[name])) from None

        crm_id = text("id")
        if crm_id is None:
            raise SkipRecord("missing id")
        owner = text("owner")
        if owner is None:
            raise SkipRecord("missing owner")
        stage = text("stage")
        if stage is None:
            raise SkipRecord("missing stage")
        created_at = parsed("created", self._moment, "unreadable date in {column}")

        amount = parsed("amount", _decimal, "unreadable amount")
        if amount is not None and not 0 <= amount <= MAX_AMOUNT:
            raise SkipRecord("amount out of range")
        currency = parsed("currency", _currency, "unreadable currency") or self.default_currency
        close_date = parsed("close_date", self._date, "unreadable date in {column}")
        next_step_date = parsed("next_step_date", self._date, "unreadable date in {column}")
        last_activity_at = parsed("last_activity", self._moment, "unreadable date in {column}")
        stage_entered_at = parsed("stage_entered", self._moment, "unreadable date in {column}")
        probability = parsed("probability", _probability, "unreadable probability")
        is_closed = parsed("is_closed", _boolean, "unreadable yes/no in {column}")
        is_won = parsed("is_won", _boolean, "unreadable yes/no in {column}")

        product_name, product_line, account = text("product"), text("product_line"), text("account")
        product = catalogue.get(_normalise(product_name)) if product_name else None
        if product is not None:
            product_line = product.line or product_line
            if amount is None:
                amount = product.list_price

        estimate = None
        if created_at is None:
            created_at, estimate = self._estimated_created(columns, dating, stage_entered_at, last_activity_at, close_date)

        if "@" in owner:
            owner_email: str | None = owner.lower()
        else:
            owner_email = owner_emails.get(_person_key(owner))
        return CrmDeal(
            crm_id=crm_id,
            name=text("name") or " – ".join(part for part in (account, product_name) if part) or crm_id,
            owner_key=owner,
            owner_email=owner_email,
            stage=stage,
            created_at=created_at,
            amount=amount,
            currency=currency,
            is_closed=is_closed,
            is_won=is_won,
            crm_probability=probability,
            stage_entered_at=stage_entered_at,
            close_date=close_date,
            next_step=text("next_step"),
            next_step_date=next_step_date,
            last_activity_at=last_activity_at,
            product_name=product_name,
            product_line=product_line,
            account_name=account,
            crm_url=text("url"),
            stage_history=((stage, stage_entered_at),) if stage_entered_at else (),
        ), estimate

    def _estimated_created(
        self,
        columns: dict[str, str],
        dating: _ExportDating,
        stage_entered_at: dt.datetime | None,
        last_activity_at: dt.datetime | None,
        close_date: dt.date | None,
    ) -> tuple[dt.datetime, str]:
        """The best evidence of when an undated deal existed by: see "Deals without a created date" above."""
        exported_at, how = dating.get()
        closed = dt.datetime.combine(close_date, dt.time(), tzinfo=self.timezone).astimezone(dt.UTC) if close_date else None
        # A close date after the export is an expected one: no evidence that the deal existed then.
        evidence = [moment for moment in (stage_entered_at, last_activity_at, closed) if moment and moment <= exported_at]
        missing = f"no created date ({columns['created']})"
        if evidence:
            return min(evidence), f"{missing}: dated by the row's earliest other date"
        return exported_at, f"{missing}: dated {exported_at.astimezone(self.timezone):%Y-%m-%d}, {how}"

    def _export_date(self, columns: dict[str, str]) -> tuple[dt.datetime, str]:
        """When the export was taken, at the earliest: its newest recorded event, else the file's modification time."""
        newest: dt.datetime | None = None
        with _open(self.deals_file, "CSV_DEALS_FILE", errors="replace") as handle:
            reader = csv.DictReader(handle)
            try:
                for row in reader:
                    for name in ("created", "stage_entered", "last_activity"):
                        try:
                            moment = self._moment(_value(row, columns, name)) if _value(row, columns, name) else None
                        except (ValueError, OverflowError):
                            continue
                        if moment and (newest is None or moment > newest):
                            newest = moment
            except csv.Error:
                pass  # the rows read so far date the export; the main pass reports the bad record
        if newest is not None:
            return newest, "the newest date in the export"
        modified = dt.datetime.fromtimestamp(self.deals_file.stat().st_mtime, dt.UTC)
        return modified, "when the export file was last written"

    def _moment(self, value: str) -> dt.datetime:
        try:
            moment = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=self.timezone)
        except ValueError:
            moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.timezone)
        return moment.astimezone(dt.UTC)

    def _date(self, value: str) -> dt.date:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            moment = dt.datetime.fromisoformat(value)
        return moment.astimezone(self.timezone).date() if moment.tzinfo else moment.date()

    def _catalogue(self) -> dict[str, Product]:
        if self.products_file is None:
            return {}
        columns, rows = _read_small_file(self.products_file, PRODUCT_COLUMNS, "CSV_PRODUCTS_FILE")
        if "product" not in columns:
            raise CrmError(f"{self.products_file}: no product column; check CSV_PRODUCTS_FILE", "CSV_PRODUCTS_FILE")
        catalogue: dict[str, Product] = {}
        for line_number, row in rows:
            name = _value(row, columns, "product")
            price = _value(row, columns, "price")
            try:
                list_price = _decimal(price) if price else None
                if list_price is not None and not 0 <= list_price <= MAX_AMOUNT:
                    raise ValueError(price)
            except ValueError:
                raise CrmError(
                    f"{self.products_file} line {line_number}: unreadable price {price!r}", "CSV_PRODUCTS_FILE"
                ) from None
            if name:
                catalogue.setdefault(_normalise(name), Product(_value(row, columns, "line") or None, list_price))
        return catalogue

    def _owner_emails(self) -> dict[str, str]:
        if self.owners_file is None:
            return {}
        columns, rows = _read_small_file(self.owners_file, OWNER_COLUMNS, "CSV_OWNERS_FILE")
        if "email" not in columns:
            return {}  # a team list without emails, like Maven's sales_teams.csv
        if "owner" not in columns:
            raise CrmError(f"{self.owners_file}: no owner column; check CSV_OWNERS_FILE", "CSV_OWNERS_FILE")
        emails: dict[str, str] = {}
        for _, row in rows:
            owner, email = _value(row, columns, "owner"), _value(row, columns, "email")
            if owner and email:
                emails.setdefault(_person_key(owner), email.lower())
        return emails


def _open(path: Path, setting: str, errors: str = "strict") -> IO[str]:
    try:
        return path.open(encoding="utf-8-sig", errors=errors, newline="")
    except OSError as exc:
        raise _unreadable(path, exc, setting) from None


def _unreadable(path: Path, exc: OSError, setting: str) -> CrmError:
    return CrmError(f"{path}: cannot read the file ({exc.strerror or exc}); check {setting}", setting)


def _header(reader: csv.DictReader[str], path: Path, setting: str) -> list[str]:
    try:
        header = reader.fieldnames
    except (csv.Error, UnicodeDecodeError) as exc:
        raise CrmError(f"{path}: unreadable header row ({exc}); check {setting}", setting) from None
    if not header:
        raise CrmError(f"{path}: the file is empty, expected a header row; check {setting}", setting)
    return list(header)


def _read_small_file(
    path: Path, wanted: dict[str, tuple[str, ...]], setting: str
) -> tuple[dict[str, str], list[tuple[int, Row]]]:
    """The matched columns and the numbered rows of a products or owners file, read whole.

    Unlike a deals row, a problem in such a short, hand-kept file stops the sync: every deal
    depends on it.
    """
    with _open(path, setting) as handle:
        reader = csv.DictReader(handle)
        columns = _match_columns(_header(reader, path, setting), wanted)
        rows: list[tuple[int, Row]] = []
        try:
            for row in reader:
                rows.append((reader.line_num, row))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CrmError(f"{path} line {reader.line_num + 1}: unreadable ({exc}); check {setting}", setting) from None
    return columns, rows


def _match_columns(header: list[str], wanted: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Map each wanted column to the file's header for it, preferring the canonical name to aliases."""
    by_key: dict[str, str] = {}
    for name in header:
        by_key.setdefault(_normalise(name or ""), name)
    matched = {}
    for canonical, aliases in wanted.items():
        for candidate in (canonical, *aliases):
            if (actual := by_key.get(_normalise(candidate))) is not None:
                matched[canonical] = actual
                break
    return matched


def _value(row: Row, columns: dict[str, str], name: str) -> str:
    value = row.get(columns[name]) if name in columns else None
    return value.strip() if isinstance(value, str) else ""


def _normalise(name: str) -> str:
    return _IGNORED_IN_NAMES.sub("", name).casefold()


def _person_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _decimal(value: str) -> Decimal:
    if _GROUPED_NUMBER.fullmatch(value):
        value = value.replace(",", "")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(value) from None
    if not number.is_finite():
        raise ValueError(value)
    # Rounded here, before any range check, so 999999999999.995 cannot round past the column.
    return number.quantize(Decimal("0.01"))


def _currency(value: str) -> str:
    if len(value) != 3 or not (value.isascii() and value.isalpha()):
        raise ValueError(value)
    return value.upper()


def _probability(value: str) -> float:
    number = float(value.removesuffix("%"))
    if value.endswith("%") or number > 1:
        number /= 100
    if not 0 <= number <= 1:
        raise ValueError(value)
    return number


def _boolean(value: str) -> bool:
    try:
        return _BOOLEANS[value.casefold()]
    except KeyError:
        raise ValueError(value) from None
