"""`coachbot doctor`: one cheap call to each thing coachbot depends on, and what is wrong with it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from alembic.script import ScriptDirectory
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.crm.base import CrmError
from bot.crm.providers import provider_from_settings
from bot.database import make_engine
from bot.migrate import alembic_config, current_revision
from bot.settings import Settings

# The bot scopes the code needs (tests/test_manifest.py keeps manifest.yml equal to this);
# a token missing one fails in front of users. im:write and im:history let the outbox open a
# rep's DM and read it, to see whether a post whose answer was lost arrived before it sends again.
REQUIRED_BOT_SCOPES = ("commands", "chat:write", "files:write", "users:read", "users:read.email", "im:write", "im:history")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_checks(
    settings: Settings,
    *,
    slack_client: WebClient | None = None,
    crm_transport: httpx.BaseTransport | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> list[Check]:
    return [check_database(settings), check_slack(settings, slack_client), check_crm(settings, crm_transport, now())]


def check_database(settings: Settings) -> Check:
    try:
        engine = make_engine(settings.database_url)
        revision = current_revision(engine)
        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - reported, not raised: doctor explains every failure
        return Check("database", False, f"cannot connect ({type(exc).__name__}): check DATABASE_URL")
    if revision != head:
        return Check("database", False, f"schema at {revision or 'nothing'}, code expects {head}: run `coachbot migrate`")
    return Check("database", True, f"connected, schema at {revision} (latest)")


def check_slack(settings: Settings, client: WebClient | None) -> Check:
    if settings.slack_bot_token is None:
        return Check("slack", False, "SLACK_BOT_TOKEN is not set")
    if client is None:
        from bot.slack_client import make_web_client

        client = make_web_client(settings)
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        return Check("slack", False, f"auth.test failed ({exc.response.get('error')}): check SLACK_BOT_TOKEN")
    except Exception as exc:  # noqa: BLE001
        return Check("slack", False, f"cannot reach {settings.slack_api_url} ({type(exc).__name__}): check SLACK_API_URL")
    granted = {scope.strip() for scope in (response.headers.get("x-oauth-scopes") or "").split(",") if scope.strip()}
    where = f"team {response.get('team')}, bot user {response.get('user')}"
    missing = [scope for scope in REQUIRED_BOT_SCOPES if granted and scope not in granted]
    if missing:
        return Check("slack", False, f"{where}; missing scopes {', '.join(missing)}: reinstall the app from manifest.yml")
    return Check("slack", True, f"token accepted ({where})")


def check_crm(settings: Settings, transport: httpx.BaseTransport | None, now: dt.datetime) -> Check:
    name = f"crm ({settings.crm_provider})"
    try:
        provider = provider_from_settings(settings, now, transport=transport)
        doctor = getattr(provider, "doctor", None)
        if doctor is not None:
            return Check(name, True, doctor())
        total = provider.expected_total()
        return Check(name, True, f"readable, {total:,} deals" if total is not None else "readable")
    except CrmError as exc:
        return Check(name, False, str(exc))
