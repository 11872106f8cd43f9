"""The `salesforce` CRM provider: Opportunities over the REST API, incrementally by SystemModstamp.

Settings: SALESFORCE_INSTANCE_URL (https://MyDomain.my.salesforce.com) and either
SALESFORCE_ACCESS_TOKEN (a bearer token, used as it is) or SALESFORCE_CLIENT_ID and
SALESFORCE_CLIENT_SECRET (a connected app with the client-credentials flow; the token comes from
SALESFORCE_TOKEN_URL, default <instance>/services/oauth2/token). SALESFORCE_API_VERSION picks the
REST version. CRM_FIELD_MAP overrides which Opportunity field feeds which deal field (FIELDS below);
currency, product_name, product_line and next_step_date are read only when mapped, because the
fields behind them (CurrencyIsoCode, custom fields) exist only in some orgs.

Each sync reads the users (owner emails) and stages (default probability, closed, won), then, when
incremental, the Opportunities deleted since the last sync, then the Opportunities ordered by
SystemModstamp, Id, one page per query batch, each page with its stage history.

The cursor holds two times: the latest SystemModstamp stored so far (the next sync reads from
CRM_SYNC_OVERLAP_SECONDS before it), and how far getDeleted has looked (`latestDateCovered` of its
last answer, or the start of the first full read). Each getDeleted window starts where the last
one's coverage ended, as Salesforce asks, so deletions in flight at a window's end are found by
the next one, and an org with nothing modified for weeks still has every deletion seen; only a
sync more than 14 days after the last (getDeleted keeps 15) warns that some may be missed.

Writing (the Update modal): PATCH {api}/sobjects/Opportunity/{id} with the mapped fields, answered
204; the opportunity is then read back with one query by Id. The integration user needs edit
access to the opportunity and field-level edit on each field (describe's `updateable`, which
`coachbot doctor` reads).

Salesforce answers no 429: a 403 REQUEST_LIMIT_EXCEEDED is either the org's daily allowance spent
(the sync stops, saying so) or too many long-running requests at once (retried with backoff).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from bot.crm import values
from bot.crm.base import CrmDeal, CrmError, DealPage, SkipRecord
from bot.crm.connector import HttpConnector, required
from bot.crm.http import CrmAuthError, CrmGarbageError, CrmHttpClient, CrmUnavailableError, RateLimiter
from bot.crm.values import BadValue
from bot.crm.writes import GENERAL, WRITABLE_FIELDS, Changes, WriteRefused, common_refusal, send_once, stage_names
from bot.settings import Settings

log = logging.getLogger(__name__)

# Deal field -> Opportunity field; CRM_FIELD_MAP entries replace or add to these.
FIELDS = {
    "name": "Name", "amount": "Amount", "stage": "StageName", "close_date": "CloseDate",
    "created_at": "CreatedDate", "crm_modified_at": "SystemModstamp", "next_step": "NextStep",
    "last_activity_at": "LastActivityDate", "owner": "OwnerId", "probability": "Probability",
    "is_closed": "IsClosed", "is_won": "IsWon", "account_name": "Account.Name",
}  # fmt: skip
OPTIONAL_FIELDS = ("currency", "product_name", "product_line", "next_step_date")
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")  # what may go into SOQL unquoted
_RECORD_ID = re.compile(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?")
# getDeleted answers for at most 15 days back (counted in days); a day less keeps clear of its edge.
_DELETED_LOOKBACK = dt.timedelta(days=14)
# ...and wants its start more than a minute before its end.
_DELETED_MIN_WINDOW = dt.timedelta(minutes=2)
# Where a user can fix what Salesforce refused: a field missing from the org, an API version it lacks.
_SETTING_FOR_ERROR = {"INVALID_FIELD": "CRM_FIELD_MAP", "NOT_FOUND": "SALESFORCE_API_VERSION"}
_MAX_STAGE = 100  # deals.stage and deal_stage_history.stage are VARCHAR(100): longer fails the page on PostgreSQL


class SalesforceApiError(CrmError):
    """Salesforce refused a request with one of its documented error codes (INVALID_FIELD, ...)."""

    def __init__(self, message: str, error_code: str, setting: str | None = None) -> None:
        super().__init__(message, setting)
        self.error_code = error_code


class SalesforceProvider(HttpConnector):
    """Opportunities from one Salesforce org."""

    source = "salesforce"

    def __init__(
        self,
        *,
        instance_url: str,
        api_version: str = "v60.0",
        access_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_url: str | None = None,
        field_map: dict[str, str] | None = None,
        default_currency: str = "USD",
        overlap_seconds: int = 60,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        page_size: int = 2000,
        calls_per_second: int = 20,
        clock: Callable[[], float] = time.monotonic,
        utc_now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.instance_url = instance_url.rstrip("/")
        self.api = f"/services/data/v{api_version.removeprefix('v')}"
        self.fields = _checked_fields({**FIELDS, **(field_map or {})})
        self.default_currency = default_currency.upper()
        self.overlap = dt.timedelta(seconds=overlap_seconds)
        # Salesforce serves 200..2000 records per query batch; each batch is one page for the sync.
        self.batch_header = {"Sforce-Query-Options": f"batchSize={min(max(page_size, 200), 2000)}"}
        self.method = "access token" if access_token else "client credentials"
        auth_setting = "SALESFORCE_ACCESS_TOKEN" if access_token else "SALESFORCE_CLIENT_ID/SALESFORCE_CLIENT_SECRET"
        self.client = CrmHttpClient(
            crm="Salesforce",
            base_url=self.instance_url,
            auth_setting=auth_setting,
            headers={"Accept": "application/json"},
            # Salesforce counts calls per day, not per second: this only keeps a big first sync polite.
            limiter=RateLimiter(calls_per_second, 1.0, clock=clock, sleep=sleep),
            transport=transport,
            sleep=sleep,
            # A given access token is used as it is, even when client credentials are set too.
            auth=_TokenAuth(
                access_token=access_token,
                token_url=token_url or f"{self.instance_url}/services/oauth2/token",
                credentials=None if access_token else {"client_id": client_id or "", "client_secret": client_secret or ""},
            ),
            response_hooks=[_raise_for_salesforce_error],
            transient=_concurrency_limit,
        )
        self._utc_now = utc_now
        self._history_available = True

    @classmethod
    def settings_options(cls, settings: Settings) -> dict[str, Any]:
        token, secret = settings.salesforce_access_token, settings.salesforce_client_secret
        required(settings.salesforce_instance_url, "SALESFORCE_INSTANCE_URL")
        if token is None and not (settings.salesforce_client_id and secret):
            message = "set SALESFORCE_ACCESS_TOKEN, or SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET"
            raise CrmError(message, setting="SALESFORCE_ACCESS_TOKEN")
        return {
            "instance_url": settings.salesforce_instance_url,
            "api_version": settings.salesforce_api_version,
            "access_token": token.get_secret_value() if token else None,
            "client_id": settings.salesforce_client_id,
            "client_secret": secret.get_secret_value() if secret else None,
            "token_url": settings.salesforce_token_url,
            "default_currency": settings.currency,
            "calls_per_second": settings.salesforce_requests_per_second,
        }

    # -- the provider protocol ----------------------------------------------------------------

    def product_lines(self) -> list[str]:
        """The distinct values of the mapped product-line field; [] when none is mapped."""
        prop = self.fields.get("product_line")
        if prop is None:
            return []
        # An aggregate result names a relationship field by its last part (Product2.Family -> Family).
        alias = prop.rsplit(".", 1)[-1]
        lines = set()
        for records in self._query(f"SELECT {prop} FROM Opportunity GROUP BY {prop}"):
            for record in records:
                line = values.text(record.get(alias) if isinstance(record, dict) else None, prop, 100)
                if line:
                    lines.add(line)
        return sorted(lines)

    def fetch_deals(self, cursor: str | None) -> Iterator[DealPage]:
        """Opportunities changed since `cursor` (all when None), one page per query batch."""
        position = _Cursor.read(cursor)
        started = self._utc_now()
        since = position.modified - self.overlap if position.modified else None
        emails = self._owner_emails()
        stages = self._stages()
        if since is None:
            # A full read finds every opportunity live when it began: later deletions are the next sync's.
            covered = started
        else:
            # First, before any page moves the cursor past the moment of a deletion. A cursor of an
            # earlier coachbot version knows no coverage: its modstamp is the best start there is.
            deleted, covered = self._deleted_since(position.deletions_covered or since, started)
            yield DealPage(deals=[], deleted_ids=deleted, cursor=_Cursor(position.modified, covered).text())
        where = f" WHERE SystemModstamp >= {_soql_datetime(since)}" if since is not None else ""
        latest = position.modified
        for records in self._query(
            f"SELECT {self._select} FROM Opportunity{where} ORDER BY SystemModstamp, Id", self.batch_header
        ):
            page, latest = self._page(records, emails, stages, latest)
            page.cursor = _Cursor(latest, covered).text()
            yield page

    def doctor(self) -> str:
        """One query proving the credentials and the field map, and the day's API allowance left."""
        soql = f"SELECT {self._select} FROM Opportunity ORDER BY SystemModstamp DESC LIMIT 1"
        response = self.client.request("GET", f"{self.api}/query", params={"q": soql})
        records = _records(_json(response), "the doctor query")
        latest = _modstamp(records[0]) if records else None
        found = f"latest change {latest:%Y-%m-%d %H:%M} UTC" if latest else "no opportunities yet"
        usage = re.search(r"api-usage=(\d+)/(\d+)", response.headers.get("Sforce-Limit-Info", ""))
        allowance = f"; {int(usage[2]) - int(usage[1]):,} of {int(usage[2]):,} daily API requests left" if usage else ""
        return f"{self.method} accepted, Opportunity fields readable ({found}){allowance}"

    # -- writing (the Update modal) -------------------------------------------------------------

    def write_fields(self) -> tuple[str, ...]:
        """The writable fields mapped to an Opportunity field of its own (Account.Name is another object's)."""
        return tuple(field for field in WRITABLE_FIELDS if "." not in self.fields.get(field, "."))

    def write_deal(self, crm_id: str, changes: Changes) -> None:
        """PATCH the opportunity's mapped fields; WriteRefused with Salesforce's errors by field."""
        if not _RECORD_ID.fullmatch(crm_id):
            raise WriteRefused("not_found", f"{crm_id[:40]!r} is not a Salesforce record id.")
        body: dict[str, Any] = {}
        if "stage" in changes and changes["stage"] is not None:
            names = stage_names(changes["stage"])
            # StageName is a picklist: the first name the org's stages know (an alias, maybe), else the
            # first name, for Salesforce to refuse by field.
            known = self._stages() if len(names) > 1 else {}
            changes = {**changes, "stage": next((name for name in names if name in known), names[0])}
        for field, value in changes.items():
            if field not in self.write_fields():
                raise WriteRefused(
                    "validation", f"coachbot cannot write {field} to Salesforce.", field_errors={field: "Not writable."}
                )
            body[self.fields[field]] = _salesforce_value(value)
        response = send_once(self.client, "PATCH", f"{self.api}/sobjects/Opportunity/{crm_id}", json=body)
        if response.status_code >= 300:
            raise self._refusal(response)

    def read_deal(self, crm_id: str) -> CrmDeal:
        """One opportunity, read as fetch_deals reads each (owner email, stage rules, history)."""
        emails, stages = self._owner_emails(), self._stages()
        records = next(self._query(f"SELECT {self._select} FROM Opportunity WHERE Id = '{crm_id}'"))
        page, _ = self._page(records, emails, stages, None)
        if not page.deals:
            raise CrmGarbageError(f"Salesforce answered opportunity {crm_id} with a record coachbot cannot read")
        return page.deals[0]

    def write_check(self) -> str:
        """Whether the integration user may edit each mapped field (describe's `updateable`); a CrmError naming those it may not."""
        updateable = self.describe_updateable()
        fields = [self.fields[name] for name in self.write_fields()]
        refused = [prop for prop in fields if not updateable.get(prop, False)]
        if refused:
            raise CrmError(
                f"Salesforce: the integration user may not edit {', '.join(refused)} (field-level security, or not a "
                "field of Opportunity): Update… cannot save those; give its profile or a permission set edit access",
                setting=self.client.auth_setting,
            )
        return (
            f"Salesforce: the integration user may edit {', '.join(fields)} (describe); "
            "record access (sharing) is checked per opportunity when Update… saves"
        )

    def describe_updateable(self) -> dict[str, bool]:
        """Opportunity field -> whether the integration user may edit it (describe's `updateable`)."""
        body = self.client.json("GET", f"{self.api}/sobjects/Opportunity/describe")
        described = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(described, list):
            raise CrmGarbageError("Salesforce answered describe of Opportunity without a list of fields")
        return {str(item.get("name")): item.get("updateable") is True for item in described if isinstance(item, dict)}

    def _refusal(self, response: httpx.Response) -> WriteRefused:
        try:
            errors = response.json()
        except ValueError:
            errors = None
        if not isinstance(errors, list) or not all(isinstance(error, dict) for error in errors):
            errors = []
        codes = [str(error.get("errorCode", "")) for error in errors]
        first = f"{codes[0]}: {errors[0].get('message', '')}" if errors else f"HTTP {response.status_code}"
        if "REQUEST_LIMIT_EXCEEDED" in codes:
            return WriteRefused(
                "rate_limited",
                f"Salesforce is limiting coachbot's API requests ({first}); try again later.",
            )
        if response.status_code == 403:
            return WriteRefused(
                "permission",
                f"Salesforce refused the change ({first}): the integration user behind {self.client.auth_setting} "
                "may not edit this opportunity (its profile, permission sets or sharing).",
            )
        refusal = common_refusal(self.client, response, permission="the integration user may not edit this opportunity")
        if refusal is not None:
            return refusal
        by_property = {prop: field for field, prop in self.fields.items()}
        field_errors: dict[str, str] = {}
        kind: Any = "validation"
        for code, error in zip(codes, errors):
            message = str(error.get("message", ""))
            if code == "INVALID_FIELD_FOR_INSERT_UPDATE":
                kind = "permission"
                message = f"Salesforce does not let coachbot's integration user edit this field (field-level security): {message}"
            elif code in ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "BAD_VALUE_FOR_RESTRICTED_PICKLIST"):
                message = f"Not a stage of this opportunity's sales process: {message}"
            named = [by_property.get(str(name), GENERAL) for name in error.get("fields") or ()] or [GENERAL]
            for field in named:
                field_errors[field] = f"{field_errors[field]} {message}" if field in field_errors else message
        return WriteRefused(kind, f"Salesforce refused the change ({first}).", field_errors=field_errors or {GENERAL: first})

    # -- reading ------------------------------------------------------------------------------

    @property
    def _select(self) -> str:
        return ", ".join(dict.fromkeys(["Id", "SystemModstamp", *self.fields.values()]))

    def _query(self, soql: str, headers: dict[str, str] | None = None) -> Iterator[list[Any]]:
        """Each batch of a SOQL query's records, following nextRecordsUrl until done."""
        url, params = f"{self.api}/query", {"q": soql}
        while True:
            body = self.client.json("GET", url, params=params, headers=headers)
            yield _records(body, f"a query on {soql.split(' FROM ', 1)[1].split(' ', 1)[0]}")
            if body.get("done") is True:
                return
            url, params = body.get("nextRecordsUrl"), {}
            # A path under this API, always: the bearer token must never be sent anywhere else.
            if not isinstance(url, str) or not url.startswith(f"{self.api}/query/"):
                raise CrmGarbageError(f"Salesforce answered a query with done=false and no usable nextRecordsUrl ({url!r})")

    def _owner_emails(self) -> dict[str, str]:
        emails = {}
        for records in self._query("SELECT Id, Email FROM User"):
            for record in records:
                with _reference_row("User"):
                    user_id, email = values.text(record["Id"], "Id"), values.text(record.get("Email"), "Email")
                if user_id and email:
                    emails[user_id] = email.lower()
        return emails

    def _stages(self) -> dict[str, tuple[float | None, bool | None, bool | None]]:
        """(probability 0..1, closed, won) by stage API name and by label."""
        stages = {}
        soql = "SELECT MasterLabel, ApiName, DefaultProbability, IsClosed, IsWon FROM OpportunityStage"
        for records in self._query(soql):
            for record in records:
                with _reference_row("OpportunityStage"):
                    percent = values.amount(record.get("DefaultProbability"), "DefaultProbability")
                    rule = (
                        values.probability(percent / 100, "DefaultProbability") if percent is not None else None,
                        values.boolean(record.get("IsClosed"), "IsClosed"),
                        values.boolean(record.get("IsWon"), "IsWon"),
                    )
                    names = {values.text(record.get("ApiName"), "ApiName"), values.text(record.get("MasterLabel"), "MasterLabel")}
                stages.update(dict.fromkeys(filter(None, names), rule))
        return stages

    def _deleted_since(self, start: dt.datetime, end: dt.datetime) -> tuple[list[str], dt.datetime]:
        """Opportunity ids deleted from `start` to `end`, and the latestDateCovered the next window starts from.

        `start` is where the last window's coverage ended, so syncs chain their windows however
        quiet the org: only a sync after more than the look-back can miss deletions, and says so.
        """
        if start < end - _DELETED_LOOKBACK:
            log.warning(
                "salesforce: the last sync is over %s ago; deletions before %s may be missed",
                _DELETED_LOOKBACK,
                end - _DELETED_LOOKBACK,
            )
        start = min(max(start, end - _DELETED_LOOKBACK), end - _DELETED_MIN_WINDOW)
        params = {"start": start.isoformat(timespec="seconds"), "end": end.isoformat(timespec="seconds")}
        body = self.client.json("GET", f"{self.api}/sobjects/Opportunity/deleted/", params=params)
        deleted = body.get("deletedRecords") if isinstance(body, dict) else None
        if not isinstance(deleted, list) or not all(isinstance(row, dict) and isinstance(row.get("id"), str) for row in deleted):
            raise CrmGarbageError("Salesforce answered the deleted-records request without a list of deletedRecords ids")
        try:
            covered = values.timestamp(body.get("latestDateCovered"), "latestDateCovered")
        except BadValue:
            covered = None
        if covered is None:
            raise CrmGarbageError("Salesforce answered the deleted-records request without a latestDateCovered")
        # Deletions still in flight at `end` are reported by a window that starts at latestDateCovered.
        return [row["id"] for row in deleted], covered

    def _page(
        self, records: list[Any], emails: dict[str, str], stages: dict[str, Any], latest: dt.datetime | None
    ) -> tuple[DealPage, dt.datetime | None]:
        stamps = [stamp for record in records if (stamp := _modstamp(record)) is not None]
        history = self._stage_history(min(stamps), max(stamps)) if stamps and self._history_available else {}
        page = DealPage(deals=[])
        for record in records:
            try:
                page.deals.append(self._deal(record, emails, stages, history))
            except SkipRecord as skip:
                crm_id = record.get("Id") if isinstance(record, dict) else None
                page.skipped.setdefault(str(skip), []).append(crm_id if isinstance(crm_id, str) else "(no Id)")
        latest = max([*stamps, *([latest] if latest else [])], default=None)
        return page, latest

    def _stage_history(self, first: dt.datetime, last: dt.datetime) -> dict[str, list[_Change | None]]:
        """(stage, entered_at) of the OpportunityHistory rows by opportunity id, for the opportunities modified
        in [first, last]; None for a row that cannot be read.

        A semi-join on the page's SystemModstamp range rather than a list of its ids: 2,000 ids
        would overrun the REST API's URI limit. Extra rows (ties at the edges) are ignored. Rows are
        read as each batch arrives, so a page holds two values per row rather than the batch's JSON.
        """
        upper = last.replace(microsecond=0) + dt.timedelta(seconds=1)
        soql = (
            "SELECT OpportunityId, StageName, CreatedDate FROM OpportunityHistory WHERE OpportunityId IN "
            f"(SELECT Id FROM Opportunity WHERE SystemModstamp >= {_soql_datetime(first)} "
            f"AND SystemModstamp < {_soql_datetime(upper)}) ORDER BY OpportunityId, CreatedDate"
        )
        rows: dict[str, list[_Change | None]] = {}
        try:
            for records in self._query(soql):
                for record in records:
                    opportunity_id = record.get("OpportunityId") if isinstance(record, dict) else None
                    rows.setdefault(opportunity_id if isinstance(opportunity_id, str) else "", []).append(_change(record))
        except SalesforceApiError as exc:
            if exc.error_code != "INVALID_TYPE":
                raise
            # Not every org or integration user may read OpportunityHistory: carry on without it.
            log.info("salesforce: OpportunityHistory is not available (%s); syncing without stage history", exc)
            self._history_available = False
            return {}
        return rows

    def _deal(
        self, record: Any, emails: dict[str, str], stages: dict[str, Any], history: dict[str, list[_Change | None]]
    ) -> CrmDeal:
        if not isinstance(record, dict):
            raise SkipRecord("not a record")

        def read(field: str, reader: Callable[[Any, str], Any]) -> Any:
            prop = self.fields.get(field)
            if prop is None:
                return None
            try:
                value: Any = record
                for part in prop.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                return reader(value, prop)
            except BadValue:
                raise SkipRecord(f"unreadable {prop}") from None

        crm_id = record.get("Id")
        if not isinstance(crm_id, str) or not _RECORD_ID.fullmatch(crm_id):
            raise SkipRecord("unreadable Id")
        stage = read("stage", values.text)
        if stage is None:
            raise SkipRecord(f"no {self.fields['stage']}")
        if len(stage) > _MAX_STAGE:
            raise SkipRecord(f"{self.fields['stage']} longer than {_MAX_STAGE} characters")
        created_at = read("created_at", values.timestamp)
        if created_at is None:
            raise SkipRecord(f"no {self.fields['created_at']}")
        currency = read("currency", values.text)
        if currency is not None and not (len(currency) == 3 and currency.isalpha()):
            raise SkipRecord(f"unreadable {self.fields['currency']}")
        percent = read("probability", values.amount)
        try:
            probability = values.probability(percent / 100, "Probability") if percent is not None else None
        except BadValue:
            raise SkipRecord(f"unreadable {self.fields['probability']}") from None
        stage_probability, stage_closed, stage_won = stages.get(stage, (None, None, None))
        is_closed = read("is_closed", values.boolean)
        is_closed = stage_closed if is_closed is None else is_closed
        is_won = read("is_won", values.boolean)
        owner = read("owner", values.text)
        entries = _entries(history.get(crm_id, ()))
        # The current stage was entered where its latest run in the history began.
        stage_entered_at = entries[-1][1] if entries and entries[-1][0] == stage else None
        return CrmDeal(
            crm_id=crm_id,
            name=read("name", lambda v, p: values.text(v, p, 500)) or crm_id,
            owner_key=owner,
            owner_email=emails.get(owner) if owner else None,
            stage=stage,
            created_at=created_at,
            amount=read("amount", values.amount),
            currency=(currency or self.default_currency).upper(),
            is_closed=is_closed,
            is_won=stage_won if is_won is None else is_won,
            crm_probability=stage_probability if probability is None else probability,
            stage_entered_at=stage_entered_at,
            close_date=read("close_date", values.date),
            closed_at=stage_entered_at if is_closed else None,
            next_step=read("next_step", values.text),
            next_step_date=read("next_step_date", values.date),
            last_activity_at=read("last_activity_at", values.timestamp),
            product_name=read("product_name", lambda v, p: values.text(v, p, 200)),
            product_line=read("product_line", lambda v, p: values.text(v, p, 100)),
            account_name=read("account_name", lambda v, p: values.text(v, p, 300)),
            crm_url=f"{self.instance_url}/lightning/r/Opportunity/{crm_id}/view",
            crm_modified_at=read("crm_modified_at", values.timestamp),
            stage_history=tuple(entries),
        )


@dataclass(frozen=True)
class _Cursor:
    """Where the next sync starts: the newest SystemModstamp stored, and how far getDeleted has looked."""

    modified: dt.datetime | None
    deletions_covered: dt.datetime | None = None

    @classmethod
    def read(cls, text: str | None) -> _Cursor:
        """The stored cursor; a bare time is an earlier version's (the modstamp alone); garbage starts afresh."""
        if text is None:
            return cls(None)
        try:
            stored = json.loads(text) if text.lstrip().startswith("{") else {"modified": text}
            return cls(
                values.timestamp(stored.get("modified"), "modified"),
                values.timestamp(stored.get("deletions_covered"), "deletions_covered"),
            )
        except (ValueError, AttributeError):  # BadValue and JSONDecodeError are ValueErrors
            log.warning("salesforce: stored cursor %r is unreadable; syncing everything", text[:80])
            return cls(None)

    def text(self) -> str:
        return json.dumps(
            {"modified": _cursor_time(self.modified), "deletions_covered": _cursor_time(self.deletions_covered)},
            separators=(",", ":"),
        )


def _cursor_time(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _checked_fields(fields: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(fields) - set(FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        known = ", ".join([*FIELDS, *OPTIONAL_FIELDS])
        raise CrmError(f"CRM_FIELD_MAP: no deal field {', '.join(unknown)} (known: {known})", setting="CRM_FIELD_MAP")
    # Field names go into SOQL as they are: nothing but names (and relationship paths) may.
    if bad := sorted(prop for prop in fields.values() if not _FIELD_NAME.fullmatch(prop)):
        raise CrmError(f"CRM_FIELD_MAP: {', '.join(bad)} is not a Salesforce field name", setting="CRM_FIELD_MAP")
    return fields


_Change = tuple[str, dt.datetime]  # (StageName, CreatedDate) of an OpportunityHistory row


def _change(row: Any) -> _Change | None:
    """An OpportunityHistory row's stage and time; None when either is unreadable."""
    try:
        stage = values.text(row.get("StageName"), "StageName")
        entered_at = values.timestamp(row.get("CreatedDate"), "CreatedDate")
    except (BadValue, AttributeError):
        return None
    if stage is None or entered_at is None or len(stage) > _MAX_STAGE:
        return None
    return stage, entered_at


def _entries(changes: Sequence[_Change | None]) -> list[_Change]:
    """Stage changes oldest first; rows for other changes (amount, close date) repeat the stage and are folded."""
    readable = [change for change in changes if change is not None]
    if len(readable) != len(changes):
        raise SkipRecord("unreadable OpportunityHistory")
    entries: list[_Change] = []
    for stage, entered_at in sorted(readable, key=lambda change: change[1]):
        if not entries or entries[-1][0] != stage:
            entries.append((stage, entered_at))
    return entries


@contextmanager
def _reference_row(what: str) -> Iterator[None]:
    """Users and stages inform every deal: an unreadable row stops the sync rather than mislead it."""
    try:
        yield
    except (BadValue, LookupError, TypeError, AttributeError) as exc:
        raise CrmGarbageError(f"Salesforce answered an unreadable {what} row ({exc})") from None


def _records(body: Any, what: str) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise CrmGarbageError(f"Salesforce answered {what} without a list of records")
    return body["records"]


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise CrmGarbageError(f"Salesforce answered {response.request.url.path} with something that is not JSON") from None


def _modstamp(record: Any) -> dt.datetime | None:
    try:
        return values.timestamp(record.get("SystemModstamp"), "SystemModstamp") if isinstance(record, dict) else None
    except BadValue:
        return None


def _salesforce_value(value: Any) -> Any:
    """A JSON value for an Opportunity field: dates as YYYY-MM-DD, currency as a number, null to clear."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _soql_datetime(moment: dt.datetime) -> str:
    # SOQL datetime literals are unquoted; dropping the fraction only widens a >= bound.
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _salesforce_error(response: httpx.Response) -> tuple[str, str] | None:
    """(errorCode, message) of Salesforce's error body, an array of {message, errorCode}; None for another shape."""
    response.read()
    try:
        errors = response.json()
        return str(errors[0]["errorCode"]), str(errors[0].get("message", ""))
    except (ValueError, LookupError, TypeError, AttributeError):
        return None


def _concurrency_limit(response: httpx.Response) -> str | None:
    """Why to retry a 403 that only says too many long-running requests run in the org right now."""
    if response.status_code != 403 or (error := _salesforce_error(response)) is None:
        return None
    code, message = error
    # "ConcurrentRequests (Concurrent API Requests) Limit exceeded", "ConcurrentPerOrgLongTxn Limit exceeded."
    return f"{code}: {message}" if code == "REQUEST_LIMIT_EXCEEDED" and "Concurrent" in message else None


def _raise_for_salesforce_error(response: httpx.Response) -> None:
    """Turn Salesforce's error codes into errors that say what to do, before the generic policy sees the status.

    A 403 is "this token may not", "the org has spent its daily API calls" or "too many
    long-running requests at once": only the first is about credentials, only the last passes
    by itself (the retry policy waits it out, see _concurrency_limit).
    """
    if response.status_code not in (400, 403, 404) or response.request.method == "PATCH":
        return  # a write reads its own refusals (update_deal): by field, never retried
    if (error := _salesforce_error(response)) is None:
        return  # not Salesforce's error shape (the token endpoint's, a proxy's): the generic policy decides
    code, message = error
    if _concurrency_limit(response):
        return
    if code == "REQUEST_LIMIT_EXCEEDED":
        usage = response.headers.get("Sforce-Limit-Info", "")
        raise CrmUnavailableError(
            f"Salesforce refused the request ({code}: {message}{'; ' + usage if usage else ''}): "
            "the org's daily API request limit is spent (it counts every integration over a rolling 24 hours, "
            "so calls free up gradually): the next scheduled sync tries again, or run `coachbot sync` in a few hours. "
            "Nothing was lost; the sync resumes from the last stored page."
        )
    if response.status_code == 403:
        return  # permissions: CrmHttpClient names the credentials setting
    setting = _SETTING_FOR_ERROR.get(code)
    hint = f"; check {setting}" if setting else ""
    raise SalesforceApiError(f"Salesforce answered {response.status_code} {code}: {message}{hint}", code, setting)


class _TokenAuth(httpx.Auth):
    """A bearer token; with client credentials, fetched on first use and fetched again once on a 401.

    An auth flow rather than catching CrmAuthError: the refresh and the retried request stay one
    logical request, so the rate limiter and the retry policy see it once, and a 429 or 5xx from
    the token endpoint is retried by the same policy as any other.
    """

    requires_response_body = True

    def __init__(self, *, access_token: str | None, token_url: str, credentials: dict[str, str] | None) -> None:
        self._token = access_token
        self._token_url = token_url
        self._credentials = credentials

    def __repr__(self) -> str:
        return f"_TokenAuth(token_url={self._token_url!r})"  # never the token or the secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None and self._credentials is not None:
            if not self._take_token((yield self._token_request())):
                return
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401 and self._credentials is not None:
            self._token = None
            if not self._take_token((yield self._token_request())):
                return
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request  # a second 401 goes back to CrmHttpClient, which names the settings

    def _token_request(self) -> httpx.Request:
        assert self._credentials is not None
        # A request built here carries no client timeout of its own: give it the connectors' one.
        return httpx.Request(
            "POST",
            self._token_url,
            data={"grant_type": "client_credentials", **self._credentials},
            headers={"Accept": "application/json"},
            extensions={"timeout": httpx.Timeout(30.0, connect=10.0).as_dict()},
        )

    def _take_token(self, response: httpx.Response) -> bool:
        """True with a new token; False to hand a 429/5xx back to the retry policy; raises otherwise."""
        if response.status_code == 429 or response.status_code >= 500:
            return False
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200:
            if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
                raise CrmGarbageError(f"Salesforce's token endpoint {self._token_url} answered without an access_token")
            self._token = body["access_token"]
            return True
        error = (
            f"{body.get('error')}: {body.get('error_description')}" if isinstance(body, dict) else f"HTTP {response.status_code}"
        )
        raise CrmAuthError(
            f"Salesforce refused the client credentials ({error}): check SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET, "
            "and that the connected app enables the client credentials flow with a Run As user",
            setting="SALESFORCE_CLIENT_ID/SALESFORCE_CLIENT_SECRET",
        )
