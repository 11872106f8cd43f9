"""Build the Bolt app: `create_app(settings, ...)`. Entry points only start it."""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import to_dicts
from bot.blocks.messages import error_blocks
from bot.coaching.playbook import Playbook, load_playbook
from bot.database import make_engine, make_session_factory, session_scope
from bot.settings import Settings
from bot.slack_client import make_web_client

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Services:
    """What listeners need besides the payload, put in every request's context."""

    settings: Settings
    session_factory: sessionmaker[Session]
    playbook: Playbook
    clock: Clock


def create_app(
    settings: Settings,
    *,
    session_factory: sessionmaker[Session] | None = None,
    client: WebClient | None = None,
    playbook: Playbook | None = None,
    clock: Clock = utc_now,
    token_verification: bool = True,
) -> App:
    """The Bolt app with every listener registered; request verification always on."""
    from handlers import register_handlers

    required = ["SLACK_BOT_TOKEN"] if settings.socket_mode else ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]
    settings.require(*required)
    services = Services(
        settings=settings,
        session_factory=session_factory or make_session_factory(make_engine(settings.database_url)),
        playbook=playbook or load_playbook(settings.playbook_path),
        clock=clock,
    )
    app = App(
        client=client or make_web_client(settings),
        signing_secret=settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None,
        request_verification_enabled=True,
        token_verification_enabled=token_verification,
        # Unknown requests (a stale manifest entry, say) are logged, not raised.
        raise_error_for_unhandled_request=False,
    )

    @app.middleware
    def provide_services(context: BoltContext, next: Callable[[], Any]) -> None:  # noqa: A002 - Bolt's name
        context["services"] = services
        next()

    app.error(handle_error)
    register_handlers(app)
    return app


@contextmanager
def unit_of_work(context: BoltContext) -> Iterator[Session]:
    """The request's database session, committed when the listener is done.

    Listeners run after ack() on Bolt's worker thread, after global middleware has returned, so
    the session is opened here, around the listener's work, rather than in a middleware.
    """
    with session_scope(context["services"].session_factory) as session:
        yield session


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

    def run(ack: Any, body: dict[str, Any], respond: Any, client: Any, context: BoltContext, logger: logging.Logger, payload: dict[str, Any]) -> Any:
        available = {"ack": ack, "body": body, "respond": respond, "client": client, "context": context, "logger": logger, "payload": payload}
        available.update({name: payload for name in _PAYLOAD_NAMES})
        try:
            return listener(**{name: value for name, value in available.items() if name in wanted})
        except Exception as error:  # noqa: BLE001 - this is the one error handler
            _reply_to_error(error, ack, body, respond, client, logger)
            return None

    run.__name__ = listener.__name__
    run.__qualname__ = listener.__qualname__
    return run


def _reply_to_error(error: Exception, ack: Any, body: dict[str, Any], respond: Any, client: Any, logger: logging.Logger) -> None:
    from bot.coaching.errors import CoachingError
    from bot.coaching.gaps import GapError

    if isinstance(error, CoachingError | GapError):
        text, blocks = str(error), None
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
    except Exception:  # noqa: BLE001 - the reply to an error must not raise another
        logger.exception("could not tell the user about an error")


def handle_error(error: Exception, body: dict[str, Any], respond: Any, client: Any, logger: logging.Logger) -> None:
    """Errors that escape outside listeners (middleware, a listener not registered through guarded)."""
    _reply_to_error(error, None, body, respond, client, logger)


def _describe(body: dict[str, Any]) -> str:
    # Enough to find the request in logs, never the payload's text or tokens.
    return f"{body.get('command') or body.get('type')} from {body.get('user_id') or (body.get('user') or {}).get('id')}"
