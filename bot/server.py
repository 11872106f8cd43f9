"""HTTP mode: the Bolt app behind gunicorn, with `POST /slack/events`, `GET /healthz` and `GET /metrics`.

`/healthz` answers 200 when the database answers and this worker's scheduler is alive: a tick
began within the last 3 × COACHBOT_TICK_SECONDS, or one is running and has run for less than an
hour (a first sync of a large CRM takes minutes). Otherwise 503, with what is wrong in the body.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text

from bot import metrics
from bot.app import create_app
from bot.database import make_engine, make_session_factory
from bot.settings import Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"


def create_wsgi_app(settings: Settings) -> Callable[..., Iterable[bytes]]:
    """The WSGI app one server worker runs (each worker builds its own engine, after the fork)."""
    engine = make_engine(settings.database_url)
    # check_before_serving verified the token once in the master; each worker need not ask again.
    bolt = create_app(settings, session_factory=make_session_factory(engine), token_verification=False)
    bolt.use(metrics.measure_latency)
    slack = SlackRequestHandler(bolt, path=EVENTS_PATH)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            return _health(engine, settings, start_response)
        if path == METRICS_PATH and method == "GET":
            return _metrics(engine, start_response)
        return slack(environ, start_response)

    return application


def _health(engine: Any, settings: Settings, start_response: Callable[..., Any]) -> Iterable[bytes]:
    body: dict[str, Any] = {"ok": True, "database": "ok"}
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        log.exception("health check: database unreachable")
        body.update(ok=False, database="unreachable")
    if settings.scheduler_enabled:
        healthy, body["scheduler"] = metrics.HEARTBEAT.report(dt.datetime.now(dt.UTC), settings.tick_seconds)
        body["ok"] = body["ok"] and healthy
    else:
        body["scheduler"] = {"state": "off (COACHBOT_SCHEDULER=false)"}
    payload = json.dumps(body).encode()
    status = "200 OK" if body["ok"] else "503 Service Unavailable"
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def _metrics(engine: Any, start_response: Callable[..., Any]) -> Iterable[bytes]:
    try:
        payload, content_type = metrics.scrape(engine)
    except Exception:
        log.exception("metrics: scrape failed")
        payload, content_type, status = b"metrics unavailable: see the log\n", "text/plain", "503 Service Unavailable"
    else:
        status = "200 OK"
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(payload)))])
    return [payload]


class _Gunicorn(BaseApplication):
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
    from bot.logs import gunicorn_logger_class

    check_before_serving(settings)
    # Before the workers fork, so they all count into one directory that /metrics adds up.
    named = os.environ.get(metrics.MULTIPROC_ENV)
    metrics_dir = metrics.use_multiprocess_dir(Path(named) if named else None)
    options: dict[str, Any] = {
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
        "logger_class": gunicorn_logger_class(settings),
        # A dead worker's live gauges stop counting; its counters stay in the sums.
        "child_exit": lambda server, worker: metrics.worker_exited(worker.pid),
    }
    if not named:
        options["on_exit"] = lambda server: metrics.remove_multiprocess_dir(metrics_dir)
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
