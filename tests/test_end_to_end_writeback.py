"""Write-back end to end: `coachbot sync` and `coachbot run` as processes against a HubSpot stand-in and
a Slack stand-in on loopback ports; the Update form submitted over HTTP as Slack sends it."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.database import session_scope
from bot.models import AuditEntry, Deal, Person
from bot.slack_ids import DEAL_UPDATE_BLOCKS, DEAL_UPDATE_VIEW
from tests.support import hubspot_standin
from tests.support.loopback import LoopbackServer
from tests.support.personas import MIA, RILEY, seed_team
from tests.support.servers import coachbot, running_server
from tests.support.signing import SIGNING_SECRET, sign

RILEYS_DEAL = hubspot_standin.HubSpotStandIn.deal_id(8)  # owner 101, in the Enterprise pipeline


@pytest.fixture
def hubspot() -> Iterator[tuple[hubspot_standin.HubSpotStandIn, str]]:
    standin = hubspot_standin.HubSpotStandIn(20)
    with LoopbackServer(standin) as server:
        yield standin, server.url


@pytest.fixture
def server(database_url, slack, session_factory, hubspot, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    ids = seed_team(session_factory)
    with session_scope(session_factory) as session:
        riley = session.get_one(Person, ids["riley"])
        riley.slack_user_id, riley.crm_owner_id = "URILEY", "101"
        session.get_one(Person, ids["mia"]).slack_user_id = "UMIA"
    slack.add_user("URILEY", RILEY)
    slack.add_user("UMIA", MIA)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "CRM_", "COACHBOT_", "DATABASE_", "HUBSPOT_"))
    }
    env.update(
        DATABASE_URL=database_url, SLACK_BOT_TOKEN="xoxb-end-to-end", SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url, CRM_PROVIDER="hubspot", HUBSPOT_TOKEN=hubspot_standin.TOKEN, HUBSPOT_API_URL=hubspot[1],
        CRM_FIELD_MAP="next_step_date=next_step_date", COACHBOT_TIMEZONE="America/New_York",
    )  # fmt: skip
    done = subprocess.run(coachbot("sync"), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with running_server(env, tmp_path) as url:
        yield url


def test_an_update_submitted_over_http_is_written_to_the_crm_and_answered_in_the_form(
    server, slack, hubspot, session_factory
) -> None:  # type: ignore[no-untyped-def]
    standin, _ = hubspot
    with session_factory() as session:
        deal = session.scalars(select(Deal).where(Deal.crm_id == RILEYS_DEAL)).one()
        deal_id, name = deal.id, deal.name
    values = {}
    for field, value in (("next_step", "Send the MSA"), ("next_step_date", "2026-12-30"), ("close_date", "2027-01-15")):
        block_id, action_id = DEAL_UPDATE_BLOCKS[field]
        kind = (
            {"type": "datepicker", "selected_date": value}
            if field.endswith("date")
            else {"type": "plain_text_input", "value": value}
        )
        values[block_id] = {action_id: kind}
    view = {"id": "VUPDATE", "type": "modal", "callback_id": DEAL_UPDATE_VIEW, "private_metadata": json.dumps({"deal_id": deal_id}),
            "state": {"values": values}}  # fmt: skip
    payload = {"type": "view_submission", "user": {"id": "URILEY"}, "team": {"id": "T0001"}, "api_app_id": "A0001", "view": view}
    body = "payload=" + urllib.parse.quote(json.dumps(payload))
    response = httpx.post(server + "/slack/events", content=body, headers=sign(body), timeout=5)
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_action"] == "update"
    assert answer["view"]["blocks"][0]["text"]["text"] == f":hourglass_flowing_sand: Saving *{name}* to the CRM…"
    [updated] = slack.wait_for("views.update", timeout=20)
    assert updated.body["view_id"] == "VUPDATE"
    shown = updated.body["view"] if isinstance(updated.body["view"], dict) else json.loads(updated.body["view"])
    assert shown["blocks"][0]["text"]["text"].startswith(f":white_check_mark: Saved *{name}* to the CRM.\n\n*Changed*\n")
    assert "• Next step: — → Send the MSA" in shown["blocks"][0]["text"]["text"]
    assert standin.writes == [
        (8, {"hs_next_step": "Send the MSA", "next_step_date": "2026-12-30", "closedate": "2027-01-15T05:00:00.000Z"})
    ]
    with session_factory() as session:
        stored = session.get_one(Deal, deal_id)
        assert (stored.next_step, str(stored.next_step_date), str(stored.close_date)) == (
            "Send the MSA",
            "2026-12-30",
            "2027-01-15",
        )
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "crm_write"))
        assert (entry.detail["slack_user_id"], entry.detail["result"]) == ("URILEY", "saved")
