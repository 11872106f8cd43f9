"""Prometheus metrics (`GET /metrics`) and the scheduler's heartbeat (`GET /healthz`).

Two kinds of numbers:
- **Counted in the process** (sends, 429s, request latency): prometheus-client counters and
  histograms. Under gunicorn every worker counts its own, so `coachbot run` gives the workers a
  shared PROMETHEUS_MULTIPROC_DIR (one of its own, emptied at start, unless the setting names one)
  and each scrape adds them up; gunicorn's child_exit hook marks a dead worker's files.
- **Read from the database at scrape time** (outbox rows by status, job runs by outcome, the age
  of each CRM's last good sync): the same for every worker and every instance, and true after a
  restart, so they are computed by `DatabaseCollector`, never counted.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.models import CrmSyncState, JobRun, OutboxMessage
from bot.slack_ids import ACTION_IDS, COMMANDS, EVENTS, NUDGE_OPEN_CRM, VIEW_CALLBACK_IDS

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OUTBOX_STATUSES = ("pending", "sending", "sent", "parked", "dropped")

OUTBOX_SENDS = Counter(
    "coachbot_outbox_sends",
    "Outbox delivery attempts by outcome: sent, confirmed (found already posted), rate_limited, failed, "
    "unconfirmed (no answer: checked in history next), rejected, uncertain.",
    ["outcome"],
)
SLACK_RATE_LIMITED = Counter("coachbot_slack_rate_limited", "HTTP 429 answers from Slack, by Web API method.", ["method"])
REQUEST_LATENCY = Histogram(
    "coachbot_request_duration_seconds",
    "Time to answer Slack (the ack), by listener: a command, action_id, view callback_id or event.",
    ["listener"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0),  # Slack gives up after 3 seconds
)


def use_multiprocess_dir(path: Path | None) -> Path:
    """Count in files under `path` (a new temporary directory if None) so gunicorn workers add up.

    Call before any worker starts. An existing directory is emptied: files left by an earlier
    run would be added to this one's.
    """
    if path is None:
        import tempfile

        path = Path(tempfile.mkdtemp(prefix="coachbot-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for leftover in path.glob("*.db"):
        leftover.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    # prometheus-client picks its value class at import; metrics made from now on use the files.
    values.ValueClass = values.get_value_class()
    return path


def remove_multiprocess_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def worker_exited(pid: int) -> None:
    """gunicorn's child_exit hook: the worker's live gauges no longer count."""
    if os.environ.get(MULTIPROC_ENV):
        mark_process_dead(pid)


def record_send(outcome: str) -> None:
    OUTBOX_SENDS.labels(outcome=outcome).inc()


def record_rate_limited(method: str) -> None:
    SLACK_RATE_LIMITED.labels(method=method).inc()


# -- request latency ---------------------------------------------------------------------------

_KNOWN_LISTENERS = frozenset({*COMMANDS, *ACTION_IDS, NUDGE_OPEN_CRM, *VIEW_CALLBACK_IDS, *(f"event:{e}" for e in EVENTS)})


def listener_name(body: dict[str, Any]) -> str:
    """Which listener a request is for, from coachbot's own identifiers only (bounded labels)."""
    if body.get("command"):
        name = str(body["command"])
    elif body.get("type") == "block_actions" and body.get("actions"):
        # Link buttons carry a suffix to be unique in a message ("nudge_open_crm:3").
        name = str(body["actions"][0].get("action_id", "")).split(":", 1)[0]
    elif body.get("type") in ("view_submission", "view_closed"):
        name = str((body.get("view") or {}).get("callback_id", ""))
    elif body.get("type") == "event_callback":
        name = f"event:{(body.get('event') or {}).get('type', '')}"
    else:
        name = ""
    return name if name in _KNOWN_LISTENERS else "other"


def measure_latency(body: dict[str, Any], next: Callable[[], Any]) -> Any:  # noqa: A002 - Bolt's name
    """Bolt middleware: listeners ack before next() returns, so this times Slack's wait."""
    started = time.perf_counter()
    try:
        return next()
    finally:
        REQUEST_LATENCY.labels(listener=listener_name(body)).observe(time.perf_counter() - started)


# -- the scheduler's heartbeat ----------------------------------------------------------------

# A tick that has run this long is taken for hung (a first sync of a large CRM takes minutes).
HUNG_TICK = dt.timedelta(hours=1)


@dataclass
class SchedulerHeartbeat:
    """When this process's scheduler last ticked; `/healthz` reports it."""

    started_at: dt.datetime | None = None
    tick_started_at: dt.datetime | None = None
    tick_finished_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def scheduler_started(self, now: dt.datetime) -> None:
        with self._lock:
            self.started_at, self.tick_started_at, self.tick_finished_at = now, None, None

    def tick_began(self, now: dt.datetime) -> None:
        with self._lock:
            self.tick_started_at = now

    def tick_ended(self, now: dt.datetime) -> None:
        with self._lock:
            self.tick_finished_at = now

    def report(self, now: dt.datetime, tick_seconds: int) -> tuple[bool, dict[str, Any]]:
        """(healthy, what /healthz shows). Unhealthy: no tick began in 3 intervals, or one runs past an hour."""
        with self._lock:
            started, began, ended = self.started_at, self.tick_started_at, self.tick_finished_at
        if started is None:
            return True, {"state": "not started"}
        stale_after = dt.timedelta(seconds=3 * tick_seconds)
        running = began is not None and (ended is None or ended < began)
        detail: dict[str, Any] = {
            "last_tick": _iso(began),
            "last_tick_finished": _iso(ended),
            "running": running,
            "stale_after_seconds": int(stale_after.total_seconds()),
        }
        if running:
            assert began is not None
            healthy = now - began <= HUNG_TICK
            detail["state"] = "ticking" if healthy else f"a tick has run since {_iso(began)}, over {HUNG_TICK}"
        else:
            last = began or started
            healthy = now - last <= stale_after
            detail["state"] = "ok" if healthy else f"no tick for {int((now - last).total_seconds())} s"
        return healthy, detail


HEARTBEAT = SchedulerHeartbeat()  # one scheduler per process (each gunicorn worker runs its own)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


# -- read from the database -------------------------------------------------------------------


class DatabaseCollector:
    """Outbox rows by status, job runs by outcome and each CRM's sync age, read at each scrape."""

    def __init__(self, engine: Engine, now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self.engine = engine
        self.now = now

    def collect(self) -> Iterator[Metric]:
        with Session(self.engine) as session:
            by_status = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
            uncertain = session.scalar(
                select(func.count()).where(OutboxMessage.status == "parked", OutboxMessage.unconfirmed_since.is_not(None))
            )
            runs = session.execute(select(JobRun.job, JobRun.status, func.count()).group_by(JobRun.job, JobRun.status)).all()
            syncs = session.execute(select(CrmSyncState.connection, CrmSyncState.last_finished_at)).all()
        outbox = GaugeMetricFamily("coachbot_outbox_messages", "Outbox rows by status.", labels=["status"])
        for status in sorted(set(OUTBOX_STATUSES) | set(by_status)):
            outbox.add_metric([status], by_status.get(status, 0))
        yield outbox
        yield GaugeMetricFamily(
            "coachbot_outbox_uncertain_messages",
            "Parked rows that may or may not be in Slack (its history could not be read): see `coachbot outbox list`.",
            value=uncertain or 0,
        )
        # Per-person runs ("nudge:12") are added up by job family, so labels stay few.
        tally: Tally[tuple[str, str]] = Tally()
        for job, status, count in runs:
            tally[(job.split(":", 1)[0], status)] += count
        job_runs = CounterMetricFamily(
            "coachbot_job_runs", "Scheduled job runs by job and outcome (the ledger).", labels=["job", "outcome"]
        )
        for (job, status), count in sorted(tally.items()):
            job_runs.add_metric([job, status], count)
        yield job_runs
        now = self.now()
        age = GaugeMetricFamily(
            "coachbot_crm_seconds_since_last_sync",
            "Seconds since the last CRM sync that finished, per connection.",
            labels=["crm"],
        )
        for connection, finished in syncs:
            if finished is not None:
                age.add_metric([connection], max((now - finished).total_seconds(), 0.0))
        yield age


def scrape(engine: Engine) -> tuple[bytes, str]:
    """The exposition for GET /metrics: every worker's counts, and what the database says now."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)
    else:  # one process (a test, or a server started without `coachbot run`)
        for metric in (OUTBOX_SENDS, SLACK_RATE_LIMITED, REQUEST_LATENCY):
            registry.register(metric)
    registry.register(DatabaseCollector(engine))
    return generate_latest(registry), CONTENT_TYPE_LATEST
