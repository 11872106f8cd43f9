"""A stand-in Pipedrive API over in-memory data, as one handler `(httpx.Request) -> httpx.Response`.

Use it under `httpx.MockTransport(standin)` in tests, or serve it with
`tests.support.loopback.LoopbackServer(standin)` for end-to-end runs and benchmarks.

It answers what the connector reads, in the documented shapes: GET /v1/users, /v1/users/me,
/api/v2/stages, /api/v2/pipelines, /api/v2/deals (updated_since/until, status, sort_by,
sort_direction, limit, an opaque keyset cursor, include_fields, custom_fields),
/api/v2/deals/archived, /api/v2/activities?ids=... and /api/v2/dealFields. Deals are generated
from a seed (100,000 in about a second). Tests can change, delete, archive and corrupt deals, and
inject faults: a 429 with Retry-After every n-th request, a 500 every m-th, one malformed JSON
page, and a per-token rate limit window. Every request is recorded with its time.

Writes: GET and PATCH /api/v2/deals/{id} (title, value, expected_close_date, stage_id, which also
sets the pipeline), PATCH /api/v2/activities/{id} and POST /api/v2/activities; each is recorded in
`writes` as (method, path, body). `deny_writes` answers them 403 as Pipedrive does for a user
without edit rights; `write_error` answers 400 with that error text.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import json
import math
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

TOKEN = "pd-test-token-7f3a"
COMPANY_DOMAIN = "acme-robotics"
PRODUCT_LINE_FIELD = "8f3c2d1e0b9a8f7e6d5c4b3a29180716f5e4d3c2"  # a custom field's 40-character key
PRODUCT_LINES = {1: "Core Platform", 2: "Analytics", 3: "Services"}
# Deal times end here; changes made by tests come after it, one second apart.
LAST_UPDATE = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)

# Riley, whose token the stand-in accepts, keeps the company's calendar in New York.
USERS = (
    {"id": 101, "name": "Riley Rep", "email": "riley.rep@example.com", "active_flag": True, "timezone_name": "America/New_York"},
    {"id": 102, "name": "Sam Seller", "email": "sam.seller@example.com", "active_flag": True, "timezone_name": "America/Chicago"},
    {
        "id": 103,
        "name": "Casey Closer",
        "email": "casey.closer@example.com",
        "active_flag": True,
        "timezone_name": "Europe/London",
    },
    {"id": 104, "name": "Olly Outsider", "email": "olly.outsider@example.com", "active_flag": False, "timezone_name": "UTC"},
)
PIPELINES = ({"id": 1, "name": "New business"}, {"id": 2, "name": "Renewals"})
# (id, name, pipeline, deal_probability): names the default playbook knows, one by its alias.
STAGES = (
    (1, "Prospecting", 1, 5), (2, "Qualification", 1, 15), (3, "Discovery", 1, 25), (4, "Demo", 1, 40),
    (5, "Proposal", 1, 60), (6, "Negotiation", 1, 80), (7, "Qualified", 2, 30), (8, "Negotiation/Review", 2, 85),
)  # fmt: skip
ACCOUNTS = ("Northwind", "Contoso", "Fabrikam", "Globex", "Initech", "Hooli", "Soylent", "Tyrell", "Wonka", "Oscorp")
NEXT_STEPS = ("Send pricing", "Security review", "Demo for ops", "Mutual close plan", "Legal redlines")
SORTABLE = ("id", "update_time", "add_time")
# The v2 Deal fields whose type admits null; the others are left out when they have no value.
NULLABLE_DEAL_FIELDS = frozenset(
    {"probability", "lost_reason", "close_time", "origin_id", "channel", "channel_id", "source_lead_id", "arr", "mrr", "acv"}
)
DEFAULT_STATUSES = frozenset({"open", "won", "lost"})


@dataclass(frozen=True)
class RecordedRequest:
    at: float
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    url: str
    status: int


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PipedriveStandIn:
    def __init__(
        self,
        deals: int = 1000,
        *,
        seed: int = 7,
        token: str = TOKEN,
        clock: Callable[[], float] = time.monotonic,
        rate_limit: int | None = None,
        rate_window: float = 2.0,
        every_nth_429: int | None = None,
        every_nth_500: int | None = None,
        retry_after: int = 1,
        malformed_deals_request: int | None = None,
        token_user_timezone: str | None = "America/New_York",  # noqa: S107 - a time zone, not a password
    ) -> None:
        self.token = token
        # None: the token's user has no time zone in Pipedrive (GET /v1/users/me leaves it out).
        self.token_user_timezone = token_user_timezone
        self.clock = clock
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.every_nth_429 = every_nth_429
        self.every_nth_500 = every_nth_500
        self.retry_after = retry_after
        # The n-th GET /api/v2/deals is answered with broken JSON, once.
        self.malformed_deals_request = malformed_deals_request
        self.requests: list[RecordedRequest] = []
        self.deny_writes = False
        self.write_error: str | None = None
        self.writes: list[tuple[str, str, dict[str, Any]]] = []
        self._activity_changes: dict[int, dict[str, Any]] = {}  # activity id -> fields written
        self._next_activity: dict[int, int | None] = {}  # deal id -> its next activity, once a write changed it
        self.deals: dict[int, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._recent: deque[float] = deque()
        self._deal_requests = 0
        self._ordered: dict[str, tuple[list[tuple[Any, int]], list[dict[str, Any]]]] = {}
        self._next_update = LAST_UPDATE
        self._generate(deals, random.Random(seed))

    # -- data --------------------------------------------------------------------------------

    def _generate(self, count: int, rng: random.Random) -> None:
        year = 365 * 86400
        for deal_id in range(1, count + 1):
            added = LAST_UPDATE - dt.timedelta(seconds=rng.randrange(year))
            age = int((LAST_UPDATE - added).total_seconds())
            updated = added + dt.timedelta(seconds=rng.randrange(age + 1))
            stage_id, _, pipeline_id, _ = STAGES[rng.randrange(len(STAGES))]
            roll = rng.random()
            status = "open" if roll < 0.7 else "won" if roll < 0.88 else "lost"
            closed = iso(updated) if status != "open" else None
            self.deals[deal_id] = {
                "id": deal_id,
                "title": f"{ACCOUNTS[deal_id % len(ACCOUNTS)]} deal {deal_id}",
                "owner_id": USERS[deal_id % len(USERS)]["id"],
                "person_id": None,
                "org_id": None,
                "stage_id": stage_id,
                "pipeline_id": pipeline_id,
                "value": rng.randrange(1000, 90000) + (0.5 if deal_id % 7 == 0 else 0),
                "currency": "EUR" if deal_id % 10 == 0 else "USD",
                "add_time": iso(added),
                "update_time": iso(updated),
                "stage_change_time": iso(added + (updated - added) / 2),
                "is_deleted": False,
                "is_archived": False,
                "status": status,
                "probability": 50 if deal_id % 9 == 0 else None,
                "lost_reason": "Price" if status == "lost" else None,
                "visible_to": 3,
                "close_time": closed,
                "won_time": closed if status == "won" else None,
                "lost_time": closed if status == "lost" else None,
                "expected_close_date": (updated.date() + dt.timedelta(days=30)).isoformat() if deal_id % 5 else None,
                "label_ids": [],
                "origin": "ManuallyCreated",
                "custom_fields": {PRODUCT_LINE_FIELD: (deal_id % 3) + 1 if deal_id % 4 else None},
            }

    def optional_fields(self, deal: dict[str, Any]) -> dict[str, Any]:
        """The include_fields values: an open deal has a next activity (id 2n), most have a last one (2n+1)."""
        deal_id = deal["id"]
        generated = 2 * deal_id if deal["status"] == "open" and deal_id % 4 else None
        return {
            "next_activity_id": self._next_activity.get(deal_id, generated),
            "last_activity_id": 2 * deal_id + 1 if deal_id % 3 else None,
        }

    def activity(self, activity_id: int) -> dict[str, Any] | None:
        if activity_id >= NEW_ACTIVITY_IDS:
            return dict(self._activity_changes[activity_id]) if activity_id in self._activity_changes else None
        deal = self.deals.get(activity_id // 2)
        if deal is None:
            return None
        if activity_id in self._activity_changes:
            return self._generated_activity(deal, activity_id) | self._activity_changes[activity_id]
        return self._generated_activity(deal, activity_id)

    def _generated_activity(self, deal: dict[str, Any], activity_id: int) -> dict[str, Any]:
        deal_id, done = deal["id"], activity_id % 2 == 1
        return {
            "id": activity_id,
            "subject": "Discovery call" if done else NEXT_STEPS[deal_id % len(NEXT_STEPS)],
            "type": "call",
            "owner_id": deal["owner_id"],
            "deal_id": deal_id,
            "due_date": (LAST_UPDATE.date() + dt.timedelta(days=deal_id % 21 - 5)).isoformat(),
            "done": done,
            "is_deleted": False,
        } | ({"marked_as_done_time": iso(LAST_UPDATE - dt.timedelta(days=deal_id % 10 + 1))} if done else {})

    def _touch(self, deal: dict[str, Any]) -> None:
        self._next_update += dt.timedelta(seconds=1)
        deal["update_time"] = iso(self._next_update)
        self._ordered.clear()

    def change(self, count: int) -> list[int]:
        """Raise the value of `count` live deals spread over the data set; returns their ids."""
        with self._lock:
            live = [deal_id for deal_id, deal in self.deals.items() if not deal["is_deleted"] and not deal["is_archived"]]
            step = max(len(live) // count, 1)
            changed = live[::step][:count]
            for deal_id in changed:
                self.deals[deal_id]["value"] += 500
                self._touch(self.deals[deal_id])
            return changed

    def delete(self, deal_ids: Iterable[int]) -> None:
        with self._lock:
            for deal_id in deal_ids:
                self.deals[deal_id]["is_deleted"] = True
                self._touch(self.deals[deal_id])

    def archive(self, deal_ids: Iterable[int]) -> None:
        with self._lock:
            for deal_id in deal_ids:
                self.deals[deal_id]["is_archived"] = True
                self._touch(self.deals[deal_id])

    def corrupt(self, deal_id: int, **fields: Any) -> None:
        """Give a deal values of the wrong type, as a buggy integration might have written them."""
        with self._lock:
            self.deals[deal_id].update(fields)
            self._touch(self.deals[deal_id])

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    # -- HTTP --------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            at = self.clock()
            response = self._answer(request, len(self.requests) + 1, at)
            self.requests.append(
                RecordedRequest(
                    at=at, method=request.method, path=request.url.path, params=dict(request.url.params),
                    headers=dict(request.headers), url=str(request.url), status=response.status_code,
                )
            )  # fmt: skip
            return response

    def _answer(self, request: httpx.Request, number: int, at: float) -> httpx.Response:
        if request.headers.get("x-api-token") != self.token:
            return _error(401, "unauthorized access")
        if self.rate_limit is not None:
            while self._recent and at - self._recent[0] >= self.rate_window:
                self._recent.popleft()
            if len(self._recent) >= self.rate_limit:
                wait = math.ceil(self.rate_window - (at - self._recent[0]))
                return _error(429, "Request over limit", {"Retry-After": str(wait), "x-ratelimit-reset": str(wait)})
            self._recent.append(at)
        if self.every_nth_500 and number % self.every_nth_500 == 0:
            return _error(500, "Internal server error")
        if self.every_nth_429 and number % self.every_nth_429 == 0:
            headers = {"Retry-After": str(self.retry_after), "x-ratelimit-reset": str(self.retry_after)}
            return _error(429, "Request over limit", headers)
        path, params = request.url.path, dict(request.url.params)
        if (one := _ONE.fullmatch(path)) and (one["id"] or request.method == "POST"):
            return self._one(request, one["what"], int(one["id"]) if one["id"] else None, params)
        if request.method != "GET":
            return _error(405, "the stand-in only reads")
        if path == "/api/v2/deals":
            self._deal_requests += 1
            if self._deal_requests == self.malformed_deals_request:
                return httpx.Response(200, content=b'{"success": true, "data": [{"id": 1, "tit', headers=_JSON)
        routes: dict[str, Callable[[dict[str, str]], httpx.Response]] = {
            "/v1/users/me": lambda _: _ok(self._me()),
            "/v1/users": lambda _: _ok([dict(user) for user in USERS]),
            "/api/v2/pipelines": lambda query: _listing(list(PIPELINES), query),
            "/api/v2/stages": lambda query: _listing(
                [{"id": i, "name": n, "pipeline_id": p, "deal_probability": d, "is_deleted": False} for i, n, p, d in STAGES],
                query,
            ),
            "/api/v2/dealFields": lambda query: _listing(self._deal_fields(), query),
            "/api/v2/activities": self._activities,
            "/api/v2/deals": lambda query: self._deals(query, archived=False),
            "/api/v2/deals/archived": lambda query: self._deals(query, archived=True),
        }
        route = routes.get(path)
        return route(params) if route else _error(404, f"Unknown method {path}")

    def _one(self, request: httpx.Request, what: str, item_id: int | None, params: dict[str, str]) -> httpx.Response:
        """One deal read or written, or an activity written."""
        if request.method == "GET":
            deal = self.deals.get(item_id) if what == "deals" and item_id else None
            if deal is None or deal["is_deleted"]:
                return _error(404, "Deal not found")
            wanted = set(params.get("include_fields", "").split(","))
            custom = set(params["custom_fields"].split(",")) if "custom_fields" in params else None
            return _ok(self._served(deal, wanted, custom))
        body = json.loads(request.content or b"{}")
        if self.deny_writes:
            return _error(403, "You do not have permissions to edit this deal.")
        if self.write_error is not None:
            return _error(400, self.write_error)
        if what == "deals" and request.method == "PATCH" and item_id in self.deals:
            deal = self.deals[item_id]
            if "stage_id" in body:
                stage = next((stage for stage in STAGES if stage[0] == body["stage_id"]), None)
                if stage is None:
                    return _error(400, "stage_id: the stage does not exist")
                deal["pipeline_id"] = stage[2]
                deal["stage_change_time"] = iso(self._next_update + dt.timedelta(seconds=1))
            deal.update(
                {key: value for key, value in body.items() if key in ("title", "value", "expected_close_date", "stage_id")}
            )
            self._touch(deal)
            self.writes.append(("PATCH", request.url.path, body))
            return _ok(self._served(deal, set(), None))
        if what == "activities" and request.method == "PATCH" and item_id is not None and self.activity(item_id) is not None:
            current = self.activity(item_id) or {}
            self._activity_changes[item_id] = {**self._activity_changes.get(item_id, {}), **body}
            if body.get("done") is True:
                self._next_activity[current["deal_id"]] = None
            self._touch(self.deals[current["deal_id"]])
            self.writes.append(("PATCH", request.url.path, body))
            return _ok(self.activity(item_id))
        if what == "activities" and request.method == "POST" and item_id is None and body.get("deal_id") in self.deals:
            new_id = NEW_ACTIVITY_IDS + len(self._activity_changes)
            deal = self.deals[body["deal_id"]]
            self._activity_changes[new_id] = {
                "id": new_id, "subject": body.get("subject", ""), "type": "task", "owner_id": deal["owner_id"],
                "deal_id": deal["id"], "due_date": body.get("due_date"), "done": False, "is_deleted": False,
            }  # fmt: skip
            self._next_activity[deal["id"]] = new_id
            self._touch(deal)
            self.writes.append(("POST", request.url.path, body))
            return _ok(self.activity(new_id))
        return _error(404, f"Unknown {what} {item_id}")

    def _me(self) -> dict[str, Any]:
        me = {**USERS[0], "company_id": 9001, "company_name": "Acme Robotics", "company_domain": COMPANY_DOMAIN}
        del me["timezone_name"]
        if self.token_user_timezone is not None:
            me["timezone_name"] = self.token_user_timezone
        return me

    def _deal_fields(self) -> list[dict[str, Any]]:
        options = [{"id": option_id, "label": label} for option_id, label in PRODUCT_LINES.items()]
        return [
            {"field_code": "title", "field_name": "Title", "field_type": "varchar", "description": "The deal's title",
             "is_custom_field": False, "is_optional_response_field": False, "options": None},
            {"field_code": PRODUCT_LINE_FIELD, "field_name": "Product line", "field_type": "enum", "description": "",
             "is_custom_field": True, "is_optional_response_field": False, "options": options},
        ]  # fmt: skip

    def _activities(self, query: dict[str, str]) -> httpx.Response:
        if "ids" not in query:
            return _error(400, "the stand-in serves activities by ids only")
        ids = [int(part) for part in query["ids"].split(",") if part.strip()]
        if len(ids) > 100:
            return _error(400, "ids: at most 100")
        found = [activity for activity in map(self.activity, ids) if activity is not None]
        return _ok(found, {"next_cursor": None})

    def _deals(self, query: dict[str, str], *, archived: bool) -> httpx.Response:
        sort_by, direction = query.get("sort_by", "id"), query.get("sort_direction", "asc")
        limit = int(query.get("limit", "100"))
        if sort_by not in SORTABLE or direction not in ("asc", "desc") or not 1 <= limit <= 500:
            return _error(400, "invalid sort_by, sort_direction or limit")
        statuses = frozenset(query["status"].split(",")) if "status" in query else DEFAULT_STATUSES
        since = _canonical(query.get("updated_since"))
        until = _canonical(query.get("updated_until"))
        keys, ordered = self._ordering(sort_by)
        start, stop = 0, len(keys)
        if "cursor" in query:
            cursor_sort, value, deal_id = json.loads(base64.urlsafe_b64decode(query["cursor"]))
            if cursor_sort != [sort_by, direction]:
                return _error(400, "cursor belongs to another sort")
            if direction == "asc":
                start = bisect.bisect_right(keys, (value, deal_id))
            else:
                stop = bisect.bisect_left(keys, (value, deal_id))
        if sort_by == "update_time" and since and direction == "asc":
            start = max(start, bisect.bisect_left(keys, (since, 0)))
        indices = range(start, stop) if direction == "asc" else range(stop - 1, start - 1, -1)
        wanted = set(query.get("include_fields", "").split(","))
        custom = set(query["custom_fields"].split(",")) if "custom_fields" in query else None
        page: list[dict[str, Any]] = []
        more = False
        for index in indices:
            deal = ordered[index]
            if deal["is_archived"] != archived:
                continue
            if not (("deleted" in statuses) if deal["is_deleted"] else (deal["status"] in statuses)):
                continue
            if (since and deal["update_time"] < since) or (until and deal["update_time"] >= until):
                continue
            if len(page) == limit:
                more = True
                break
            page.append(self._served(deal, wanted, custom))
        next_cursor = None
        if more:
            last = self.deals[page[-1]["id"]]
            keyset = [[sort_by, direction], last[sort_by], last["id"]]
            next_cursor = base64.urlsafe_b64encode(json.dumps(keyset).encode()).decode()
        return _ok(page, {"next_cursor": next_cursor})

    def _served(self, deal: dict[str, Any], wanted: set[str], custom: set[str] | None) -> dict[str, Any]:
        served = {
            key: value
            for key, value in deal.items()
            if key != "custom_fields" and (value is not None or key in NULLABLE_DEAL_FIELDS)
        }
        served["custom_fields"] = {key: value for key, value in deal["custom_fields"].items() if custom is None or key in custom}
        served.update({key: value for key, value in self.optional_fields(deal).items() if key in wanted})
        return served

    def _ordering(self, sort_by: str) -> tuple[list[tuple[Any, int]], list[dict[str, Any]]]:
        """Deals in (sort value, id) order, cached until a deal changes."""
        if sort_by not in self._ordered:
            ordered = sorted(self.deals.values(), key=lambda deal: (deal[sort_by], deal["id"]))
            self._ordered[sort_by] = ([(deal[sort_by], deal["id"]) for deal in ordered], ordered)
        return self._ordered[sort_by]


_JSON = {"content-type": "application/json"}
_ONE = re.compile(r"/api/v2/(?P<what>deals|activities)(?:/(?P<id>\d+))?")
NEW_ACTIVITY_IDS = 10_000_000  # activities created by writes: far above the generated ones (2n, 2n+1)


def _ok(data: Any, additional: dict[str, Any] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"success": True, "data": data}
    if additional is not None:
        body["additional_data"] = additional
    return httpx.Response(200, json=body)


def _listing(items: list[dict[str, Any]], query: dict[str, str]) -> httpx.Response:
    """A small collection, paged by an opaque offset cursor."""
    offset = int(base64.urlsafe_b64decode(query["cursor"])) if "cursor" in query else 0
    limit = int(query.get("limit", "100"))
    chunk = items[offset : offset + limit]
    more = offset + limit < len(items)
    return _ok(chunk, {"next_cursor": base64.urlsafe_b64encode(str(offset + limit).encode()).decode() if more else None})


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"success": False, "error": message, "errorCode": status}, headers=headers)


def _canonical(value: str | None) -> str | None:
    """An RFC 3339 time in the stand-in's own format, so that it compares as text."""
    if not value:
        return None
    return iso(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
