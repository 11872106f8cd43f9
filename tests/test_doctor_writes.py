"""`coachbot doctor` on CRM writes: the write scope (HubSpot), the fields the integration user may edit
(Salesforce), what an API token can say (Pipedrive), and the read-only providers said plainly."""

from __future__ import annotations

import datetime as dt

import httpx

from bot.doctor import check_crm_writes
from bot.settings import Settings
from tests.support import hubspot_standin, pipedrive_standin, salesforce_standin

NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)


def test_hubspot_write_scope_is_read_from_the_tokens_scopes() -> None:
    standin = hubspot_standin.HubSpotStandIn(3)
    settings = Settings(_env_file=None, crm_provider="hubspot", hubspot_token=hubspot_standin.TOKEN)  # type: ignore[call-arg]
    check = check_crm_writes(settings, httpx.MockTransport(standin), NOW)
    assert (check.status, check.detail) == ("OK", "HubSpot: the token has crm.objects.deals.write: Update… can save deals")
    assert [(r.method, r.path, r.body) for r in standin.requests] == [
        ("POST", "/oauth/v2/private-apps/get/access-token-info", {"tokenKey": hubspot_standin.TOKEN})
    ]
    standin.scopes = frozenset({"crm.objects.deals.read", "crm.objects.owners.read"})
    missing = check_crm_writes(settings, httpx.MockTransport(standin), NOW)
    assert (missing.status, missing.detail) == (
        "WARN",
        "HUBSPOT_TOKEN lacks the crm.objects.deals.write scope: Update… cannot save deals. Add the scope to the private "
        "app in HubSpot (Settings → Integrations → Private apps → Scopes)",
    )


def test_salesforce_names_the_mapped_fields_the_integration_user_may_not_edit() -> None:
    standin = salesforce_standin.SalesforceStandIn(now=NOW, opportunities=2, access_token="t", read_only_fields={"NextStep"})
    settings = Settings(
        _env_file=None, crm_provider="salesforce", salesforce_instance_url=standin.base_url, salesforce_access_token="t"
    )  # type: ignore[call-arg]
    refused = check_crm_writes(settings, httpx.MockTransport(standin), NOW)
    assert (refused.status, refused.detail) == (
        "WARN",
        "Salesforce: the integration user may not edit NextStep (field-level security, or not a field of Opportunity): "
        "Update… cannot save those; give its profile or a permission set edit access",
    )
    standin.read_only_fields = set()
    assert check_crm_writes(settings, httpx.MockTransport(standin), NOW).detail == (
        "Salesforce: the integration user may edit NextStep, CloseDate, StageName, Amount (describe); "
        "record access (sharing) is checked per opportunity when Update… saves"
    )
    assert standin.paths()[-1] == "/services/data/v60.0/sobjects/Opportunity/describe"


def test_pipedrive_says_what_an_api_token_can_tell_of_writes() -> None:
    standin = pipedrive_standin.PipedriveStandIn(3)
    settings = Settings(_env_file=None, crm_provider="pipedrive", pipedrive_api_token=pipedrive_standin.TOKEN)  # type: ignore[call-arg]
    check = check_crm_writes(settings, httpx.MockTransport(standin), NOW)
    assert (check.status, check.detail) == (
        "OK",
        "Pipedrive: API tokens carry no scopes; Update… saves where Riley Rep <riley.rep@example.com> may edit the deal "
        "(their permission set and the deal's visibility), and shows Pipedrive's refusal where not",
    )


def test_the_demo_and_the_csv_export_are_read_only() -> None:
    check = check_crm_writes(Settings(_env_file=None), None, NOW)  # type: ignore[call-arg]
    assert (check.name, check.status, check.detail) == (
        "crm writes (demo)", "OK", "read-only: Update… shows what it would change and says the deals cannot be written here"
    )  # fmt: skip
