"""A stand-in Salesforce REST API over an in-memory org, for tests and benchmarks.

`SalesforceStandIn` is a handler (httpx.Request -> httpx.Response): use it under
httpx.MockTransport, or serve it with tests.support.loopback.LoopbackServer. It knows just the
SOQL shapes the connector sends (one regex per shape), pages query results with nextRecordsUrl,
serves the OAuth token endpoint and the deleted-records resource, and injects faults on demand.
Writes: PATCH .../sobjects/Opportunity/{id} answers 204 and changes the record (recorded in
`writes`), or refuses as Salesforce does: a field the integration user may not edit
(`read_only_fields`: INVALID_FIELD_FOR_INSERT_UPDATE), a validation rule (`validation_rule`:
FIELD_CUSTOM_VALIDATION_EXCEPTION), a StageName the picklist lacks, no edit access
(`no_edit_access`: 403 INSUFFICIENT_ACCESS_OR_READONLY); describe tells each field's `updateable`.
Every request is recorded. The org is generated deterministically: opportunity n is always the
same record, and 100,000 of them take a second or two.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import httpx

API_VERSION = "v60.0"
# Salesforce's standard sales process: (label, default probability %, closed, won).
STAGES = (
    ("Prospecting", 10, False, False), ("Qualification", 10, False, False), ("Needs Analysis", 20, False, False),
    ("Value Proposition", 50, False, False), ("Proposal/Price Quote", 75, False, False),
    ("Negotiation/Review", 90, False, False), ("Closed Won", 100, True, True), ("Closed Lost", 0, True, False),
)  # fmt: skip
OPEN_PATH = [stage[0] for stage in STAGES[:6]]
_STAGE_RULES = {label: (percent, closed, won) for label, percent, closed, won in STAGES}
PRODUCT_FAMILIES = ("Core", "Analytics", "Services")
STANDARD_FIELDS = {
    "Id", "Name", "Amount", "StageName", "CloseDate", "OwnerId", "CreatedDate", "SystemModstamp", "IsClosed", "IsWon",
    "Probability", "NextStep", "LastActivityDate", "Account.Name", "Product_Family__c", "Next_Step_Date__c",
}  # fmt: skip

_SELECT = re.compile(
    r"SELECT (?P<fields>.+?) FROM (?P<object>\w+)(?: WHERE (?P<where>.+?))?(?: GROUP BY (?P<group>[\w.]+))?"
    r"(?: ORDER BY (?P<order>[\w, ]+?))?(?: LIMIT (?P<limit>\d+))?"
)
_SINCE = re.compile(r"SystemModstamp >= (\S+)")
_HISTORY_RANGE = re.compile(
    r"OpportunityId IN \(SELECT Id FROM Opportunity WHERE SystemModstamp >= (\S+) AND SystemModstamp < (\S+)\)"
)
_BY_ID = re.compile(r"Id = '(\w+)'")
_ROW = re.compile(rf"/services/data/{API_VERSION}/sobjects/Opportunity/(?P<id>\w{{15,18}})")
_SYSTEM_FIELDS = {"Id", "CreatedDate", "SystemModstamp", "IsClosed", "IsWon", "LastActivityDate", "OwnerId"}
_MORE = re.compile(rf"/services/data/{API_VERSION}/query/(?P<locator>\w+)-(?P<offset>\d+)")


def salesforce_time(moment: dt.datetime) -> str:
    """How Salesforce writes a datetime field: 2026-11-25T15:00:00.000+0000."""
    # isoformat is several times faster than strftime, which matters for 100,000 generated records.
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")[:19] + ".000+0000"


def opportunity_id(number: int) -> str:
    return f"006{number:015d}"


def user_id(number: int) -> str:
    return f"005{number:015d}"


@dataclass
class SalesforceStandIn:
    now: dt.datetime
    opportunities: int = 100
    users: int = 4
    batch_size: int = 2000
    client_id: str = "coachbot-app"
    client_secret: str = "s3cret"
    access_token: str | None = None  # a static token the org accepts, for the access-token method
    multi_currency: bool = False  # CurrencyIsoCode exists only in multi-currency orgs
    base_url: str = "https://acme.my.salesforce.com"

    # Faults, all off by default. Salesforce never answers 429: too many long-running requests at
    # once is a 403 REQUEST_LIMIT_EXCEEDED like a spent daily allowance, told apart by its message.
    concurrency_limit_every: int | None = None  # every n-th API request answers 403 ConcurrentPerOrgLongTxn
    fail_every: int | None = None  # every n-th API request answers 500
    api_limit_spent: bool = False  # 403 REQUEST_LIMIT_EXCEEDED
    history_unavailable: bool = False  # OpportunityHistory is INVALID_TYPE for this user
    refuse_tokens: bool = False  # every API request answers 401, even with a fresh token
    garbled_pages: set[int] = field(default_factory=set)  # offsets of Opportunity query pages answered once with HTML
    # Deletions this recent are still in flight: getDeleted's latestDateCovered stops before them.
    deletions_in_flight: dt.timedelta = dt.timedelta(0)

    read_only_fields: set[str] = field(default_factory=set)  # field-level security: read, not edit
    validation_rule: tuple[str, str] | None = None  # (field, message) of a rule every write breaks
    no_edit_access: bool = False
    writes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (opportunity id, body) of each 204

    requests: list[httpx.Request] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # the status answered to each request
    token_grants: int = 0

    def __post_init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[tuple[str, str]]] = {}  # changed since generation: id -> [(stage, CreatedDate)]
        self.deleted: list[tuple[str, dt.datetime]] = []
        self.user_rows = [{"Id": user_id(n), "Email": f"Rep{n}@Example.com", "Name": f"Rep {n}"} for n in range(self.users)]
        self._valid_tokens = {self.access_token} if self.access_token else set()
        self._results: dict[str, tuple[str, list[dict[str, Any]]]] = {}  # query locator -> (object, records)
        self._locators = itertools.count(1)
        self._api_calls = 0
        self._stamp_index: list[tuple[str, str]] | None = None
        self._lock = threading.Lock()
        self._start = self.now - dt.timedelta(days=200)
        for number in range(self.opportunities):
            self._generate(number)

    # -- the org ------------------------------------------------------------------------------

    def _generate(self, number: int) -> None:
        created = self._start + dt.timedelta(seconds=97 * number)
        # Modified within the last 60 days (long after creation), in an order unlike the ids' (so ORDER BY matters).
        modified = self.now - dt.timedelta(seconds=1 + (number * 2654435761) % (60 * 86400))
        stage = _path(number)[-1]
        percent, closed, won = _STAGE_RULES[stage]
        crm_id = opportunity_id(number)
        self.records[crm_id] = {
            "Id": crm_id,
            "Name": f"Opportunity {number}",
            "Amount": float(1000 + (number % 50) * 500),
            "StageName": stage,
            "CloseDate": (created + dt.timedelta(days=60)).date().isoformat(),
            "OwnerId": user_id(number % self.users),
            "CreatedDate": salesforce_time(created),
            "SystemModstamp": salesforce_time(modified),
            "IsClosed": closed,
            "IsWon": won,
            "Probability": 35.0 if number % 11 == 0 and not closed else float(percent),
            "NextStep": "Call the buyer" if number % 2 else None,
            "LastActivityDate": (created + dt.timedelta(days=3)).date().isoformat(),
            "Account": None if number % 10 == 9 else {"attributes": {"type": "Account"}, "Name": f"Account {number % 300}"},
            "Product_Family__c": PRODUCT_FAMILIES[number % 3],
            "Next_Step_Date__c": None,
            "CurrencyIsoCode": "EUR" if number % 4 == 0 else "USD",
        }

    def history_of(self, crm_id: str) -> list[tuple[str, str]]:
        """OpportunityHistory (stage, CreatedDate) rows, oldest first; built on demand, it is most of the data."""
        if crm_id in self.history:
            return self.history[crm_id]
        number = int(crm_id[3:])
        created = self._start + dt.timedelta(seconds=97 * number)
        path = _path(number)
        rows = [(stage, salesforce_time(created + dt.timedelta(hours=5 * step))) for step, stage in enumerate(path)]
        if number % 3 == 0:  # an amount change: a history row that repeats the stage
            rows.append((path[-1], salesforce_time(created + dt.timedelta(hours=5 * len(path)))))
        return rows

    def _by_stamp(self) -> list[tuple[str, str]]:
        # Sorted once per state of the org: history queries look up a stamp range on every page.
        if self._stamp_index is None:
            self._stamp_index = sorted((record["SystemModstamp"], crm_id) for crm_id, record in self.records.items())
        return self._stamp_index

    def latest_modstamp(self) -> dt.datetime:
        return max(_parse_time(record["SystemModstamp"]) for record in self.records.values())

    def change(self, count: int) -> list[str]:
        """Change `count` opportunities now (every other one moves a stage on); returns their ids."""
        self._stamp_index = None
        changed = sorted(self.records)[: count * 7 : 7][:count]
        for position, crm_id in enumerate(changed):
            record = self.records[crm_id]
            record["Amount"] = record["Amount"] + 100
            record["SystemModstamp"] = salesforce_time(self.now)
            if position % 2 == 0 and record["StageName"] in OPEN_PATH[:-1]:
                record["StageName"] = OPEN_PATH[OPEN_PATH.index(record["StageName"]) + 1]
                self.history[crm_id] = [*self.history_of(crm_id), (record["StageName"], salesforce_time(self.now))]
        return changed

    def delete(self, crm_ids: list[str]) -> None:
        self._stamp_index = None
        for crm_id in crm_ids:
            del self.records[crm_id]
            self.deleted.append((crm_id, self.now))

    def spoil(self, crm_id: str, **fields: Any) -> None:
        """Give a record values of the wrong type (a garbage record)."""
        self._stamp_index = None
        self.records[crm_id].update(fields)

    def expire_tokens(self) -> None:
        """Every token granted so far stops working, as at the end of a session timeout."""
        self._valid_tokens = set()

    # -- what the tests read ------------------------------------------------------------------

    def queries(self) -> list[str]:
        """The SOQL of every query request (not the nextRecordsUrl follow-ups), in order."""
        return [request.url.params["q"] for request in self.requests if request.url.path.endswith("/query")]

    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]

    # -- the handler --------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            response = self._answer(request)
            self.statuses.append(response.status_code)
            return response

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/services/oauth2/token":
            return self._grant(request)
        self._api_calls += 1
        if self.fail_every and self._api_calls % self.fail_every == 0:
            return self._error(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred")
        if self.concurrency_limit_every and self._api_calls % self.concurrency_limit_every == 0:
            return self._error(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.refuse_tokens or token not in self._valid_tokens:
            return self._error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if self.api_limit_spent:
            return self._error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        path = request.url.path
        if path == f"/services/data/{API_VERSION}/query":
            return self._query(request.url.params["q"], request)
        if more := _MORE.fullmatch(path):
            return self._more(more["locator"], int(more["offset"]), request)
        if path == f"/services/data/{API_VERSION}/sobjects/Opportunity/deleted/":
            return self._deleted(request)
        if path == f"/services/data/{API_VERSION}/sobjects/Opportunity/describe":
            return self._describe()
        if (row := _ROW.fullmatch(path)) and request.method == "PATCH":
            return self._write(row["id"], json.loads(request.content or b"{}"))
        return self._error(404, "NOT_FOUND", f"The requested resource does not exist: {path}")

    def _grant(self, request: httpx.Request) -> httpx.Response:
        form = dict(urllib.parse.parse_qsl(request.content.decode()))
        if form.get("grant_type") != "client_credentials":
            return httpx.Response(400, json={"error": "unsupported_grant_type", "error_description": "grant type not supported"})
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return httpx.Response(400, json={"error": "invalid_client", "error_description": "invalid client credentials"})
        self.token_grants += 1
        token = f"00Dstandin!token{self.token_grants}"
        self._valid_tokens.add(token)
        body = {
            "access_token": token, "instance_url": self.base_url, "token_type": "Bearer",
            "id": f"{self.base_url}/id/00Dstandin/{user_id(0)}", "issued_at": str(self.token_grants), "signature": "c3RhbmRpbg==",
        }  # fmt: skip
        return httpx.Response(200, json=body)

    def _query(self, soql: str, request: httpx.Request) -> httpx.Response:
        match = _SELECT.fullmatch(soql)
        if match is None:
            return self._error(400, "MALFORMED_QUERY", f"cannot parse {soql!r}")
        fields = [name.strip() for name in match["fields"].split(",")]
        obj, where, order = match["object"], match["where"] or "", match["order"] or ""
        if obj == "User":
            rows = [dict(row) for row in self.user_rows]
        elif obj == "OpportunityStage":
            rows = [
                {"Id": f"01J{position:015d}", "MasterLabel": label, "ApiName": label, "DefaultProbability": float(percent),
                 "IsClosed": closed, "IsWon": won}
                for position, (label, percent, closed, won) in enumerate(STAGES)
            ]  # fmt: skip
        elif obj == "OpportunityHistory":
            if self.history_unavailable:
                return self._error(400, "INVALID_TYPE", "sObject type 'OpportunityHistory' is not supported.")
            low, high = map(_at, _HISTORY_RANGE.fullmatch(where).groups())  # type: ignore[union-attr]
            by_stamp = self._by_stamp()
            ids = sorted(i for _, i in by_stamp[bisect.bisect_left(by_stamp, (low,)) : bisect.bisect_left(by_stamp, (high,))])
            rows = [
                {"Id": _history_id(i, step), "OpportunityId": i, "StageName": s, "CreatedDate": c}
                for i in ids
                for step, (s, c) in enumerate(self.history_of(i))
            ]
        elif obj == "Opportunity":
            known = STANDARD_FIELDS | ({"CurrencyIsoCode"} if self.multi_currency else set())
            if unknown := [name for name in fields if name not in known]:
                return self._error(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on entity 'Opportunity'.")
            rows = list(self.records.values())
            if by_id := _BY_ID.fullmatch(where):
                rows = [row for row in rows if row["Id"] == by_id[1]]
            if since := _SINCE.fullmatch(where):
                bound = _at(since[1])
                rows = [row for row in rows if row["SystemModstamp"] >= bound]
            if match["group"]:
                obj = "AggregateResult"  # what Salesforce calls a GROUP BY query's records
                rows = [{match["group"]: value} for value in sorted({row[match["group"]] for row in rows})]
            elif order.startswith("SystemModstamp"):
                rows.sort(key=lambda row: (row["SystemModstamp"], row["Id"]), reverse=order == "SystemModstamp DESC")
        else:
            return self._error(400, "INVALID_TYPE", f"sObject type '{obj}' is not supported.")
        if match["limit"]:
            rows = rows[: int(match["limit"])]
        projected = [_project(obj, row, fields) for row in rows]
        locator = f"01gSTANDIN{next(self._locators)}"
        self._results[locator] = (obj, projected)
        return self._batch(locator, 0, request)

    def _more(self, locator: str, offset: int, request: httpx.Request) -> httpx.Response:
        if locator not in self._results:
            return self._error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        if offset in self.garbled_pages and self._results[locator][0] == "Opportunity":
            self.garbled_pages.discard(offset)
            return httpx.Response(200, text="<html><body>Service temporarily unavailable</body></html>")
        return self._batch(locator, offset, request)

    def _batch(self, locator: str, offset: int, request: httpx.Request) -> httpx.Response:
        options = request.headers.get("Sforce-Query-Options", "")
        size = int(re.search(r"batchSize=(\d+)", options)[1]) if "batchSize" in options else self.batch_size  # type: ignore[index]
        rows = self._results[locator][1]
        body: dict[str, Any] = {
            "totalSize": len(rows),
            "done": offset + size >= len(rows),
            "records": rows[offset : offset + size],
        }
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/{API_VERSION}/query/{locator}-{offset + size}"
        return self._json(body)

    def _write(self, crm_id: str, body: Any) -> httpx.Response:
        if crm_id not in self.records:
            return self._error(404, "NOT_FOUND", "The requested resource does not exist")
        if self.no_edit_access:
            return self._error(403, "INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id", [])
        if not isinstance(body, dict):
            return self._error(400, "JSON_PARSER_ERROR", "the body is not a JSON object")
        writable = {name for name in STANDARD_FIELDS if "." not in name} - _SYSTEM_FIELDS
        for name in body:
            if name not in writable:
                return self._error(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type Opportunity", [])
            if name in self.read_only_fields:
                message = f"Unable to create/update fields: {name}. Please check the security settings of this field."
                return self._error(400, "INVALID_FIELD_FOR_INSERT_UPDATE", message, [name])
        if "StageName" in body and body["StageName"] not in _STAGE_RULES:
            message = f"bad value for restricted picklist field: {body['StageName']}"
            return self._error(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", message, ["StageName"])
        if self.validation_rule is not None and self.validation_rule[0] in body:
            return self._error(400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", self.validation_rule[1], [self.validation_rule[0]])
        self.writes.append((crm_id, dict(body)))
        record = self.records[crm_id]
        self._stamp_index = None
        stamp = max(self.latest_modstamp(), self.now) + dt.timedelta(seconds=1)
        record.update(body)
        record["SystemModstamp"] = salesforce_time(stamp)
        if "StageName" in body:
            _, record["IsClosed"], record["IsWon"] = _STAGE_RULES[body["StageName"]]
            self.history[crm_id] = [*self.history_of(crm_id), (body["StageName"], salesforce_time(stamp))]
        return httpx.Response(204, headers=self._limit_info())

    def _describe(self) -> httpx.Response:
        fields = sorted(name for name in STANDARD_FIELDS if "." not in name)
        described = [
            {"name": name, "updateable": name not in _SYSTEM_FIELDS and name not in self.read_only_fields} for name in fields
        ]
        return self._json({"name": "Opportunity", "updateable": True, "fields": described})

    def _deleted(self, request: httpx.Request) -> httpx.Response:
        # Salesforce ignores the seconds of both ends.
        start = _parse_time(request.url.params["start"]).replace(second=0)
        end = _parse_time(request.url.params["end"]).replace(second=0)
        if end - start <= dt.timedelta(minutes=1) or start < self.now - dt.timedelta(days=15):
            return self._error(400, "INVALID_REPLICATION_DATE", "start must be before end, and within 15 days")
        covered = max(start, end - self.deletions_in_flight)
        found = [{"id": crm_id, "deletedDate": salesforce_time(at)} for crm_id, at in self.deleted if start <= at <= covered]
        earliest = salesforce_time(self.now - dt.timedelta(days=15))
        return self._json(
            {"deletedRecords": found, "earliestDateAvailable": earliest, "latestDateCovered": salesforce_time(covered)}
        )

    def _json(self, body: Any) -> httpx.Response:
        return httpx.Response(200, content=json.dumps(body).encode(), headers=self._limit_info("application/json"))

    def _error(self, status: int, code: str, message: str, fields: list[str] | None = None) -> httpx.Response:
        error: dict[str, Any] = {"message": message, "errorCode": code}
        if fields is not None:
            error["fields"] = fields
        return httpx.Response(status, json=[error], headers=self._limit_info())

    def _limit_info(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"Sforce-Limit-Info": f"api-usage={self._api_calls}/15000"}
        return {**headers, "Content-Type": content_type} if content_type else headers


def _path(number: int) -> list[str]:
    """The stages opportunity `number` went through: one in eight is won, one in eight lost."""
    outcome = number % 8
    if outcome < 6:
        return OPEN_PATH[: outcome + 1]
    return [*OPEN_PATH, "Closed Won"] if outcome == 6 else ["Prospecting", "Qualification", "Closed Lost"]


def _history_id(opportunity: str, step: int) -> str:
    return f"008{int(opportunity[3:]):012d}{step:03d}"


def _project(obj: str, row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {"attributes": {"type": obj}}
    if obj != "AggregateResult":  # an aggregate row is no stored record, so it has no url
        record["attributes"]["url"] = f"/services/data/{API_VERSION}/sobjects/{obj}/{row['Id']}"
    for name in fields:
        top = name.split(".", 1)[0]
        record[top] = row.get(top)
    return record


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("+0000", "+00:00")).astimezone(dt.UTC)


def _at(literal: str) -> str:
    """A SOQL datetime literal in Salesforce's stored form, so that strings compare as times."""
    return salesforce_time(_parse_time(literal))
