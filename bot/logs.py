"""Logging for every coachbot process: text for people, or one JSON object a line (COACHBOT_LOG_FORMAT=json).

Both formats blank out secrets before a line is written: every secret setting's value (tokens,
signing secret, the database password) and anything shaped like a Slack token, wherever it
appears (a message, an argument, an exception's text).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings

REDACTED = "[redacted]"
# Slack bot, user, app-level and configuration tokens.
SLACK_TOKEN = re.compile(r"\bx(?:ox[abposre]|app)-[A-Za-z0-9-]{6,}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Redacting:
    def __init__(self, secrets: list[str]) -> None:
        # Longest first, so a secret containing another is blanked whole.
        self._secrets = sorted({secret for secret in secrets if len(secret) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return SLACK_TOKEN.sub(REDACTED, text)


class TextFormatter(logging.Formatter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__(TEXT_FORMAT)
        self._redacting = _Redacting(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self._redacting.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message"} and, for an error with a traceback, "exception"."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._redacting = _Redacting(secrets)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self._redacting.redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = self._redacting.redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = self._redacting.redact(record.exc_text)
        # ensure_ascii (the default) keeps each entry on one line whatever the message holds.
        return json.dumps(entry)


def formatter_for(settings: Settings) -> logging.Formatter:
    secrets = settings.secret_values()
    return JsonFormatter(secrets) if settings.log_format == "json" else TextFormatter(secrets)


def configure_logging(settings: Settings, stream: Any = None) -> None:
    """The root logger: COACHBOT_LOG_LEVEL, COACHBOT_LOG_FORMAT, to stderr (or `stream`)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter_for(settings))
    handler.set_name("coachbot")
    root = logging.getLogger()
    # Called again (a test running several commands), it replaces its own handler and no other.
    for old in [existing for existing in root.handlers if existing.get_name() == "coachbot"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # Alembic narrates every step at INFO; the CLI prints its own one-line outcome instead.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))


def gunicorn_logger_class(settings: Settings) -> type:
    """gunicorn's logger with coachbot's formatter on its error and access logs."""
    from gunicorn.glogging import Logger

    formatter = formatter_for(settings)

    class CoachbotGunicornLogger(Logger):
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(formatter)

    return CoachbotGunicornLogger
