"""The CRM stand-ins answer, and coachbot asks, exactly as the vendors' specs in ../shared/data/vendor-specs/ say.

Each CRM's connector is driven against its stand-in through a realistic run (a first sync, changes,
deletions, an incremental sync, the doctor, and the faults its tests inject: refused tokens, rate
limits, server errors, refused fields), with every exchange recorded; then each request and each
answer is checked by tests/support/vendor_specs.py. The answers that break the contract on purpose
(the "page that is not JSON" faults) are left out. Without ../shared this module skips, saying so
(a failure under COACHBOT_TEST_REQUIRE_SHARED=1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.crm.base import CrmError
from bot.crm.hubspot import HubSpotProvider
from bot.crm.pipedrive import PipedriveProvider
from bot.crm.salesforce import SalesforceProvider
from bot.settings import Settings
from tests.conftest import require_vendor_specs
from tests.support import hubspot_standin, pipedrive_standin, salesforce_standin
from tests.support.vendor_specs import Exchange, HubSpotSpec, PipedriveSpec, Recorder, SalesforceFacts

NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def specs() -> Path:
    return require_vendor_specs()


def drain(pages: Iterator[Any]) -> str | None:
    """Read every page; the last cursor."""
    cursor = None
    for page in pages:
        cursor = page.cursor or cursor
    return cursor


def problems(check: Any, exchanges: list[Exchange]) -> list[str]:
    return sorted({problem for request, response in exchanges for problem in check(request, response)})


def seen(exchanges: list[Exchange]) -> set[tuple[str, str, int]]:
    return {(request.method, request.url.path, response.status_code) for request, response in exchanges}


# --- HubSpot ---------------------------------------------------------------------------------


def hubspot(standin: hubspot_standin.HubSpotStandIn, exchanges: list[Exchange], **settings: Any) -> HubSpotProvider:
    time = FakeTime()
    values = {
        "crm_provider": "hubspot",
        "hubspot_token": hubspot_standin.TOKEN,
        "crm_field_map": "product_line=product_family",
        **settings,
    }
    return HubSpotProvider.from_settings(
        Settings(**values),
        transport=httpx.MockTransport(Recorder(standin, exchanges)),
        sleep=time.sleep,
        clock=time.monotonic,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def hubspot_run() -> list[Exchange]:
    exchanges: list[Exchange] = []
    # 250 deals in one millisecond: more than a page, so the walk by object id runs too.
    standin = hubspot_standin.HubSpotStandIn(700, same_instant=range(100, 350))
    standin.corrupt(3, amount=None, hs_next_step=None)
    provider = hubspot(standin, exchanges)
    cursor = drain(provider.fetch_deals(None))
    standin.change([5, 6, 7])
    standin.archive([8, 9])
    drain(provider.fetch_deals(cursor))
    provider.doctor()
    drain(hubspot(hubspot_standin.HubSpotStandIn(300, throttle_every=5, fail_every=3), exchanges).fetch_deals(None))
    with pytest.raises(CrmError):
        hubspot(hubspot_standin.HubSpotStandIn(10), exchanges, hubspot_token="pat-na1-revoked").doctor()
    with pytest.raises(CrmError):
        hubspot(hubspot_standin.HubSpotStandIn(10, scopes=frozenset({"crm.objects.owners.read"})), exchanges).doctor()
    return exchanges


def test_hubspot_stand_in_answers_and_coachbot_requests_keep_hubspots_openapi(specs: Path, hubspot_run: list[Exchange]) -> None:
    spec = HubSpotSpec(specs / "hubspot")

    assert problems(spec.check, hubspot_run) == []
    assert {
        ("POST", "/crm/v3/objects/deals/search", 200), ("POST", "/crm/v3/objects/deals/search", 403),
        ("GET", "/crm/v3/owners", 200), ("GET", "/crm/v3/owners", 401), ("GET", "/crm/v3/pipelines/deals", 200),
        ("GET", "/crm/v3/objects/deals", 200),
    } <= seen(hubspot_run)  # fmt: skip
    assert {429, 500} <= {status for _, _, status in seen(hubspot_run)}


def test_the_hubspot_check_catches_an_error_without_a_correlation_id_and_a_search_over_200(specs: Path) -> None:
    spec = HubSpotSpec(specs / "hubspot")
    search = httpx.Request(
        "POST", "https://api.hubapi.com/crm/v3/objects/deals/search", headers={"Authorization": "Bearer x"},
        json={"filterGroups": [], "sorts": [{"propertyName": "hs_lastmodifieddate"}], "properties": [], "limit": 201},
    )  # fmt: skip
    throttled = httpx.Response(
        429, json={"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT"}
    )

    assert spec.check(search, throttled) == [
        "POST /crm/v3/objects/deals/search request: (body): 'after' is a required property",
        "POST /crm/v3/objects/deals/search request: limit 201 is above the 200 the spec allows",
        "POST /crm/v3/objects/deals/search 429 answer: (body): 'category' is a required property",
        "POST /crm/v3/objects/deals/search 429 answer: (body): 'correlationId' is a required property",
    ]


# --- Pipedrive -------------------------------------------------------------------------------


def pipedrive(standin: pipedrive_standin.PipedriveStandIn, exchanges: list[Exchange], **settings: Any) -> PipedriveProvider:
    time = FakeTime()
    values = {"crm_provider": "pipedrive", "pipedrive_api_token": pipedrive_standin.TOKEN, **settings}
    return PipedriveProvider.from_settings(
        Settings(_env_file=None, **values),  # type: ignore[arg-type]
        transport=httpx.MockTransport(Recorder(standin, exchanges)), sleep=time.sleep, clock=time.monotonic, requests_per_window=1000,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pipedrive_run() -> list[Exchange]:
    exchanges: list[Exchange] = []
    standin = pipedrive_standin.PipedriveStandIn(1200)
    provider = pipedrive(standin, exchanges, crm_field_map=f"product_line={pipedrive_standin.PRODUCT_LINE_FIELD}")
    provider.product_lines()
    cursor = drain(provider.fetch_deals(None))
    standin.change(5)
    standin.delete([3])
    standin.archive([4])
    drain(provider.fetch_deals(cursor))
    provider.doctor()
    drain(pipedrive(pipedrive_standin.PipedriveStandIn(600, every_nth_429=4, every_nth_500=7), exchanges).fetch_deals(None))
    with pytest.raises(CrmError):
        pipedrive(pipedrive_standin.PipedriveStandIn(5), exchanges, pipedrive_api_token="revoked").doctor()
    return exchanges


def test_pipedrive_stand_in_answers_and_coachbot_requests_keep_pipedrives_api_model(
    specs: Path, pipedrive_run: list[Exchange]
) -> None:
    spec = PipedriveSpec(specs / "pipedrive")

    assert problems(spec.check, pipedrive_run) == []
    assert {
        ("GET", "/api/v2/deals", 200), ("GET", "/api/v2/deals", 429), ("GET", "/api/v2/deals/archived", 200),
        ("GET", "/api/v2/activities", 200), ("GET", "/api/v2/stages", 200), ("GET", "/api/v2/dealFields", 200),
        ("GET", "/v1/users", 200), ("GET", "/v1/users/me", 200), ("GET", "/v1/users/me", 401),
    } <= seen(pipedrive_run)  # fmt: skip
    assert any(response.status_code == 500 for _, response in pipedrive_run)


def test_the_pipedrive_check_catches_a_field_the_deal_model_lacks_and_a_token_in_the_url(specs: Path) -> None:
    spec = PipedriveSpec(specs / "pipedrive")
    request = httpx.Request("GET", "https://api.pipedrive.com/api/v2/deals", params={"api_token": "t", "limit": "600"})
    answer = httpx.Response(200, json={"success": True, "data": [{"id": 1, "creator_user_id": 101, "won_time": None}]})

    assert spec.check(request, answer) == [
        "GET /api/v2/deals: the API token is not in the x-api-token header",
        "GET /api/v2/deals: query parameter 'api_token' is not one the operation declares",
        "GET /api/v2/deals: limit=600 is above the maximum of 500",
        "GET /api/v2/deals: item 0 has 'creator_user_id', which the model does not have",
        "GET /api/v2/deals: item 0 won_time=None is not a string",
    ]


# --- Salesforce ------------------------------------------------------------------------------


def salesforce(standin: salesforce_standin.SalesforceStandIn, exchanges: list[Exchange], **settings: Any) -> SalesforceProvider:
    credentials = (
        {"salesforce_access_token": standin.access_token}
        if standin.access_token
        else {"salesforce_client_id": standin.client_id, "salesforce_client_secret": standin.client_secret}
    )
    values = {"crm_provider": "salesforce", "salesforce_instance_url": standin.base_url, **credentials, **settings}
    return SalesforceProvider.from_settings(
        Settings(_env_file=None, **values),  # type: ignore[arg-type]
        transport=httpx.MockTransport(Recorder(standin, exchanges)), sleep=lambda _: None, page_size=200, calls_per_second=10_000,
        utc_now=lambda: standin.now,
    )  # fmt: skip


@pytest.fixture(scope="module")
def salesforce_run() -> list[Exchange]:
    exchanges: list[Exchange] = []
    standin = salesforce_standin.SalesforceStandIn(now=NOW, opportunities=1000, multi_currency=True)
    provider = salesforce(standin, exchanges, crm_field_map="product_line=Product_Family__c, currency=CurrencyIsoCode")
    provider.product_lines()
    cursor = drain(provider.fetch_deals(None))
    standin.now = NOW + dt.timedelta(hours=1)
    standin.change(10)
    standin.delete([salesforce_standin.opportunity_id(n) for n in (4, 40)])
    standin.now = NOW + dt.timedelta(hours=2)
    drain(provider.fetch_deals(cursor))
    provider.doctor()
    faulty = salesforce_standin.SalesforceStandIn(now=NOW, opportunities=600, concurrency_limit_every=4, fail_every=9)
    drain(salesforce(faulty, exchanges).fetch_deals(None))
    drain(
        salesforce(
            salesforce_standin.SalesforceStandIn(now=NOW, opportunities=300, history_unavailable=True), exchanges
        ).fetch_deals(None)
    )
    refusals: list[dict[str, Any]] = [
        {"api_limit_spent": True},
        {"refuse_tokens": True},
        {"client_secret": "wrong", "access_token": None},
    ]
    for faults in refusals:
        org = salesforce_standin.SalesforceStandIn(
            now=NOW, opportunities=5, **{k: v for k, v in faults.items() if k != "client_secret"}
        )
        wrong = {"salesforce_client_secret": faults["client_secret"]} if "client_secret" in faults else {}
        with pytest.raises(CrmError):
            drain(salesforce(org, exchanges, **wrong).fetch_deals(None))
    with pytest.raises(CrmError):
        drain(
            salesforce(
                salesforce_standin.SalesforceStandIn(now=NOW, opportunities=5), exchanges, crm_field_map="next_step_date=Nope__c"
            ).fetch_deals(None)
        )
    static = salesforce_standin.SalesforceStandIn(now=NOW, opportunities=5, access_token="00Dstatic!token")
    drain(salesforce(static, exchanges).fetch_deals(None))
    return exchanges


def test_salesforce_stand_in_answers_and_coachbot_requests_keep_salesforces_documented_rest_facts(
    specs: Path, salesforce_run: list[Exchange]
) -> None:
    facts = SalesforceFacts(specs / "salesforce")
    api = "/services/data/v60.0"

    assert problems(facts.check, salesforce_run) == []
    statuses = {status for _, _, status in seen(salesforce_run)}
    assert {200, 400, 401, 403, 500} <= statuses and 429 not in statuses
    assert {("GET", f"{api}/sobjects/Opportunity/deleted/", 200), ("POST", "/services/oauth2/token", 400)} <= seen(salesforce_run)
    assert any(request.url.path.startswith(f"{api}/query/01g") for request, _ in salesforce_run)  # query more


def test_the_salesforce_check_catches_a_429_an_unknown_field_and_a_bare_deleted_answer(specs: Path) -> None:
    facts = SalesforceFacts(specs / "salesforce")
    query = httpx.Request(
        "GET", "https://acme.my.salesforce.com/services/data/v60.0/query", params={"q": "SELECT Id, Stage FROM Opportunity"}
    )
    deleted = httpx.Request(
        "GET", "https://acme.my.salesforce.com/services/data/v60.0/sobjects/Opportunity/deleted/",
        params={"start": "2026-11-25 15:00", "end": "2026-11-25T16:00:00Z"},
    )  # fmt: skip

    assert facts.check(query, httpx.Response(429, json=[{"message": "Too many requests", "errorCode": "TOO_MANY_REQUESTS"}])) == [
        "GET /services/data/v60.0/query: SOQL reads Opportunity.Stage, which the field reference does not list",
        "GET /services/data/v60.0/query: status 429 is not one Salesforce documents",
    ]
    assert facts.check(deleted, httpx.Response(200, json={"deletedRecords": [{"id": "006000000000000004"}]})) == [
        "GET /services/data/v60.0/sobjects/Opportunity/deleted/: start='2026-11-25 15:00' is not the documented date-time format",
        "GET /services/data/v60.0/sobjects/Opportunity/deleted/: a getDeleted answer lacks earliestDateAvailable",
        "GET /services/data/v60.0/sobjects/Opportunity/deleted/: a getDeleted answer lacks latestDateCovered",
        "GET /services/data/v60.0/sobjects/Opportunity/deleted/: a deleted record lacks deletedDate",
    ]
