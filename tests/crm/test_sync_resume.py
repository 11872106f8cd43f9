"""A real `coachbot sync` process killed mid-way, then run again, ends with exactly the rows of
one uninterrupted sync: pages are committed together with the cursor, nothing lost or doubled."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, func, select

from bot.coaching.playbook import load_playbook
from bot.crm.pipedrive import PipedriveProvider
from bot.crm.sync import sync
from bot.database import make_engine, make_session_factory
from bot.migrate import upgrade
from bot.models import CrmSyncState, Deal, DealStageHistory
from bot.settings import Settings
from tests.support.loopback import LoopbackServer
from tests.support.pipedrive_standin import TOKEN, PipedriveStandIn

DEALS = 6_000


def stored(engine: Engine) -> tuple[list[tuple], list[tuple]]:
    """Every synced value of every deal and its stage history, without our own ids and times."""
    columns = [
        Deal.crm_source, Deal.crm_id, Deal.crm_owner_key, Deal.name, Deal.amount, Deal.currency, Deal.stage,
        Deal.crm_probability, Deal.is_closed, Deal.is_won, Deal.stage_entered_at, Deal.close_date, Deal.next_step,
        Deal.next_step_date, Deal.created_at, Deal.closed_at, Deal.crm_modified_at, Deal.deleted_at,
    ]  # fmt: skip
    with engine.connect() as connection:
        deals = [tuple(row) for row in connection.execute(select(*columns).order_by(Deal.crm_id))]
        history = [
            tuple(row)
            for row in connection.execute(
                select(Deal.crm_id, DealStageHistory.stage, DealStageHistory.entered_at)
                .join(Deal)
                .order_by(Deal.crm_id, DealStageHistory.entered_at)
            )
        ]
    return deals, history


def environment(database_url: str, crm_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CRM_", "COACHBOT_", "DATABASE_", "PIPEDRIVE_"))}
    env.update(
        DATABASE_URL=database_url, CRM_PROVIDER="pipedrive", PIPEDRIVE_API_TOKEN=TOKEN,
        PIPEDRIVE_API_URL=crm_url, PIPEDRIVE_REQUESTS_PER_2S="400",
    )  # fmt: skip
    return env


def test_a_sync_killed_mid_way_resumes_to_exactly_the_rows_of_an_uninterrupted_one(database_url, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    standin = PipedriveStandIn(DEALS)
    engine = make_engine(database_url)
    with LoopbackServer(standin) as server:
        env = environment(database_url, server.url)
        command = [sys.executable, "-m", "bot", "sync"]
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Kill it once some pages are committed and well before the end.
        deadline = time.monotonic() + 60
        count = 0
        while time.monotonic() < deadline and process.poll() is None:
            with engine.connect() as connection:
                count = connection.scalar(select(func.count()).select_from(Deal)) or 0
            if count >= 1000:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        process.wait(10)
        assert process.returncode == -signal.SIGKILL, "the sync finished before it could be killed"
        with engine.connect() as connection:
            killed_at = connection.scalar(select(func.count()).select_from(Deal))
            cursor = connection.scalar(select(CrmSyncState.cursor).where(CrmSyncState.connection == "pipedrive"))
        assert 0 < killed_at < DEALS
        assert cursor is not None  # committed with the pages before the kill

        again = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr

        # The reference: one uninterrupted sync of the same CRM into a fresh database.
        reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
        upgrade(reference)
        settings = Settings(
            pipedrive_api_token=TOKEN, pipedrive_api_url=server.url, crm_provider="pipedrive", pipedrive_requests_per_2s=400
        )
        sync(make_session_factory(reference), PipedriveProvider.from_settings(settings), load_playbook(), dt.datetime.now(dt.UTC))

    resumed_deals, resumed_history = stored(engine)
    reference_deals, reference_history = stored(reference)
    assert len(resumed_deals) == DEALS
    assert resumed_deals == reference_deals
    assert resumed_history == reference_history
    engine.dispose()
    reference.dispose()
