"""Writing a deal back through each CRM connector, against its stand-in: the requests sent (held to
the vendor's spec), the deal read back, and every kind of refusal as errors by field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.crm.csv_export import CsvProvider
from bot.crm.demo import DemoProvider
from bot.crm.hubspot import HubSpotProvider
from bot.crm.pipedrive import PipedriveProvider
from bot.crm.salesforce import SalesforceProvider
from bot.crm.writes import GENERAL, WriteRefused
from bot.settings import Settings
from tests.conftest import require_vendor_specs
from tests.support import hubspot_standin, pipedrive_standin, salesforce_standin
from tests.support.vendor_specs import Exchange, HubSpotSpec, PipedriveSpec, Recorder, SalesforceFacts

NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
FIX = {
    "next_step": "Send the MSA",
    "close_date": dt.date(2026, 12, 15),
    "amount": Decimal("12500.00"),
    "stage": "Negotiation",
}


@pytest.fixture(scope="module")
def specs() -> Path:
    return require_vendor_specs()


def refused(provider: Any, crm_id: str, changes: dict[str, Any]) -> WriteRefused:
    with pytest.raises(WriteRefused) as caught:
        provider.write_deal(crm_id, changes)
    return caught.value


def problems(check: Any, exchanges: list[Exchange]) -> list[str]:
    return sorted({problem for request, response in exchanges for problem in check(request, response)})


# --- HubSpot ---------------------------------------------------------------------------------

DEAL_9 = hubspot_standin.HubSpotStandIn.deal_id(9)  # in the Enterprise pipeline, at Proposal


def hubspot(standin: hubspot_standin.HubSpotStandIn, exchanges: list[Exchange], **settings: Any) -> HubSpotProvider:
    values = {"crm_provider": "hubspot", "hubspot_token": hubspot_standin.TOKEN, "timezone": "America/New_York", **settings}
    return HubSpotProvider.from_settings(
        Settings(_env_file=None, **values),  # type: ignore[arg-type]
        transport=httpx.MockTransport(Recorder(standin, exchanges)),
        sleep=lambda _: None,
    )


def test_hubspot_write_patches_the_deals_properties_and_reads_the_deal_back(specs: Path) -> None:
    standin, exchanges = hubspot_standin.HubSpotStandIn(20), []
    provider = hubspot(standin, exchanges)
    provider.write_deal(DEAL_9, FIX)
    # closedate is a date-time: the day's start in COACHBOT_TIMEZONE; the stage by its id in the deal's pipeline.
    assert standin.writes == [
        (
            9,
            {
                "hs_next_step": "Send the MSA",
                "closedate": "2026-12-15T05:00:00.000Z",
                "amount": "12500.00",
                "dealstage": "21771904",
            },
        )
    ]
    deal = provider.read_deal(DEAL_9)
    assert (deal.stage, deal.close_date, deal.amount, deal.next_step) == (
        "Negotiation", dt.date(2026, 12, 15), Decimal("12500.00"), "Send the MSA"
    )  # fmt: skip
    patch = next(request for request, _ in exchanges if request.method == "PATCH")
    assert (patch.url.path, patch.url.query) == (f"/crm/v3/objects/deals/{DEAL_9}", b"")
    assert problems(HubSpotSpec(specs / "hubspot").check, exchanges) == []


def test_hubspot_refusals_come_back_by_field_and_keep_hubspots_error_spec(specs: Path) -> None:
    standin, exchanges = hubspot_standin.HubSpotStandIn(20, invalid_properties={"closedate": "Close date must be this year"}), []
    provider = hubspot(standin, exchanges)
    assert refused(provider, DEAL_9, {"close_date": dt.date(2027, 1, 4)}).field_errors == {
        "close_date": "Close date must be this year"
    }
    # A stage of the other pipeline is not one of this deal's: refused before anything is written.
    stage = refused(provider, DEAL_9, {"stage": "Contract Sent"})
    assert (stage.kind, stage.field_errors) == ("validation", {"stage": "The Enterprise pipeline has no stage “Contract Sent”."})
    standin.scopes = frozenset({"crm.objects.deals.read", "crm.objects.owners.read"})
    scope = refused(provider, DEAL_9, {"next_step": "Call"})
    assert scope.kind == "permission"
    assert scope.field_errors == {
        GENERAL: "HubSpot refused the change: the private app behind HUBSPOT_TOKEN lacks the crm.objects.deals.write "
        "scope. Add it to the app's scopes in HubSpot; coachbot doctor checks it."
    }
    standin.scopes = frozenset({"crm.objects.deals.read", "crm.objects.deals.write", "crm.objects.owners.read"})
    standin.throttle_writes, standin.retry_after = True, "7"
    throttled = refused(provider, DEAL_9, {"next_step": "Call"})
    assert (throttled.kind, throttled.retry_after, str(throttled)) == (
        "rate_limited", 7, "HubSpot is rate limiting coachbot; try again in 7 s."
    )  # fmt: skip
    revoked = refused(hubspot(standin, exchanges, hubspot_token="pat-na1-revoked"), DEAL_9, {"next_step": "Call"})
    assert str(revoked) == "HubSpot refused coachbot's credentials (401): check HUBSPOT_TOKEN."
    assert standin.writes == []
    assert problems(HubSpotSpec(specs / "hubspot").check, exchanges) == []


def test_hubspot_writes_the_fields_it_maps_and_next_step_date_only_when_mapped() -> None:
    standin = hubspot_standin.HubSpotStandIn(1)
    assert hubspot(standin, []).write_fields() == ("next_step", "close_date", "stage", "amount")
    mapped = hubspot(standin, [], crm_field_map="next_step_date=next_step_date,product_line=product_family")
    assert mapped.write_fields() == ("next_step", "next_step_date", "close_date", "stage", "amount", "product_line")
    mapped.write_deal(standin.deal_id(1), {"next_step_date": dt.date(2026, 12, 1)})
    assert standin.writes == [(1, {"next_step_date": "2026-12-01"})]  # a date property: YYYY-MM-DD


# --- Salesforce ------------------------------------------------------------------------------

OPPORTUNITY_3 = salesforce_standin.opportunity_id(3)
TOKEN = "00Dstatic!token"


def salesforce(standin: salesforce_standin.SalesforceStandIn, exchanges: list[Exchange], **options: Any) -> SalesforceProvider:
    settings = Settings(
        _env_file=None,
        crm_provider="salesforce",
        salesforce_instance_url=standin.base_url,
        salesforce_access_token=TOKEN,
        **options,
    )  # type: ignore[call-arg]
    return SalesforceProvider.from_settings(
        settings, transport=httpx.MockTransport(Recorder(standin, exchanges)), sleep=lambda _: None, utc_now=lambda: NOW
    )


def test_salesforce_write_patches_the_opportunity_and_reads_it_back(specs: Path) -> None:
    standin, exchanges = salesforce_standin.SalesforceStandIn(now=NOW, opportunities=20, access_token=TOKEN), []
    provider = salesforce(standin, exchanges)
    provider.write_deal(OPPORTUNITY_3, {**FIX, "stage": "Negotiation/Review"})
    assert standin.writes == [
        (
            OPPORTUNITY_3,
            {"NextStep": "Send the MSA", "CloseDate": "2026-12-15", "Amount": 12500.0, "StageName": "Negotiation/Review"},
        )
    ]
    deal = provider.read_deal(OPPORTUNITY_3)
    assert (deal.stage, deal.close_date, deal.amount, deal.next_step) == (
        "Negotiation/Review", dt.date(2026, 12, 15), Decimal("12500.00"), "Send the MSA"
    )  # fmt: skip
    assert deal.stage_history[-1][0] == "Negotiation/Review"
    statuses = [(request.method, response.status_code) for request, response in exchanges if request.method == "PATCH"]
    assert statuses == [("PATCH", 204)]
    assert problems(SalesforceFacts(specs / "salesforce").check, exchanges) == []


def test_salesforce_refusals_come_back_by_field_and_keep_the_documented_error_shape(specs: Path) -> None:
    standin, exchanges = salesforce_standin.SalesforceStandIn(now=NOW, opportunities=5, access_token=TOKEN), []
    provider = salesforce(standin, exchanges)
    standin.read_only_fields = {"NextStep"}
    fls = refused(provider, OPPORTUNITY_3, {"next_step": "Call"})
    assert (fls.kind, fls.field_errors) == (
        "permission",
        {"next_step": "Salesforce does not let coachbot's integration user edit this field (field-level security): "
         "Unable to create/update fields: NextStep. Please check the security settings of this field."},
    )  # fmt: skip
    standin.read_only_fields = set()
    standin.validation_rule = ("CloseDate", "Close date cannot move past the quarter's end")
    rule = refused(provider, OPPORTUNITY_3, {"close_date": dt.date(2027, 1, 5)})
    assert (rule.kind, rule.field_errors) == ("validation", {"close_date": "Close date cannot move past the quarter's end"})
    standin.validation_rule = None
    picklist = refused(provider, OPPORTUNITY_3, {"stage": "Won big"})
    assert picklist.field_errors == {
        "stage": "Not a stage of this opportunity's sales process: bad value for restricted picklist field: Won big"
    }
    standin.no_edit_access = True
    access = refused(provider, OPPORTUNITY_3, {"next_step": "Call"})
    assert (access.kind, str(access)) == (
        "permission",
        "Salesforce refused the change (INSUFFICIENT_ACCESS_OR_READONLY: insufficient access rights on object id): "
        "the integration user behind SALESFORCE_ACCESS_TOKEN may not edit this opportunity (its profile, permission "
        "sets or sharing).",
    )
    standin.no_edit_access, standin.api_limit_spent = False, True
    limit = refused(provider, OPPORTUNITY_3, {"next_step": "Call"})
    assert (limit.kind, str(limit)) == (
        "rate_limited",
        "Salesforce is limiting coachbot's API requests (REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.); try again later.",
    )
    standin.api_limit_spent, standin.refuse_tokens = False, True
    assert str(refused(provider, OPPORTUNITY_3, {"next_step": "Call"})) == (
        "Salesforce refused coachbot's credentials (401): check SALESFORCE_ACCESS_TOKEN."
    )
    assert standin.writes == []
    assert problems(SalesforceFacts(specs / "salesforce").check, exchanges) == []


def test_salesforce_writes_only_the_opportunitys_own_fields_never_account_name_or_another_objects() -> None:
    standin = salesforce_standin.SalesforceStandIn(now=NOW, opportunities=5, access_token=TOKEN)
    assert salesforce(standin, []).write_fields() == ("next_step", "close_date", "stage", "amount")
    # product_line is the opportunity's own field; product_name, like account_name (Account.Name), is the account's.
    mapped = salesforce(standin, [], crm_field_map="product_line=Product_Family__c,product_name=Account.Product__c")
    assert mapped.write_fields() == ("next_step", "close_date", "stage", "amount", "product_line")
    for field in ("product_name", "account_name"):
        refusal = refused(mapped, OPPORTUNITY_3, {"next_step": "Call", field: "Analytics"})
        assert (refusal.kind, str(refusal), refusal.field_errors) == (
            "validation", f"coachbot cannot write {field} to Salesforce.", {field: "Not writable."}
        )  # fmt: skip
    assert standin.writes == []  # refused before anything was sent, the next step with it
    mapped.write_deal(OPPORTUNITY_3, {"product_line": "Analytics"})
    assert standin.writes == [(OPPORTUNITY_3, {"Product_Family__c": "Analytics"})]


def test_salesforce_describe_tells_which_fields_the_integration_user_may_edit() -> None:
    standin = salesforce_standin.SalesforceStandIn(now=NOW, opportunities=1, access_token=TOKEN, read_only_fields={"Amount"})
    updateable = salesforce(standin, []).describe_updateable()
    assert (updateable["NextStep"], updateable["Amount"], updateable["SystemModstamp"]) == (True, False, False)


# --- Pipedrive -------------------------------------------------------------------------------


def pipedrive(standin: pipedrive_standin.PipedriveStandIn, exchanges: list[Exchange]) -> PipedriveProvider:
    settings = Settings(_env_file=None, crm_provider="pipedrive", pipedrive_api_token=pipedrive_standin.TOKEN)  # type: ignore[call-arg]
    return PipedriveProvider.from_settings(
        settings, transport=httpx.MockTransport(Recorder(standin, exchanges)), sleep=lambda _: None
    )


def test_pipedrive_write_patches_the_deal_and_its_next_activity_and_reads_it_back(specs: Path) -> None:
    standin, exchanges = pipedrive_standin.PipedriveStandIn(30), []
    provider = pipedrive(standin, exchanges)
    assert (standin.deals[2]["pipeline_id"], standin.optional_fields(standin.deals[2])["next_activity_id"]) == (1, 4)
    provider.write_deal("2", {**FIX, "next_step_date": dt.date(2026, 12, 1)})
    assert standin.writes == [
        ("PATCH", "/api/v2/deals/2", {"expected_close_date": "2026-12-15", "value": 12500.0, "stage_id": 6}),
        ("PATCH", "/api/v2/activities/4", {"subject": "Send the MSA", "due_date": "2026-12-01"}),
    ]
    deal = provider.read_deal("2")
    assert (deal.stage, deal.close_date, deal.amount, deal.next_step, deal.next_step_date) == (
        "Negotiation", dt.date(2026, 12, 15), Decimal("12500.00"), "Send the MSA", dt.date(2026, 12, 1)
    )  # fmt: skip
    assert problems(PipedriveSpec(specs / "pipedrive").check, exchanges) == []


def test_pipedrive_creates_the_next_activity_of_a_deal_without_one(specs: Path) -> None:
    standin, exchanges = pipedrive_standin.PipedriveStandIn(30), []
    assert standin.optional_fields(standin.deals[4])["next_activity_id"] is None
    provider = pipedrive(standin, exchanges)
    provider.write_deal("4", {"next_step": "Book the demo", "next_step_date": dt.date(2026, 12, 2)})
    assert standin.writes == [
        ("POST", "/api/v2/activities", {"subject": "Book the demo", "due_date": "2026-12-02", "deal_id": 4})
    ]
    deal = provider.read_deal("4")
    assert (deal.next_step, deal.next_step_date) == ("Book the demo", dt.date(2026, 12, 2))
    assert problems(PipedriveSpec(specs / "pipedrive").check, exchanges) == []


def test_pipedrive_refusals_come_back_by_field(specs: Path) -> None:
    standin, exchanges = pipedrive_standin.PipedriveStandIn(30), []
    provider = pipedrive(standin, exchanges)
    other = refused(provider, "2", {"stage": "Qualified"})
    assert (other.kind, other.field_errors) == (
        "validation",
        {"stage": "“Qualified” is a stage of another pipeline, not this deal's."},
    )
    assert refused(provider, "2", {"stage": "Won"}).field_errors == {"stage": "This deal's pipeline has no stage “Won”."}
    standin.write_error = "expected_close_date: the date is not valid"
    assert refused(provider, "2", {"close_date": dt.date(2026, 12, 20)}).field_errors == {
        "close_date": "expected_close_date: the date is not valid"
    }
    standin.write_error, standin.deny_writes = None, True
    denied = refused(provider, "2", {"close_date": dt.date(2026, 12, 20)})
    assert (denied.kind, str(denied)) == (
        "permission",
        "Pipedrive refused the change (403): the Pipedrive user whose API token coachbot uses may not edit this deal "
        "(their permission set, or the deal's visibility): You do not have permissions to edit this deal.",
    )
    standin.deny_writes, standin.every_nth_429, standin.retry_after = False, 1, 3
    throttled = refused(provider, "2", {"close_date": dt.date(2026, 12, 20)})
    assert (throttled.kind, str(throttled)) == ("rate_limited", "Pipedrive is rate limiting coachbot; try again in 3 s.")
    standin.every_nth_429 = None
    assert refused(provider, "999", {"next_step": "Call"}).kind == "not_found"
    assert standin.writes == []
    assert problems(PipedriveSpec(specs / "pipedrive").check, exchanges) == []


# --- Read-only providers ---------------------------------------------------------------------


def test_the_csv_export_and_the_demo_say_plainly_that_they_are_read_only(tmp_path: Path) -> None:
    deals = tmp_path / "deals.csv"
    deals.write_text("id,owner,stage,created\n1,riley.rep@example.com,Demo,2026-11-01\n")
    csv, demo = CsvProvider(deals), DemoProvider(NOW)
    assert (csv.write_fields(), demo.write_fields()) == ((), ())
    assert str(refused(csv, "1", {"next_step": "Call"})) == (
        "The CSV export is read-only: coachbot cannot change deals there. Change the deal in your CRM; the next export "
        "and `coachbot sync` bring the change here."
    )
    demo_refusal = refused(demo, "1", {"next_step": "Call"})
    assert (demo_refusal.kind, str(demo_refusal)) == (
        "read_only",
        "The demo CRM is read-only: coachbot cannot change deals there. Its deals are generated; with HubSpot, "
        "Salesforce or Pipedrive connected, Update… saves to the CRM.",
    )


def test_a_stage_is_written_by_the_name_the_deals_pipeline_knows_it_by() -> None:
    standin = hubspot_standin.HubSpotStandIn(20)
    provider = hubspot(standin, [])
    # Deal 4 is in HubSpot's default pipeline, where the playbook's Negotiation is "Contract Sent".
    provider.write_deal(standin.deal_id(4), {"stage": ("Negotiation", "contractsent", "Contract Sent", "Negotiation/Review")})
    assert standin.writes == [(4, {"dealstage": "contractsent"})]


def test_a_write_that_times_out_says_it_may_or_may_not_have_been_saved() -> None:
    standin, patches = hubspot_standin.HubSpotStandIn(20), []

    def slow(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            patches.append(request)
            raise httpx.ReadTimeout("no answer", request=request)
        return standin(request)

    provider = HubSpotProvider.from_settings(
        Settings(_env_file=None, crm_provider="hubspot", hubspot_token=hubspot_standin.TOKEN),  # type: ignore[call-arg]
        transport=httpx.MockTransport(slow),
        sleep=lambda _: None,
    )
    timed_out = refused(provider, DEAL_9, {"next_step": "Call"})
    assert (timed_out.kind, str(timed_out)) == (
        "unavailable",
        "HubSpot did not answer within 10 seconds. The change may or may not have been saved: check the deal in the CRM "
        "before trying again.",
    )
    assert len(patches) == 1  # sent once, never retried


def test_a_cleared_next_step_marks_the_pipedrive_activity_done() -> None:
    standin = pipedrive_standin.PipedriveStandIn(30)
    provider = pipedrive(standin, [])
    provider.write_deal("2", {"next_step": None})
    assert standin.writes == [("PATCH", "/api/v2/activities/4", {"done": True})]
    assert provider.read_deal("2").next_step is None
