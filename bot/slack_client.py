"""The one Slack Web API client: base URL from settings, slack_sdk's own retry handlers."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

from bot.settings import Settings

_QUIET = logging.getLogger("bot.slack_client.check")
_QUIET.disabled = True


def make_web_client(settings: Settings, timeout: int = 10, *, quiet: bool = False) -> WebClient:
    """`quiet`: for a one-off check whose outcome is its own message, without slack_sdk's log line per failed try."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = WebClient(token=token, base_url=settings.slack_api_url, timeout=timeout, logger=_QUIET if quiet else None)
    # 429s wait out Retry-After; dropped connections back off. Both bounded, so a handler never hangs.
    client.retry_handlers.extend(
        [
            RateLimitErrorRetryHandler(max_retry_count=2),
            ConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=BackoffRetryIntervalCalculator(0.5)),
        ]
    )
    return client


# The bot scopes the code needs (tests/test_manifest.py keeps manifest.yml equal to this);
# a token missing one fails in front of users. im:write and im:history let the outbox open a
# rep's DM and read it, to see whether a post whose answer was lost arrived before it sends again.
REQUIRED_BOT_SCOPES = ("commands", "chat:write", "files:write", "users:read", "users:read.email", "im:write", "im:history")


class SlackTokenError(Exception):
    """Slack refused the bot token, or the token lacks a scope; the message says what to fix."""


def verify_bot_token(client: WebClient, api_url: str) -> str:
    """Who the token is ("team T, bot user U"), after one auth.test; SlackTokenError when it will not do."""
    from slack_sdk.errors import SlackApiError

    try:
        response = client.auth_test()
    except SlackApiError as exc:
        raise SlackTokenError(f"auth.test failed ({exc.response.get('error')}): check SLACK_BOT_TOKEN") from exc
    except Exception as exc:
        raise SlackTokenError(f"cannot reach {api_url} ({type(exc).__name__}): check SLACK_API_URL") from exc
    # Slack lists the token's scopes in this header; where a proxy drops it, nothing is checked.
    granted = {scope.strip() for scope in (response.headers.get("x-oauth-scopes") or "").split(",") if scope.strip()}
    who = f"team {response.get('team')}, bot user {response.get('user')}"
    missing = [scope for scope in REQUIRED_BOT_SCOPES if granted and scope not in granted]
    if missing:
        raise SlackTokenError(f"{who}; missing scopes {', '.join(missing)}: reinstall the app from manifest.yml")
    return who
