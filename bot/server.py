"""HTTP mode: the Bolt app behind gunicorn, with `POST /slack/events` and `GET /healthz`."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from gunicorn.app.base import BaseApplication
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text

from bot.app import create_app
from bot.database import make_engine, make_session_factory
from bot.settings import Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def create_wsgi_app(settings: Settings) -> Callable[..., Iterable[bytes]]:
    """The WSGI app one server worker runs (each worker builds its own engine, after the fork)."""
    engine = make_engine(settings.database_url)
    # check_before_serving verified the token once in the master; each worker need not ask again.
    bolt = create_app(settings, session_factory=make_session_factory(engine), token_verification=False)
    slack = SlackRequestHandler(bolt, path=EVENTS_PATH)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return _health(engine, start_response)
        return slack(environ, start_response)

    return application


def _health(engine: Any, start_response: Callable[..., Any]) -> Iterable[bytes]:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        status, body = "200 OK", {"ok": True, "database": "ok"}
    except Exception:  # noqa: BLE001 - a health check reports, it does not raise
        log.exception("health check: database unreachable")
        status, body = "503 Service Unavailable", {"ok": False, "database": "unreachable"}
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Callable[..., Iterable[bytes]]:
        return create_wsgi_app(self.settings)


def _start_worker_scheduler(settings: Settings) -> Callable[..., None]:
    def post_worker_init(worker: Any) -> None:
        # After the fork: a scheduler thread started before it would not survive into the worker.
        # Every worker of every instance runs one; the ledger makes each run happen once.
        from bot.slack_client import make_web_client
        from jobs.runner import start_scheduler

        start_scheduler(settings, make_session_factory(make_engine(settings.database_url)), make_web_client(settings))

    return post_worker_init


def check_before_serving(settings: Settings) -> None:
    """Raise what would otherwise kill each worker as it boots ("Worker failed to boot"), checked once here.

    Runs in gunicorn's master before the fork: the database reachable and migrated, the playbook
    valid, the bot token accepted with every scope, and (when the schedule syncs) a CRM that takes
    the credentials, or the demo only into a database of its own.
    """
    from bot.coaching.playbook import load_playbook
    from bot.migrate import open_migrated_database
    from bot.slack_client import make_web_client, verify_bot_token

    engine = open_migrated_database(settings.database_url)
    try:
        if settings.scheduler_enabled and settings.sync_every_minutes:
            from bot.doctor import require_safe_sync

            require_safe_sync(settings, engine, dt.datetime.now(dt.UTC))
    finally:
        engine.dispose()
    load_playbook(settings.playbook_path)
    verify_bot_token(make_web_client(settings, quiet=True), settings.slack_api_url)


def serve_http(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    """Serve until stopped: gunicorn, threaded workers (Bolt runs listeners after ack on threads)."""
    check_before_serving(settings)
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": "-",
        "loglevel": settings.log_level.lower(),
        # coachbot does not use gunicorn's control interface, and its default socket path is shared
        # by every instance on a host.
        "control_socket_disable": True,
    }
    if settings.scheduler_enabled:
        options["post_worker_init"] = _start_worker_scheduler(settings)
    _Gunicorn(settings, options).run()


def serve_socket_mode(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    assert settings.slack_app_token is not None
    check_before_serving(settings)
    bolt = create_app(settings, token_verification=False)
    if settings.scheduler_enabled:
        from jobs.runner import start_scheduler

        start_scheduler(settings, make_session_factory(make_engine(settings.database_url)), bolt.client)
    SocketModeHandler(bolt, settings.slack_app_token.get_secret_value()).start()
