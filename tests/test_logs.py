"""Logs: one JSON object a line with COACHBOT_LOG_FORMAT=json, and never a secret in either format."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot.logs import configure_logging
from bot.settings import Settings

TOKEN = "xoxb-1111-2222-abcdefABCDEF"
SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def logged():  # type: ignore[no-untyped-def]
    """Configure logging into a buffer; yields a function that returns what was written."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level

    def configure(log_format: str) -> None:
        settings = Settings(slack_bot_token=TOKEN, slack_signing_secret=SIGNING, log_format=log_format,
                            database_url="postgresql://coachbot:pa55word@db/coachbot")  # fmt: skip
        configure_logging(settings, stream=stream)

    yield configure, stream
    for handler in [h for h in root.handlers if h.get_name() == "coachbot"]:
        root.removeHandler(handler)
    root.setLevel(level)


def test_json_logs_are_one_object_a_line_with_time_level_logger_and_message(logged) -> None:  # type: ignore[no-untyped-def]
    configure, stream = logged
    configure("json")
    log = logging.getLogger("bot.messaging.sender")

    log.warning("outbox: parked message %d to %s: %s", 7, "U0RILEY", "channel_not_found")
    try:
        raise ValueError("line one\nline two")
    except ValueError:
        log.exception("drain failed")

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"time", "level", "logger", "message"}
    assert (first["level"], first["logger"], first["message"]) == (
        "WARNING",
        "bot.messaging.sender",
        "outbox: parked message 7 to U0RILEY: channel_not_found",
    )
    assert first["time"].endswith("+00:00")
    assert (second["level"], second["message"]) == ("ERROR", "drain failed")
    assert second["exception"].startswith("Traceback (most recent call last):") and second["exception"].endswith(
        "ValueError: line one\nline two"
    )


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_secrets_never_reach_the_log(logged, log_format) -> None:  # type: ignore[no-untyped-def]
    configure, stream = logged
    configure(log_format)
    log = logging.getLogger("bot.app")

    log.error("calling Slack with %s and %s", TOKEN, SIGNING)
    log.error("database %s", "postgresql://coachbot:pa55word@db/coachbot")
    log.error("someone else's token xoxp-99999999-abcdef in a message")

    written = stream.getvalue()
    for secret in (TOKEN, SIGNING, "pa55word", "xoxp-99999999-abcdef"):
        assert secret not in written
    assert written.count("[redacted]") == 4
