"""Two syncs of one CRM at once: on PostgreSQL the second stops cleanly; nothing is doubled."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from bot.coaching.playbook import load_playbook
from bot.crm.base import CrmError
from bot.crm.sync import sync
from bot.database import make_engine, make_session_factory
from bot.models import Deal
from tests.conftest import empty_tables
from tests.crm.test_sync import ListProvider, crm_deal

PLAYBOOK = load_playbook()


class GatedProvider(ListProvider):
    """Holds its first page until released, so a second sync starts while the first is running."""

    def __init__(self, deals, started: threading.Event, release: threading.Event) -> None:  # type: ignore[no-untyped-def]
        super().__init__(deals, page_size=10)
        self.started, self.release = started, release

    def fetch_deals(self, cursor):  # type: ignore[no-untyped-def]
        self.started.set()
        self.release.wait(10)
        yield from super().fetch_deals(cursor)


@pytest.fixture
def session_factory(migrated_postgresql_url: str):  # type: ignore[no-untyped-def]
    """PostgreSQL only: the lock is an advisory lock; SQLite has one writer at a time anyway."""
    engine = make_engine(migrated_postgresql_url)
    empty_tables(engine)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.mark.postgres
def test_a_second_sync_of_the_same_crm_stops_while_the_first_runs(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    started, release = threading.Event(), threading.Event()
    deals = [crm_deal(str(n)) for n in range(30)]
    first = GatedProvider(deals, started, release)
    outcome: dict[str, object] = {}
    runner = threading.Thread(target=lambda: outcome.setdefault("first", sync(session_factory, first, PLAYBOOK, now)))
    runner.start()
    assert started.wait(10)
    with pytest.raises(CrmError, match="another coachbot sync of test is running; this one stopped without changes"):
        sync(session_factory, ListProvider(deals), PLAYBOOK, now)
    release.set()
    runner.join(20)
    assert outcome["first"].created == 30  # type: ignore[attr-defined]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Deal)) == 30
