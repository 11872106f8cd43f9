"""Build the Bolt app: `create_app(settings, ...)`. Entry points only start it."""

from __future__ import annotations

import datetime as dt
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


def handle_error(error: Exception, body: dict[str, Any], respond: Any, logger: logging.Logger) -> None:
    """Known domain errors become a friendly private reply; unknown ones a logged traceback and a
    short reference the user can quote."""
    from bot.coaching.errors import CoachingError
    from bot.coaching.gaps import GapError

    if isinstance(error, CoachingError | GapError):
        if respond is not None and body.get("response_url"):
            respond(text=str(error), response_type="ephemeral", replace_original=False)
        return
    reference = uuid.uuid4().hex[:8]
    logger.error("unhandled error (reference %s) for %s", reference, _describe(body), exc_info=error)
    if respond is not None and body.get("response_url"):
        respond(
            blocks=to_dicts(error_blocks(reference)),
            text=f"Something went wrong (reference {reference}).",
            response_type="ephemeral",
        )


def _describe(body: dict[str, Any]) -> str:
    # Enough to find the request in logs, never the payload's text or tokens.
    return f"{body.get('command') or body.get('type')} from {body.get('user_id') or (body.get('user') or {}).get('id')}"
