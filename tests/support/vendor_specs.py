"""Check HTTP exchanges with a CRM against the vendor's own spec in ../shared/data/vendor-specs/.

Each checker takes one recorded (request, response) pair and returns the problems it finds, as
sentences naming the spec's words; an empty list means the pair keeps the contract. They read only
what the spec files say, so a check is as strict as the vendor's document and no stricter:

- HubSpot: the OpenAPI files (deals, owners, pipelines). Query parameters must be declared and of
  their type, bodies must validate against the request and response schemas (jsonschema), and the
  search `limit` must stay within "up to N objects".
- Pipedrive: the operations and models extracted from its generated client: the operation must
  exist, each query parameter must be one it declares, of its type, within the limits its doc text
  states ("a maximum value of 500", "up to 100 entity ids"), the token in the x-api-token header;
  each returned item may carry only its model's fields, with values of the declared types.
- Salesforce: the REST facts transcribed from its documentation: resources and their parameters,
  SOQL fields the field reference lists, the batch-size and URI limits, documented status codes,
  the error shape, and each response's required fields.

Writes (the Update modal) are held to the same files: HubSpot's PATCH body against
SimplePublicObjectInput; Pipedrive's PATCH/POST bodies field by field against the Deal and
ActivityItem models (the extract has no request models: a body may carry only fields the model
has, of their types); Salesforce's PATCH body against the Opportunity fields the field reference
lists. The facts file transcribes no sObject Rows or Describe resource, so those two are written
down here, each with the documentation page it comes from (WRITE_RESOURCES).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

Exchange = tuple[httpx.Request, httpx.Response]


class Recorder:
    """Wraps a stand-in handler and keeps every exchange, read in full, in `exchanges` (a list it may share)."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response], exchanges: list[Exchange] | None = None) -> None:
        self.handler = handler
        self.exchanges: list[Exchange] = [] if exchanges is None else exchanges

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = self.handler(request)
        response.read()
        self.exchanges.append((request, response))
        return response


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return _NOT_JSON


_NOT_JSON = object()


def _is_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_uuid(value: object) -> bool:
    return (
        not isinstance(value, str)
        or re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", value) is not None
    )


_FORMATS = FormatChecker(formats=())
_FORMATS.checks("date-time")(_is_time)
_FORMATS.checks("uuid")(_is_uuid)


# --- HubSpot ---------------------------------------------------------------------------------

# HubSpot names a CRM object by its type name or its id; the specs use the id (deals are 0-3).
_HUBSPOT_OBJECT_IDS = {"/crm/v3/objects/deals": "/crm/v3/objects/0-3"}
# The OpenAPI types search sorts as strings, a known generator error: HubSpot's search guide and
# its API take {propertyName, direction} objects (HubSpot/hubspot-api-python#236,
# HubSpot/hubspot-api-nodejs#559). The check holds coachbot to the documented object form.
_SORT = {
    "type": "object",
    "required": ["propertyName"],
    "properties": {"propertyName": {"type": "string"}, "direction": {"enum": ["ASCENDING", "DESCENDING"]}},
}


class HubSpotSpec:
    def __init__(self, folder: Path) -> None:
        # (path pattern, method, operation, the spec's registry URI, the spec)
        self.operations: list[tuple[re.Pattern[str], str, dict[str, Any], str, dict[str, Any]]] = []
        registry: Registry = Registry()
        for name in ("deals.v3.json", "crmOwners.v3.json", "pipelines.v3.json"):
            spec = json.loads((folder / name).read_text())
            if name == "deals.v3.json":
                spec = copy.deepcopy(spec)
                spec["components"]["schemas"]["PublicObjectSearchRequest"]["properties"]["sorts"]["items"] = _SORT
            uri = f"urn:hubspot:{name}"
            registry = registry.with_resource(uri, Resource(contents=spec, specification=DRAFT7))
            for template, methods in spec["paths"].items():
                pattern = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
                for method, operation in methods.items():
                    if isinstance(operation, dict) and "responses" in operation:
                        self.operations.append((pattern, method.upper(), operation, uri, spec))
        self.registry = registry

    def _operation(self, request: httpx.Request) -> tuple[dict[str, Any], str, dict[str, Any]] | None:
        path = request.url.path
        for alias, object_id in _HUBSPOT_OBJECT_IDS.items():
            if path == alias or path.startswith(alias + "/"):
                path = object_id + path[len(alias) :]
        for pattern, method, operation, uri, spec in self.operations:
            if method == request.method and pattern.match(path):
                return operation, uri, spec
        return None

    def _validate(self, uri: str, schema: dict[str, Any], instance: Any, what: str) -> list[str]:
        resolved = schema
        if "$ref" in schema:
            resolved = {"$ref": uri + schema["$ref"]}
        validator = Draft7Validator(resolved, registry=self.registry, format_checker=_FORMATS)
        return [
            f"{what}: {'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
            for error in sorted(validator.iter_errors(instance), key=lambda error: list(map(str, error.absolute_path)))
        ]

    def check(self, request: httpx.Request, response: httpx.Response) -> list[str]:
        where = f"{request.method} {request.url.path}"
        found = self._operation(request)
        if found is None:
            return [f"{where}: no such operation in HubSpot's OpenAPI"]
        operation, uri, spec = found
        problems = []
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            problems.append(f"{where}: no bearer token")
        declared = {p["name"]: p for p in operation.get("parameters", []) if p.get("in") == "query"}
        for name, value in request.url.params.multi_items():
            if name not in declared:
                problems.append(f"{where}: query parameter {name!r} is not one the operation declares")
            elif not _query_value_ok(declared[name]["schema"].get("type"), value):
                problems.append(f"{where}: query parameter {name}={value!r} is not of type {declared[name]['schema']['type']}")
        if body_spec := operation.get("requestBody"):
            schema = body_spec["content"]["application/json"]["schema"]
            body = json.loads(request.content) if request.content else None
            problems += self._validate(uri, schema, body, f"{where} request")
            problems += _within_stated_limit(spec, schema, body, where)
        responses = operation["responses"]
        answer = responses.get(str(response.status_code)) or responses.get("default")
        if answer is None:
            return [*problems, f"{where}: status {response.status_code} is not one the operation documents"]
        if "$ref" in answer:
            answer = spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[-1]]
        content = answer.get("content", {})
        media = content.get("application/json") or content.get("*/*")
        if media is not None:
            body = _json(response)
            if body is _NOT_JSON:
                problems.append(f"{where}: answered {response.status_code} with something that is not JSON")
            else:
                problems += self._validate(uri, media["schema"], body, f"{where} {response.status_code} answer")
        return problems


def _query_value_ok(kind: str | None, value: str) -> bool:
    if kind == "integer":
        return value.lstrip("-").isdigit()
    if kind == "boolean":
        return value in ("true", "false")
    return True


def _within_stated_limit(spec: dict[str, Any], schema: dict[str, Any], body: Any, where: str) -> list[str]:
    """A `limit` whose description says "up to N objects" must be at most N (the schema has no maximum)."""
    if "$ref" not in schema or not isinstance(body, dict) or "limit" not in body:
        return []
    target = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    stated = re.search(r"up to (\d+) objects", target.get("properties", {}).get("limit", {}).get("description", ""))
    if stated and isinstance(body["limit"], int) and body["limit"] > int(stated[1]):
        return [f"{where} request: limit {body['limit']} is above the {stated[1]} the spec allows"]
    return []


# --- Pipedrive -------------------------------------------------------------------------------

_DEAL = "v2/models/deal.ts"
_PIPEDRIVE_MODELS = {
    "/api/v2/deals": [_DEAL],
    "/api/v2/deals/archived": [_DEAL],
    "/api/v2/activities": ["v2/models/activity-item.ts"],
    "/api/v2/stages": ["v2/models/stage-item.ts"],
    "/api/v2/dealFields": ["v2/models/get-deal-fields200-response-data-inner.ts"],
    "/v1/users": ["v1/models/base-user.ts"],
    "/v1/users/me": ["v1/models/base-user.ts", "v1/models/get-current-user-response-all-of-data-all-of.ts"],
}


_PIPEDRIVE_TEMPLATE_MODELS = {
    "/api/v2/deals/{id}": [_DEAL],
    "/api/v2/activities/{id}": ["v2/models/activity-item.ts"],
}
# What a write's body may carry: the fields of the model the operation writes.
_PIPEDRIVE_BODY_MODELS = {
    ("PATCH", "/api/v2/deals/{id}"): _DEAL,
    ("PATCH", "/api/v2/activities/{id}"): "v2/models/activity-item.ts",
    ("POST", "/api/v2/activities"): "v2/models/activity-item.ts",
}
_READ_ONLY_MODEL_FIELDS = {"id", "add_time", "update_time", "creator_user_id", "is_deleted", "marked_as_done_time"}


class PipedriveSpec:
    def __init__(self, folder: Path) -> None:
        extract = json.loads((folder / "pipedrive_client_nodejs.json").read_text())
        self.operations = {(op["method"], op["path"]): op for op in extract["operations"]}
        self.templates = [
            (re.compile(re.sub(r"\\\{[^}]+\\\}", "[0-9]+", re.escape(op["path"])) + "$"), op)
            for op in extract["operations"]
            if "{" in op["path"]
        ]
        self.models: dict[str, dict[str, dict[str, Any]]] = extract["models"]

    def _operation(self, request: httpx.Request) -> dict[str, Any] | None:
        found = self.operations.get((request.method, request.url.path))
        if found is None:
            found = next(
                (op for pattern, op in self.templates if op["method"] == request.method and pattern.match(request.url.path)),
                None,
            )
        return found

    def check(self, request: httpx.Request, response: httpx.Response) -> list[str]:
        path = request.url.path
        where = f"{request.method} {path}"
        operation = self._operation(request)
        if operation is None:
            return [f"{where}: no such operation in Pipedrive's API"]
        problems = []
        if operation.get("api_key_header") and not request.headers.get("x-api-token"):
            problems.append(f"{where}: the API token is not in the x-api-token header")
        for name, value in request.url.params.multi_items():
            declared = operation["params"].get(name)
            if declared is None:
                problems.append(f"{where}: query parameter {name!r} is not one the operation declares")
                continue
            problems += [f"{where}: {problem}" for problem in _pipedrive_param_problems(name, value, declared)]
        if (model := _PIPEDRIVE_BODY_MODELS.get((request.method, operation["path"]))) is not None:
            problems += [f"{where} request: {problem}" for problem in self._body_problems(request, model)]
        if response.status_code == 200:
            problems += self._answer_problems(request, response, where, operation["path"])
        elif response.status_code >= 400:
            body = _json(response)
            if not (isinstance(body, dict) and body.get("success") is False and isinstance(body.get("error"), str)):
                problems.append(f"{where}: a {response.status_code} without success=false and an error text")
        return problems

    def _body_problems(self, request: httpx.Request, model: str) -> list[str]:
        body = json.loads(request.content) if request.content else None
        if not isinstance(body, dict) or not body:
            return ["the body is not a non-empty JSON object"]
        fields = self.models[model]
        problems = []
        for name, value in body.items():
            if name not in fields or name in _READ_ONLY_MODEL_FIELDS:
                problems.append(f"{name!r} is not a writable field of {model}")
            elif not _ts_type_ok(fields[name]["type"], value) and value is not None:
                problems.append(f"{name}={value!r} is not a {fields[name]['type']}")
        return problems

    def _answer_problems(self, request: httpx.Request, response: httpx.Response, where: str, template: str) -> list[str]:
        body = _json(response)
        if not isinstance(body, dict) or body.get("success") is not True or "data" not in body:
            return [f"{where}: a 200 without success and data"]
        data = body["data"]
        items = data if isinstance(data, list) else [data]
        fields: dict[str, dict[str, Any]] = {}
        models = _PIPEDRIVE_MODELS.get(request.url.path) or _PIPEDRIVE_TEMPLATE_MODELS.get(template, [])
        if (request.method, template) == ("POST", "/api/v2/activities"):
            models = ["v2/models/activity-item.ts"]
        for model in models:
            fields.update(self.models[model])
        extra = set()
        if _DEAL in models:
            # include_fields adds fields the Deal model leaves out; the request names them.
            extra = set(filter(None, request.url.params.get("include_fields", "").split(",")))
        problems = []
        for position, item in enumerate(items):
            if not isinstance(item, dict):
                problems.append(f"{where}: item {position} is not an object")
                continue
            for name, value in item.items():
                if name in extra:
                    continue
                if name not in fields:
                    problems.append(f"{where}: item {position} has {name!r}, which the model does not have")
                elif not _ts_type_ok(fields[name]["type"], value):
                    problems.append(f"{where}: item {position} {name}={value!r} is not a {fields[name]['type']}")
            missing = [name for name, field in fields.items() if not field.get("optional") and name not in item]
            problems += [f"{where}: item {position} lacks the required {name!r}" for name in missing]
        return problems


def _pipedrive_param_problems(name: str, value: str, declared: dict[str, Any]) -> list[str]:
    kind, doc = declared["type"], declared.get("doc", "")
    parts = value.split(",")
    problems = []
    if kind == "number" and not value.isdigit():
        problems.append(f"{name}={value!r} is not a number")
    if kind == "boolean" and value not in ("true", "false"):
        problems.append(f"{name}={value!r} is not true or false")
    if kind.startswith("'"):
        allowed = set(re.findall(r"'([^']*)'", kind))
        if len(parts) > 1 and "comma separated" not in doc:
            problems.append(f"{name} takes one value, got {value!r}")
        problems += [f"{name}: {part!r} is not one of {sorted(allowed)}" for part in parts if part not in allowed]
    if (ceiling := re.search(r"maximum value of (\d+)", doc)) and value.isdigit() and int(value) > int(ceiling[1]):
        problems.append(f"{name}={value} is above the maximum of {ceiling[1]}")
    for pattern in (r"up to (\d+) entity ids", r"maximum of (\d+) keys"):
        if (most := re.search(pattern, doc)) and len(parts) > int(most[1]):
            problems.append(f"{name} has {len(parts)} values, more than {most[1]}")
    return problems


def _ts_type_ok(kind: str, value: Any) -> bool:
    """Whether `value` fits a TypeScript type of the generated client ('number | null', 'Array<number>', ...)."""
    if kind.startswith("{"):
        return isinstance(value, dict)
    for alternative in (part.strip() for part in kind.split("|")):
        if alternative == "null" and value is None:
            return True
        if alternative == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        if alternative == "string" and isinstance(value, str):
            return True
        if alternative == "boolean" and isinstance(value, bool):
            return True
        if alternative.startswith("Array<") and isinstance(value, list):
            return True
        if re.fullmatch(r"[A-Z]\w*", alternative) and value is not None:
            return True  # a model the extract does not describe: only its presence can be checked
    return False


# --- Salesforce ------------------------------------------------------------------------------

_SELECT = re.compile(r"SELECT (.+?) FROM (\w+)")


# Resources the facts file does not transcribe, from the pages named: the Update modal's write and
# the doctor's check of which fields the integration user may edit.
WRITE_RESOURCES = {
    "sobject_rows_patch": {
        "source": "https://developer.salesforce.com/docs/platform/api-rest/guide/dome-update-fields.md (Update a Record: "
        "PATCH /services/data/vXX.X/sobjects/{object}/{id}, the changed fields as a JSON object, no response body)",
        "method": "PATCH",
        "path": "^/services/data/v\\d+\\.\\d+/sobjects/Opportunity/[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$",
        "params": [],
        "success": 204,
    },
    "sobject_describe": {
        "source": "https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm "
        "(GET /services/data/vXX.X/sobjects/{object}/describe: fields, each with name and updateable)",
        "method": "GET",
        "path": "^/services/data/v\\d+\\.\\d+/sobjects/Opportunity/describe/?$",
        "params": [],
    },
}


class SalesforceFacts:
    def __init__(self, folder: Path) -> None:
        self.facts = json.loads((folder / "rest_api_facts.json").read_text())

    def _resource(self, request: httpx.Request) -> tuple[str, dict[str, Any]] | None:
        for name, resource in {**self.facts["resources"], **WRITE_RESOURCES}.items():
            if resource["method"] == request.method and re.search(resource["path"], request.url.path):
                return name, resource
        return None

    def check(self, request: httpx.Request, response: httpx.Response) -> list[str]:
        where = f"{request.method} {request.url.path}"
        found = self._resource(request)
        if found is None:
            return [f"{where}: no such resource in Salesforce's REST API facts"]
        name, resource = found
        problems = [f"{where}: {problem}" for problem in self._request_problems(name, resource, request)]
        documented = self.facts["status_codes"]["documented"]
        if response.status_code not in documented:
            return [*problems, f"{where}: status {response.status_code} is not one Salesforce documents"]
        body = _json(response)
        if response.status_code >= 400:
            if name != "token":
                problems += [f"{where}: {problem}" for problem in self._error_problems(response.status_code, body)]
            return problems
        if name == "sobject_rows_patch":
            if response.status_code != WRITE_RESOURCES[name]["success"] or response.content:
                problems.append(f"{where}: an update answers 204 with no body, not {response.status_code}")
            return problems
        problems += [f"{where}: {problem}" for problem in self._answer_problems(name, body)]
        return problems

    def _request_problems(self, name: str, resource: dict[str, Any], request: httpx.Request) -> list[str]:
        problems = []
        for param in request.url.params:
            if param not in resource["params"] and name != "token":
                problems.append(f"query parameter {param!r} is not one the resource takes")
        size = len(str(request.url)) + sum(len(k) + len(v) + 4 for k, v in request.headers.items())
        if size > self.facts["uri_limit"]["uri_and_headers_bytes"]:
            problems.append(
                f"URI and headers are {size} bytes, over the {self.facts['uri_limit']['uri_and_headers_bytes']} limit"
            )
        batch = self.facts["batch_size"]
        if options := request.headers.get(batch["header"]):
            size_asked = int(re.search(r"batchSize=(\d+)", options)[1])  # type: ignore[index]
            if not batch["min"] <= size_asked <= batch["max"]:
                problems.append(f"batchSize={size_asked} is outside {batch['min']}..{batch['max']}")
        if name == "get_deleted":
            rules = self.facts["get_deleted_rules"]
            for end in ("start", "end"):
                if not re.fullmatch(rules["datetime_format"], request.url.params.get(end, "")):
                    problems.append(f"{end}={request.url.params.get(end)!r} is not the documented date-time format")
            version = float(re.search(r"/v(\d+\.\d+)/", request.url.path)[1])  # type: ignore[index]
            if version < resource["since_version"]:
                problems.append(f"getDeleted needs API version {resource['since_version']} or later")
        if name == "query":
            problems += self._soql_problems(request.url.params.get("q", ""))
        if name == "sobject_rows_patch":
            problems += self._write_body_problems(request)
        if name == "token":
            form = dict(urllib.parse.parse_qsl(request.content.decode()))
            rules = resource["form"]
            problems += [f"the token request lacks {field}" for field in rules["required"] if not form.get(field)]
            if form.get("grant_type") != rules["grant_type"]:
                problems.append(f"grant_type is {form.get('grant_type')!r}, not {rules['grant_type']}")
        return problems

    def _write_body_problems(self, request: httpx.Request) -> list[str]:
        try:
            body = json.loads(request.content)
        except ValueError:
            return ["the body is not JSON"]
        if not isinstance(body, dict) or not body:
            return ["the body is not a non-empty JSON object of fields"]
        known = self.facts["objects"]["Opportunity"]
        problems = []
        for name, value in body.items():
            if name not in known and not name.endswith("__c"):
                problems.append(f"writes Opportunity.{name}, which the field reference does not list")
            if isinstance(value, dict | list):
                problems.append(f"{name} is not a field value (JSON string, number, boolean or null)")
        return problems

    def _soql_problems(self, soql: str) -> list[str]:
        objects = self.facts["objects"]
        problems = []
        for fields, obj in _SELECT.findall(soql):
            known = objects.get(obj)
            if known is None:
                problems.append(f"SOQL reads {obj}, which the field reference does not describe")
                continue
            for field in (part.strip() for part in fields.split(",")):
                relationship, dot, _ = field.partition(".")
                if dot and relationship in objects.get(f"{obj}_relationships", {}):
                    continue
                if field.endswith("__c"):
                    continue  # a custom field: the org's own, which no reference lists
                if field not in known:
                    problems.append(f"SOQL reads {obj}.{field}, which the field reference does not list")
        return problems

    def _error_problems(self, status: int, body: Any) -> list[str]:
        if not (
            isinstance(body, list) and body and all(isinstance(e, dict) and {"message", "errorCode"} <= set(e) for e in body)
        ):
            return [f"the {status} answer is not an array of {{message, errorCode}}"]
        code = body[0]["errorCode"]
        expected = self.facts["error_body"]["codes"].get(str(status), "").split(" ")[0]
        if status == 401 and code != expected:
            return [f"a 401 says {code}, not {expected}"]
        return []

    def _answer_problems(self, name: str, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return ["the answer is not a JSON object"]
        if name in ("query", "query_more"):
            rules = self.facts["query_response"]
            problems = [f"a query answer lacks {field}" for field in rules["required"] if field not in body]
            if body.get("done") is False and not re.search(
                self.facts["resources"]["query_more"]["path"], body.get(rules["more"], "")
            ):
                problems.append("a query answer with done=false has no usable nextRecordsUrl")
            for record in body.get("records", []):
                attributes = record.get("attributes", {}) if isinstance(record, dict) else {}
                # An aggregate (GROUP BY) row is no stored record: it has a type and no url.
                wanted = ["type"] if attributes.get("type") == "AggregateResult" else rules["record_attributes"]
                problems += [
                    f"a {attributes.get('type')} record's attributes lack {field}" for field in wanted if field not in attributes
                ]
            return problems
        if name == "get_deleted":
            rules = self.facts["get_deleted_rules"]
            problems = [f"a getDeleted answer lacks {field}" for field in rules["response_required"] if field not in body]
            for row in body.get("deletedRecords", []):
                problems += [f"a deleted record lacks {field}" for field in rules["deleted_record_required"] if field not in row]
            return problems
        if name == "token":
            return [f"the token answer lacks {field}" for field in self.facts["token_response"]["required"] if field not in body]
        if name == "sobject_describe":
            fields = body.get("fields")
            if not isinstance(fields, list) or not all(isinstance(f, dict) and {"name", "updateable"} <= set(f) for f in fields):
                return ["a describe answer lacks fields with name and updateable"]
        return []
