"""The real thing: `coachbot migrate`, `coachbot sync` and `coachbot run --port N` as processes,
with the demo CRM and a stand-in Slack; signed requests over HTTP as Slack sends them."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import coachbot, running_server
from tests.support.signing import SIGNING_SECRET, sign, slash_command_body


@pytest.fixture
def environment(database_url: str, slack, tmp_path: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "CRM_", "COACHBOT_", "DATABASE_"))}
    env.update(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN="xoxb-end-to-end",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        CRM_PROVIDER="demo",
        COACHBOT_TIMEZONE="America/New_York",
    )
    return env


@pytest.fixture
def server(environment: dict[str, str], tmp_path: Path) -> Iterator[str]:
    for step in (("migrate",), ("sync",)):
        done = subprocess.run(coachbot(*step), env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    with running_server(environment, tmp_path) as url:
        yield url


def post_command(url: str, slack, user_id: str, text: str = "", headers: dict[str, str] | None = None) -> httpx.Response:  # type: ignore[no-untyped-def]
    body = slash_command_body("/myperf", text, user_id, slack.response_url(user_id))
    return httpx.post(url + "/slack/events", content=body, headers=headers if headers is not None else sign(body), timeout=5)


def test_the_synced_demo_serves_scorecards_over_http(server: str, slack, environment, tmp_path) -> None:  # type: ignore[no-untyped-def]
    slack.add_user("UALEX", "alex.rivera@example.com", tz="America/Los_Angeles")
    slack.add_user("UOLLY", "olly.outsider@example.com")

    health = httpx.get(server + "/healthz").json()
    assert (health["ok"], health["database"], health["scheduler"]["state"] in ("ok", "ticking")) == (True, "ok", True)

    started = time.monotonic()
    response = post_command(server, slack, "UALEX")
    assert response.status_code == 200
    [answer] = slack.wait_for("response", 1, timeout=3)
    assert time.monotonic() - started < 3
    assert answer.path == "/response/UALEX"
    assert answer.body["response_type"] == "ephemeral"
    header = answer.body["blocks"][0]["text"]["text"]
    assert header.endswith("scorecard · Alex Rivera") and header.startswith("Q")
    assert answer.body["blocks"][1]["text"]["text"].startswith("*The number*\n*$")

    assert post_command(server, slack, "UOLLY").status_code == 200
    not_linked = slack.wait_for("response", 2)[-1]
    assert not_linked.path == "/response/UOLLY"
    assert "olly.outsider@example.com) is not in coachbot's org yet" in not_linked.body["blocks"][0]["text"]["text"]

    hostile = '"\x01\x1b[2J' + "ż" * 5000
    assert post_command(server, slack, "UALEX", hostile).status_code == 200
    polite = slack.wait_for("response", 3)[-1]
    assert polite.body["blocks"][0]["text"]["text"].startswith("I don't know the period “")

    body = slash_command_body("/myperf", "", "UALEX", slack.response_url("forged"))
    unsigned = httpx.post(server + "/slack/events", content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    stale = httpx.post(server + "/slack/events", content=body, headers=sign(body, timestamp=int(time.time()) - 600))
    forged = httpx.post(server + "/slack/events", content=body, headers=sign(body, secret="guessed"))
    assert (unsigned.status_code, stale.status_code, forged.status_code) == (401, 401, 401)
    time.sleep(0.3)
    assert [call.path for call in slack.calls_to("response")].count("/response/forged") == 0


def test_the_cli_stops_with_a_message_naming_a_missing_setting(environment, tmp_path) -> None:  # type: ignore[no-untyped-def]
    del environment["SLACK_SIGNING_SECRET"]
    done = subprocess.run(coachbot("run"), env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "missing required setting SLACK_SIGNING_SECRET" in done.stderr


def test_two_instances_on_one_database_both_serve(environment, slack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Several instances behind a load balancer: any of them answers any request."""
    for step in (("migrate",), ("sync",)):
        assert subprocess.run(coachbot(*step), env=environment, cwd=tmp_path, capture_output=True, timeout=120).returncode == 0
    slack.add_user("UALEX", "alex.rivera@example.com", tz="America/Los_Angeles")
    with running_server(environment, tmp_path) as first, running_server(environment, tmp_path) as second:
        for number, url in enumerate([first, second, first, second], start=1):
            assert post_command(url, slack, "UALEX").status_code == 200
            answer = slack.wait_for("response", number)[-1]
            assert answer.body["blocks"][0]["text"]["text"].endswith("scorecard · Alex Rivera")
    assert len(slack.calls_to("users.info")) == 1  # linked once, by whichever instance saw Alex first
