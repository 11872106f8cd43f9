"""`coachbot sync`: upsert by CRM id, nothing written twice, stage history kept, owners matched."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.playbook import load_playbook
from bot.crm.base import CrmDeal, DealPage
from bot.crm.csv_export import CsvProvider
from bot.crm.demo import DemoProvider
from bot.crm.sync import sync
from bot.database import session_scope
from bot.models import CrmSyncState, Deal, DealStageHistory, Person, ProductLine
from tests.conftest import require_shared_data

PLAYBOOK = load_playbook()


class ListProvider:
    """A provider serving a fixed list of deals, one page per `page_size`."""

    source = "test"

    def __init__(self, deals: list[CrmDeal], page_size: int = 2) -> None:
        self.deals = deals
        self.page_size = page_size
        self.cursors_seen: list[str | None] = []

    def fetch_org(self) -> None:
        return None

    def product_lines(self) -> list[str]:
        return ["Core"]

    def expected_total(self) -> int:
        return len(self.deals)

    def fetch_deals(self, cursor: str | None) -> Iterator[DealPage]:
        self.cursors_seen.append(cursor)
        for start in range(0, len(self.deals), self.page_size):
            yield DealPage(deals=self.deals[start : start + self.page_size], cursor=f"page-{start}")


CREATED = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)


def crm_deal(crm_id: str, **fields: object) -> CrmDeal:
    values: dict[str, object] = {
        "crm_id": crm_id, "name": f"Deal {crm_id}", "owner_key": "riley@example.com", "stage": "Demo",
        "created_at": CREATED, "amount": Decimal("1000"), "currency": "USD", "stage_entered_at": CREATED,
        "close_date": dt.date(2026, 12, 1), "product_line": "Core",
    }  # fmt: skip
    values.update(fields)
    return CrmDeal(**values)  # type: ignore[arg-type]


def add_person(session_factory: sessionmaker[Session], email: str, name: str) -> int:
    with session_scope(session_factory) as session:
        person = Person(email=email, name=name, is_rep=True)
        session.add(person)
        session.flush()
        return person.id


def deal_rows(session_factory: sessionmaker[Session]) -> list[tuple]:
    with session_factory() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(Deal.crm_id, Deal.stage, Deal.amount, Deal.owner_id, Deal.synced_at).order_by(Deal.crm_id)
            )
        ]


def test_first_sync_creates_every_deal_with_its_owner_and_stage_history(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    riley = add_person(session_factory, "riley@example.com", "Riley Rep")
    provider = ListProvider([crm_deal("1"), crm_deal("2", stage="Closed Won"), crm_deal("3", owner_key="nobody@example.com")])
    summary = sync(session_factory, provider, PLAYBOOK, now)
    assert (summary.fetched, summary.created, summary.updated, summary.unchanged) == (3, 3, 0, 0)
    assert dict(summary.unmatched_owners) == {"nobody@example.com": 1}
    with session_factory() as session:
        rows = session.execute(select(Deal.crm_id, Deal.owner_id, Deal.is_closed, Deal.is_won).order_by(Deal.crm_id)).all()
        assert [tuple(r) for r in rows] == [("1", riley, False, False), ("2", riley, True, True), ("3", None, False, False)]
        history = session.execute(
            select(Deal.crm_id, DealStageHistory.stage, DealStageHistory.entered_at).join(Deal).order_by(Deal.crm_id)
        ).all()
        assert [tuple(r) for r in history] == [("1", "Demo", CREATED), ("2", "Closed Won", CREATED), ("3", "Demo", CREATED)]
        assert session.scalars(select(ProductLine.name)).all() == ["Core"]


def test_a_second_sync_with_nothing_changed_writes_nothing(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    add_person(session_factory, "riley@example.com", "Riley Rep")
    provider = ListProvider([crm_deal("1"), crm_deal("2"), crm_deal("3")])
    sync(session_factory, provider, PLAYBOOK, now)
    before = deal_rows(session_factory)
    summary = sync(session_factory, provider, PLAYBOOK, now + dt.timedelta(hours=1))
    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, 3)
    assert deal_rows(session_factory) == before  # synced_at untouched too
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(DealStageHistory)) == 3


def test_a_changed_deal_is_updated_and_a_new_stage_is_added_to_its_history(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    add_person(session_factory, "riley@example.com", "Riley Rep")
    sync(session_factory, ListProvider([crm_deal("1"), crm_deal("2")]), PLAYBOOK, now)
    moved = now - dt.timedelta(hours=2)
    later = now + dt.timedelta(hours=1)
    provider = ListProvider([crm_deal("1", stage="Proposal", stage_entered_at=moved, amount=Decimal("1500")), crm_deal("2")])
    summary = sync(session_factory, provider, PLAYBOOK, later)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 1)
    with session_factory() as session:
        deal = session.scalar(select(Deal).where(Deal.crm_id == "1"))
        assert (deal.stage, deal.amount, deal.synced_at) == ("Proposal", Decimal("1500.00"), later)
        history = session.execute(
            select(DealStageHistory.stage, DealStageHistory.entered_at)
            .where(DealStageHistory.deal_id == deal.id)
            .order_by(DealStageHistory.entered_at)
        ).all()
        assert [tuple(r) for r in history] == [("Demo", CREATED), ("Proposal", moved)]


def test_a_person_imported_after_the_sync_gets_their_deals_on_the_next_one(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    provider = ListProvider([crm_deal("1", owner_key="Riley Rep")])
    first = sync(session_factory, provider, PLAYBOOK, now)
    assert dict(first.unmatched_owners) == {"Riley Rep": 1}
    riley = add_person(session_factory, "riley@example.com", "Riley Rep")
    second = sync(session_factory, provider, PLAYBOOK, now)
    assert (second.updated, dict(second.unmatched_owners)) == (1, {})
    assert deal_rows(session_factory)[0][3] == riley


def test_the_cursor_is_stored_with_each_page_and_handed_back_next_time(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    provider = ListProvider([crm_deal(str(n)) for n in range(5)], page_size=2)
    sync(session_factory, provider, PLAYBOOK, now)
    sync(session_factory, provider, PLAYBOOK, now)
    assert provider.cursors_seen == [None, "page-4"]
    with session_factory() as session:
        state = session.get(CrmSyncState, "test")
        assert (state.cursor, state.last_started_at, state.last_finished_at) == ("page-4", now, now)
        assert state.last_summary["unchanged"] == 5


def test_unknown_stages_are_stored_open_and_reported(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    summary = sync(session_factory, ListProvider([crm_deal("1", stage="Legal Review")]), PLAYBOOK, now)
    assert dict(summary.unknown_stages) == {"Legal Review": 1}
    with session_factory() as session:
        assert session.scalar(select(Deal.is_closed)) is False


def test_the_demo_syncs_its_org_and_deals_and_a_second_sync_the_same_day_writes_nothing(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    first = sync(session_factory, DemoProvider(now, "America/New_York"), PLAYBOOK, now)
    assert first.org is not None and first.org.created == 16  # the leader, two managers, a coach, twelve reps
    assert first.created == first.fetched > 300
    assert (first.skipped_count, dict(first.unmatched_owners), dict(first.unknown_stages)) == (0, {}, {})
    before = deal_rows(session_factory)
    later_that_day = now + dt.timedelta(hours=3)
    second = sync(session_factory, DemoProvider(later_that_day, "America/New_York"), PLAYBOOK, later_that_day)
    assert (second.created, second.updated, second.unchanged) == (0, 0, first.fetched)
    assert (second.org.created, second.org.updated) == (0, 0)
    assert deal_rows(session_factory) == before


def test_the_maven_export_loads_every_deal_and_reports_the_created_dates_it_estimated(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    data = require_shared_data()
    provider = CsvProvider(data / "sales_pipeline.csv", owners_file=data / "sales_teams.csv", products_file=data / "products.csv")
    summary = sync(session_factory, provider, PLAYBOOK, now)
    assert (summary.fetched, summary.created, summary.skipped_count) == (8800, 8800, 0)
    estimate = "no created date (engage_date): dated 2017-12-27, the newest date in the export"
    assert {how: len(rows) for how, rows in summary.estimated.items()} == {estimate: 500}
    assert sum(summary.unmatched_owners.values()) == 8800  # no org imported: every agent is unmatched
    assert len(summary.unmatched_owners) == 30
    assert dict(summary.unknown_stages) == {}  # Won, Lost, Engaging, Prospecting are playbook stages or aliases
    with session_factory() as session:
        by_stage = dict(session.execute(select(Deal.stage, func.count()).group_by(Deal.stage)).all())
        assert by_stage == {"Won": 4238, "Lost": 2473, "Engaging": 1589, "Prospecting": 500}
        assert session.scalar(select(func.count()).where(Deal.is_won)) == 4238
        assert session.scalars(select(ProductLine.name).order_by(ProductLine.name)).all() == ["GTK", "GTX", "MG"]
        state = session.get(CrmSyncState, "csv")
        assert state is not None and state.last_summary["estimated"] == {estimate: 500}  # type: ignore[index]
    again = sync(session_factory, provider, PLAYBOOK, now)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 8800)


def test_a_deal_moved_back_to_a_stage_it_was_in_keeps_syncing(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    monday = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    tuesday = dt.datetime(2026, 11, 3, tzinfo=dt.UTC)
    at_demo = crm_deal("1", stage="Demo", stage_entered_at=monday)
    sync(session_factory, ListProvider([at_demo]), PLAYBOOK, now)
    sync(session_factory, ListProvider([crm_deal("1", stage="Proposal", stage_entered_at=tuesday)]), PLAYBOOK, now)
    back = sync(session_factory, ListProvider([at_demo]), PLAYBOOK, now)  # an older export, say
    assert back.updated == 1
    with session_factory() as session:
        history = session.execute(
            select(DealStageHistory.stage, DealStageHistory.entered_at).order_by(DealStageHistory.entered_at, DealStageHistory.id)
        ).all()
        # The move back re-enters Demo at the time already recorded: one entry, not a crash.
        assert [tuple(row) for row in history] == [("Demo", monday), ("Proposal", tuesday)]
        assert session.scalar(select(Deal.stage)) == "Demo"


def test_owners_match_by_email_before_a_name_two_people_share(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    first = add_person(session_factory, "jordan.lee@acme.example", "Jordan Lee")
    second = add_person(session_factory, "jordan.lee2@acme.example", "Jordan Lee")
    provider = ListProvider(
        [
            crm_deal("by-email", owner_key="Jordan Lee", owner_email="jordan.lee2@acme.example"),
            crm_deal("by-name-only", owner_key="Jordan Lee"),
            crm_deal("by-key-email", owner_key="JORDAN.LEE@acme.example"),
        ]
    )
    summary = sync(session_factory, provider, PLAYBOOK, now)
    with session_factory() as session:
        owners = dict(session.execute(select(Deal.crm_id, Deal.owner_id)).all())
    assert owners == {"by-email": second, "by-name-only": None, "by-key-email": first}
    assert dict(summary.unmatched_owners) == {"Jordan Lee": 1}


def test_a_deal_deleted_in_the_crm_leaves_the_pipeline_and_returns_if_restored(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    sync(session_factory, ListProvider([crm_deal("1"), crm_deal("2")]), PLAYBOOK, now)

    class Deleting(ListProvider):
        def fetch_deals(self, cursor):  # type: ignore[no-untyped-def]
            yield DealPage(deals=[], deleted_ids=["2", "unknown"])

    summary = sync(session_factory, Deleting([]), PLAYBOOK, now)
    assert summary.deleted == 1
    with session_factory() as session:
        assert dict(session.execute(select(Deal.crm_id, Deal.deleted_at)).all()) == {"1": None, "2": now}
    sync(session_factory, ListProvider([crm_deal("2")]), PLAYBOOK, now)
    with session_factory() as session:
        assert session.scalar(select(Deal.deleted_at).where(Deal.crm_id == "2")) is None


def test_the_summary_names_matched_owners_who_have_no_slack_user(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    add_person(session_factory, "riley@example.com", "Riley Rep")
    summary = sync(session_factory, ListProvider([crm_deal("1"), crm_deal("2")]), PLAYBOOK, now)
    assert dict(summary.owners_without_slack) == {"riley@example.com": 2}
    assert summary.as_dict()["owners_without_slack"] == {"riley@example.com": 2}


def test_a_deal_served_again_later_in_the_same_first_sync_keeps_its_later_values(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    # A deal edited while a first sync runs moves behind the CRM's ordering and comes again on a later page.
    moved = now - dt.timedelta(minutes=5)
    provider = ListProvider(
        [crm_deal("1"), crm_deal("2"), crm_deal("1", stage="Proposal", stage_entered_at=moved, amount=Decimal("1500"))]
    )
    summary = sync(session_factory, provider, PLAYBOOK, now)
    assert (summary.fetched, summary.created, summary.updated, summary.unchanged) == (3, 2, 1, 0)
    with session_factory() as session:
        assert session.execute(select(Deal.stage, Deal.amount).where(Deal.crm_id == "1")).one() == (
            "Proposal",
            Decimal("1500.00"),
        )
        history = session.execute(
            select(DealStageHistory.stage, DealStageHistory.entered_at)
            .join(Deal)
            .where(Deal.crm_id == "1")
            .order_by(DealStageHistory.entered_at)
        ).all()
        assert [tuple(row) for row in history] == [("Demo", CREATED), ("Proposal", moved)]


def test_a_deal_another_writer_stored_while_a_first_sync_ran_is_compared_not_doubled(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    def stored_meanwhile(crm_id: str, amount: Decimal) -> Deal:
        return Deal(
            crm_source="test", crm_id=crm_id, crm_owner_key="riley@example.com", name=f"Deal {crm_id}", amount=amount,
            currency="USD", stage="Demo", stage_entered_at=CREATED, close_date=dt.date(2026, 12, 1), product_line="Core",
            created_at=CREATED, synced_at=now - dt.timedelta(minutes=1),
        )  # fmt: skip

    class Racing(ListProvider):
        """Between its two pages, another writer stores deal 3 with an older amount, and deal 4 as the CRM has it."""

        def fetch_deals(self, cursor):  # type: ignore[no-untyped-def]
            pages = super().fetch_deals(cursor)
            yield next(pages)
            with session_scope(session_factory) as session:
                session.add_all([stored_meanwhile("3", Decimal("900")), stored_meanwhile("4", Decimal("1000"))])
            yield from pages

    summary = sync(session_factory, Racing([crm_deal("1"), crm_deal("2"), crm_deal("3"), crm_deal("4")]), PLAYBOOK, now)
    assert (summary.created, summary.updated, summary.unchanged) == (2, 1, 1)
    with session_factory() as session:
        assert dict(session.execute(select(Deal.crm_id, Deal.amount)).all()) == {
            "1": Decimal("1000.00"), "2": Decimal("1000.00"), "3": Decimal("1000.00"), "4": Decimal("1000.00"),
        }  # fmt: skip
        assert dict(session.execute(select(Deal.crm_id, Deal.synced_at).where(Deal.crm_id.in_(["3", "4"]))).all()) == {
            "3": now, "4": now - dt.timedelta(minutes=1),
        }  # fmt: skip
