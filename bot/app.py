"""Build the Bolt app: `create_app(settings, ...)`. Entry points only start it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.playbook import Playbook, load_playbook
from bot.database import make_engine, make_session_factory
from bot.runtime.guard import handle_error
from bot.runtime.services import Clock, Services, utc_now
from bot.settings import Settings
from bot.slack_client import make_web_client
from handlers import register_handlers


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
