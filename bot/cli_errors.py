"""How the `coachbot` command fails: one or two lines naming the fix, and an exit code a script can test.

Every command raises what it raises; `main` in bot/cli.py hands it to `report`, the one place that
turns known errors into a message and an exit code (README, "Exit codes"). The traceback is shown
only with `coachbot --debug …` or COACHBOT_LOG_LEVEL=DEBUG.
"""

from __future__ import annotations

import enum
import logging
import os
import traceback

from rich.console import Console
from rich.text import Text
from slack_sdk.errors import SlackClientError
from sqlalchemy import exc as sa_exc

from bot.coaching.playbook import PlaybookError
from bot.crm.base import CrmError
from bot.crm.demo import DemoIntoRealOrg
from bot.database import DatabaseUnavailable, NoDatabaseYet
from bot.demo import DemoError
from bot.migrate import SchemaNotCurrent
from bot.org.importer import OrgFileError
from bot.settings import SettingsError
from bot.slack_client import SlackTokenError


class ExitCode(enum.IntEnum):
    OK = 0
    CHECK_FAILED = 1  # doctor or playbook check found a problem; preview found nobody
    BAD_INPUT = 2  # a setting, an option, the org file or the playbook (click uses 2 for usage errors too)
    DATABASE_UNREACHABLE = 3  # DATABASE_URL unparseable, server refusing, database or SQLite folder missing
    DATABASE_SCHEMA = 4  # not migrated (run `coachbot migrate`), or migrated by a newer coachbot
    SLACK_REFUSED = 5  # SLACK_BOT_TOKEN refused, lacking a scope, or Slack unreachable
    CRM_FAILED = 6  # the CRM refused the credentials, or kept failing
    DEMO_REFUSED = 7  # the demo provider pointed at a database with real people
    UNEXPECTED = 70  # a bug: run again with --debug and report the traceback


def _database_lost(error: sa_exc.DBAPIError) -> str:
    first_line = (str(error.orig).strip().splitlines() or ["no reason given"])[0]
    return f"the database stopped answering ({first_line[:200]}): check DATABASE_URL and the database server"


def explain(error: BaseException) -> tuple[str, ExitCode]:
    """The message and exit code for `error`; unknown errors are UNEXPECTED, named by type only."""
    if isinstance(error, PlaybookError):
        return "\n".join(error.errors), ExitCode.BAD_INPUT
    if isinstance(error, (SettingsError, OrgFileError, DemoError)):
        return str(error), ExitCode.BAD_INPUT
    if isinstance(error, DatabaseUnavailable):
        return str(error), ExitCode.DATABASE_UNREACHABLE
    if isinstance(error, (NoDatabaseYet, SchemaNotCurrent)):
        return str(error), ExitCode.DATABASE_SCHEMA
    if isinstance(error, SlackTokenError):
        return f"Slack: {error}", ExitCode.SLACK_REFUSED
    if isinstance(error, DemoIntoRealOrg):
        return str(error), ExitCode.DEMO_REFUSED
    if isinstance(error, CrmError):
        return str(error), ExitCode.CRM_FAILED
    # After the start-up checks passed: the server went away mid-command.
    if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return _database_lost(error), ExitCode.DATABASE_UNREACHABLE
    if isinstance(error, SlackClientError):
        return (
            f"Slack: the Web API call failed ({type(error).__name__}): check SLACK_BOT_TOKEN and SLACK_API_URL",
            ExitCode.SLACK_REFUSED,
        )
    # The message of an unknown error may carry SQL parameters or payloads: only its type is shown.
    return (
        f"unexpected error ({type(error).__name__}); run `coachbot --debug …` to see the traceback, and report it",
        ExitCode.UNEXPECTED,
    )


def debug_requested(flag: bool) -> bool:
    """`--debug`, or COACHBOT_LOG_LEVEL=DEBUG (from the environment or, once settings loaded, from .env)."""
    from_environment = os.environ.get("COACHBOT_LOG_LEVEL", "").strip().upper() == "DEBUG"
    return flag or from_environment or logging.getLogger().isEnabledFor(logging.DEBUG)


def report(error: BaseException, console: Console, *, debug: bool) -> int:
    """Print what went wrong to `console` (stderr); the exit code to end with."""
    message, code = explain(error)
    if debug:
        console.print(Text("".join(traceback.format_exception(error))), highlight=False, soft_wrap=True)
    lines = message.splitlines() or [message]
    console.print(Text("coachbot: ", style="red") + Text(lines[0]), highlight=False, soft_wrap=True)
    for line in lines[1:]:
        console.print(Text(line), highlight=False, soft_wrap=True)
    return int(code)
