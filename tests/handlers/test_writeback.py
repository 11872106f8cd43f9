"""The Update modal through the Bolt app with signed requests, writing to each CRM's stand-in served
on a loopback port: "Update…" opens the form pre-filled from the deal, a submission is answered
"Saving…" at once and then with what changed and which gaps closed, a CRM refusal comes back
beside its field, and another rep's deal is refused. Every write is audited with the Slack user."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from slack_bolt import BoltRequest
from sqlalchemy import select

from bot.app import create_app
from bot.coaching.gaps import scan_gaps
from bot.coaching.playbook import load_playbook
from bot.crm.providers import writer_from_settings
from bot.crm.sync import store_deal
from bot.database import session_scope
from bot.models import AuditEntry, Deal, Person, ProcessGap
from bot.settings import Settings
from bot.slack_ids import DEAL_UPDATE, DEAL_UPDATE_BLOCKS, DEAL_UPDATE_VIEW
from tests.support import hubspot_standin, pipedrive_standin, salesforce_standin
from tests.support.loopback import LoopbackServer
from tests.support.personas import MIA, RILEY, seed_team
from tests.support.signing import SIGNING_SECRET, sign

NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
SAM = "sam.seller@example.com"


@dataclass
class Crm:
    name: str
    standin: Any
    settings: dict[str, Any]
    riley_deal: str  # a CRM id of one of Riley's open deals
    sam_deal: str  # ... and of one of Sam's
    riley_owner_key: str
    sam_owner_key: str


def _pipedrive_deal(standin: pipedrive_standin.PipedriveStandIn, owner: int) -> str:
    return str(
        next(
            deal_id
            for deal_id, deal in sorted(standin.deals.items())
            if deal["owner_id"] == owner and deal["status"] == "open" and deal["pipeline_id"] == 1
        )
    )


@pytest.fixture(params=["hubspot", "salesforce", "pipedrive"])
def crm(request: pytest.FixtureRequest) -> Iterator[Crm]:
    if request.param == "hubspot":
        standin: Any = hubspot_standin.HubSpotStandIn(20)
        with LoopbackServer(standin) as server:
            yield Crm(
                "hubspot", standin,
                {"hubspot_token": hubspot_standin.TOKEN, "hubspot_api_url": server.url,
                 "crm_field_map": "next_step_date=next_step_date"},
                standin.deal_id(8), standin.deal_id(9), "101", "102",
            )  # fmt: skip
    elif request.param == "salesforce":
        standin = salesforce_standin.SalesforceStandIn(now=NOW, opportunities=20, access_token="00Dstatic!token")
        with LoopbackServer(standin) as server:
            standin.base_url = server.url
            yield Crm(
                "salesforce", standin,
                {"salesforce_instance_url": server.url, "salesforce_access_token": "00Dstatic!token",
                 "crm_field_map": "next_step_date=Next_Step_Date__c"},
                salesforce_standin.opportunity_id(4), salesforce_standin.opportunity_id(1),
                salesforce_standin.user_id(0), salesforce_standin.user_id(1),
            )  # fmt: skip
    else:
        standin = pipedrive_standin.PipedriveStandIn(40)
        with LoopbackServer(standin) as server:
            yield Crm(
                "pipedrive", standin, {"pipedrive_api_token": pipedrive_standin.TOKEN, "pipedrive_api_url": server.url},
                _pipedrive_deal(standin, 101), _pipedrive_deal(standin, 102), "101", "102",
            )  # fmt: skip


@pytest.fixture
def settings(slack, database_url, crm) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(
        _env_file=None, slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
        database_url=database_url, timezone="America/New_York", crm_provider=crm.name, **crm.settings,
    )  # type: ignore[call-arg]  # fmt: skip


@pytest.fixture
def app(settings, session_factory):  # type: ignore[no-untyped-def]
    return create_app(settings, session_factory=session_factory, clock=lambda: NOW)


@pytest.fixture
def team(session_factory, slack, settings, crm) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Riley and Sam, reps under Mia, each owning one deal synced from the CRM; gaps scanned; all linked to Slack."""
    ids = seed_team(session_factory)
    playbook = load_playbook(settings.playbook_path)
    with session_scope(session_factory) as session:
        riley, mia = session.get_one(Person, ids["riley"]), session.get_one(Person, ids["mia"])
        riley.slack_user_id, riley.crm_owner_id, mia.slack_user_id = "URILEY", crm.riley_owner_key, "UMIA"
        sam = Person(email=SAM, name="Sam Seller", is_rep=True, manager_id=mia.id, timezone="America/Chicago",
                     slack_user_id="USAM", crm_owner_id=crm.sam_owner_key)  # fmt: skip
        session.add(sam)
        session.flush()
        ids["sam"] = sam.id
    writer = writer_from_settings(settings, NOW)
    deals = [writer.read_deal(crm.riley_deal), writer.read_deal(crm.sam_deal)]
    with session_scope(session_factory) as session:
        for deal in deals:
            store_deal(session, crm.name, deal, playbook, NOW)
    scan_gaps(session_factory, playbook, NOW, default_timezone="America/New_York")
    with session_factory() as session:
        ids["deal"] = session.scalars(select(Deal.id).where(Deal.crm_id == crm.riley_deal)).one()
        ids["sam_deal"] = session.scalars(select(Deal.id).where(Deal.crm_id == crm.sam_deal)).one()
        assert session.get_one(Deal, ids["deal"]).owner_id == ids["riley"]
    slack.add_user("URILEY", RILEY)
    slack.add_user("UMIA", MIA)
    slack.add_user("USAM", SAM, tz="America/Chicago")
    return ids


def dispatch(app, payload: dict[str, Any]):  # type: ignore[no-untyped-def]
    body = "payload=" + urllib.parse.quote(json.dumps(payload))
    return app.dispatch(BoltRequest(body=body, headers=sign(body)))


def click_update(app, slack, user: str, deal_id: int):  # type: ignore[no-untyped-def]
    return dispatch(app, {
        "type": "block_actions", "user": {"id": user}, "team": {"id": "T0001"}, "api_app_id": "A0001", "trigger_id": "1.2.3",
        "response_url": slack.response_url(user), "container": {"type": "view", "view_id": "VHOME"},
        "actions": [{"action_id": DEAL_UPDATE, "block_id": "b1", "type": "button", "value": str(deal_id)}],
    })  # fmt: skip


def state(**typed: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in typed.items():
        block_id, action_id = DEAL_UPDATE_BLOCKS[name]
        if name.endswith("date"):
            values[block_id] = {action_id: {"type": "datepicker", "selected_date": value}}
        elif name == "stage":
            values[block_id] = {action_id: {"type": "static_select", "selected_option": {"value": value} if value else None}}
        else:
            values[block_id] = {action_id: {"type": "plain_text_input", "value": value}}
    return values


def submit(app, user: str, deal_id: int, **typed: str | None):  # type: ignore[no-untyped-def]
    view = {"id": "VUPDATE", "type": "modal", "callback_id": DEAL_UPDATE_VIEW,
            "private_metadata": json.dumps({"deal_id": deal_id}), "state": {"values": state(**typed)}}  # fmt: skip
    return dispatch(app, {"type": "view_submission", "user": {"id": user}, "team": {"id": "T0001"}, "api_app_id": "A0001",
                          "view": view})  # fmt: skip


def view_of(call) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    view = call.body["view"]
    return json.loads(view) if isinstance(view, str) else view


def texts(view: dict[str, Any]) -> list[str]:
    found = []
    for block in view["blocks"]:
        if block["type"] == "section":
            found.append(block["text"]["text"])
        elif block["type"] == "context":
            found += [element["text"] for element in block["elements"]]
    return found


def deal_row(session_factory, deal_id: int) -> Deal:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        deal = session.get_one(Deal, deal_id)
        session.expunge(deal)
        return deal


def open_gap_details(session_factory, deal_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        rows = session.execute(
            select(ProcessGap.detail, ProcessGap.rule).where(ProcessGap.deal_id == deal_id, ProcessGap.resolved_at.is_(None))
            .order_by(ProcessGap.id)
        )  # fmt: skip
        return [detail or rule.replace("_", " ") for detail, rule in rows]


def writes_of(crm: Crm) -> list[Any]:
    return list(crm.standin.writes)


def test_update_opens_the_form_pre_filled_from_the_deal(app, slack, team, crm, session_factory) -> None:  # type: ignore[no-untyped-def]
    click_update(app, slack, "URILEY", team["deal"])
    [opened] = slack.wait_for("views.open")
    view = view_of(opened)
    deal = deal_row(session_factory, team["deal"])
    assert (view["callback_id"], json.loads(view["private_metadata"]), opened.body["trigger_id"]) == (
        DEAL_UPDATE_VIEW, {"deal_id": team["deal"]}, "1.2.3"
    )  # fmt: skip
    inputs = {block["block_id"]: block["element"] for block in view["blocks"] if block["type"] == "input"}
    assert list(inputs)[:5] == [
        DEAL_UPDATE_BLOCKS[name][0] for name in ("next_step", "next_step_date", "close_date", "stage", "amount")
    ]
    assert inputs[DEAL_UPDATE_BLOCKS["close_date"][0]].get("initial_date") == deal.close_date.isoformat()  # type: ignore[union-attr]
    assert inputs[DEAL_UPDATE_BLOCKS["next_step"][0]].get("initial_value") == deal.next_step
    stage = inputs[DEAL_UPDATE_BLOCKS["stage"][0]]
    assert [option["value"] for option in stage["options"]] == [
        "Prospecting",
        "Qualification",
        "Discovery",
        "Demo",
        "Proposal",
        "Negotiation",
    ]
    assert texts(view)[0].startswith(f"*{deal.name}* (Riley Rep's)")
    assert view["submit"]["text"] == "Save to CRM"


def test_a_submission_writes_to_the_crm_rescans_and_answers_what_changed(app, slack, team, crm, session_factory) -> None:  # type: ignore[no-untyped-def]
    before = deal_row(session_factory, team["deal"])
    gaps_before = open_gap_details(session_factory, team["deal"])
    response = submit(app, "URILEY", team["deal"], next_step="Send the MSA", next_step_date="2026-11-27", close_date="2026-12-15")
    assert response.status == 200
    saving = json.loads(response.body)
    assert saving["response_action"] == "update"
    assert texts(saving["view"]) == [f":hourglass_flowing_sand: Saving *{before.name}* to the CRM…"]
    [updated] = slack.wait_for("views.update")
    assert updated.body["view_id"] == "VUPDATE"
    after = deal_row(session_factory, team["deal"])
    assert (after.next_step, after.next_step_date, after.close_date) == (
        "Send the MSA",
        dt.date(2026, 11, 27),
        dt.date(2026, 12, 15),
    )
    gaps_after = open_gap_details(session_factory, team["deal"])
    closed = [gap for gap in gaps_before if gap not in gaps_after]
    assert any("next step" in gap for gap in closed)  # the deal had no dated next step; now it has
    changed = [
        f"• Next step: {before.next_step or '—'} → Send the MSA",
        f"• Next step date: {before.next_step_date or '—'} → 2026-11-27",
        f"• Close date: {before.close_date} → 2026-12-15",
    ]
    name = f"<{after.crm_url}|{after.name}>" if after.crm_url else f"*{after.name}*"
    expected = [f":white_check_mark: Saved {name} to the CRM.", "*Changed*\n" + "\n".join(changed)]
    expected.append("*Gaps closed*\n" + "\n".join(f"• {gap}" for gap in closed))
    expected.append(
        "*Still open*\n" + "\n".join(f"• {gap}" for gap in gaps_after) if gaps_after else "No gaps left on this deal. :tada:"
    )
    assert texts(view_of(updated))[0] == "\n\n".join(expected)
    assert len(writes_of(crm)) >= 1
    with session_factory() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "crm_write"))
        assert (entry.actor_id, entry.subject_id) == (team["riley"], team["riley"])
        assert entry.detail == {
            "slack_user_id": "URILEY", "deal_id": team["deal"], "crm_source": crm.name, "crm_id": crm.riley_deal,
            "fields": {"next_step": "Send the MSA", "next_step_date": "2026-11-27", "close_date": "2026-12-15"},
            "result": "saved",
        }  # fmt: skip
    # The App Home is published again, after the write.
    assert slack.wait_for("views.publish")


def test_a_crm_refusal_comes_back_beside_its_field_and_is_audited(app, slack, team, crm, session_factory) -> None:  # type: ignore[no-untyped-def]
    if crm.name == "hubspot":
        crm.standin.invalid_properties = {"closedate": "Close date must be in this fiscal year"}
        why = "Close date must be in this fiscal year"
    elif crm.name == "salesforce":
        crm.standin.validation_rule = ("CloseDate", "Close date must be in this fiscal year")
        why = "Close date must be in this fiscal year"
    else:
        crm.standin.write_error = "expected_close_date: must be in this fiscal year"
        why = "expected_close_date: must be in this fiscal year"
    before = deal_row(session_factory, team["deal"])
    submit(app, "URILEY", team["deal"], close_date="2027-02-01", next_step=before.next_step)
    [updated] = slack.wait_for("views.update")
    view = view_of(updated)
    blocks = view["blocks"]
    at = next(i for i, block in enumerate(blocks) if block.get("block_id") == DEAL_UPDATE_BLOCKS["close_date"][0])
    assert blocks[at]["element"]["initial_date"] == "2027-02-01"  # what was typed is kept
    assert blocks[at + 1] == {"type": "context", "elements": [{"type": "mrkdwn", "text": f":x: {why}"}]}
    assert view["submit"]["text"] == "Save to CRM"  # the form again, to fix and resubmit
    assert deal_row(session_factory, team["deal"]).close_date == before.close_date
    assert writes_of(crm) == []
    with session_factory() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "crm_write"))
        assert (entry.detail["result"], entry.detail["slack_user_id"], entry.detail["fields"]) == (
            "validation", "URILEY", {"close_date": "2027-02-01"}
        )  # fmt: skip


def test_a_stage_the_crm_refuses_comes_back_beside_the_stage(app, slack, team, crm, session_factory) -> None:  # type: ignore[no-untyped-def]
    # HubSpot: Prospecting (or its alias) is no stage of the Enterprise pipeline the deal is in, which
    # coachbot finds before writing. Salesforce and Pipedrive know every stage here: a rule refuses it.
    if crm.name == "salesforce":
        crm.standin.validation_rule = ("StageName", "An opportunity cannot move back to Prospecting")
        why = "An opportunity cannot move back to Prospecting"
    elif crm.name == "pipedrive":
        crm.standin.write_error = "stage_id: a deal cannot move back to Prospecting"
        why = "stage_id: a deal cannot move back to Prospecting"
    else:
        why = "The Enterprise pipeline has no stage “Prospecting”."
    before = deal_row(session_factory, team["deal"])
    submit(app, "URILEY", team["deal"], stage="Prospecting", next_step=before.next_step)
    [updated] = slack.wait_for("views.update")
    blocks = view_of(updated)["blocks"]
    at = next(i for i, block in enumerate(blocks) if block.get("block_id") == DEAL_UPDATE_BLOCKS["stage"][0])
    assert blocks[at]["element"]["initial_option"]["value"] == "Prospecting"
    assert blocks[at + 1] == {"type": "context", "elements": [{"type": "mrkdwn", "text": f":x: {why}"}]}
    assert deal_row(session_factory, team["deal"]).stage == before.stage
    assert writes_of(crm) == []


def test_another_reps_deal_is_refused_on_the_button_and_on_submission(app, slack, team, crm, session_factory) -> None:  # type: ignore[no-untyped-def]
    click_update(app, slack, "URILEY", team["sam_deal"])
    [refusal] = slack.wait_for("response")
    sam_deal = deal_row(session_factory, team["sam_deal"])
    assert refusal.body["text"] == (
        f"Only the deal's owner, their managers and coachbot admins can update Sam Seller's deal “{sam_deal.name}”."
    )
    assert slack.calls_to("views.open") == []
    response = submit(app, "URILEY", team["sam_deal"], next_step="Taken over")
    first_block = DEAL_UPDATE_BLOCKS["next_step"][0]
    assert json.loads(response.body) == {
        "response_action": "errors",
        "errors": {
            first_block: f"Only the deal's owner, their managers and coachbot admins can update Sam Seller's deal “{sam_deal.name}”."[
                :150
            ]
        },
    }
    assert writes_of(crm) == []
    # Sam's manager may.
    submit(app, "UMIA", team["sam_deal"], next_step="Mia steps in", next_step_date="2026-11-30", close_date="2026-12-20")
    [updated] = slack.wait_for("views.update")
    assert texts(view_of(updated))[0].startswith(":white_check_mark: Saved")
    assert deal_row(session_factory, team["sam_deal"]).next_step == "Mia steps in"


def test_what_coachbot_can_check_itself_goes_back_in_the_acknowledgement(app, slack, team, crm) -> None:  # type: ignore[no-untyped-def]
    response = submit(app, "URILEY", team["deal"], next_step="Call", next_step_date="2026-11-01", amount="lots")
    assert json.loads(response.body) == {
        "response_action": "errors",
        "errors": {
            DEAL_UPDATE_BLOCKS["next_step_date"][0]: "Pick today or a later date: a date in the past would leave the gap open.",
            DEAL_UPDATE_BLOCKS["amount"][0]: "Type the amount as a number, like 12500 or 12500.50.",
        },
    }
    assert slack.calls_to("views.update") == []
    assert writes_of(crm) == []


def test_the_demo_crm_says_it_is_read_only_and_shows_what_the_form_would_carry(slack, database_url, session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_team(session_factory)
    with session_scope(session_factory) as session:
        session.get_one(Person, ids["riley"]).slack_user_id = "URILEY"
        deal_id = session.scalars(select(Deal.id).where(Deal.crm_id == "O2")).one()
    slack.add_user("URILEY", RILEY)
    settings = Settings(
        _env_file=None, slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
        database_url=database_url, timezone="America/New_York", crm_provider="demo",
    )  # type: ignore[call-arg]  # fmt: skip
    app = create_app(settings, session_factory=session_factory, clock=lambda: now)
    click_update(app, slack, "URILEY", deal_id)
    [opened] = slack.wait_for("views.open")
    view = view_of(opened)
    assert "submit" not in view
    assert texts(view)[1:] == [
        ":lock: The demo CRM is read-only: coachbot cannot change deals there. Its deals are generated; with HubSpot, "
        "Salesforce or Pipedrive connected, Update… saves to the CRM.",
        "*What this form would let you change*\n• Next step: —\n• Next step date: —\n• Close date: 2026-11-20\n"
        "• Stage: Negotiation\n• Amount: $20,000\n• Product line: Services",
    ]


PERMISSION = {
    "hubspot": "HubSpot refused the change: the private app behind HUBSPOT_TOKEN lacks the crm.objects.deals.write scope. "
    "Add it to the app's scopes in HubSpot; coachbot doctor checks it.",
    "salesforce": "Salesforce refused the change (INSUFFICIENT_ACCESS_OR_READONLY: insufficient access rights on object id): "
    "the integration user behind SALESFORCE_ACCESS_TOKEN may not edit this opportunity (its profile, permission sets or sharing).",
    "pipedrive": "Pipedrive refused the change (403): the Pipedrive user whose API token coachbot uses may not edit this deal "
    "(their permission set, or the deal's visibility): You do not have permissions to edit this deal.",
}
RATE_LIMITED = {
    "hubspot": "HubSpot is rate limiting coachbot; try again in 2 s.",
    "salesforce": "Salesforce is limiting coachbot's API requests (REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.); "
    "try again later.",
    "pipedrive": "Pipedrive is rate limiting coachbot; try again in 1 s.",
}


def test_a_missing_permission_and_a_rate_limit_show_at_the_top_of_the_form(app, slack, team, crm, session_factory) -> None:  # type: ignore[no-untyped-def]
    standin = crm.standin
    if crm.name == "hubspot":
        standin.scopes = frozenset({"crm.objects.deals.read", "crm.objects.owners.read"})
    elif crm.name == "salesforce":
        standin.no_edit_access = True
    else:
        standin.deny_writes = True
    submit(app, "URILEY", team["deal"], next_step="Send the MSA")
    [refused] = slack.wait_for("views.update")
    assert texts(view_of(refused))[1] == f":warning: {PERMISSION[crm.name]}"
    if crm.name == "hubspot":
        standin.scopes, standin.throttle_writes = frozenset({"crm.objects.deals.read", "crm.objects.deals.write"}), True
    elif crm.name == "salesforce":
        standin.no_edit_access, standin.api_limit_spent = False, True
    else:
        standin.deny_writes, standin.every_nth_429 = False, 1
    submit(app, "URILEY", team["deal"], next_step="Send the MSA")
    limited = slack.wait_for("views.update", 2)[-1]
    assert texts(view_of(limited))[1] == f":warning: {RATE_LIMITED[crm.name]}"
    assert writes_of(crm) == []
    with session_factory() as session:
        results = list(session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "crm_write").order_by(AuditEntry.id)))
    assert [detail["result"] for detail in results] == ["permission", "rate_limited"]
