"""A stand-in HubSpot CRM v3 API: deals, owners, pipelines and archived deals, with faults on demand.

`HubSpotStandIn` is a handler (httpx.Request -> httpx.Response) for httpx.MockTransport and for
tests.support.loopback.LoopbackServer. Its deals are generated from their number, so 100,000 of
them cost a few lists of integers; properties are rendered, as HubSpot sends them (strings, ISO
times), only when a response needs them. Every request is recorded with the stand-in's clock, so a
test can check the rate a client kept. Search behaves as documented: filterGroups (OR of AND-ed
filters), one sort, `limit` up to 200, `after` as an offset, and a 400 past 10,000 results.

Writes: PATCH /crm/v3/objects/deals/{id} (with crm.objects.deals.write) sets properties as HubSpot
does, checks `dealstage` against the deal's pipeline (400 VALIDATION_ERROR, the invalid property
named in the message as HubSpot names it), refuses the properties in `invalid_properties` the same
way, and is recorded in `writes`; GET /crm/v3/objects/deals/{id} reads a deal back; POST
/oauth/v2/private-apps/get/access-token-info tells a token's scopes.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

TOKEN = "pat-na1-test-token"
FIRST_ID = 9_000_000_000  # deal n has id FIRST_ID + n, shaped like HubSpot's numeric ids
# The newest generated change; deals are spaced back from it, about a minute apart.
DATA_NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
SPACING_MS = 61_003
SEARCH_CAP = 10_000
# When the account's owners and pipelines were set up (HubSpot's default pipeline says 0: the epoch).
ACCOUNT_CREATED = "2024-01-15T09:00:00.000Z"

# (id, email, first name, last name); 104 left the company (an archived owner).
OWNERS = [
    ("101", "riley.rep@example.com", "Riley", "Rep"),
    ("102", "sam.seller@example.com", "Sam", "Seller"),
    ("103", "mia.manager@example.com", "Mia", "Manager"),
]
ARCHIVED_OWNERS = [("104", "fran.former@example.com", "Fran", "Former")]
DEAL_OWNERS = ["101", "102", "103", "104"]

# HubSpot's default pipeline, then a custom one whose labels are the playbook's stage names.
PIPELINES = [
    ("default", "Sales Pipeline", [
        ("appointmentscheduled", "Appointment Scheduled", "0.2", "false"),
        ("qualifiedtobuy", "Qualified To Buy", "0.4", "false"),
        ("presentationscheduled", "Presentation Scheduled", "0.6", "false"),
        ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", "false"),
        ("contractsent", "Contract Sent", "0.9", "false"),
        ("closedwon", "Closed Won", "1.0", "true"),
        ("closedlost", "Closed Lost", "0.0", "true"),
    ]),
    ("7140541", "Enterprise", [
        ("21771901", "Discovery", "0.25", "false"),
        ("21771902", "Demo", "0.4", "false"),
        ("21771903", "Proposal", "0.6", "false"),
        ("21771904", "Negotiation", "0.8", "false"),
        ("21771905", "Closed Won", "1.0", "true"),
        ("21771906", "Closed Lost", "0.0", "true"),
    ]),
]  # fmt: skip
STAGES = [(pipeline, stage) for pipeline, _, stages in PIPELINES for stage, *_ in stages]
FIRST_STAGE = {pipeline: stages[0][0] for pipeline, _, stages in PIPELINES}
PRODUCT_FAMILIES = ["Core", "Analytics", "Services"]
DEFAULT_SEARCH_PROPERTIES = [
    "amount",
    "closedate",
    "createdate",
    "dealname",
    "dealstage",
    "hs_lastmodifieddate",
    "hs_object_id",
    "pipeline",
]
_DAY_MS = 86_400_000


@dataclass
class HubSpotRequest:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    at: float  # the stand-in's clock when it arrived
    status: int = 0


@dataclass
class HubSpotStandIn:
    """An in-memory HubSpot account of `deal_count` generated deals."""

    deal_count: int = 0
    # These deals were all last modified in one millisecond (a bulk import, a workflow).
    same_instant: range = range(0)
    token: str = TOKEN
    # HubSpot refuses to page a search past 10,000 results; a test may lower it to stay small.
    search_cap: int = SEARCH_CAP
    scopes: frozenset[str] = frozenset({"crm.objects.deals.read", "crm.objects.deals.write", "crm.objects.owners.read"})
    # Writes: property -> why HubSpot refuses any value for it (a validation rule, say).
    invalid_properties: dict[str, str] = field(default_factory=dict)
    throttle_writes: bool = False  # every PATCH answers 429 with Retry-After
    # Every write answered 200: (deal number, the properties set).
    writes: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    # Faults: 429 (with Retry-After) on every n-th request, 500 on the request before every m-th,
    # and a 200 that is not JSON on the given search requests (1 = the first search).
    throttle_every: int = 0
    retry_after: str = "2"
    fail_every: int = 0
    malformed_searches: set[int] = field(default_factory=set)
    requests: list[HubSpotRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._modified: list[int] = [0] * (self.deal_count + 1)  # by deal number; 0 is unused
        stamp = 0
        for n in range(1, self.deal_count + 1):
            # Every seventh deal shares its millisecond with the one before, as HubSpot's often do.
            stamp += 0 if n % 7 == 0 else SPACING_MS
            self._modified[n] = stamp
        shift = _ms(DATA_NOW) - stamp  # so that the newest change is DATA_NOW
        self._modified = [modified + shift for modified in self._modified]
        for n in self.same_instant:
            self._modified[n] = self._modified[self.same_instant[0]]
        self._versions: dict[int, int] = {}
        self._overrides: dict[int, dict[str, str | None]] = {}
        self._without_id: set[int] = set()
        self._archived: dict[int, int] = {}  # deal number -> archived at (ms)
        self._searches = 0
        self._order: list[tuple[int, int, int]] = []
        self._dirty = True

    # -- the account, as a test changes it -------------------------------------------------

    @staticmethod
    def deal_id(n: int) -> str:
        return str(FIRST_ID + n)

    def modified_ms(self, n: int) -> int:
        """When deal n last changed, in epoch milliseconds."""
        return self._modified[n]

    def newest_change_ms(self) -> int:
        return max(self._modified)

    def change(self, numbers: Iterable[int]) -> None:
        """Edit these deals (their amount goes up by 100), one second apart after the newest change."""
        with self._lock:
            newest = max(self._modified)
            for offset, n in enumerate(numbers, 1):
                self._versions[n] = self._versions.get(n, 0) + 1
                self._modified[n] = newest + 1000 * offset
            self._dirty = True

    def archive(self, numbers: Iterable[int]) -> None:
        with self._lock:
            for n in numbers:
                self._archived[n] = max(self._modified) + 1000
            self._dirty = True

    def corrupt(self, n: int, **properties: str | None) -> None:
        """Give deal n property values of the wrong shape (None removes the property)."""
        self._overrides.setdefault(n, {}).update(properties)

    def drop_id(self, n: int) -> None:
        self._without_id.add(n)

    def properties(self, n: int) -> dict[str, str | None]:
        """Deal n's properties as HubSpot holds them: every value a string."""
        pipeline, stage = STAGES[n % len(STAGES)]
        modified = self._modified[n]
        created = modified - 30 * _DAY_MS - (n % 90) * _DAY_MS
        amount = 1000 + (n % 50) * 250 + 100 * self._versions.get(n, 0)
        props: dict[str, str | None] = {
            "hs_object_id": self.deal_id(n),
            "dealname": f"Deal {n}",
            "amount": None if n % 11 == 0 else f"{amount}.50" if n % 3 == 0 else str(amount),
            "deal_currency_code": "EUR" if n % 10 == 0 else "USD",
            "pipeline": pipeline,
            "dealstage": stage,
            "hubspot_owner_id": None if n % 17 == 0 else DEAL_OWNERS[n % len(DEAL_OWNERS)],
            "createdate": _iso(created),
            "closedate": _iso(created + 45 * _DAY_MS - (created % _DAY_MS) + 5 * 3_600_000),
            "hs_lastmodifieddate": _iso(modified),
            "hs_next_step": f"Call back about deal {n}" if n % 2 else None,
            "notes_last_updated": _iso(modified - 3_600_000) if n % 4 else None,
            "product_family": PRODUCT_FAMILIES[n % len(PRODUCT_FAMILIES)],
            f"hs_v2_date_entered_{FIRST_STAGE[pipeline]}": _iso(created),
        }
        if stage != FIRST_STAGE[pipeline]:
            props[f"hs_v2_date_entered_{stage}"] = _iso(created + 10 * _DAY_MS)
        props.update(self._overrides.get(n, {}))
        return props

    # -- what a test reads back ---------------------------------------------------------------

    @property
    def searches(self) -> list[HubSpotRequest]:
        return [r for r in self.requests if r.path.endswith("/search") and r.status == 200]

    def max_requests_within(self, window: float) -> int:
        """The most requests that arrived within any `window` seconds of the stand-in's clock."""
        times = sorted(r.at for r in self.requests)
        return max((bisect.bisect_left(times, start + window) - i for i, start in enumerate(times)), default=0)

    # -- the API ------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            body = json.loads(request.content) if request.content else None
            recorded = HubSpotRequest(
                request.method, request.url.path, dict(parse_qsl(request.url.query.decode())), body, self.clock()
            )
            self.requests.append(recorded)
            response = self._answer(request, recorded, len(self.requests))
            recorded.status = response.status_code
            return response

    def _answer(self, request: httpx.Request, call: HubSpotRequest, number: int) -> httpx.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "Authentication credentials not found.", "INVALID_AUTHENTICATION")
        if self.throttle_every and number % self.throttle_every == 0:
            return _error(
                429, "You have reached your secondly limit.", "RATE_LIMITS", headers={"Retry-After": self.retry_after},
                errorType="RATE_LIMIT", policyName="SECONDLY",
            )  # fmt: skip
        if self.fail_every and number % self.fail_every == self.fail_every - 1:
            return _error(500, "internal error", "INTERNAL_ERROR")
        route = (call.method, call.path)
        if route == ("POST", "/oauth/v2/private-apps/get/access-token-info"):
            return self._token_info(call.body or {})
        if call.path.startswith("/crm/v3/objects/deals") and "crm.objects.deals.read" not in self.scopes:
            return _error(403, "This app hasn't been granted all required scopes.", "MISSING_SCOPES")
        single = _SINGLE_DEAL.fullmatch(call.path)
        if single and call.method == "PATCH":
            if "crm.objects.deals.write" not in self.scopes:
                return _error(
                    403, "This app hasn't been granted all required scopes to make this call.", "MISSING_SCOPES",
                    context={"requiredGranularScopes": ["crm.objects.deals.write"]},
                )  # fmt: skip
            if self.throttle_writes:
                return _error(
                    429, "You have reached your secondly limit.", "RATE_LIMITS", headers={"Retry-After": self.retry_after},
                    errorType="RATE_LIMIT", policyName="SECONDLY",
                )  # fmt: skip
            return self._write(int(single[1]) - FIRST_ID, call.body or {})
        if single and call.method == "GET":
            n = int(single[1]) - FIRST_ID
            if not 1 <= n <= self.deal_count or n in self._archived:
                return _error(404, "Object not found.", "OBJECT_NOT_FOUND")
            wanted = [name for name in call.params.get("properties", "").split(",") if name] or DEFAULT_SEARCH_PROPERTIES
            return httpx.Response(200, json=self._result(n, wanted))
        if route == ("POST", "/crm/v3/objects/deals/search"):
            self._searches += 1
            if self._searches in self.malformed_searches:
                return httpx.Response(200, text="<html><body>502 Bad Gateway</body></html>")
            return self._search(call.body or {})
        if route == ("GET", "/crm/v3/owners"):
            owners = ARCHIVED_OWNERS if call.params.get("archived") == "true" else OWNERS
            archived = owners is ARCHIVED_OWNERS
            rows = [
                {"id": i, "email": e, "firstName": f, "lastName": la, "type": "PERSON", "archived": archived,
                 "createdAt": ACCOUNT_CREATED, "updatedAt": ACCOUNT_CREATED}
                for i, e, f, la in owners
            ]  # fmt: skip
            return _listing(rows, call.params)
        if route == ("GET", "/crm/v3/pipelines/deals"):
            return httpx.Response(200, json={"results": [_pipeline(*pipeline) for pipeline in PIPELINES]})
        if route == ("GET", "/crm/v3/objects/deals") and call.params.get("archived") == "true":
            rows = [
                {
                    "id": self.deal_id(n),
                    "properties": {"hs_object_id": self.deal_id(n)},
                    "archived": True,
                    "archivedAt": _iso(at),
                    "createdAt": self.properties(n)["createdate"],
                    "updatedAt": _iso(at),
                }
                for n, at in sorted(self._archived.items())
            ]
            return _listing(rows, call.params)
        return _error(404, f"no route for {call.method} {call.path}", "OBJECT_NOT_FOUND")

    def _write(self, n: int, body: dict[str, Any]) -> httpx.Response:
        if not 1 <= n <= self.deal_count or n in self._archived:
            return _error(404, "Object not found.", "OBJECT_NOT_FOUND")
        properties = body.get("properties")
        if not isinstance(properties, dict) or not all(isinstance(value, str) for value in properties.values()):
            return _error(400, "Invalid input JSON: properties must be an object of strings", "VALIDATION_ERROR")
        pipeline = self.properties(n)["pipeline"]
        invalid = []
        for name, value in properties.items():
            if name in self.invalid_properties:
                invalid.append(
                    {"isValid": False, "message": self.invalid_properties[name], "error": "INVALID_VALUE", "name": name}
                )
            elif name == "dealstage" and (pipeline, value) not in STAGES:
                message = f"{value} was not one of the allowed options for pipeline {pipeline}"
                invalid.append({"isValid": False, "message": message, "error": "INVALID_OPTION", "name": name})
        if invalid:
            # HubSpot names the invalid properties in its message, as a JSON list after a colon.
            return _error(400, f"Property values were not valid: {json.dumps(invalid)}", "VALIDATION_ERROR")
        self.writes.append((n, dict(properties)))
        self._overrides.setdefault(n, {}).update({name: value or None for name, value in properties.items()})
        stamp = max(self._modified) + 1000
        self._modified[n] = stamp
        if "dealstage" in properties:
            self._overrides[n][f"hs_v2_date_entered_{properties['dealstage']}"] = _iso(stamp)
        self._overrides[n]["hs_lastmodifieddate"] = _iso(stamp)
        self._dirty = True
        return httpx.Response(200, json=self._result(n, list(properties)))

    def _token_info(self, body: dict[str, Any]) -> httpx.Response:
        if body.get("tokenKey") != self.token:
            return _error(401, "The token is not valid.", "INVALID_AUTHENTICATION")
        return httpx.Response(200, json={"userId": 103, "hubId": 4_242_424, "appId": 7_777, "scopes": sorted(self.scopes)})

    def _search(self, body: dict[str, Any]) -> httpx.Response:
        limit, after = int(body.get("limit", 10)), int(body.get("after") or 0)
        if not 0 < limit <= 200:
            return _error(400, "limit must be between 1 and 200", "VALIDATION_ERROR")
        if after >= self.search_cap:
            return _error(400, f"Paging past {self.search_cap} results is not allowed", "VALIDATION_ERROR")
        sorts = body.get("sorts") or [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
        if len(sorts) != 1 or sorts[0].get("direction", "ASCENDING") != "ASCENDING":
            return _error(400, "the stand-in takes one ascending sort", "VALIDATION_ERROR")
        self._reindex()
        positions = self._select(body.get("filterGroups") or [])
        total = len(positions)
        if sorts[0].get("propertyName") == "hs_object_id":
            page = sorted(self._order[p][2] for p in positions)[after : after + limit]
        else:
            # By last change; ties come in no particular (here: a scrambled) order, as in HubSpot.
            page = [self._order[p][2] for p in positions[after : after + limit]]
        wanted = body.get("properties") or DEFAULT_SEARCH_PROPERTIES
        result: dict[str, Any] = {"total": total, "results": [self._result(n, wanted) for n in page]}
        if after + limit < total:
            result["paging"] = {"next": {"after": str(after + limit)}}
        return httpx.Response(200, json=result)

    def _result(self, n: int, wanted: list[str]) -> dict[str, Any]:
        props = self.properties(n)
        # The spec types every property value as a string: a property without a value is left out.
        names = dict.fromkeys([*wanted, "hs_object_id", "createdate", "hs_lastmodifieddate"])
        shown = {name: props[name] for name in names if props.get(name) is not None}
        record: dict[str, Any] = {
            "id": self.deal_id(n),
            "properties": shown,
            "createdAt": props["createdate"],
            "updatedAt": props["hs_lastmodifieddate"],
            "archived": False,
        }
        if n in self._without_id:
            del record["id"]
        return record

    def _reindex(self) -> None:
        if self._dirty:
            live = (n for n in range(1, self.deal_count + 1) if n not in self._archived)
            self._order = sorted((self._modified[n], (n * 2_654_435_761) % 4_294_967_296, n) for n in live)
            self._dirty = False

    def _select(self, groups: list[dict[str, Any]]) -> Sequence[int]:
        """Index positions matching any filter group, in index (last change) order."""
        if not groups:
            return range(len(self._order))
        matched: set[int] = set()
        for group in groups:
            filters = group.get("filters") or []
            low, high = -1, 2**62
            rest = []
            for item in filters:
                name, operator = item["propertyName"], item["operator"]
                value = item.get("value")
                value = int(value) if name in _NUMERIC and value is not None else value
                if name != "hs_lastmodifieddate" or operator not in ("GTE", "GT", "EQ", "LT", "LTE"):
                    rest.append((name, operator, value))
                    continue
                if operator in ("GTE", "GT", "EQ"):
                    low = max(low, value + (operator == "GT"))
                if operator in ("LTE", "LT", "EQ"):
                    high = min(high, value - (operator == "LT"))
            lo = bisect.bisect_left(self._order, (low, -1, -1))
            hi = bisect.bisect_left(self._order, (high + 1, -1, -1))
            if len(groups) == 1 and not rest:
                return range(lo, hi)  # the common case stays O(page), even over 100,000 deals
            matched.update(p for p in range(lo, hi) if all(_holds(self._value(p, name), op, v) for name, op, v in rest))
        return sorted(matched)

    def _value(self, position: int, name: str) -> Any:
        n = self._order[position][2]
        if name == "hs_object_id":
            return FIRST_ID + n
        raw = self.properties(n).get(name)
        return int(raw) if name in _NUMERIC and raw is not None else raw


_NUMERIC = {"hs_lastmodifieddate", "hs_object_id"}
_SINGLE_DEAL = re.compile(r"/crm/v3/objects/deals/(\d+)")


def _holds(actual: Any, operator: str, expected: Any) -> bool:
    if actual is None:
        return operator == "NOT_HAS_PROPERTY"
    return {
        "EQ": actual == expected, "NEQ": actual != expected, "GT": actual > expected, "GTE": actual >= expected,
        "LT": actual < expected, "LTE": actual <= expected, "HAS_PROPERTY": True,
    }[operator]  # fmt: skip


def _listing(rows: list[dict[str, Any]], params: dict[str, str]) -> httpx.Response:
    limit, after = int(params.get("limit", 100)), int(params.get("after") or 0)
    result: dict[str, Any] = {"results": rows[after : after + limit]}
    if after + limit < len(rows):
        result["paging"] = {"next": {"after": str(after + limit), "link": "?after=" + str(after + limit)}}
    return httpx.Response(200, json=result)


def _pipeline(pipeline_id: str, label: str, stages: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    created = "1970-01-01T00:00:00Z" if pipeline_id == "default" else ACCOUNT_CREATED
    return {
        "id": pipeline_id,
        "label": label,
        "displayOrder": 0,
        "archived": False,
        "createdAt": created,
        "updatedAt": ACCOUNT_CREATED,
        "stages": [
            {"id": stage_id, "label": stage_label, "displayOrder": order, "archived": False,
             "metadata": {"probability": probability, "isClosed": closed}, "createdAt": created, "updatedAt": ACCOUNT_CREATED,
             "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT"}
            for order, (stage_id, stage_label, probability, closed) in enumerate(stages)
        ],
    }  # fmt: skip


def _error(status: int, message: str, category: str, headers: dict[str, str] | None = None, **extra: Any) -> httpx.Response:
    """HubSpot's Error: message, category and a correlationId (a UUID) are required."""
    body = {"status": "error", "message": message, "category": category, "correlationId": str(uuid.uuid4()), **extra}
    return httpx.Response(status, json=body, headers=headers)


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
