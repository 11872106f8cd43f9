"""A real `coachbot jobs run outbox_drain` process killed with SIGKILL in the middle of 300 nudges,
then another drain: Slack ends up with every message exactly once.

The stand-in accepts the very first post and never answers it, so at the kill at least one row is
'sending' although Slack has its message; others are 'sending' with their request not yet out.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from bot.database import make_engine, make_session_factory
from bot.messaging.sender import drain, sender_client
from bot.models import OutboxMessage
from tests.messaging.test_sender import fast_limiter, queue, settings_for
from tests.support.servers import coachbot

NUDGES = 300
REPS = 30
KILL_AFTER = 150  # posts Slack has seen when the process is killed


def test_a_drain_killed_mid_send_then_run_again_delivers_every_message_exactly_once(database_url, slack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    session_factory = make_session_factory(engine)
    queued_at = dt.datetime.now(dt.UTC)
    for number in range(NUDGES):
        queue(session_factory, f"nudge:{number}", f"U0REP{number % REPS:02d}", queued_at, text=f"nudge {number}")
    slack.latency = 0.01
    slack.fail("chat.postMessage", accept=True, delay=120, times=1)  # kept by Slack, answered never
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "CRM_", "COACHBOT_", "DATABASE_"))
    }
    environment.update(
        DATABASE_URL=database_url, SLACK_BOT_TOKEN="xoxb-killed", SLACK_API_URL=slack.api_url,
        SLACK_POST_PER_CHANNEL_PER_SECOND="200", SLACK_POST_GLOBAL_PER_MINUTE="60000",
    )  # fmt: skip
    with (tmp_path / "drain.log").open("wb") as log:
        process = subprocess.Popen(coachbot("jobs", "run", "outbox_drain"), env=environment, cwd=tmp_path,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        try:
            slack.wait_for("chat.postMessage", KILL_AFTER, timeout=90)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with session_factory() as session:
        at_kill = Counter(session.scalars(select(OutboxMessage.status)))
    assert at_kill["sending"] >= 1 and at_kill["pending"] >= 1, at_kill

    # The next drain, once the dead process's claims are past their lease (here: at once).
    summary = drain(session_factory, sender_client(settings_for(slack)), lambda: dt.datetime.now(dt.UTC),
                    instance="next", limiter=fast_limiter(), lease=dt.timedelta(0))  # fmt: skip

    posted = Counter(message.metadata["event_payload"]["outbox_key"] for message in slack.messages if message.metadata)
    assert posted == Counter({f"nudge:{number}": 1 for number in range(NUDGES)})
    assert len(slack.messages) == NUDGES
    assert sorted(message.text or "" for message in slack.messages) == sorted(f"nudge {number}" for number in range(NUDGES))
    ts_by_key = {message.metadata["event_payload"]["outbox_key"]: message.ts for message in slack.messages if message.metadata}
    with session_factory() as session:
        stored = session.scalars(select(OutboxMessage)).all()
    assert {row.status for row in stored} == {"sent"}
    assert {row.dedupe_key: row.slack_ts for row in stored} == ts_by_key
    assert summary.requeued == at_kill["sending"]
    assert summary.confirmed >= 1  # the post Slack kept while its sender died
    assert summary.sent == at_kill["sending"] + at_kill["pending"]
    assert (summary.uncertain, summary.parked) == (0, 0)
    engine.dispose()
