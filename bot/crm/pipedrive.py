"""The `pipedrive` CRM provider: deals from Pipedrive's API v2, read incrementally by update time.

What it reads, always with the API token in the `x-api-token` header (never in a URL, where
proxies and logs would keep it):

- GET /v1/users and /v1/users/me: owner emails, the company domain for deal links, and the token
  user's time zone (`timezone_name`), in which a closed deal's close_time gives its close date
  (COACHBOT_TIMEZONE when Pipedrive names none);
- GET /api/v2/stages: stage names (what the playbook matches) and their default probabilities;
- GET /api/v2/deals sorted by update_time and paged by cursor, every deal on the first sync and
  from the stored cursor minus CRM_SYNC_OVERLAP_SECONDS after that; deleted deals are listed too
  (`status=...,deleted`), so they reach the sync as deleted ids at no extra cost;
- GET /api/v2/deals/archived on incremental syncs: archiving hides a deal from /deals;
- GET /api/v2/activities?ids=...: API v2 dropped next_activity_date from the deal, so an open
  deal's next step (subject and due date) comes from its next activity, 100 deals a call;
- GET /api/v2/dealFields, only when CRM_FIELD_MAP names custom fields (for option labels).

What it writes (the Update modal): PATCH /api/v2/deals/{id} (title, value, expected_close_date,
stage_id within the deal's pipeline, mapped deal keys), and the next step as the deal's next
activity: PATCH /api/v2/activities/{id} (subject, due_date; done when the step is cleared), or
POST /api/v2/activities when the deal has none. The token's user needs edit rights on the deal.

CRM_FIELD_MAP (`field=key,...`) points a coachbot field at another deal key or at a custom field's
40-character hash: name (title), amount (value), currency (currency), created_at (add_time),
closed_at (close_time), close_date (expected_close_date; once closed, close_time's local day),
crm_modified_at (update_time), stage_entered_at (stage_change_time), next_step and next_step_date
(the next activity's subject and due date), and last_activity_at, product_line, product_name and
account_name (empty unless mapped). Stage and owner always come from stage_id and owner_id.
Custom fields with options (single or multiple choice) are stored as their labels.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeGuard

import httpx

from bot.crm import values
from bot.crm.base import CrmDeal, CrmError, DealPage, SkipRecord
from bot.crm.connector import HttpConnector, required
from bot.crm.http import CrmGarbageError, CrmHttpClient, RateLimiter
from bot.crm.values import BadValue
from bot.crm.writes import GENERAL, WRITABLE_FIELDS, Changes, WriteRefused, common_refusal, send_once, stage_names
from bot.periods import is_timezone
from bot.settings import Settings

log = logging.getLogger(__name__)

TOKEN_SETTING = "PIPEDRIVE_API_TOKEN"  # noqa: S105 - the setting's name, not a token
FIELD_MAP_SETTING = "CRM_FIELD_MAP"
# API tokens get 20 (Essential) to 120 (Enterprise) requests per 2-second window, and the token
# owner's own clicks in Pipedrive spend the same budget: the lowest plan's figure is safe on every plan.
DEFAULT_REQUESTS_PER_WINDOW = 20
RATE_WINDOW_SECONDS = 2.0
MAX_PAGE_SIZE = 500  # the API's ceiling for `limit`
ACTIVITY_IDS_PER_CALL = 100  # the API's ceiling for `ids`
DEAL_STATUSES = "open,won,lost,deleted"  # without `deleted` the API leaves deleted deals out

DEFAULT_FIELDS = {
    "name": "title", "amount": "value", "currency": "currency", "created_at": "add_time",
    "closed_at": "close_time", "close_date": "expected_close_date", "crm_modified_at": "update_time",
    "stage_entered_at": "stage_change_time",
}  # fmt: skip
ACTIVITY_FIELDS = ("next_step", "next_step_date")
# last_activity_at too: it would cost another activity lookup per deal, and coaching does not use it.
OPTIONAL_FIELDS = ("last_activity_at", "product_line", "product_name", "account_name")
MAPPABLE_FIELDS = (*DEFAULT_FIELDS, *ACTIVITY_FIELDS, *OPTIONAL_FIELDS)
_CUSTOM_FIELD_KEY = re.compile(r"[0-9a-f]{40}")
_CURRENCY = re.compile(r"[A-Za-z]{3}")


@dataclass(frozen=True)
class _Directory:
    """What turns deal ids into names, read once per sync."""

    owner_emails: dict[int, str]
    stages: dict[int, tuple[str, Any]]  # stage id -> (name, deal_probability in percent)
    company_domain: str | None
    # Whose day a close_time falls on: the token user's time zone, else COACHBOT_TIMEZONE.
    timezone: zoneinfo.ZoneInfo


class PipedriveProvider(HttpConnector):
    """Deals from one Pipedrive company, read with an API token."""

    source = "pipedrive"

    def __init__(
        self,
        *,
        api_token: str,
        base_url: str = "https://api.pipedrive.com",
        field_map: Mapping[str, str] | None = None,
        overlap_seconds: int = 60,
        page_size: int = MAX_PAGE_SIZE,
        requests_per_window: int = DEFAULT_REQUESTS_PER_WINDOW,
        timezone: str = "UTC",
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        overrides = dict(field_map or {})
        unknown = sorted(set(overrides) - set(MAPPABLE_FIELDS))
        if unknown:
            raise CrmError(
                f"{FIELD_MAP_SETTING}: Pipedrive cannot map {', '.join(unknown)}; "
                f"the fields it can map are {', '.join(MAPPABLE_FIELDS)}",
                setting=FIELD_MAP_SETTING,
            )
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {page_size}")
        self.overrides = overrides
        self.fields = {**DEFAULT_FIELDS, **overrides}
        self.overlap = dt.timedelta(seconds=overlap_seconds)
        self.page_size = page_size
        self.timezone = zoneinfo.ZoneInfo(timezone)
        self.client = CrmHttpClient(
            crm="Pipedrive",
            base_url=base_url,
            auth_setting=TOKEN_SETTING,
            headers={"x-api-token": api_token, "Accept": "application/json"},
            limiter=RateLimiter(requests_per_window, RATE_WINDOW_SECONDS, clock=clock, sleep=sleep),
            transport=transport,
            sleep=sleep,
        )
        # Activities are read only for the activity fields CRM_FIELD_MAP leaves to them.
        self._reads_activities = any(name not in overrides for name in ACTIVITY_FIELDS)
        self._options: dict[str, dict[int, str]] | None = None

    @classmethod
    def settings_options(cls, settings: Settings) -> dict[str, Any]:
        token = required(settings.pipedrive_api_token, TOKEN_SETTING)
        return {
            "api_token": token.get_secret_value(),
            "base_url": settings.pipedrive_api_url,
            "requests_per_window": settings.pipedrive_requests_per_2s,
            "timezone": settings.timezone,
        }

    def product_lines(self) -> list[str]:
        """The options of the custom field CRM_FIELD_MAP maps product_line to, if it has options."""
        key = self.fields.get("product_line")
        labels = self._field_options().get(key, {}) if key else {}
        return sorted(set(labels.values()))

    def doctor(self) -> str:
        """One cheap call (GET /v1/users/me): whose token it is, in which company."""
        me = self._body("/v1/users/me")["data"]
        if not isinstance(me, dict):
            raise CrmGarbageError("Pipedrive answered GET /v1/users/me without a user")
        domain = me.get("company_domain")
        where = f"{domain}.pipedrive.com" if domain else "no company domain"
        return f"Pipedrive company {me.get('company_name')} ({where}), API token of {me.get('name')} <{me.get('email')}>"

    def fetch_deals(self, cursor: str | None) -> Iterator[DealPage]:
        """Deals updated since `cursor` minus the overlap (every deal when None), oldest change first.

        Each page's cursor is the latest update_time read so far, so a sync that stops resumes
        after the last page it stored.
        """
        since = self._since(cursor)
        directory = self._directory()
        high_water = _moment(cursor)
        params = {"sort_by": "update_time", "sort_direction": "asc", "status": DEAL_STATUSES}
        if since is not None:
            params["updated_since"] = _rfc3339(since)
        if self._reads_activities:
            params["include_fields"] = "next_activity_id"
        custom_keys = self._custom_keys()
        if custom_keys:
            # Only the mapped custom fields: a company can have hundreds, and each rides on every deal.
            params["custom_fields"] = ",".join(custom_keys)
        for records in self._pages("/api/v2/deals", params):
            page, latest = self._page(records, directory)
            if latest is not None and (high_water is None or latest > high_water):
                high_water = latest
            page.cursor = _rfc3339(high_water) if high_water else cursor
            yield page
        if since is not None:
            archived = self._archived_ids(since)
            if archived:
                # The main listing's high water mark, not the archived deals' times: a deal changed
                # while this pass ran must still be after the cursor next time.
                yield DealPage(deals=[], deleted_ids=archived, cursor=_rfc3339(high_water) if high_water else cursor)

    # -- writing (the Update modal) -------------------------------------------------------------

    def write_fields(self) -> tuple[str, ...]:
        """Stage, the deal keys the fields map to (not custom fields, whose options would need ids), the next activity."""
        writable = []
        for name in WRITABLE_FIELDS:
            key = self.fields.get(name)
            if name == "stage" or (name in ACTIVITY_FIELDS and name not in self.overrides):
                writable.append(name)
            elif key is not None and not _CUSTOM_FIELD_KEY.fullmatch(key):
                writable.append(name)
        return tuple(writable)

    def write_check(self) -> str:
        """What can be said of writes: an API token has no scopes, its user's rights decide (checked per deal)."""
        me = self._body("/v1/users/me")["data"]
        who = f"{me.get('name')} <{me.get('email')}>" if isinstance(me, dict) else "the token's user"
        return (
            f"Pipedrive: API tokens carry no scopes; Update… saves where {who} may edit the deal "
            "(their permission set and the deal's visibility), and shows Pipedrive's refusal where not"
        )

    def write_deal(self, crm_id: str, changes: Changes) -> None:
        """PATCH the deal and write its next activity; WriteRefused when Pipedrive refuses."""
        if not crm_id.isdigit():
            raise WriteRefused("not_found", f"Pipedrive deal ids are numbers; {crm_id[:40]!r} is not one.")
        record = self._deal_record(crm_id)
        deal_body: dict[str, Any] = {}
        activity_body: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in self.write_fields():
                raise WriteRefused(
                    "validation", f"coachbot cannot write {name} to Pipedrive.", field_errors={name: "Not writable."}
                )
            if name == "stage":
                deal_body["stage_id"] = self._stage_id(stage_names(value), record.get("pipeline_id"))
            elif name in ACTIVITY_FIELDS and name not in self.overrides:
                activity_body["subject" if name == "next_step" else "due_date"] = _pipedrive_value(value)
            else:
                deal_body[self.fields[name]] = _pipedrive_value(value)
        if deal_body:
            self._send("PATCH", f"/api/v2/deals/{crm_id}", deal_body, list(changes))
        if activity_body:
            try:
                self._write_activity(record, activity_body)
            except WriteRefused as refused:
                if deal_body:
                    refused.field_errors[GENERAL] = (
                        f"{refused.field_errors.get(GENERAL, str(refused))} The other fields were saved."
                    ).strip()
                raise

    def read_deal(self, crm_id: str) -> CrmDeal:
        """One deal, read as fetch_deals reads each (owner, stage name, next activity)."""
        directory = self._directory()
        page, _ = self._page([self._deal_record(crm_id)], directory)
        if not page.deals:
            reason = next(iter(page.skipped), "deleted") if page.skipped else "deleted"
            raise WriteRefused("not_found", f"Pipedrive deal {crm_id} cannot be read back ({reason}).")
        return page.deals[0]

    def _deal_record(self, crm_id: str) -> dict[str, Any]:
        params: dict[str, str] = {"include_fields": "next_activity_id"}
        if custom_keys := self._custom_keys():
            params["custom_fields"] = ",".join(custom_keys)
        response = send_once(self.client, "GET", f"/api/v2/deals/{crm_id}", params=params)
        if response.status_code >= 400:
            raise self._refusal(response, [])
        body = _response_json(response)
        record = body.get("data") if isinstance(body, dict) else None
        if not isinstance(record, dict) or not _is_id(record.get("id")):
            raise WriteRefused("unavailable", f"Pipedrive answered GET /api/v2/deals/{crm_id} without a deal.")
        return record

    def _stage_id(self, names: tuple[str, ...], pipeline_id: Any) -> int:
        """The id of the first of `names` that is a stage of the deal's pipeline (a stage id also sets the pipeline)."""
        wanted = [name.casefold() for name in names]
        here: dict[str, int] = {}
        elsewhere = False
        for records in self._pages("/api/v2/stages", {}):
            for stage in records:
                name = str(stage.get("name", "")).strip().casefold() if isinstance(stage, dict) else ""
                if name in wanted:
                    if stage.get("pipeline_id") == pipeline_id and _is_id(stage.get("id")):
                        here.setdefault(name, stage["id"])
                    else:
                        elsewhere = True
        if found := next((here[name] for name in wanted if name in here), None):
            return found
        why = (
            f"“{names[0]}” is a stage of another pipeline, not this deal's."
            if elsewhere
            else f"This deal's pipeline has no stage “{names[0]}”."
        )
        raise WriteRefused("validation", why, field_errors={"stage": why})

    def _write_activity(self, record: dict[str, Any], body: dict[str, Any]) -> None:
        activity_id = record.get("next_activity_id")
        fields = ["next_step", "next_step_date"]
        if "subject" in body and body["subject"] is None:
            body = {"done": True}  # a cleared next step: the activity is done, the deal has no next step
        if _is_id(activity_id):
            self._send("PATCH", f"/api/v2/activities/{activity_id}", body, fields)
        elif body.get("done") is not True:
            self._send("POST", "/api/v2/activities", {**body, "deal_id": record["id"]}, fields)

    def _send(self, method: str, path: str, body: dict[str, Any], fields: list[str]) -> None:
        response = send_once(self.client, method, path, json=body)
        if response.status_code >= 400:
            raise self._refusal(response, fields)
        answer = _response_json(response)
        if not isinstance(answer, dict) or answer.get("success") is not True:
            raise WriteRefused("unavailable", f"Pipedrive answered {method} {path} without success; check the deal in Pipedrive.")

    def _refusal(self, response: httpx.Response, fields: list[str]) -> WriteRefused:
        body = _response_json(response)
        error = str(body.get("error") or "") if isinstance(body, dict) else ""
        info = str(body.get("error_info") or "") if isinstance(body, dict) else ""
        refusal = common_refusal(
            self.client, response,
            permission="the Pipedrive user whose API token coachbot uses may not edit this deal "
            f"(their permission set, or the deal's visibility){': ' + error if error else ''}",
        )  # fmt: skip
        if refusal is not None:
            return refusal
        message = error or f"Pipedrive answered {response.status_code}"
        named = {
            name
            for name in fields
            if self.fields.get(name, name) in f"{error} {info}" or (name == "stage" and "stage_id" in error)
        }
        field_errors = dict.fromkeys(named, message) if named else {GENERAL: message}
        return WriteRefused("validation", f"Pipedrive refused the change: {message}", field_errors=field_errors)

    # -- reading -----------------------------------------------------------------------------

    def _page(self, records: list[Any], directory: _Directory) -> tuple[DealPage, dt.datetime | None]:
        page = DealPage(deals=[])
        latest: dt.datetime | None = None
        activities = self._activities(records) if self._reads_activities else {}
        for position, record in enumerate(records, start=1):
            if not isinstance(record, dict) or not _is_id(record.get("id")):
                page.skipped.setdefault("record without a deal id", []).append(f"record {position} of a page")
                continue
            try:
                updated = values.timestamp(record.get("update_time"), "update_time")
                if updated is not None and (latest is None or updated > latest):
                    latest = updated
                if record.get("is_deleted") is True or record.get("status") == "deleted":
                    page.deleted_ids.append(str(record["id"]))
                else:
                    page.deals.append(self._deal(record, directory, activities))
            except BadValue as exc:
                # values.py's messages start with the field: "value: 'lots' is not a number".
                page.skipped.setdefault(f"unreadable {str(exc).split(':', 1)[0]}", []).append(f"deal {record['id']}")
            except SkipRecord as exc:
                page.skipped.setdefault(str(exc), []).append(f"deal {record['id']}")
        return page, latest

    def _deal(self, record: dict[str, Any], directory: _Directory, activities: dict[int, dict[str, Any]]) -> CrmDeal:
        deal_id = record["id"]
        status = record.get("status")
        if status not in ("open", "won", "lost"):
            raise SkipRecord("status is not open, won or lost")
        closed = status != "open"
        next_activity_id = record.get("next_activity_id")
        next_activity = (activities.get(next_activity_id) if _is_id(next_activity_id) else None) or {}
        derived = {"next_step": next_activity.get("subject"), "next_step_date": next_activity.get("due_date")}

        def raw(name: str) -> Any:
            if name in self.fields:
                return self._lookup(record, self.fields[name])
            return derived.get(name)

        created_at = values.timestamp(raw("created_at"), self.fields["created_at"])
        if created_at is None:
            raise SkipRecord(f"no creation time ({self.fields['created_at']})")
        stage_id = record.get("stage_id")
        if not _is_id(stage_id):
            raise BadValue(f"stage_id: {stage_id!r} is not a stage id")
        # A stage the stages list does not know keeps the deal, reported by the sync as an unknown stage.
        stage_name, stage_percent = directory.stages.get(stage_id, (f"stage {stage_id}", None))
        owner_id = record.get("owner_id")
        if owner_id is not None and not _is_id(owner_id):
            raise BadValue(f"owner_id: {owner_id!r} is not a user id")
        percent = record.get("probability")
        percent = values.amount(stage_percent if percent is None else percent, "probability")
        close_date = values.date(raw("close_date"), self.fields["close_date"])
        if closed and "close_date" not in self.overrides:
            # close_time is UTC; the close day is the one the company saw, in its time zone (v1's
            # local_close_date, which API v2 no longer sends).
            close_time = values.timestamp(record.get("close_time"), "close_time")
            close_date = close_time.astimezone(directory.timezone).date() if close_time else close_date
        return CrmDeal(
            crm_id=str(deal_id),
            name=values.text(raw("name"), self.fields["name"], 500) or f"Deal {deal_id}",
            owner_key=str(owner_id) if owner_id is not None else None,
            owner_email=directory.owner_emails.get(owner_id) if owner_id is not None else None,
            stage=stage_name,
            created_at=created_at,
            amount=values.amount(raw("amount"), self.fields["amount"]),
            currency=_currency(raw("currency"), self.fields["currency"]),
            is_closed=closed,
            is_won=status == "won",
            crm_probability=values.probability(percent / 100, "probability") if percent is not None else None,
            stage_entered_at=values.timestamp(raw("stage_entered_at"), self.fields["stage_entered_at"]) or created_at,
            close_date=close_date,
            closed_at=values.timestamp(raw("closed_at"), self.fields["closed_at"]) if closed else None,
            next_step=values.text(raw("next_step"), self.fields.get("next_step", "next activity subject")),
            next_step_date=values.date(raw("next_step_date"), self.fields.get("next_step_date", "next activity due_date")),
            last_activity_at=values.timestamp(raw("last_activity_at"), "last_activity_at"),
            product_name=values.text(raw("product_name"), "product_name", 200),
            product_line=values.text(raw("product_line"), "product_line", 100),
            account_name=values.text(raw("account_name"), "account_name", 300),
            crm_url=f"https://{directory.company_domain}.pipedrive.com/deal/{deal_id}" if directory.company_domain else None,
            crm_modified_at=values.timestamp(raw("crm_modified_at"), self.fields["crm_modified_at"]),
        )

    def _lookup(self, record: dict[str, Any], key: str) -> Any:
        """A deal key's value, or a custom field's, with option ids turned into their labels."""
        if key in record:
            return record[key]
        custom = record.get("custom_fields")
        value = custom.get(key) if isinstance(custom, dict) else None
        if isinstance(value, dict):
            # Money, date ranges and addresses are {"value": ..., "currency"/"until"/...: ...}.
            value = value.get("value")
        labels = self._field_options().get(key)
        if labels and value is not None:
            chosen = value if isinstance(value, list) else [value]
            if not all(isinstance(option, int) and option in labels for option in chosen):
                raise BadValue(f"{key}: {str(value)[:40]!r} is not one of the field's options")
            value = ", ".join(labels[option] for option in chosen)
        return value

    def _activities(self, records: Iterable[Any]) -> dict[int, dict[str, Any]]:
        """The next activities of a page's open deals, by id, in calls of up to 100 ids.

        Closed deals are left out: their leftover activities are no one's next step.
        """
        wanted = sorted(
            {
                record["next_activity_id"]
                for record in records
                if isinstance(record, dict) and record.get("status") == "open" and _is_id(record.get("next_activity_id"))
            }
        )
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(wanted), ACTIVITY_IDS_PER_CALL):
            chunk = wanted[start : start + ACTIVITY_IDS_PER_CALL]
            params = {"ids": ",".join(map(str, chunk)), "limit": ACTIVITY_IDS_PER_CALL}
            for activity in _list_data(self._body("/api/v2/activities", params), "/api/v2/activities"):
                if isinstance(activity, dict) and _is_id(activity.get("id")):
                    found[activity["id"]] = activity
        return found

    def _archived_ids(self, since: dt.datetime) -> list[str]:
        params = {"updated_since": _rfc3339(since), "sort_by": "update_time", "sort_direction": "asc"}
        return [
            str(record["id"])
            for records in self._pages("/api/v2/deals/archived", params)
            for record in records
            if isinstance(record, dict) and _is_id(record.get("id"))
        ]

    def _directory(self) -> _Directory:
        users = _list_data(self._body("/v1/users"), "/v1/users")
        owner_emails = {
            user["id"]: user["email"]
            for user in users
            if isinstance(user, dict) and _is_id(user.get("id")) and isinstance(user.get("email"), str)
        }
        stages: dict[int, tuple[str, Any]] = {}
        for records in self._pages("/api/v2/stages", {}):
            for stage in records:
                if isinstance(stage, dict) and _is_id(stage.get("id")) and isinstance(stage.get("name"), str):
                    stages[stage["id"]] = (stage["name"].strip()[:100], stage.get("deal_probability"))
        me = self._body("/v1/users/me")["data"]
        me = me if isinstance(me, dict) else {}
        domain = me.get("company_domain")
        return _Directory(owner_emails, stages, domain if isinstance(domain, str) and domain else None, self._zone(me))

    def _zone(self, me: dict[str, Any]) -> zoneinfo.ZoneInfo:
        """The time zone Pipedrive keeps for the token's user (`timezone_name`); COACHBOT_TIMEZONE without one.

        Pipedrive has no company-wide zone: each user has one, and the token's user (an admin, as
        a rule) is the company's view of its calendar.
        """
        name = me.get("timezone_name")
        if isinstance(name, str) and is_timezone(name):
            return zoneinfo.ZoneInfo(name)
        if name:
            log.warning("pipedrive: the token user's time zone %r is unknown; close dates use COACHBOT_TIMEZONE", str(name)[:60])
        return self.timezone

    def _custom_keys(self) -> list[str]:
        return sorted({key for key in self.overrides.values() if _CUSTOM_FIELD_KEY.fullmatch(key)})

    def _field_options(self) -> dict[str, dict[int, str]]:
        """Option labels of the mapped custom fields; a mapped hash Pipedrive does not know is an error."""
        if self._options is None:
            keys = set(self._custom_keys())
            found: dict[str, dict[int, str]] = {}
            if keys:
                for records in self._pages("/api/v2/dealFields", {}):
                    for deal_field in records:
                        if isinstance(deal_field, dict) and deal_field.get("field_code") in keys:
                            options = deal_field.get("options") or []
                            found[deal_field["field_code"]] = {
                                option["id"]: str(option.get("label"))
                                for option in options
                                if isinstance(option, dict) and isinstance(option.get("id"), int)
                            }
            missing = sorted(keys - set(found))
            if missing:
                raise CrmError(
                    f"{FIELD_MAP_SETTING}: Pipedrive has no deal field {', '.join(missing)}", setting=FIELD_MAP_SETTING
                )
            self._options = found
        return self._options

    # -- HTTP --------------------------------------------------------------------------------

    def _body(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body = self.client.json("GET", path, params=params)
        if not isinstance(body, dict) or body.get("success") is not True or "data" not in body:
            error = body.get("error") if isinstance(body, dict) else None
            raise CrmGarbageError(f"Pipedrive answered GET {path} without data" + (f" ({error})" if error else ""))
        return body

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[list[Any]]:
        next_cursor: str | None = None
        while True:
            query = {**params, "limit": self.page_size}
            if next_cursor:
                query["cursor"] = next_cursor
            body = self._body(path, query)
            yield _list_data(body, path)
            additional = body.get("additional_data")
            next_cursor = additional.get("next_cursor") if isinstance(additional, dict) else None
            if not next_cursor:
                return
            if not isinstance(next_cursor, str):
                raise CrmGarbageError(f"Pipedrive answered GET {path} with a next_cursor that is not text")

    def _since(self, cursor: str | None) -> dt.datetime | None:
        if cursor is None:
            return None
        moment = _moment(cursor)
        if moment is None:
            log.warning("pipedrive: stored cursor %r is not a time; reading every deal", cursor[:40])
            return None
        return moment - self.overlap


def _pipedrive_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _response_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _list_data(body: dict[str, Any], path: str) -> list[Any]:
    data = body["data"]
    if data is None:
        return []  # an empty list, the way v1 endpoints say it
    if not isinstance(data, list):
        raise CrmGarbageError(f"Pipedrive answered GET {path} with data that is not a list")
    return data


def _currency(value: Any, field: str) -> str | None:
    code = values.text(value, field, 10)
    if code is not None and not _CURRENCY.fullmatch(code):
        raise BadValue(f"{field}: {code!r} is not a three-letter currency code")
    return code.upper() if code else None


def _is_id(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _moment(cursor: str | None) -> dt.datetime | None:
    try:
        return values.timestamp(cursor, "cursor")
    except BadValue:
        return None


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
