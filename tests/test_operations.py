"""Operating a real `coachbot run` (two gunicorn workers): /metrics, /healthz, JSON logs, *_FILE secrets.

The server reads its bot token from a file (SLACK_BOT_TOKEN_FILE), logs JSON, drains an outbox of
six messages (Slack answers the first post with a 429), answers one /myperf, and is scraped.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot.database import make_engine, make_session_factory, session_scope
from bot.messaging.outbox import enqueue
from bot.models import JobRun, OutboxMessage
from tests.support.servers import coachbot, running_server
from tests.support.signing import SIGNING_SECRET, sign, slash_command_body

TOKEN = "xoxb-from-a-secret-file-0042"
MESSAGES = 6


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(url + "/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


@pytest.fixture
def environment(database_url: str, slack, tmp_path: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    secret = tmp_path / "slack_bot_token"
    secret.write_text(TOKEN + "\n")  # as `echo token > file` leaves it
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLACK_", "CRM_", "COACHBOT_", "DATABASE_", "PROMETHEUS_"))}  # fmt: skip
    env.update(
        DATABASE_URL=database_url, SLACK_BOT_TOKEN_FILE=str(secret), SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url, CRM_PROVIDER="demo", COACHBOT_TIMEZONE="America/New_York",
        COACHBOT_LOG_FORMAT="json", COACHBOT_SYNC_EVERY_MINUTES="0", COACHBOT_TICK_SECONDS="2",
    )  # fmt: skip
    for step in (("migrate",), ("sync",)):
        done = subprocess.run(coachbot(*step), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    return env


def test_metrics_count_sends_429s_job_runs_sync_age_and_latency_across_workers(
    environment, slack, database_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    session_factory = make_session_factory(engine)
    now = dt.datetime.now(dt.UTC)
    with session_scope(session_factory) as session:
        for number in range(MESSAGES):
            enqueue(session, key=f"nudge:{number}", recipient=f"U0REP{number}", kind="nudge", text=f"nudge {number}", now=now)
        session.add_all(
            [JobRun(job=job, scheduled_for=now - dt.timedelta(days=1, minutes=n), claimed_by="earlier:1", claimed_at=now,
                    finished_at=now, status=status)
             for n, (job, status) in enumerate([("nudge:1", "succeeded"), ("nudge:2", "succeeded"), ("digest:3", "failed")])]
        )  # fmt: skip
    slack.fail("chat.postMessage", "ratelimited", status=429, retry_after=1, times=1)
    slack.add_user("UALEX", "alex.rivera@example.com", tz="America/Los_Angeles")

    with running_server(environment, tmp_path, workers=2) as url:
        body = slash_command_body("/myperf", "", "UALEX", slack.response_url("UALEX"))
        assert httpx.post(url + "/slack/events", content=body, headers=sign(body), timeout=5).status_code == 200
        slack.wait_for("response", 1, timeout=10)
        deadline = time.monotonic() + 60
        while (metrics := scrape(url)).get(("coachbot_outbox_messages", (("status", "sent"),))) != MESSAGES:
            assert time.monotonic() < deadline, f"the outbox was not drained: {metrics}"
            time.sleep(0.5)
        health = httpx.get(url + "/healthz", timeout=5)
        log_path = next(tmp_path.glob("coachbot-run-*.log"))

    assert metrics[("coachbot_outbox_messages", (("status", "pending"),))] == 0
    assert metrics[("coachbot_outbox_messages", (("status", "parked"),))] == 0
    assert metrics[("coachbot_outbox_uncertain_messages", ())] == 0
    assert metrics[("coachbot_outbox_sends_total", (("outcome", "sent"),))] == MESSAGES
    assert metrics[("coachbot_outbox_sends_total", (("outcome", "rate_limited"),))] == 1
    assert metrics[("coachbot_slack_rate_limited_total", (("method", "chat.postMessage"),))] == 1
    assert metrics[("coachbot_job_runs_total", (("job", "nudge"), ("outcome", "succeeded")))] == 2
    assert metrics[("coachbot_job_runs_total", (("job", "digest"), ("outcome", "failed")))] == 1
    assert metrics[("coachbot_job_runs_total", (("job", "coaching_hourly"), ("outcome", "succeeded")))] == 1
    assert 0 <= metrics[("coachbot_crm_seconds_since_last_sync", (("crm", "demo"),))] < 600
    assert metrics[("coachbot_request_duration_seconds_count", (("listener", "/myperf"),))] == 1
    assert metrics[("coachbot_request_duration_seconds_bucket", (("le", "+Inf"), ("listener", "/myperf")))] == 1
    # Each post carried the token from the file.
    assert {call.headers.get("Authorization") for call in slack.calls_to("chat.postMessage")} == {f"Bearer {TOKEN}"}
    assert len(slack.messages) == MESSAGES

    assert health.status_code == 200
    assert health.json()["scheduler"]["state"] in ("ok", "ticking")

    # COACHBOT_LOG_FORMAT=json: every line gunicorn and coachbot wrote is one JSON object.
    lines = log_path.read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert all(set(entry) >= {"time", "level", "logger", "message"} for entry in entries)
    assert any(entry["logger"] == "gunicorn.error" and entry["message"].startswith("Booting worker") for entry in entries)
    assert any(entry["logger"] == "gunicorn.access" and "/metrics" in entry["message"] for entry in entries)
    assert TOKEN not in log_path.read_text()
    with session_factory() as session:
        assert {row.status for row in session.scalars(select(OutboxMessage))} == {"sent"}
    engine.dispose()
