"""The `hubspot` CRM provider: deals from HubSpot's CRM v3 API with a private app token.

What it reads (the token needs the crm.objects.deals.read and crm.objects.owners.read scopes):

- Deals: POST /crm/v3/objects/deals/search, oldest change first (hs_lastmodifieddate ascending).
- Owners: GET /crm/v3/owners, active and deactivated, for each deal owner's email.
- Pipelines: GET /crm/v3/pipelines/deals, for each stage's label, probability and closed flag.
- Archived deals: GET /crm/v3/objects/deals?archived=true, reported as deleted.

Paging is by key, never by `after`: each search asks again for "modified at or after the newest
change seen", skipping the deals already yielded at that very millisecond. HubSpot's `after` is an
offset into a result list that shifts whenever a deal is edited mid-sync (silently skipping one
deal per edit), and the search stops at 10,000 results; keyed paging avoids both. More than a
page of deals sharing one millisecond (bulk imports, workflows) are walked by object id.

What it writes (the Update modal; the token then needs crm.objects.deals.write too): PATCH
/crm/v3/objects/deals/{id} with {"properties": {...}}, the same properties the fields are read from;
a stage is written as its id in the deal's own pipeline. The deal is then read back with GET
/crm/v3/objects/deals/{id}.

Deal properties feed coachbot's fields as DEFAULT_PROPERTIES says; CRM_FIELD_MAP changes or adds
to that ("product_line=product_family,next_step_date=next_step_date"). A deal with a value of the
wrong shape is skipped with its id ("unreadable amount": ["deal 123"]), never the whole sync.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import time
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from bot.crm import values
from bot.crm.base import CrmDeal, CrmError, DealPage, SkipRecord
from bot.crm.connector import HttpConnector, required
from bot.crm.http import CrmGarbageError, CrmHttpClient, RateLimiter
from bot.crm.writes import (
    GENERAL,
    WRITABLE_FIELDS,
    Changes,
    WriteRefused,
    amount_text,
    common_refusal,
    send_once,
    stage_names,
)
from bot.settings import Settings

log = logging.getLogger(__name__)

SEARCH_PATH = "/crm/v3/objects/deals/search"
# HubSpot's private-apps guide: POST {"tokenKey": ...} answers the token's scopes (no OpenAPI file covers it).
TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"  # noqa: S105 - a path, not a token
WRITE_SCOPE = "crm.objects.deals.write"
MODIFIED = "hs_lastmodifieddate"
TOKEN_SETTING = "HUBSPOT_TOKEN"  # noqa: S105 - the setting's name, not a token
SEARCH_PAGE_SIZE = 200  # the v3 search's largest `limit` (PublicObjectSearchRequest: "up to 200 objects")
LIST_PAGE_SIZE = 100  # GET list endpoints (owners, archived deals) serve at most 100 a page
# HubSpot allows about 4 search requests a second per token and more for other endpoints, so one
# limiter at the search rate (HUBSPOT_REQUESTS_PER_SECOND) keeps every call within bounds.

# coachbot field -> HubSpot deal property.
DEFAULT_PROPERTIES = {
    "name": "dealname",
    "amount": "amount",
    "currency": "deal_currency_code",
    "stage": "dealstage",
    "close_date": "closedate",
    "created_at": "createdate",
    "next_step": "hs_next_step",
    "last_activity_at": "notes_last_updated",
    "owner": "hubspot_owner_id",
    "crm_modified_at": MODIFIED,
}
# Fields HubSpot has no standard property for; CRM_FIELD_MAP may name one.
OPTIONAL_FIELDS = ("product_line", "product_name", "account_name", "next_step_date", "closed_at")
# When a deal entered each stage: hs_v2_* replaced hs_date_entered_* in 2024; older accounts may
# have only the latter. Asking for a property an account lacks is harmless.
ENTERED_PREFIXES = ("hs_v2_date_entered_", "hs_date_entered_")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Stage:
    label: str
    probability: float | None
    is_closed: bool | None


class HubSpotProvider(HttpConnector):
    """Deals, owners and stages from one HubSpot account."""

    source = "hubspot"

    def __init__(
        self,
        *,
        token: str,
        base_url: str = "https://api.hubapi.com",
        field_map: Mapping[str, str] | None = None,
        overlap_seconds: int = 60,
        timezone: str = "UTC",
        page_size: int = SEARCH_PAGE_SIZE,
        requests_per_second: int = 4,
        portal_id: str | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.properties = field_properties(field_map or {})
        self.portal_id = portal_id
        self.overlap_ms = overlap_seconds * 1000
        self.timezone = zoneinfo.ZoneInfo(timezone)
        self.page_size = max(1, min(page_size, SEARCH_PAGE_SIZE))
        self.client = CrmHttpClient(
            crm="HubSpot",
            base_url=base_url,
            auth_setting=TOKEN_SETTING,
            headers={"Authorization": f"Bearer {token}"},
            limiter=RateLimiter(requests_per_second, 1.0, clock=clock, sleep=sleep),
            transport=transport,
            sleep=sleep,
        )

    @classmethod
    def settings_options(cls, settings: Settings) -> dict[str, Any]:
        token = required(settings.hubspot_token, TOKEN_SETTING, "create a private app in HubSpot and copy its token")
        return {
            "token": token.get_secret_value(),
            "base_url": settings.hubspot_api_url,
            "timezone": settings.timezone,
            "requests_per_second": settings.hubspot_requests_per_second,
            "portal_id": settings.hubspot_portal_id,
        }

    def record_url_prefix(self) -> str | None:
        """Each deal's link before its id (LinksByCrmId): the sync relinks stored deals when HUBSPOT_PORTAL_ID changes."""
        return record_url_prefix(self.portal_id)

    def product_lines(self) -> list[str]:
        """Empty: the lines are learnt from the deals' mapped product_line property as they sync."""
        return []

    def doctor(self) -> str:
        """Check the token with two cheap reads; raises CrmAuthError naming HUBSPOT_TOKEN if refused."""
        self._json("GET", "/crm/v3/owners", params={"limit": 1})
        # Deals are read through search, which a token without the deals scope is refused.
        found = self._json("POST", SEARCH_PATH, json=_search_body([], MODIFIED, [MODIFIED], 1))
        total = found.get("total")
        deals = f"{total:,} deals" if isinstance(total, int) else "deals"
        return f"HubSpot: token accepted, owners and {deals} readable"

    # -- writing (the Update modal) -------------------------------------------------------------

    def write_fields(self) -> tuple[str, ...]:
        """The writable fields this account maps to a property (next_step_date only through CRM_FIELD_MAP)."""
        return tuple(field for field in WRITABLE_FIELDS if field in self.properties)

    def write_deal(self, crm_id: str, changes: Changes) -> None:
        """PATCH the deal's properties, as the fields are read from; WriteRefused when HubSpot refuses."""
        if not crm_id.isdigit():
            raise WriteRefused("not_found", f"HubSpot deal ids are numbers; {crm_id[:40]!r} is not one.")
        properties: dict[str, str] = {}
        for field, value in changes.items():
            if field not in self.write_fields():
                raise WriteRefused(
                    "validation", f"coachbot cannot write {field} to HubSpot.", field_errors={field: "Not writable."}
                )
            properties[self.properties[field]] = self._property_value(crm_id, field, value)
        response = send_once(self.client, "PATCH", f"/crm/v3/objects/deals/{crm_id}", json={"properties": properties})
        if response.status_code >= 400:
            raise self._refusal(response)

    def write_check(self) -> str:
        """The token's scopes, from HubSpot's access-token-info for private apps; a CrmError when the write scope is missing."""
        token = self.client.http.headers.get("Authorization", "").removeprefix("Bearer ")
        response = send_once(self.client, "POST", TOKEN_INFO_PATH, json={"tokenKey": token})
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        scopes = body.get("scopes") if isinstance(body, dict) else None
        if response.status_code >= 400 or not isinstance(scopes, list):
            raise CrmError(
                f"HubSpot did not tell HUBSPOT_TOKEN's scopes ({response.status_code}; an OAuth token, not a private app's?): "
                f"make sure it has {WRITE_SCOPE}, or Update… will show HubSpot's MISSING_SCOPES refusal",
                setting=TOKEN_SETTING,
            )
        if WRITE_SCOPE not in scopes:
            raise CrmError(
                f"HUBSPOT_TOKEN lacks the {WRITE_SCOPE} scope: Update… cannot save deals. Add the scope to the private "
                "app in HubSpot (Settings → Integrations → Private apps → Scopes)",
                setting=TOKEN_SETTING,
            )
        return f"HubSpot: the token has {WRITE_SCOPE}: Update… can save deals"

    def read_deal(self, crm_id: str) -> CrmDeal:
        """One deal, read as fetch_deals reads each (owners and stages included)."""
        owners, stages = self._owner_emails(), self._stages()
        entered = {f"{prefix}{stage_id}" for stage_id in stages for prefix in ENTERED_PREFIXES}
        wanted = ",".join(sorted({*self.properties.values(), MODIFIED, *entered}))
        record = self.client.json("GET", f"/crm/v3/objects/deals/{crm_id}", params={"properties": wanted})
        try:
            return self._deal(record, owners, stages)
        except SkipRecord as exc:
            raise CrmGarbageError(f"HubSpot answered deal {crm_id} with a record coachbot cannot read ({exc})") from None

    def _property_value(self, crm_id: str, field: str, value: Any) -> str:
        # HubSpot takes every property value as a string; an empty string clears the property.
        if value is None:
            return ""
        if field == "stage":
            return self._stage_id(crm_id, stage_names(value))
        if field == "amount":
            return amount_text(value)
        if isinstance(value, dt.date):
            if self.properties[field] == DEFAULT_PROPERTIES["close_date"]:
                # closedate is a date-time: the day's start where coachbot reads the day (COACHBOT_TIMEZONE).
                start = dt.datetime.combine(value, dt.time(), self.timezone).astimezone(dt.UTC)
                return start.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            return value.isoformat()  # a date property: midnight UTC, which is what "YYYY-MM-DD" means to HubSpot
        return str(value)

    def _stage_id(self, crm_id: str, names: tuple[str, ...]) -> str:
        """The id of the first of `names` that is a stage of the deal's own pipeline (HubSpot refuses another's)."""
        deal = self.client.json("GET", f"/crm/v3/objects/deals/{crm_id}", params={"properties": "pipeline"})
        pipeline_id = (deal.get("properties") or {}).get("pipeline") if isinstance(deal, dict) else None
        for pipeline in self._json("GET", "/crm/v3/pipelines/deals")["results"]:
            if not isinstance(pipeline, dict) or pipeline.get("id") != pipeline_id:
                continue
            stages = {
                str(key).casefold(): str(stage["id"])
                for stage in pipeline.get("stages") or ()
                if isinstance(stage, dict) and "id" in stage
                for key in (stage.get("label"), stage["id"])
            }
            if found := next((stages[name.casefold()] for name in names if name.casefold() in stages), None):
                return found
            why = f"The {pipeline.get('label') or pipeline_id} pipeline has no stage “{names[0]}”."
            raise WriteRefused("validation", why, field_errors={"stage": why})
        why = "HubSpot did not say which pipeline this deal is in."
        raise WriteRefused("validation", why, field_errors={"stage": why})

    def _refusal(self, response: httpx.Response) -> WriteRefused:
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        if response.status_code == 403 and body.get("category") == "MISSING_SCOPES":
            return WriteRefused(
                "permission",
                "HubSpot refused the change: the private app behind HUBSPOT_TOKEN lacks the crm.objects.deals.write "
                "scope. Add it to the app's scopes in HubSpot; coachbot doctor checks it.",
            )
        refusal = common_refusal(self.client, response, permission="the HubSpot user behind HUBSPOT_TOKEN may not edit this deal")
        if refusal is not None:
            return refusal
        message = str(body.get("message") or f"HubSpot answered {response.status_code}")
        fields = {prop: field for field, prop in self.properties.items()}
        errors: dict[str, str] = {}
        for prop, text in _invalid_properties(body):
            errors[fields.get(prop, GENERAL)] = text
        return WriteRefused("validation", f"HubSpot refused the change: {message}", field_errors=errors or {GENERAL: message})

    def fetch_deals(self, cursor: str | None) -> Iterator[DealPage]:
        """Deals changed since `cursor` (an ISO time) less CRM_SYNC_OVERLAP_SECONDS; all when None."""
        owners = self._owner_emails()
        stages = self._stages()
        entered = {f"{prefix}{stage_id}" for stage_id in stages for prefix in ENTERED_PREFIXES}
        wanted = sorted({*self.properties.values(), MODIFIED, *entered})
        # Archived ids go with the first page, committed before the cursor can pass their archiving.
        deleted_ids = self._archived_ids()
        for results, newest_ms in self._search(self._since_ms(cursor), wanted):
            page = DealPage(deals=[], deleted_ids=deleted_ids, cursor=_iso(newest_ms))
            deleted_ids = []
            for position, record in enumerate(results, 1):
                try:
                    page.deals.append(self._deal(record, owners, stages))
                except SkipRecord as exc:
                    page.skipped.setdefault(str(exc), []).append(_reference(record, position))
            yield page
        if deleted_ids:
            yield DealPage(deals=[], deleted_ids=deleted_ids)

    def _since_ms(self, cursor: str | None) -> int | None:
        try:
            moment = values.timestamp(cursor, "cursor")
        except values.BadValue:
            log.warning("HubSpot: stored cursor %r is unreadable; reading every deal again", cursor)
            return None
        return _ms(moment) - self.overlap_ms if moment else None

    def _search(self, since_ms: int | None, properties: list[str]) -> Iterator[tuple[list[Any], int]]:
        """Raw search results a page at a time, oldest change first, with the newest change seen so far."""
        lower, seen_at_lower, newest = since_ms, set[str](), 0
        while True:
            filters = [_filter(MODIFIED, "GTE", lower)] if lower is not None else []
            response = self._search_page(filters, MODIFIED, properties)
            results = response["results"]
            if not results:
                return
            stamps = [_modified_ms(record) for record in results]
            page_newest = max((stamp for stamp in stamps if stamp is not None), default=None)
            if page_newest is None or (lower is not None and page_newest < lower):
                raise CrmGarbageError("HubSpot answered a deal search without the hs_lastmodifieddate it filtered on")
            newest = max(newest, page_newest)
            if fresh := [r for r, stamp in zip(results, stamps) if stamp != lower or _id(r) not in seen_at_lower]:
                yield fresh, newest
            if _next_after(response) is None:
                return
            at_newest = {_id(r) for r, stamp in zip(results, stamps) if stamp == page_newest}
            if page_newest == lower:
                # A whole page changed in this one millisecond: walk it by id, then step past it.
                walked = self._walk_instant(lower, seen_at_lower | at_newest, properties)
                yield from ((page, newest) for page in walked)
                lower, seen_at_lower = lower + 1, set()
            else:
                lower, seen_at_lower = page_newest, at_newest

    def _walk_instant(self, instant_ms: int, skip: set[str], properties: list[str]) -> Iterator[list[Any]]:
        """Every deal last modified at exactly `instant_ms`, by ascending object id."""
        after_id: int | None = None
        while True:
            filters = [_filter(MODIFIED, "EQ", instant_ms)]
            if after_id is not None:
                filters.append(_filter("hs_object_id", "GT", after_id))
            response = self._search_page(filters, "hs_object_id", properties)
            results = response["results"]
            if fresh := [record for record in results if _id(record) not in skip]:
                yield fresh
            ids = [int(_id(record)) for record in results if _id(record).isdigit()]
            if not results or _next_after(response) is None:
                return
            if not ids or (after_id is not None and max(ids) <= after_id):
                raise CrmGarbageError("HubSpot answered a deal search by object id without usable ids")
            after_id = max(ids)

    def _search_page(self, filters: list[dict[str, str]], sort_by: str, properties: list[str]) -> dict[str, Any]:
        return self._json("POST", SEARCH_PATH, json=_search_body(filters, sort_by, properties, self.page_size))

    def _owner_emails(self) -> dict[str, str]:
        emails: dict[str, str] = {}
        # Deactivated users' owners are archived, yet their closed deals still count for them.
        for archived in ("false", "true"):
            for owner in self._list("/crm/v3/owners", {"archived": archived}):
                owner_id, email = owner.get("id"), owner.get("email")
                if isinstance(owner_id, str | int) and isinstance(email, str) and email.strip():
                    emails.setdefault(str(owner_id), email.strip().lower())
        return emails

    def _stages(self) -> dict[str, Stage]:
        """Stage id -> stage across every deal pipeline (HubSpot stage ids are unique in an account)."""
        stages: dict[str, Stage] = {}
        pipelines = [item for item in self._json("GET", "/crm/v3/pipelines/deals")["results"] if isinstance(item, dict)]
        for pipeline in pipelines:
            for stage in pipeline.get("stages") or ():
                if not isinstance(stage, dict) or not isinstance(stage.get("id"), str):
                    continue
                metadata = stage.get("metadata")
                if not isinstance(metadata, dict):
                    metadata = {}
                try:
                    probability = values.probability(metadata.get("probability"), "probability")
                    is_closed = values.boolean(metadata.get("isClosed"), "isClosed")
                    label = values.text(stage.get("label"), "label", limit=100) or stage["id"]
                except values.BadValue as exc:
                    # One odd stage should not stop the sync: its deals fall back to the playbook.
                    log.warning("HubSpot: stage %s of pipeline %s: %s", stage["id"], pipeline.get("id"), exc)
                    probability, is_closed, label = None, None, stage["id"][:100]
                stages[stage["id"]] = Stage(label, probability, is_closed)
        return stages

    def _archived_ids(self) -> list[str]:
        # HubSpot keeps archived deals for 90 days, so this list stays bounded; the sync only
        # writes those not already marked.
        found = self._list("/crm/v3/objects/deals", {"archived": "true", "properties": "hs_object_id"})
        return [str(record["id"]) for record in found if isinstance(record.get("id"), str | int)]

    def _list(self, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Every result of a GET list endpoint, following `paging.next.after`."""
        params = {**params, "limit": str(LIST_PAGE_SIZE)}
        while True:
            response = self._json("GET", path, params=params)
            yield from (record for record in response["results"] if isinstance(record, dict))
            if (after := _next_after(response)) is None:
                return
            params = {**params, "after": after}

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        data = self.client.json(method, path, **kwargs)
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise CrmGarbageError(f"HubSpot answered {method} {path} without a list of results")
        return data

    def _deal(self, record: Any, owners: dict[str, str], stages: dict[str, Stage]) -> CrmDeal:
        crm_id = _id(record)
        if not crm_id or len(crm_id) > 64:
            raise SkipRecord("missing id")
        props = record.get("properties")
        if not isinstance(props, dict):
            raise SkipRecord("no properties")

        def read(field: str, reader: Callable[..., Any], **options: Any) -> Any:
            if (prop := self.properties.get(field)) is None:
                return None
            try:
                return reader(props.get(prop), prop, **options)
            except values.BadValue:
                raise SkipRecord(f"unreadable {prop}") from None

        created_at = read("created_at", values.timestamp)
        if created_at is None:
            raise SkipRecord(f"no created date ({self.properties['created_at']})")
        stage_id = read("stage", values.text, limit=100)
        if stage_id is None:
            raise SkipRecord(f"missing stage ({self.properties['stage']})")
        stage = stages.get(stage_id) or Stage(stage_id, None, None)
        entered = _entered(props, stages)
        owner_key = read("owner", values.text, limit=320)
        return CrmDeal(
            crm_id=crm_id,
            name=read("name", values.text, limit=500) or f"Deal {crm_id}",
            owner_key=owner_key,
            owner_email=owners.get(owner_key) if owner_key else None,
            stage=stage.label,
            created_at=created_at,
            amount=read("amount", values.amount),
            currency=read("currency", _currency),
            is_closed=stage.is_closed,
            is_won=(stage.is_closed and stage.probability == 1.0) if stage.is_closed is not None else None,
            crm_probability=stage.probability,
            stage_entered_at=entered.get(stage_id),
            close_date=read("close_date", self._local_date),
            # Once a deal closes, HubSpot sets its closedate to the moment it closed.
            closed_at=read("closed_at", values.timestamp) or (read("close_date", values.timestamp) if stage.is_closed else None),
            next_step=read("next_step", values.text, limit=10_000),
            next_step_date=read("next_step_date", self._local_date),
            last_activity_at=read("last_activity_at", values.timestamp),
            product_name=read("product_name", values.text, limit=200),
            product_line=read("product_line", values.text, limit=100),
            account_name=read("account_name", values.text, limit=300),
            crm_modified_at=read("crm_modified_at", values.timestamp),
            stage_history=_history(entered, stages, stage_id),
            crm_url=record_url(self.portal_id, crm_id),
        )

    def _local_date(self, value: Any, prop: str) -> dt.date | None:
        """A date property ('2026-12-01') as is; a date-time one (closedate) as its day in COACHBOT_TIMEZONE."""
        if isinstance(value, str) and len(value.strip()) == 10:
            return values.date(value, prop)
        moment = values.timestamp(value, prop)
        return moment.astimezone(self.timezone).date() if moment else None


def record_url(portal_id: str | None, deal_id: str) -> str | None:
    """The deal's record page in HubSpot (deals are object type 0-3); None without the portal id.

    The portal id comes from HUBSPOT_PORTAL_ID rather than GET /account-info/v3/details: one call
    and one scope fewer for a number that never changes.
    """
    prefix = record_url_prefix(portal_id)
    return f"{prefix}{deal_id}" if prefix else None


def record_url_prefix(portal_id: str | None) -> str | None:
    return f"https://app.hubspot.com/contacts/{portal_id}/record/0-3/" if portal_id else None


def field_properties(overrides: Mapping[str, str]) -> dict[str, str]:
    """DEFAULT_PROPERTIES with CRM_FIELD_MAP applied; a CrmError naming CRM_FIELD_MAP if it is wrong."""
    unknown = sorted(set(overrides) - set(DEFAULT_PROPERTIES) - set(OPTIONAL_FIELDS))
    if unknown:
        known = ", ".join([*DEFAULT_PROPERTIES, *OPTIONAL_FIELDS])
        raise CrmError(f"CRM_FIELD_MAP: unknown field {', '.join(unknown)} (known: {known})", "CRM_FIELD_MAP")
    return {**DEFAULT_PROPERTIES, **overrides}


def _invalid_properties(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(property, why) from a VALIDATION_ERROR: its `errors` details, else the list its message embeds.

    HubSpot documents `errors[].context.propertyName`; property validation answers put
    '[{"isValid": false, "message": ..., "name": "closedate"}]' at the end of `message` instead.
    """
    found: list[tuple[str, str]] = []
    for detail in body.get("errors") or ():
        if isinstance(detail, dict):
            names = (detail.get("context") or {}).get("propertyName") or []
            found += [(str(name), str(detail.get("message", ""))) for name in names]
    message = str(body.get("message") or "")
    if not found and "[" in message:
        try:
            embedded = json.loads(message[message.index("[") :])
        except ValueError:
            embedded = []
        for item in embedded if isinstance(embedded, list) else ():
            if isinstance(item, dict) and item.get("name"):
                found.append((str(item["name"]), str(item.get("message") or item.get("error") or "not valid")))
    return found


def _search_body(filters: list[dict[str, str]], sort_by: str, properties: list[str], limit: int) -> dict[str, Any]:
    """A PublicObjectSearchRequest with every field the spec requires.

    `after` is always "0": paging is by key (see the module docstring), never by HubSpot's offset.
    Sorts are objects, as HubSpot's search guide documents and the API honours; the OpenAPI file
    types them as strings, a known error of its generator (HubSpot/hubspot-api-python#236).
    """
    return {
        "filterGroups": [{"filters": filters}] if filters else [],
        "sorts": [{"propertyName": sort_by, "direction": "ASCENDING"}],
        "properties": properties,
        "limit": limit,
        "after": "0",
    }


def _filter(prop: str, operator: str, value: int) -> dict[str, str]:
    # The search takes dates as epoch milliseconds, and every filter value as a string.
    return {"propertyName": prop, "operator": operator, "value": str(value)}


def _next_after(response: dict[str, Any]) -> str | None:
    """paging.next.after: where the next page starts, None on the last page."""
    paging = response.get("paging")
    next_page = paging.get("next") if isinstance(paging, dict) else None
    after = next_page.get("after") if isinstance(next_page, dict) else None
    return str(after) if isinstance(after, str | int) and str(after) else None


def _id(record: Any) -> str:
    value = record.get("id") if isinstance(record, dict) else None
    return str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""


def _reference(record: Any, position: int) -> str:
    crm_id = _id(record)
    return f"deal {crm_id}" if crm_id else f"search result {position} (no id)"


def _modified_ms(record: Any) -> int | None:
    props = record.get("properties") if isinstance(record, dict) else None
    try:
        moment = values.timestamp(props.get(MODIFIED), MODIFIED) if isinstance(props, dict) else None
    except values.BadValue:
        return None
    return _ms(moment) if moment else None


def _entered(props: dict[str, Any], stages: dict[str, Stage]) -> dict[str, dt.datetime]:
    """Stage id -> when the deal last entered it, from HubSpot's calculated "date entered" properties."""
    entered: dict[str, dt.datetime] = {}
    for stage_id, names in _entered_properties(tuple(stages)):
        for prop in names:
            # Most stages were never entered: skip their empty properties before parsing anything.
            if (value := props.get(prop)) is None or value == "":
                continue
            try:
                moment = values.timestamp(value, prop)
            except values.BadValue:
                raise SkipRecord(f"unreadable {prop}") from None
            if moment:
                entered[stage_id] = moment
                break
    return entered


@functools.lru_cache(maxsize=8)
def _entered_properties(stage_ids: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(stage id, its "date entered" property names, newest first) for each stage: built once per catalogue."""
    return tuple((stage_id, tuple(f"{prefix}{stage_id}" for prefix in ENTERED_PREFIXES)) for stage_id in stage_ids)


def _history(entered: dict[str, dt.datetime], stages: dict[str, Stage], current: str) -> tuple[tuple[str, dt.datetime], ...]:
    """(label, entered) oldest first, when it ends in the current stage; else only the current stage."""
    history = sorted({(stages[stage_id].label, moment) for stage_id, moment in entered.items()}, key=lambda e: (e[1], e[0]))
    if current not in entered:
        return ()
    if history[-1] != (stages[current].label, entered[current]):
        # The deal moved back to an earlier stage: only its current stage's date is certain.
        return ((stages[current].label, entered[current]),)
    return tuple(history)


def _currency(value: Any, prop: str) -> str | None:
    code = values.text(value, prop)
    if code is not None and not (len(code) == 3 and code.isascii() and code.isalpha()):
        raise values.BadValue(f"{prop}: {code[:40]!r} is not a three-letter currency code")
    return code.upper() if code else None


def _ms(moment: dt.datetime) -> int:
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds")
