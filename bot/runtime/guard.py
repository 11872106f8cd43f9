"""The one error handler for listeners: known refusals become a private reply, anything else a
logged traceback and a short reference the user can quote."""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext

from bot.blocks import to_dicts
from bot.blocks.format import escape
from bot.blocks.messages import error_blocks
from bot.coaching.errors import CoachingError
from bot.coaching.gaps import GapError

# Names Bolt gives the payload, by kind of request.
_PAYLOAD_NAMES = ("command", "action", "view", "event", "shortcut", "options", "message")


def guarded(listener: Callable[..., Any]) -> Callable[..., Any]:
    """Register listeners through this: the one place that turns their errors into replies.

    Bolt's app.error cannot do it for errors raised after ack(): its thread runner then races
    (Slack may get a 500, or the 200 three seconds late), so an error must not leave the listener.
    Known domain errors become a private reply in the user's words; anything else a logged
    traceback and a short reference the user can quote.
    """
    wanted = set(inspect.signature(listener).parameters)

    def run(
        ack: Any,
        body: dict[str, Any],
        respond: Any,
        client: Any,
        context: BoltContext,
        logger: logging.Logger,
        payload: dict[str, Any],
    ) -> Any:
        available = {
            "ack": ack,
            "body": body,
            "respond": respond,
            "client": client,
            "context": context,
            "logger": logger,
            "payload": payload,
        }
        available.update(dict.fromkeys(_PAYLOAD_NAMES, payload))
        try:
            return listener(**{name: value for name, value in available.items() if name in wanted})
        except Exception as error:  # noqa: BLE001 - this is the one error handler
            reply_to_error(error, ack, body, respond, client, logger)
            return None

    run.__name__ = listener.__name__
    run.__qualname__ = listener.__qualname__
    return run


def refusal_text(error: CoachingError | GapError) -> str:
    """A refusal as mrkdwn: the listener's own drawing, else the plain sentence escaped."""
    drawn = getattr(error, "mrkdwn", None)
    return drawn if drawn is not None else escape(str(error))


def reply_to_error(error: Exception, ack: Any, body: dict[str, Any], respond: Any, client: Any, logger: logging.Logger) -> None:
    if isinstance(error, CoachingError | GapError):
        text, blocks = refusal_text(error), None
    else:
        reference = uuid.uuid4().hex[:8]
        logger.error("unhandled error (reference %s) for %s", reference, _describe(body), exc_info=error)
        text, blocks = f"Something went wrong (reference {reference}).", to_dicts(error_blocks(reference))
    if ack is not None and getattr(ack, "response", None) is None:
        ack()
    try:
        if body.get("response_url") and respond is not None:
            respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
        elif (user := body.get("user_id") or (body.get("user") or {}).get("id")) is not None:
            # A modal submission has no response_url: tell the user in their DM with the app.
            client.chat_postMessage(channel=user, text=text, blocks=blocks)
    except Exception:
        logger.exception("could not tell the user about an error")


def handle_error(error: Exception, body: dict[str, Any], respond: Any, client: Any, logger: logging.Logger) -> None:
    """Errors that escape outside listeners (middleware, a listener not registered through guarded)."""
    reply_to_error(error, None, body, respond, client, logger)


def _describe(body: dict[str, Any]) -> str:
    # Enough to find the request in logs, never the payload's text or tokens.
    return f"{body.get('command') or body.get('type')} from {body.get('user_id') or (body.get('user') or {}).get('id')}"
