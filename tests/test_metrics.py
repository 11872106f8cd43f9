"""The metrics read from the database, and the listener label, without a server."""

from __future__ import annotations

import datetime as dt
import os

from sqlalchemy import update

from bot.database import session_scope
from bot.messaging.outbox import enqueue
from bot.metrics import DatabaseCollector, listener_name
from bot.models import CrmSyncState, JobRun, OutboxMessage


def test_the_listener_label_names_coachbots_own_identifiers_only() -> None:
    assert listener_name({"command": "/myperf"}) == "/myperf"
    assert listener_name({"type": "block_actions", "actions": [{"action_id": "nudge_open_crm:3"}]}) == "nudge_open_crm"
    assert listener_name({"type": "view_submission", "view": {"callback_id": "coach_view"}}) == "coach_view"
    assert listener_name({"type": "event_callback", "event": {"type": "app_home_opened"}}) == "event:app_home_opened"
    assert listener_name({"command": "/made-up-" + "x" * 50}) == "other"
    assert listener_name({"type": "block_actions", "actions": [{"action_id": "anything"}]}) == "other"


def test_the_database_collector_counts_rows_runs_and_sync_age(engine, session_factory, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        for number in range(3):
            enqueue(session, key=f"k{number}", recipient="U1", kind="nudge", text="t", now=now)
        session.add_all([
            JobRun(job="nudge:1", scheduled_for=now, claimed_by="a", claimed_at=now, status="succeeded"),
            JobRun(job="nudge:2", scheduled_for=now, claimed_by="a", claimed_at=now, status="succeeded"),
            JobRun(job="crm_sync", scheduled_for=now, claimed_by="a", claimed_at=now, status="failed"),
            CrmSyncState(connection="hubspot", last_finished_at=now - dt.timedelta(minutes=7)),
            CrmSyncState(connection="salesforce"),  # never finished: no age to report
        ])  # fmt: skip
    with session_scope(session_factory) as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.dedupe_key == "k0").values(status="sent"))
        session.execute(
            update(OutboxMessage).where(OutboxMessage.dedupe_key == "k1").values(status="parked", unconfirmed_since=now)
        )

    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in DatabaseCollector(engine, now=lambda: now).collect()
        for sample in family.samples
    }

    assert samples == {
        ("coachbot_outbox_messages", (("status", "dropped"),)): 0,
        ("coachbot_outbox_messages", (("status", "parked"),)): 1,
        ("coachbot_outbox_messages", (("status", "pending"),)): 1,
        ("coachbot_outbox_messages", (("status", "sending"),)): 0,
        ("coachbot_outbox_messages", (("status", "sent"),)): 1,
        ("coachbot_outbox_uncertain_messages", ()): 1,
        ("coachbot_job_runs_total", (("job", "crm_sync"), ("outcome", "failed"))): 1,
        ("coachbot_job_runs_total", (("job", "nudge"), ("outcome", "succeeded"))): 2,
        ("coachbot_crm_seconds_since_last_sync", (("crm", "hubspot"),)): 420.0,
    }


def test_a_named_multiprocess_directory_is_emptied_of_old_counts_at_start(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from prometheus_client import values

    from bot.metrics import MULTIPROC_ENV, use_multiprocess_dir

    monkeypatch.setattr(values, "ValueClass", values.ValueClass)  # put back after the test
    monkeypatch.setenv(MULTIPROC_ENV, "recorded, so the test leaves the environment as it was")
    (tmp_path / "counter_123.db").write_bytes(b"old run")
    (tmp_path / "notes.txt").write_text("not ours")

    assert use_multiprocess_dir(tmp_path) == tmp_path

    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]
    assert os.environ[MULTIPROC_ENV] == str(tmp_path)
    assert values.ValueClass is not values.MutexValue
