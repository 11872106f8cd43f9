"""Three `coachbot run` instances on one PostgreSQL and a stand-in Slack: each scheduled message goes
out exactly once, and killing one instance in the middle of the run loses nothing.

The org (three managers in UTC, thirty reps in five time zones, most with open process gaps) is
seeded before the instances start; every nudge and digest falls due at one instant a little after
they are all up, at each person's own local time. As soon as one instance has queued messages
(typically a run or two into its tick), it is killed with SIGKILL, master and worker, as a machine
dies. The survivors must send what it queued, do the runs it had not finished, and send every
other message, each once.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.playbook import WEEKDAYS, load_playbook
from bot.database import Busy, exclusive, make_engine, make_session_factory, session_scope
from bot.models import Deal, JobRun, OutboxMessage, Person, ProcessGap
from jobs import outbox_drain
from tests.conftest import empty_tables
from tests.support.servers import coachbot, free_port
from tests.support.signing import SIGNING_SECRET
from tests.support.slack_standin import SlackStandIn

pytestmark = pytest.mark.postgres

INSTANCES = 3
MANAGERS = 3
REPS_PER_MANAGER = 10
REP_ZONES = ("UTC", "America/New_York", "America/Los_Angeles", "Asia/Kolkata", "Australia/Sydney")
# Every sixth rep keeps a clean pipeline: nothing worth saying, so no nudge (but a claimed run).
CLEAN_EVERY = 6
# How long three instances may take to start on a busy two-core machine: the messages fall due
# at the first whole minute after this, so all three are ticking when they do.
STARTUP_BUDGET = dt.timedelta(seconds=25)
# Longer than a drain interval (5 s) plus a tick (2 s): a late duplicate would have arrived.
SETTLE_SECONDS = 8.0
WORKER_PID = re.compile(r"Booting worker with pid: (\d+)")


@dataclass
class Expected:
    at: dt.datetime  # the instant every nudge and digest falls due
    nudges: dict[str, str]  # rep's Slack id -> the nudge's exact text
    digests: dict[str, str]  # manager's Slack id -> the digest's text up to the counts that vary
    runs: set[str]  # job_runs.job of every per-person run that must happen once


@dataclass
class Instance:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    url: str
    worker: str = ""  # the worker's ledger.INSTANCE, "<host>:<worker pid>", as claimed_by reads


def due_instant(launched: dt.datetime) -> dt.datetime:
    """The first whole minute after the start-up budget (playbook times are HH:MM)."""
    ready = launched + STARTUP_BUDGET
    return ready.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)


def write_playbook(path: Path, at: dt.datetime) -> Path:
    """The default playbook, with every day a working day, no quiet hours, and both jobs at `at` UTC."""
    document = yaml.safe_load(resources.files("bot.coaching").joinpath("default_playbook.yml").read_text("utf-8"))
    for section in ("nudges", "digest"):
        document.pop(section)
    weekday = WEEKDAYS[at.weekday()]
    path.write_text(
        yaml.safe_dump(document, sort_keys=False)
        + f"""
nudges:
  local_time: "{at:%H:%M}"
  working_days: [{", ".join(WEEKDAYS)}]
  quiet_hours: {{start: "00:00", end: "00:00"}}
digest:
  weekday: {weekday}
  local_time: "{at:%H:%M}"
""",
        "utf-8",
    )
    playbook = load_playbook(path)
    assert playbook.digest.weekday == weekday and not playbook.nudges.quiet_hours.contains(at.time())
    return path


def seed_org(session_factory: sessionmaker[Session], at: dt.datetime) -> Expected:
    """Managers in UTC (the playbook's digest time); reps across zones, each nudged at `at` in their own zone.

    A rep in UTC keeps the playbook's nudge time; the others choose their own (Person.nudge_time),
    the local wall-clock time of `at` where they are.
    """
    monday = at.date() - dt.timedelta(days=at.weekday())
    expected = Expected(at, {}, {}, set())
    with session_scope(session_factory) as session:
        for m in range(1, MANAGERS + 1):
            manager = Person(email=f"manager{m}@example.com", name=f"Manager{m} Lead", is_manager=True,
                             slack_user_id=f"UMGR{m}", timezone="UTC")  # fmt: skip
            session.add(manager)
            session.flush()
            expected.runs.add(f"digest:{manager.id}")
            # The leaderboard runs at the digest's time too (claimed once; with no board it posts nothing).
            expected.runs.add(f"leaderboard:{manager.id}")
            expected.digests[f"UMGR{m}"] = f"Your team, week of {monday:%b} {monday.day}: {REPS_PER_MANAGER} reps, "
            for r in range(1, REPS_PER_MANAGER + 1):
                number = (m - 1) * REPS_PER_MANAGER + r
                zone = REP_ZONES[number % len(REP_ZONES)]
                rep = Person(
                    email=f"rep{number:02d}@example.com", name=f"Rep{number:02d} Seller", is_rep=True,
                    slack_user_id=f"UREP{number:02d}", timezone=zone, manager_id=manager.id,
                    nudge_time=None if zone == "UTC" else f"{at.astimezone(ZoneInfo(zone)):%H:%M}",
                )  # fmt: skip
                session.add(rep)
                session.flush()
                expected.runs.add(f"nudge:{rep.id}")
                clean = number % CLEAN_EVERY == 0
                deal = Deal(
                    crm_source="test", crm_id=f"D{number:02d}", owner_id=rep.id, name=f"Rep{number:02d}'s renewal",
                    amount=Decimal(40000 + 1000 * number), currency="USD", stage="Proposal", is_closed=False,
                    is_won=False, created_at=at - dt.timedelta(days=45), product_line="Core",
                    close_date=at.date() + (dt.timedelta(days=30) if clean else -dt.timedelta(days=10)),
                    stage_entered_at=at - dt.timedelta(days=5 if clean else 30),
                    next_step="Send the order form", next_step_date=at.date() + dt.timedelta(days=3),
                )  # fmt: skip
                session.add(deal)
                session.flush()
                if clean:
                    continue
                opened = at - dt.timedelta(days=2)
                session.add_all(
                    [
                        ProcessGap(deal_id=deal.id, rule="close_date_past", severity="high", detail="the close date has passed", opened_at=opened),
                        ProcessGap(deal_id=deal.id, rule="stale_stage", severity="medium", detail="30 days in Proposal (limit 21)", opened_at=opened),
                    ]
                )  # fmt: skip
                expected.nudges[f"UREP{number:02d}"] = f"Good morning Rep{number:02d}: 2 things worth doing today."
    return expected


def start_instance(name: str, environment: dict[str, str], workdir: Path) -> Instance:
    port = free_port()
    log = workdir / f"{name}.log"
    with log.open("wb") as output:  # a file, not a pipe: nobody reads a pipe while it fills
        process = subprocess.Popen(
            coachbot("run", "--port", str(port), "--host", "127.0.0.1", "--workers", "1"),
            env=environment, cwd=workdir, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return Instance(name, process, log, f"http://127.0.0.1:{port}")


def wait_until_healthy(instance: Instance, deadline: float) -> None:
    """Healthy (the worker starts its scheduler before it serves) and its worker pid known."""
    while True:
        try:
            booted = WORKER_PID.search(instance.log.read_text("utf-8", "replace"))
            if booted and httpx.get(instance.url + "/healthz", timeout=2).status_code == 200:
                instance.worker = f"{socket.gethostname()}:{booted.group(1)}"
                return
        except httpx.TransportError:
            pass
        if instance.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{instance.name} did not become healthy:\n{instance.log.read_text('utf-8', 'replace')[-4000:]}")
        time.sleep(0.2)


def stop(instances: list[Instance]) -> None:
    """SIGTERM to each process group, then SIGKILL to any still there."""
    for instance in instances:
        if instance.process.poll() is None:
            signal_group(instance, signal.SIGTERM)
    for instance in instances:
        try:
            instance.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            signal_group(instance, signal.SIGKILL)
            instance.process.wait(timeout=10)


def signal_group(instance: Instance, signum: int) -> None:
    with suppress(ProcessLookupError):  # already gone
        os.killpg(instance.process.pid, signum)


@contextmanager
def drain_lock(session_factory: sessionmaker[Session]) -> Iterator[None]:
    """Hold the outbox drain's lock, so no instance drains (waiting out a drain that finds nothing due)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with exclusive(session_factory.kw["bind"], outbox_drain.JOB_ID):
                yield
                return
        except Busy:
            assert time.monotonic() < deadline, "an instance held the drain lock for 30 s with nothing due"
            time.sleep(0.01)


def runs_by_job(session_factory: sessionmaker[Session]) -> dict[str, JobRun]:
    with session_factory() as session:
        return {run.job: run for run in session.scalars(select(JobRun))}


def outbox_by_job(session_factory: sessionmaker[Session]) -> dict[str, OutboxMessage]:
    """Outbox rows by the run that queued them: key "nudge:<person>:<date>" came from run "nudge:<person>"."""
    with session_factory() as session:
        return {row.dedupe_key.rsplit(":", 1)[0]: row for row in session.scalars(select(OutboxMessage))}


def unsent_by_claimer(session_factory: sessionmaker[Session]) -> dict[str, set[str]]:
    """Runs whose message is queued and not yet sent, by the instance that claimed the run."""
    runs, rows = runs_by_job(session_factory), outbox_by_job(session_factory)
    unsent: dict[str, set[str]] = {}
    for job, row in rows.items():
        if row.status == "pending" and job in runs:
            unsent.setdefault(runs[job].claimed_by, set()).add(job)
    return unsent


def message_kind(message_text: str) -> str:
    if message_text.startswith("Good morning "):
        return "nudge"
    return "digest" if message_text.startswith("Your team, week of ") else message_text


@pytest.fixture
def database(migrated_postgresql_url: str) -> Iterator[tuple[str, sessionmaker[Session]]]:
    """The session's migrated PostgreSQL schema, empty before the test and after it."""
    engine = make_engine(migrated_postgresql_url)
    empty_tables(engine)
    yield migrated_postgresql_url, make_session_factory(engine)
    empty_tables(engine)
    engine.dispose()


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = SlackStandIn(latency=0.05).start()  # a little network time, so sends overlap
    yield standin
    standin.stop()


def test_three_instances_send_each_scheduled_message_once_and_survive_losing_one(database, slack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    database_url, session_factory = database
    at = due_instant(dt.datetime.now(dt.UTC))
    expected = seed_org(session_factory, at)
    playbook = write_playbook(tmp_path / "playbook.yml", at)
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "CRM_", "COACHBOT_", "DATABASE_"))
    }
    environment.update(
        DATABASE_URL=database_url, SLACK_BOT_TOKEN="xoxb-multi-instance", SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url, CRM_PROVIDER="demo", COACHBOT_TIMEZONE="UTC", COACHBOT_PLAYBOOK=str(playbook),
        COACHBOT_SYNC_EVERY_MINUTES="0", COACHBOT_TICK_SECONDS="2",
    )  # fmt: skip
    instances: list[Instance] = []
    try:
        for number in range(1, INSTANCES + 1):
            instances.append(start_instance(f"coachbot-{number}", environment, tmp_path))
        started = time.monotonic()
        for instance in instances:
            wait_until_healthy(instance, deadline=started + 90)
        assert dt.datetime.now(dt.UTC) < at, f"the instances took longer than {STARTUP_BUDGET} to start"
        assert len({instance.worker for instance in instances}) == INSTANCES

        # The test holds the drain lock from just before the instant until the kill, so no
        # instance is in the middle of a send when it dies. (A sender killed mid-send leaves its
        # row 'sending' until the lease runs out, 5 minutes, longer than this test waits; then it
        # is looked for in Slack's history and sent once: tests/messaging/test_killed_drain.py.)
        by_worker = {instance.worker: instance for instance in instances}
        time.sleep(max((at - dt.datetime.now(dt.UTC)).total_seconds() - 2, 0))
        with drain_lock(session_factory):
            deadline = time.monotonic() + 60
            while not (unsent := unsent_by_claimer(session_factory)):
                assert time.monotonic() < deadline, "no instance queued a message"
                time.sleep(0.02)
            victim = by_worker[max(unsent, key=lambda worker: len(unsent[worker]))]
            signal_group(victim, signal.SIGKILL)
            victim.process.wait(timeout=10)
            killed_at = dt.datetime.now(dt.UTC)
            left_unsent = unsent_by_claimer(session_factory).get(victim.worker, set())
        survivors = {instance.worker for instance in instances if instance is not victim}

        # Until every run is claimed and every queued message is out, then a little longer.
        deadline = time.monotonic() + 90
        while True:
            runs, rows = runs_by_job(session_factory), outbox_by_job(session_factory)
            sent = [row for row in rows.values() if row.status == "sent"]
            if expected.runs <= set(runs) and len(rows) == len(expected.nudges) + len(expected.digests) == len(sent):
                break
            assert time.monotonic() < deadline, (
                f"not done in time: {len(runs)} runs, {Counter(row.status for row in rows.values())}"
            )
            time.sleep(0.25)
        time.sleep(SETTLE_SECONDS)
        assert all(instance.process.poll() is None for instance in instances if instance is not victim)
    finally:
        stop(instances)
    runs, rows = runs_by_job(session_factory), outbox_by_job(session_factory)

    # Slack got each nudge and each digest exactly once, with its chart, and nothing else.
    posted = Counter((message.channel, message_kind(message.text or "")) for message in slack.messages)
    wanted = Counter({(rep, "nudge"): 1 for rep in expected.nudges} | {(manager, "digest"): 1 for manager in expected.digests})
    assert posted == wanted
    texts = {message.channel: message.text or "" for message in slack.messages}
    # The fallback's first line is the greeting; then one line a gap, naming the deal.
    assert {rep: texts[rep].split("\n")[0] for rep in expected.nudges} == expected.nudges
    assert all(
        [line.split(" (")[0] for line in texts[rep].split("\n")[1:]] == [f"• Rep{rep[-2:]}'s renewal"] * 2
        for rep in expected.nudges
    )
    assert all(texts[manager].startswith(start) for manager, start in expected.digests.items())
    assert sorted(upload.channel_id or "" for upload in slack.files) == sorted("D" + manager[1:] for manager in expected.digests)

    # The outbox: one row per message, each sent on its first attempt with the ts Slack gave.
    assert Counter((row.recipient, row.kind) for row in rows.values()) == wanted
    assert {(row.status, row.attempts) for row in rows.values()} == {("sent", 1)}
    assert sorted(row.slack_ts or "" for row in rows.values()) == sorted(message.ts for message in slack.messages)

    # The ledger: one run per person at the one instant (reps with nothing to say too), and
    # besides those only the hourly housekeeping slot(s).
    with session_factory() as session:
        ledger = session.execute(select(JobRun.job, JobRun.scheduled_for, JobRun.status)).all()
    assert max(Counter((job, when) for job, when, _ in ledger).values()) == 1
    assert {job for job, _, _ in ledger if job != "coaching_hourly"} == expected.runs
    assert {(when, status) for job, when, status in ledger if job in expected.runs} == {(at, "succeeded")}
    assert {run.claimed_by for run in runs.values()} <= {instance.worker for instance in instances}

    # What the victim left: the messages it had queued went out from the survivors, and nothing
    # was claimed in its name after it died (a run it had begun rolled back with its connection,
    # and the ledger above shows that a survivor did it).
    assert left_unsent and {rows[job].claimed_by for job in left_unsent} <= survivors
    assert all(run.claimed_at < killed_at for run in runs.values() if run.claimed_by == victim.worker)
    assert not [row for row in rows.values() if row.claimed_by == victim.worker]
