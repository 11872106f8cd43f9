"""GET /healthz: 200 while the database answers and this worker's scheduler ticks, 503 when either fails."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from bot.metrics import HEARTBEAT
from bot.server import create_wsgi_app
from bot.settings import Settings
from tests.support.signing import SIGNING_SECRET


@pytest.fixture(autouse=True)
def fresh_heartbeat() -> Iterator[None]:
    yield
    HEARTBEAT.started_at = HEARTBEAT.tick_started_at = HEARTBEAT.tick_finished_at = None


def get_health(database_url: str, slack, **settings: object) -> tuple[str, dict]:  # type: ignore[no-untyped-def,type-arg]
    app = create_wsgi_app(Settings(database_url=database_url, slack_bot_token="xoxb-health", slack_signing_secret=SIGNING_SECRET,
                                   slack_api_url=slack.api_url, **settings))  # type: ignore[arg-type]  # fmt: skip
    answered: list[str] = []
    body = b"".join(app({"PATH_INFO": "/healthz", "REQUEST_METHOD": "GET"}, lambda status, headers: answered.append(status)))
    return answered[0], json.loads(body)


def ago(seconds: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)


def test_healthy_while_the_scheduler_ticks(database_url, slack) -> None:  # type: ignore[no-untyped-def]
    HEARTBEAT.scheduler_started(ago(100))
    HEARTBEAT.tick_began(began := ago(50))
    HEARTBEAT.tick_ended(ended := ago(49))

    status, body = get_health(database_url, slack, tick_seconds=60)

    assert status == "200 OK"
    assert body == {"ok": True, "database": "ok", "scheduler": {
        "last_tick": began.isoformat(timespec="seconds"), "last_tick_finished": ended.isoformat(timespec="seconds"),
        "running": False, "stale_after_seconds": 180, "state": "ok"}}  # fmt: skip


def test_unhealthy_when_no_tick_began_for_three_intervals(database_url, slack) -> None:  # type: ignore[no-untyped-def]
    HEARTBEAT.scheduler_started(ago(400))
    HEARTBEAT.tick_began(ago(200))
    HEARTBEAT.tick_ended(ago(199))

    status, body = get_health(database_url, slack, tick_seconds=60)

    assert status == "503 Service Unavailable"
    assert (body["ok"], body["database"], body["scheduler"]["state"]) == (False, "ok", "no tick for 200 s")


def test_a_long_tick_is_healthy_for_an_hour_then_taken_for_hung(database_url, slack) -> None:  # type: ignore[no-untyped-def]
    HEARTBEAT.scheduler_started(ago(4000))
    HEARTBEAT.tick_began(ago(1800))  # a big first sync
    assert get_health(database_url, slack, tick_seconds=60)[1]["scheduler"]["state"] == "ticking"

    HEARTBEAT.tick_began(began := ago(3700))
    status, body = get_health(database_url, slack, tick_seconds=60)

    assert status == "503 Service Unavailable"
    assert body["scheduler"]["state"] == f"a tick has run since {began.isoformat(timespec='seconds')}, over 1:00:00"
    assert body["scheduler"]["running"] is True


def test_a_scheduler_not_yet_started_or_turned_off_is_not_a_failure(database_url, slack) -> None:  # type: ignore[no-untyped-def]
    assert get_health(database_url, slack) == ("200 OK", {"ok": True, "database": "ok", "scheduler": {"state": "not started"}})
    off = get_health(database_url, slack, scheduler_enabled=False)
    assert off == ("200 OK", {"ok": True, "database": "ok", "scheduler": {"state": "off (COACHBOT_SCHEDULER=false)"}})


def test_an_unreachable_database_is_unhealthy(tmp_path, slack) -> None:  # type: ignore[no-untyped-def]
    status, body = get_health(f"sqlite:///{tmp_path}/missing/dir/coachbot.db", slack, scheduler_enabled=False)
    assert (status, body["ok"], body["database"]) == ("503 Service Unavailable", False, "unreachable")
