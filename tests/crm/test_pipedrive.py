"""The Pipedrive connector against a stand-in Pipedrive API: pages and cursors, faults, limits, garbage."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.playbook import load_playbook
from bot.crm.base import CrmError
from bot.crm.http import CrmAuthError, CrmGarbageError
from bot.crm.pipedrive import PipedriveProvider
from bot.crm.sync import sync
from bot.database import session_scope
from bot.doctor import Check, check_crm
from bot.models import CrmSyncState, Deal, DealStageHistory, Person
from bot.settings import Settings
from tests.support.pipedrive_standin import NEXT_STEPS, PRODUCT_LINE_FIELD, STAGES, TOKEN, USERS, PipedriveStandIn, iso

PLAYBOOK = load_playbook()
DEALS = 1_200  # three pages of 500
API_URL = "https://api.pipedrive.com"
STAGE_NAMES = {stage_id: name for stage_id, name, _, _ in STAGES}
STAGE_PERCENT = {stage_id: percent for stage_id, _, _, percent in STAGES}
RILEY, SAM, CASEY, OLLY = USERS
NEW_YORK = ZoneInfo("America/New_York")  # Riley and Sam are in coachbot; Casey and Olly only in Pipedrive


class FakeTime:
    """A clock that moves only when slept on, shared by the connector and the stand-in."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def settings_for(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "crm_provider": "pipedrive", "pipedrive_api_token": TOKEN, "pipedrive_api_url": API_URL,
        "crm_field_map": "", "crm_sync_overlap_seconds": 60,
    }  # fmt: skip
    return Settings(_env_file=None, **{**values, **overrides})  # type: ignore[arg-type]


def provider_for(
    standin: PipedriveStandIn, time: FakeTime, *, requests_per_window: int = 1_000, page_size: int = 500, **settings: object
) -> PipedriveProvider:
    return PipedriveProvider.from_settings(
        settings_for(**settings),
        transport=httpx.MockTransport(standin),
        sleep=time.sleep,
        page_size=page_size,
        requests_per_window=requests_per_window,
        clock=time.clock,
    )


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def add_riley_and_sam(session_factory: sessionmaker[Session]) -> dict[int, int]:
    """Pipedrive user id -> coachbot person id."""
    with session_scope(session_factory) as session:
        people = {user["id"]: Person(email=user["email"], name=user["name"], is_rep=True) for user in (RILEY, SAM)}
        session.add_all(people.values())
        session.flush()
        return {user_id: person.id for user_id, person in people.items()}


SYNCED = (
    Deal.crm_id, Deal.name, Deal.owner_id, Deal.crm_owner_key, Deal.amount, Deal.currency, Deal.stage, Deal.crm_probability,
    Deal.is_closed, Deal.is_won, Deal.stage_entered_at, Deal.close_date, Deal.closed_at, Deal.next_step, Deal.next_step_date,
    Deal.product_line, Deal.crm_url, Deal.created_at, Deal.crm_modified_at, Deal.deleted_at,
)  # fmt: skip


def stored(session_factory: sessionmaker[Session], *extra: object) -> list[tuple]:
    with session_factory() as session:
        return sorted(tuple(row) for row in session.execute(select(*SYNCED, *extra)))  # type: ignore[call-overload]


def stored_row(session_factory: sessionmaker[Session], crm_id: int) -> Deal:
    with session_factory() as session:
        deal = session.scalar(select(Deal).where(Deal.crm_source == "pipedrive", Deal.crm_id == str(crm_id)))
        assert deal is not None
        return deal


def stored_cursor(session_factory: sessionmaker[Session]) -> str | None:
    with session_factory() as session:
        state = session.get(CrmSyncState, "pipedrive")
        return state.cursor if state else None


def forget_everything(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        for table in (DealStageHistory, Deal, CrmSyncState):
            session.execute(delete(table))


def clean_sync_rows(session_factory: sessionmaker[Session], now: dt.datetime) -> list[tuple]:
    """What a fault-free first sync of the standard data set stores; the database is emptied again."""
    sync(session_factory, provider_for(PipedriveStandIn(DEALS), FakeTime()), PLAYBOOK, now)
    rows = stored(session_factory)
    forget_everything(session_factory)
    return rows


def test_a_first_sync_follows_the_cursor_through_every_page_with_owners_stages_and_outcomes(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    people = add_riley_and_sam(session_factory)
    standin = PipedriveStandIn(DEALS)
    summary = sync(session_factory, provider_for(standin, FakeTime()), PLAYBOOK, now)

    assert (summary.fetched, summary.created, summary.skipped_count, summary.deleted) == (DEALS, DEALS, 0, 0)
    assert dict(summary.unknown_stages) == {}  # "Qualified" and "Negotiation/Review" are playbook aliases
    owned = {user["id"]: sum(deal["owner_id"] == user["id"] for deal in standin.deals.values()) for user in USERS}
    assert dict(summary.unmatched_owners) == {"103": owned[103], "104": owned[104]}
    first, second, third = standin.requests_to("/api/v2/deals")
    assert {key: first.params[key] for key in ("sort_by", "sort_direction", "limit", "status", "include_fields")} == {
        "sort_by": "update_time", "sort_direction": "asc", "limit": "500", "status": "open,won,lost,deleted",
        "include_fields": "next_activity_id",
    }  # fmt: skip
    assert "updated_since" not in first.params and "cursor" not in first.params
    assert second.params["cursor"] != third.params["cursor"]
    assert stored_cursor(session_factory) == max(deal["update_time"] for deal in standin.deals.values())

    won = next(deal for deal in standin.deals.values() if deal["status"] == "won" and deal["owner_id"] == RILEY["id"])
    row = stored_row(session_factory, won["id"])
    assert (row.owner_id, row.crm_owner_key, row.stage, row.is_closed, row.is_won) == (
        people[RILEY["id"]], str(RILEY["id"]), STAGE_NAMES[won["stage_id"]], True, True,
    )  # fmt: skip
    # The close day is the company's (its token user's, in New York), not close_time's UTC date.
    local_close = moment(won["close_time"]).astimezone(NEW_YORK).date()
    assert (row.closed_at, row.close_date, row.next_step) == (moment(won["close_time"]), local_close, None)

    lost = next(deal for deal in standin.deals.values() if deal["status"] == "lost" and deal["owner_id"] == CASEY["id"])
    row = stored_row(session_factory, lost["id"])
    assert (row.owner_id, row.crm_owner_key, row.is_closed, row.is_won) == (None, str(CASEY["id"]), True, False)

    # Open, without a probability of its own, with a next activity (the stand-in gives one to ids not divisible by 4).
    open_deal = next(
        deal for deal in standin.deals.values()
        if deal["status"] == "open" and deal["probability"] is None and deal["id"] % 4 and deal["expected_close_date"]
    )  # fmt: skip
    deal_id = open_deal["id"]
    row = stored_row(session_factory, deal_id)
    assert (row.name, row.amount, row.currency, row.stage, row.crm_probability) == (
        open_deal["title"], money(open_deal["value"]), open_deal["currency"],
        STAGE_NAMES[open_deal["stage_id"]], STAGE_PERCENT[open_deal["stage_id"]] / 100,
    )  # fmt: skip
    expected_close = dt.date.fromisoformat(open_deal["expected_close_date"])
    assert (row.is_closed, row.closed_at, row.close_date) == (False, None, expected_close)
    next_activity = standin.activity(2 * deal_id)
    assert next_activity is not None
    due = dt.date.fromisoformat(next_activity["due_date"])
    assert (row.next_step, row.next_step_date) == (NEXT_STEPS[deal_id % len(NEXT_STEPS)], due)
    assert (row.created_at, row.stage_entered_at, row.crm_modified_at) == (
        moment(open_deal["add_time"]), moment(open_deal["stage_change_time"]), moment(open_deal["update_time"]),
    )  # fmt: skip
    assert row.crm_url == f"https://acme-robotics.pipedrive.com/deal/{deal_id}"
    assert stored_row(session_factory, 9).crm_probability == 0.5  # the deal's own probability wins over its stage's


def deal_closed_at(close_time: str, **standin_options: object) -> tuple[PipedriveStandIn, int]:
    """A stand-in whose first won deal closed at `close_time` (UTC), and that deal's id."""
    standin = PipedriveStandIn(20, **standin_options)  # type: ignore[arg-type]
    won = next(deal for deal in standin.deals.values() if deal["status"] == "won")
    standin.corrupt(won["id"], close_time=close_time, won_time=close_time)
    return standin, won["id"]


def test_a_deal_won_late_on_the_last_day_of_a_quarter_closes_that_day_in_the_companys_time_zone() -> None:
    # 02:30 UTC on 1 October is 22:30 on 30 September in New York: the deal counts for Q3.
    standin, won_id = deal_closed_at("2026-10-01T02:30:00Z")

    deals = {deal.crm_id: deal for page in provider_for(standin, FakeTime()).fetch_deals(None) for deal in page.deals}

    assert deals[str(won_id)].close_date == dt.date(2026, 9, 30)
    assert deals[str(won_id)].closed_at == dt.datetime(2026, 10, 1, 2, 30, tzinfo=dt.UTC)


def test_without_a_time_zone_for_the_token_user_the_close_day_is_read_in_coachbot_timezone() -> None:
    # 16:30 UTC on 30 September is already 1 October in Tokyo.
    standin, won_id = deal_closed_at("2026-09-30T16:30:00Z", token_user_timezone=None)

    def close_date(timezone: str) -> dt.date | None:
        provider = provider_for(standin, FakeTime(), timezone=timezone)
        return {deal.crm_id: deal.close_date for page in provider.fetch_deals(None) for deal in page.deals}[str(won_id)]

    assert (close_date("UTC"), close_date("Asia/Tokyo")) == (dt.date(2026, 9, 30), dt.date(2026, 10, 1))


def test_the_api_token_travels_in_the_x_api_token_header_and_never_in_a_url() -> None:
    standin = PipedriveStandIn(600)
    provider = provider_for(standin, FakeTime(), page_size=200)
    assert sum(len(page.deals) for page in provider.fetch_deals(None)) == 600
    provider.doctor()
    assert len(standin.requests) > 6
    assert all(request.headers["x-api-token"] == TOKEN for request in standin.requests)
    assert not any(TOKEN in request.url or "api_token" in request.params for request in standin.requests)


def test_a_second_sync_with_nothing_changed_asks_from_the_cursor_minus_the_overlap_and_writes_nothing(
    session_factory, now
) -> None:  # type: ignore[no-untyped-def]
    standin = PipedriveStandIn(DEALS)
    sync(session_factory, provider_for(standin, FakeTime()), PLAYBOOK, now)
    before = stored(session_factory, Deal.synced_at)
    cursor = stored_cursor(session_factory)
    standin.requests.clear()

    summary = sync(session_factory, provider_for(standin, FakeTime()), PLAYBOOK, now + dt.timedelta(hours=1))

    since = iso(moment(cursor) - dt.timedelta(seconds=60))  # type: ignore[arg-type]
    (request,) = standin.requests_to("/api/v2/deals")
    assert request.params["updated_since"] == since
    (archived,) = standin.requests_to("/api/v2/deals/archived")
    assert archived.params["updated_since"] == since
    overlap = sum(deal["update_time"] >= since for deal in standin.deals.values())
    assert overlap >= 1
    assert (summary.fetched, summary.created, summary.updated, summary.unchanged) == (overlap, 0, 0, overlap)
    assert stored(session_factory, Deal.synced_at) == before
    assert stored_cursor(session_factory) == cursor


def test_thirty_changed_deals_are_fetched_and_exactly_they_are_updated(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = PipedriveStandIn(DEALS)
    sync(session_factory, provider_for(standin, FakeTime()), PLAYBOOK, now)
    since = iso(moment(stored_cursor(session_factory)) - dt.timedelta(seconds=60))  # type: ignore[arg-type]
    changed = standin.change(30)
    later = now + dt.timedelta(hours=1)

    summary = sync(session_factory, provider_for(standin, FakeTime()), PLAYBOOK, later)

    refetched = sum(deal["update_time"] >= since for deal in standin.deals.values())
    assert 30 <= refetched <= 33
    assert (summary.fetched, summary.created, summary.updated) == (refetched, 0, 30)
    with session_factory() as session:
        updated = dict(session.execute(select(Deal.crm_id, Deal.amount).where(Deal.synced_at == later)).all())
    assert updated == {str(deal_id): money(standin.deals[deal_id]["value"]) for deal_id in changed}
    assert stored_cursor(session_factory) == max(standin.deals[deal_id]["update_time"] for deal_id in changed)


def test_throttling_and_server_errors_are_retried_to_the_same_rows_as_a_clean_sync(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    expected = clean_sync_rows(session_factory, now)
    standin = PipedriveStandIn(DEALS, every_nth_429=5, every_nth_500=20, retry_after=3)
    time = FakeTime()

    summary = sync(session_factory, provider_for(standin, time, page_size=100), PLAYBOOK, now)

    assert (summary.fetched, summary.created) == (DEALS, DEALS)
    assert stored(session_factory) == expected
    statuses = [request.status for request in standin.requests]
    throttled, failed = statuses.count(429), statuses.count(500)
    assert throttled >= 3 and failed >= 1
    # Each 429 waited exactly its Retry-After; each 500 a short backoff; nothing else slept.
    assert time.sleeps.count(3.0) == throttled
    assert len(time.sleeps) == throttled + failed
    assert all(delay < 3.0 for delay in time.sleeps if delay != 3.0)


def test_a_refused_token_stops_the_sync_naming_PIPEDRIVE_API_TOKEN_and_stores_no_deal(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = PipedriveStandIn(DEALS, token="a-token-pipedrive-revoked")

    with pytest.raises(CrmAuthError) as refused:
        sync(session_factory, provider_for(standin, FakeTime()), PLAYBOOK, now)

    assert refused.value.setting == "PIPEDRIVE_API_TOKEN" and "check PIPEDRIVE_API_TOKEN" in str(refused.value)
    assert [request.status for request in standin.requests] == [401]  # not retried
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Deal)) == 0
    assert stored_cursor(session_factory) is None


def test_records_with_wrong_types_are_skipped_with_their_ids_and_the_rest_is_stored(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = PipedriveStandIn(DEALS)
    standin.corrupt(17, value="a lot")
    standin.corrupt(18, stage_id="Demo")
    standin.corrupt(19, add_time=None)

    summary = sync(session_factory, provider_for(standin, FakeTime()), PLAYBOOK, now)

    assert summary.skipped == {
        "unreadable value": ["deal 17"], "unreadable stage_id": ["deal 18"], "no creation time (add_time)": ["deal 19"],
    }  # fmt: skip
    assert (summary.fetched, summary.created) == (DEALS - 3, DEALS - 3)
    stored_ids = {row[0] for row in stored(session_factory)}
    assert {"17", "18", "19"}.isdisjoint(stored_ids) and len(stored_ids) == DEALS - 3


def test_a_page_that_is_not_json_stops_the_sync_keeping_earlier_pages_and_a_rerun_completes_it(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    expected = clean_sync_rows(session_factory, now)
    standin = PipedriveStandIn(DEALS, malformed_deals_request=3)

    with pytest.raises(CrmGarbageError, match="not JSON"):
        sync(session_factory, provider_for(standin, FakeTime()), PLAYBOOK, now)

    in_update_order = sorted(standin.deals.values(), key=lambda deal: (deal["update_time"], deal["id"]))
    assert len(stored(session_factory)) == 1000  # two pages of 500, each committed with its cursor
    assert stored_cursor(session_factory) == in_update_order[999]["update_time"]

    standin.requests.clear()
    sync(session_factory, provider_for(standin, FakeTime()), PLAYBOOK, now)

    resumed = standin.requests_to("/api/v2/deals")[0]
    assert resumed.params["updated_since"] == iso(moment(in_update_order[999]["update_time"]) - dt.timedelta(seconds=60))
    assert stored(session_factory) == expected


def test_deals_deleted_or_archived_in_pipedrive_are_marked_deleted(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = PipedriveStandIn(DEALS)
    sync(session_factory, provider_for(standin, FakeTime()), PLAYBOOK, now)
    standin.delete([5, 6])
    standin.archive([7])
    later = now + dt.timedelta(hours=1)

    summary = sync(session_factory, provider_for(standin, FakeTime()), PLAYBOOK, later)

    assert summary.deleted == 3
    with session_factory() as session:
        gone = dict(session.execute(select(Deal.crm_id, Deal.deleted_at).where(Deal.deleted_at.is_not(None))).all())
        assert session.scalar(select(func.count()).select_from(Deal)) == DEALS
    assert gone == {"5": later, "6": later, "7": later}


def test_the_client_never_spends_more_than_its_budget_in_any_two_second_window() -> None:
    time = FakeTime()
    standin = PipedriveStandIn(300, clock=time.clock, rate_limit=4)
    provider = provider_for(standin, time, requests_per_window=4, page_size=50)

    assert sum(len(page.deals) for page in provider.fetch_deals(None)) == 300

    moments = [request.at for request in standin.requests]
    assert len(moments) >= 12
    assert all(request.status == 200 for request in standin.requests)  # the stand-in's own limit never tripped
    busiest = max(sum(0 <= later - start < 2.0 for later in moments) for start in moments)
    assert busiest == 4
    assert time.now - 1_000.0 >= 2.0 * (len(moments) // 4 - 1)


def test_doctor_names_the_company_and_whose_token_it_is() -> None:
    standin = PipedriveStandIn(10)
    check = check_crm(settings_for(), httpx.MockTransport(standin), dt.datetime(2026, 11, 25, tzinfo=dt.UTC))
    assert check == Check(
        "crm (pipedrive)", True,
        "Pipedrive company Acme Robotics (acme-robotics.pipedrive.com), API token of Riley Rep <riley.rep@example.com>",
    )  # fmt: skip
    assert [request.path for request in standin.requests] == ["/v1/users/me"]


def test_doctor_with_a_refused_token_names_PIPEDRIVE_API_TOKEN() -> None:
    standin = PipedriveStandIn(10, token="a-token-pipedrive-revoked")
    with pytest.raises(CrmAuthError) as refused:
        provider_for(standin, FakeTime()).doctor()
    assert refused.value.setting == "PIPEDRIVE_API_TOKEN"


def test_a_custom_field_in_CRM_FIELD_MAP_gives_the_product_line_by_its_option_label() -> None:
    standin = PipedriveStandIn(40)
    provider = provider_for(standin, FakeTime(), crm_field_map=f"product_line={PRODUCT_LINE_FIELD}")

    assert provider.product_lines() == ["Analytics", "Core Platform", "Services"]
    deals = {deal.crm_id: deal for page in provider.fetch_deals(None) for deal in page.deals}
    assert (deals["1"].product_line, deals["2"].product_line, deals["4"].product_line) == ("Analytics", "Services", None)
    (request,) = standin.requests_to("/api/v2/deals")
    assert request.params["custom_fields"] == PRODUCT_LINE_FIELD
    assert len(standin.requests_to("/api/v2/dealFields")) == 1


def test_a_field_map_pipedrive_cannot_honour_names_CRM_FIELD_MAP() -> None:
    with pytest.raises(CrmError) as unmappable:
        provider_for(PipedriveStandIn(1), FakeTime(), crm_field_map="stage=dealstage")
    assert unmappable.value.setting == "CRM_FIELD_MAP" and "cannot map stage" in str(unmappable.value)
    unknown_hash = "0" * 40
    with pytest.raises(CrmError) as missing:
        provider_for(PipedriveStandIn(1), FakeTime(), crm_field_map=f"product_line={unknown_hash}").product_lines()
    assert missing.value.setting == "CRM_FIELD_MAP" and unknown_hash in str(missing.value)
