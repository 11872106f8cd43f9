"""The HubSpot provider, synced into a real database against a stand-in HubSpot API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.playbook import load_playbook
from bot.crm.base import CrmError
from bot.crm.http import CrmAuthError, CrmGarbageError
from bot.crm.hubspot import SEARCH_PAGE_SIZE, HubSpotProvider
from bot.crm.providers import provider_from_settings
from bot.crm.sync import SyncSummary, sync
from bot.database import session_scope
from bot.models import CrmSyncState, Deal, DealStageHistory, Person
from bot.settings import Settings, SettingsError, load_settings
from tests.support.hubspot_standin import TOKEN, HubSpotStandIn
from tests.support.loopback import LoopbackServer

PLAYBOOK = load_playbook()
# HubSpot's default pipeline labels the default playbook does not list (its aliases are stage ids).
DEFAULT_OPEN_LABELS = {
    "Appointment Scheduled",
    "Qualified To Buy",
    "Presentation Scheduled",
    "Decision Maker Bought-In",
    "Contract Sent",
}


class FakeTime:
    """A clock that moves only when something sleeps on it; each sleep is recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def provider(
    standin: HubSpotStandIn, time: FakeTime, token: str = TOKEN, page_size: int = SEARCH_PAGE_SIZE, **settings: object
) -> HubSpotProvider:
    values: dict[str, object] = {
        "crm_provider": "hubspot",
        "hubspot_token": token,
        "crm_field_map": "product_line=product_family",
    }
    values.update(settings)
    return HubSpotProvider.from_settings(
        Settings(**values),  # type: ignore[arg-type]
        transport=httpx.MockTransport(standin),
        sleep=time.sleep,
        clock=time.monotonic,
        page_size=page_size,
    )


def standin_and_time(deal_count: int, **options: object) -> tuple[HubSpotStandIn, FakeTime]:
    time = FakeTime()
    return HubSpotStandIn(deal_count, clock=time.monotonic, **options), time  # type: ignore[arg-type]


def run_sync(session_factory: sessionmaker[Session], hubspot: HubSpotProvider, now: dt.datetime) -> SyncSummary:
    return sync(session_factory, hubspot, PLAYBOOK, now)


def add_person(session_factory: sessionmaker[Session], email: str, name: str) -> int:
    with session_scope(session_factory) as session:
        person = Person(email=email, name=name, is_rep=True)
        session.add(person)
        session.flush()
        return person.id


def stored(session_factory: sessionmaker[Session]) -> dict[str, tuple]:
    """crm id -> what the sync owns of the row."""
    columns = (
        Deal.name, Deal.amount, Deal.currency, Deal.stage, Deal.crm_probability, Deal.is_closed, Deal.is_won,
        Deal.owner_id, Deal.crm_owner_key, Deal.product_line, Deal.close_date, Deal.stage_entered_at,
        Deal.crm_modified_at, Deal.deleted_at,
    )  # fmt: skip
    with session_factory() as session:
        rows = session.execute(select(Deal.crm_id, *columns).where(Deal.crm_source == "hubspot"))
        return {row[0]: tuple(row[1:]) for row in rows}


def deal_count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(Deal)) or 0


def clean_run_rows(session_factory: sessionmaker[Session], count: int, now: dt.datetime) -> dict[str, tuple]:
    """The rows a fault-free sync of `count` deals stores; the database is emptied again after."""
    standin, time = standin_and_time(count)
    run_sync(session_factory, provider(standin, time), now)
    rows = stored(session_factory)
    with session_scope(session_factory) as session:
        for table in (DealStageHistory, Deal, CrmSyncState):
            session.execute(delete(table))
    return rows


def search_floor(request_body: dict) -> int | None:
    """The hs_lastmodifieddate a search asked for (GTE or EQ), None for an unfiltered one."""
    for group in request_body.get("filterGroups") or ():
        for item in group["filters"]:
            if item["propertyName"] == "hs_lastmodifieddate":
                return int(item["value"])
    return None


def test_a_first_sync_stores_every_deal_with_owner_email_stage_mapping_and_mapped_product_line(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    riley = add_person(session_factory, "riley.rep@example.com", "Riley Rep")
    sam = add_person(session_factory, "sam.seller@example.com", "Sam Seller")
    fran = add_person(session_factory, "fran.former@example.com", "Fran Former")  # her HubSpot owner is archived
    standin, time = standin_and_time(60)
    summary = run_sync(session_factory, provider(standin, time, timezone="America/Los_Angeles"), now)

    assert (summary.fetched, summary.created, summary.updated, summary.skipped_count) == (60, 60, 0, 0)
    assert dict(summary.unmatched_owners) == {"103": 14, "(no owner)": 3}  # Mia is not in the org
    assert set(summary.unknown_stages) <= DEFAULT_OPEN_LABELS
    rows = stored(session_factory)
    assert len(rows) == 60
    # name, amount, currency, stage, probability, closed, won, owner, owner key, product line, close date
    picked = {crm_id: row[:11] for crm_id, row in rows.items() if int(crm_id) - 9_000_000_000 in (3, 5, 10, 11, 12, 17)}
    assert picked == {
        "9000000003": ("Deal 3", Decimal("1750.50"), "USD", "Decision Maker Bought-In", 0.8, False, False, fran, "104", "Core", dt.date(2026, 12, 6)),
        "9000000005": ("Deal 5", Decimal("2250.00"), "USD", "Closed Won", 1.0, True, True, sam, "102", "Services", dt.date(2026, 12, 4)),
        "9000000010": ("Deal 10", Decimal("3500.00"), "EUR", "Negotiation", 0.8, False, False, None, "103", "Analytics", dt.date(2026, 11, 29)),
        "9000000011": ("Deal 11", None, "USD", "Closed Won", 1.0, True, True, fran, "104", "Services", dt.date(2026, 11, 28)),
        "9000000012": ("Deal 12", Decimal("4000.50"), "USD", "Closed Lost", 0.0, True, False, riley, "101", "Core", dt.date(2026, 11, 27)),
        "9000000017": ("Deal 17", Decimal("5250.00"), "USD", "Contract Sent", 0.9, False, False, None, None, "Services", dt.date(2026, 11, 22)),
    }  # fmt: skip
    created = dt.datetime(2026, 10, 21, 11, 12, 12, 859000, tzinfo=dt.UTC)
    with session_factory() as session:
        history = session.execute(
            select(DealStageHistory.stage, DealStageHistory.entered_at)
            .join(Deal)
            .where(Deal.crm_id == "9000000005")
            .order_by(DealStageHistory.entered_at)
        ).all()
    assert [tuple(entry) for entry in history] == [
        ("Appointment Scheduled", created),
        ("Closed Won", created + dt.timedelta(days=10)),
    ]
    assert rows["9000000005"][11] == created + dt.timedelta(days=10)  # stage_entered_at


def test_the_deal_search_asks_for_200_deals_a_page_the_most_hubspot_serves() -> None:
    standin, time = standin_and_time(450)
    settings = Settings(crm_provider="hubspot", hubspot_token=TOKEN)  # type: ignore[call-arg]
    hubspot = HubSpotProvider.from_settings(
        settings, transport=httpx.MockTransport(standin), sleep=time.sleep, clock=time.monotonic
    )

    pages = list(hubspot.fetch_deals(None))

    assert {request.body["limit"] for request in standin.searches} == {200}
    # 200, then 199 and 51: each later page re-reads the last deal of the one before, at its millisecond, and skips it.
    assert [len(page.deals) for page in pages] == [200, 199, 51]
    lists = [request for request in standin.requests if request.method == "GET" and request.path != "/crm/v3/pipelines/deals"]
    assert {request.params["limit"] for request in lists} == {"100"}  # the list endpoints' own largest page


def test_a_second_sync_with_nothing_changed_reads_only_the_overlap_and_writes_nothing(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin, time = standin_and_time(300)
    hubspot = provider(standin, time)
    run_sync(session_factory, hubspot, now)
    before = stored(session_factory)
    searches_before = len(standin.searches)

    again = run_sync(session_factory, hubspot, now + dt.timedelta(hours=1))

    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
    assert again.fetched == again.unchanged == 1  # the newest deal: the next is 61 s older than the 60 s overlap
    second = standin.searches[searches_before:]
    assert [search_floor(request.body) for request in second] == [standin.newest_change_ms() - 60_000]
    assert stored(session_factory) == before
    with session_factory() as session:
        assert session.get(CrmSyncState, "hubspot").cursor == "2026-11-25T12:00:00.000+00:00"


def test_after_fifty_deals_change_the_next_sync_updates_exactly_them(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin, time = standin_and_time(500)
    hubspot = provider(standin, time)
    run_sync(session_factory, hubspot, now)
    before = stored(session_factory)
    changed = range(1, 500, 10)
    standin.change(changed)

    summary = run_sync(session_factory, hubspot, now + dt.timedelta(hours=1))

    assert (summary.fetched, summary.created, summary.updated, summary.unchanged) == (51, 0, 50, 1)
    after = stored(session_factory)
    changed_ids = {standin.deal_id(n) for n in changed}
    assert {crm_id for crm_id in after if after[crm_id] != before[crm_id]} == changed_ids
    for crm_id in changed_ids:
        old_amount = before[crm_id][1]
        assert after[crm_id][1] == (old_amount + 100 if old_amount is not None else None)


def test_a_sync_passes_the_search_result_cap_by_moving_the_filter_forward(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    # HubSpot's cap is 10,000 results a query; 1,000 here keeps the test quick on both databases.
    standin, time = standin_and_time(2_500, search_cap=1_000)

    summary = run_sync(session_factory, provider(standin, time), now)

    assert (summary.fetched, summary.created, summary.skipped_count) == (2_500, 2_500, 0)
    assert deal_count(session_factory) == 2_500
    floors = [search_floor(request.body) for request in standin.searches]
    assert floors[0] is None and all(later > earlier for earlier, later in zip(floors[1:], floors[2:]))
    # Paged by key, never by HubSpot's offset: `after` (which the spec requires) always asks for the start.
    assert floors[-1] > standin.modified_ms(1_001) and {request.body["after"] for request in standin.searches} == {"0"}
    assert all(request.status == 200 for request in standin.requests)
    assert standin.max_requests_within(1.0) <= 4  # HubSpot's search rate, in the stand-in's clock


def test_25000_deals_come_through_the_10000_result_cap_each_exactly_once() -> None:
    standin, time = standin_and_time(25_000)

    pages = list(provider(standin, time).fetch_deals(None))

    crm_ids = [deal.crm_id for page in pages for deal in page.deals]
    assert len(crm_ids) == len(set(crm_ids)) == 25_000
    assert pages[-1].cursor == "2026-11-25T12:00:00.000+00:00"
    floors = [search_floor(request.body) for request in standin.searches]
    assert floors[-1] > standin.modified_ms(10_001) and 125 <= len(floors) <= 130  # 200 a page, some ties re-read
    assert standin.max_requests_within(1.0) <= 4


def test_a_deal_edited_during_a_sync_makes_no_other_deal_go_missing() -> None:
    # Paging by offset (`after`) would skip two deals here: the edited ones leave the first page's
    # place in the result list and every later deal moves up two.
    standin, time = standin_and_time(300)
    pages = provider(standin, time).fetch_deals(None)
    first = next(pages)
    standin.change([5, 6])

    rest = list(pages)

    read = [deal.crm_id for page in (first, *rest) for deal in page.deals]
    assert set(read) == {standin.deal_id(n) for n in range(1, 301)}
    assert read[-2:] == [standin.deal_id(5), standin.deal_id(6)]  # read again, as edited


def test_more_deals_changed_in_one_millisecond_than_fit_a_page_are_walked_by_object_id(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    # Deals 51 to 300 share a millisecond: the first page (of 100) ends inside them, the next is all of them.
    standin, time = standin_and_time(400, same_instant=range(51, 301))

    summary = run_sync(session_factory, provider(standin, time, page_size=100), now)

    assert (summary.fetched, summary.created) == (400, 400)  # none read twice
    by_id = [
        request.body["filterGroups"][0]["filters"]
        for request in standin.searches
        if request.body["sorts"][0]["propertyName"] == "hs_object_id"
    ]
    instant = str(standin.modified_ms(51))
    assert by_id == [
        [{"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": instant}],
        [{"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": instant}, {"propertyName": "hs_object_id", "operator": "GT", "value": "9000000150"}],
        [{"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": instant}, {"propertyName": "hs_object_id", "operator": "GT", "value": "9000000250"}],
    ]  # fmt: skip


def test_throttling_and_server_errors_are_retried_to_the_rows_of_a_clean_run(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    clean = clean_run_rows(session_factory, 600, now)
    standin, time = standin_and_time(600, throttle_every=5, retry_after="3", fail_every=20)

    run_sync(session_factory, provider(standin, time, page_size=25), now)

    assert stored(session_factory) == clean
    statuses = [request.status for request in standin.requests]
    assert statuses.count(429) >= 6 and statuses.count(500) >= 1
    assert time.slept.count(3.0) == statuses.count(429)
    for throttled, following in zip(standin.requests, standin.requests[1:]):
        if throttled.status == 429:
            assert following.at - throttled.at >= 3.0
    assert standin.max_requests_within(1.0) <= 4


def test_a_refused_token_raises_an_auth_error_naming_hubspot_token_and_stores_nothing(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin, time = standin_and_time(20)

    with pytest.raises(CrmAuthError, match="HUBSPOT_TOKEN") as refused:
        run_sync(session_factory, provider(standin, time, token="pat-na1-revoked"), now)

    assert refused.value.setting == "HUBSPOT_TOKEN"
    assert [request.status for request in standin.requests] == [401]  # not retried
    assert deal_count(session_factory) == 0


def test_a_deal_with_garbage_values_is_skipped_with_its_id_while_the_rest_store(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin, time = standin_and_time(30)
    standin.corrupt(4, amount="abc")
    standin.corrupt(8, createdate="yesterday")
    standin.corrupt(9, deal_currency_code="dollars")
    standin.drop_id(15)

    summary = run_sync(session_factory, provider(standin, time), now)

    missing = summary.skipped.pop("missing id")
    assert len(missing) == 1 and missing[0].startswith("search result ")
    assert summary.skipped == {
        "unreadable amount": ["deal 9000000004"],
        "unreadable createdate": ["deal 9000000008"],
        "unreadable deal_currency_code": ["deal 9000000009"],
    }
    rows = stored(session_factory)
    assert len(rows) == 26 and not {"9000000004", "9000000008", "9000000009", "9000000015"} & set(rows)


def test_a_page_that_is_not_json_stops_the_sync_keeping_earlier_pages_and_a_rerun_completes_it(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    clean = clean_run_rows(session_factory, 500, now)
    standin, time = standin_and_time(500, malformed_searches={3})
    hubspot = provider(standin, time, page_size=100)

    with pytest.raises(CrmGarbageError, match="not JSON"):
        run_sync(session_factory, hubspot, now)

    # Two pages, each committed with its cursor: 100, then 99 (each page re-reads the deal that
    # changed last on the one before, at the millisecond it starts from, and skips it).
    assert deal_count(session_factory) == 199
    with session_factory() as session:
        cursor = session.get(CrmSyncState, "hubspot").cursor
    assert cursor == max(row[12] for row in stored(session_factory).values()).isoformat(timespec="milliseconds")
    standin.malformed_searches.clear()

    run_sync(session_factory, hubspot, now + dt.timedelta(minutes=5))

    assert stored(session_factory) == clean


def test_archived_deals_leave_the_pipeline_with_deleted_at_set(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin, time = standin_and_time(50)
    hubspot = provider(standin, time)
    run_sync(session_factory, hubspot, now)
    standin.archive([7, 8])
    later = now + dt.timedelta(hours=1)

    summary = run_sync(session_factory, hubspot, later)
    again = run_sync(session_factory, hubspot, later + dt.timedelta(hours=1))

    assert (summary.deleted, again.deleted) == (2, 0)  # marked once, the timestamp kept
    deleted = {crm_id: row[13] for crm_id, row in stored(session_factory).items() if row[13] is not None}
    assert deleted == {"9000000007": later, "9000000008": later}


def test_doctor_reports_an_accepted_token_and_the_deal_count_over_http() -> None:
    standin = HubSpotStandIn(25)
    with LoopbackServer(standin) as server:
        settings = Settings(crm_provider="hubspot", hubspot_token=TOKEN, hubspot_api_url=server.url)  # type: ignore[call-arg]
        hubspot = provider_from_settings(settings, dt.datetime(2026, 11, 25, tzinfo=dt.UTC))

        assert hubspot.doctor() == "HubSpot: token accepted, owners and 25 deals readable"  # type: ignore[attr-defined]
    assert [(request.method, request.path) for request in standin.requests] == [
        ("GET", "/crm/v3/owners"),
        ("POST", "/crm/v3/objects/deals/search"),
    ]


def test_doctor_names_hubspot_token_when_the_deals_scope_is_missing() -> None:
    standin, time = standin_and_time(5, scopes=frozenset({"crm.objects.owners.read"}))

    with pytest.raises(CrmAuthError, match="403.*check HUBSPOT_TOKEN"):
        provider(standin, time).doctor()


def test_an_unknown_field_in_crm_field_map_is_named() -> None:
    standin, time = standin_and_time(0)

    with pytest.raises(CrmError, match="unknown field colour") as wrong:
        provider(standin, time, crm_field_map="colour=hs_colour")
    assert wrong.value.setting == "CRM_FIELD_MAP"


def test_with_hubspot_portal_id_each_deal_links_to_its_hubspot_record(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin, time = standin_and_time(3)
    run_sync(session_factory, provider(standin, time, hubspot_portal_id="2519445"), now)
    with session_factory() as session:
        rows = session.execute(select(Deal.crm_id, Deal.crm_url).where(Deal.crm_source == "hubspot"))
        links = {row.crm_id: row.crm_url for row in rows}
    assert links == {
        f"900000000{n}": f"https://app.hubspot.com/contacts/2519445/record/0-3/900000000{n}" for n in (1, 2, 3)
    }  # fmt: skip


def test_hubspot_portal_id_set_on_an_existing_install_links_the_deals_a_sync_does_not_re_read(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin, time = standin_and_time(3)
    run_sync(session_factory, provider(standin, time), now)

    def links() -> dict[str, str | None]:
        with session_factory() as session:
            return dict(session.execute(select(Deal.crm_id, Deal.crm_url).where(Deal.crm_source == "hubspot")).all())

    assert set(links().values()) == {None}

    again = run_sync(session_factory, provider(standin, time, hubspot_portal_id="2519445"), now + dt.timedelta(minutes=10))
    assert (again.fetched, again.updated) == (1, 0)  # only the newest deal is re-read, and it did not change
    assert links() == {
        f"900000000{n}": f"https://app.hubspot.com/contacts/2519445/record/0-3/900000000{n}" for n in (1, 2, 3)
    }  # fmt: skip

    with session_factory() as session:
        before = dict(session.execute(select(Deal.crm_id, Deal.change_seq)).all())
    run_sync(session_factory, provider(standin, time, hubspot_portal_id="2519445"), now + dt.timedelta(minutes=20))
    with session_factory() as session:
        assert dict(session.execute(select(Deal.crm_id, Deal.change_seq)).all()) == before  # the same id rewrites nothing

    run_sync(session_factory, provider(standin, time), now + dt.timedelta(minutes=30))
    assert set(links().values()) == {None}  # the setting taken away: the links go with it


def test_without_a_portal_id_hubspot_deals_have_no_link_and_a_malformed_one_is_refused(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin, time = standin_and_time(2)
    run_sync(session_factory, provider(standin, time), now)
    with session_factory() as session:
        assert set(session.scalars(select(Deal.crm_url).where(Deal.crm_source == "hubspot"))) == {None}
    with pytest.raises(SettingsError, match="^invalid settings: HUBSPOT_PORTAL_ID: String should match pattern"):
        load_settings(_env_file=None, CRM_PROVIDER="hubspot", HUBSPOT_TOKEN=TOKEN, HUBSPOT_PORTAL_ID="app.hubspot.com/2519445")
