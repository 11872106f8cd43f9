"""The Salesforce connector against a stand-in REST API: what it stores, what it asks for, how it fails."""

from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.playbook import load_playbook
from bot.crm.http import CrmAuthError, CrmGarbageError, CrmUnavailableError
from bot.crm.salesforce import SalesforceApiError, SalesforceProvider
from bot.crm.sync import SYNCED_COLUMNS, SyncSummary, sync
from bot.database import session_scope
from bot.doctor import check_crm
from bot.models import CrmSyncState, Deal, DealStageHistory, Person, ProductLine
from bot.settings import Settings
from tests.support.salesforce_standin import SalesforceStandIn, opportunity_id

PLAYBOOK = load_playbook()
HOUR = dt.timedelta(hours=1)
OVERLAP = dt.timedelta(seconds=60)  # CRM_SYNC_OVERLAP_SECONDS' default


class Clock:
    """The provider's idea of now (it bounds the deleted-records window); tests move it."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def provider_for(
    standin: SalesforceStandIn, clock: Clock, delays: list[float] | None = None, page_size: int = 2000, **settings: Any
) -> SalesforceProvider:
    credentials = (
        {"salesforce_access_token": standin.access_token}
        if standin.access_token
        else {"salesforce_client_id": standin.client_id, "salesforce_client_secret": standin.client_secret}
    )
    config = Settings(
        _env_file=None, crm_provider="salesforce", salesforce_instance_url=standin.base_url, **credentials, **settings
    )  # type: ignore[call-arg]
    return SalesforceProvider.from_settings(
        config,
        transport=httpx.MockTransport(standin),
        sleep=(delays if delays is not None else []).append,
        page_size=page_size,
        calls_per_second=10_000,  # the politeness limiter paces in real time; tests need no pacing
        utc_now=clock,
    )


def run(session_factory: sessionmaker[Session], provider: SalesforceProvider, now: dt.datetime) -> SyncSummary:
    return sync(session_factory, provider, PLAYBOOK, now)


def add_reps(session_factory: sessionmaker[Session], count: int) -> list[int]:
    """People for the stand-in's users, matched by email (Salesforce writes them Rep0@Example.com)."""
    with session_scope(session_factory) as session:
        people = [Person(email=f"rep{n}@example.com", name=f"Rep {n}", is_rep=True) for n in range(count)]
        session.add_all(people)
        session.flush()
        return [person.id for person in people]


def stored(session_factory: sessionmaker[Session]) -> tuple[dict[str, tuple], list[tuple]]:
    """Every deal's synced columns and synced_at by CRM id, and every stage-history row."""
    with session_factory() as session:
        columns = [getattr(Deal, name) for name in SYNCED_COLUMNS]
        deals = {row[0]: tuple(row[1:]) for row in session.execute(select(Deal.crm_id, *columns, Deal.synced_at))}
        history = session.execute(
            select(Deal.crm_id, DealStageHistory.stage, DealStageHistory.entered_at)
            .join(Deal)
            .order_by(Deal.crm_id, DealStageHistory.entered_at, DealStageHistory.stage)
        )
        return deals, [tuple(row) for row in history]


def stored_cursor(session_factory: sessionmaker[Session]) -> dict[str, str | None]:
    with session_factory() as session:
        return json.loads(session.get(CrmSyncState, "salesforce").cursor)  # type: ignore[union-attr, arg-type]


def deleted_windows(standin: SalesforceStandIn) -> list[tuple[str, str]]:
    """(start, end) of every getDeleted request, as sent."""
    return [
        (request.url.params["start"], request.url.params["end"])
        for request in standin.requests
        if request.url.path.endswith("/deleted/")
    ]


def forget_everything(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        for table in (DealStageHistory, Deal, CrmSyncState, ProductLine):
            session.execute(delete(table))


def deal(session_factory: sessionmaker[Session], number: int) -> Deal:
    with session_factory() as session:
        found = session.scalar(select(Deal).where(Deal.crm_id == opportunity_id(number)))
        assert found is not None
        return found


def history(session_factory: sessionmaker[Session], number: int) -> list[tuple[str, dt.datetime]]:
    with session_factory() as session:
        rows = session.execute(
            select(DealStageHistory.stage, DealStageHistory.entered_at)
            .join(Deal)
            .where(Deal.crm_id == opportunity_id(number))
            .order_by(DealStageHistory.entered_at)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_first_sync_follows_next_records_url_and_stores_every_opportunity(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    reps = add_reps(session_factory, 4)
    standin = SalesforceStandIn(now=now, opportunities=4500)
    summary = run(session_factory, provider_for(standin, Clock(now)), now)

    assert (summary.fetched, summary.created, summary.skipped_count, dict(summary.unmatched_owners)) == (4500, 4500, 0, {})
    assert dict(summary.unknown_stages) == {}  # Salesforce's standard stages are playbook aliases
    # The third query is the opportunities': 4,500 in batches of 2,000.
    follow_ups = [path for path in standin.paths() if path.startswith("/services/data/v60.0/query/01gSTANDIN3-")]
    assert follow_ups == ["/services/data/v60.0/query/01gSTANDIN3-2000", "/services/data/v60.0/query/01gSTANDIN3-4000"]
    assert standin.queries()[:3] == [
        "SELECT Id, Email FROM User",
        "SELECT MasterLabel, ApiName, DefaultProbability, IsClosed, IsWon FROM OpportunityStage",
        "SELECT Id, SystemModstamp, Name, Amount, StageName, CloseDate, CreatedDate, NextStep, LastActivityDate, "
        "OwnerId, Probability, IsClosed, IsWon, Account.Name FROM Opportunity ORDER BY SystemModstamp, Id",
    ]
    assert standin.token_grants == 1

    created = now - dt.timedelta(days=200)
    zero = deal(session_factory, 0)  # Prospecting, with its probability overridden to 35%
    assert (zero.name, zero.owner_id, zero.stage, zero.crm_probability, zero.is_closed, zero.is_won) == (
        "Opportunity 0",
        reps[0],
        "Prospecting",
        0.35,
        False,
        False,
    )
    assert (zero.amount, zero.currency, zero.account_name, zero.close_date) == (
        Decimal("1000.00"),
        "USD",
        "Account 0",
        (created + dt.timedelta(days=60)).date(),
    )
    assert zero.crm_url == "https://acme.my.salesforce.com/lightning/r/Opportunity/006000000000000000/view"
    won = deal(session_factory, 6)
    entered_won = created + dt.timedelta(seconds=97 * 6, hours=30)
    assert (won.stage, won.crm_probability, won.is_closed, won.is_won, won.owner_id) == ("Closed Won", 1.0, True, True, reps[2])
    assert (won.stage_entered_at, won.closed_at) == (entered_won, entered_won)
    lost = deal(session_factory, 7)
    assert (lost.stage, lost.crm_probability, lost.is_closed, lost.is_won) == ("Closed Lost", 0.0, True, False)
    assert deal(session_factory, 9).account_name is None
    # Opportunity 3's history repeats its stage for an amount change: one entry per stage, entered at the first.
    three = created + dt.timedelta(seconds=97 * 3)
    stages = ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition"]
    assert history(session_factory, 3) == [(stage, three + step * 5 * HOUR) for step, stage in enumerate(stages)]
    assert deal(session_factory, 3).stage_entered_at == three + 15 * HOUR
    # The newest change stored, and the moment from which getDeleted must look next: the full read's start.
    assert stored_cursor(session_factory) == {
        "modified": standin.latest_modstamp().strftime("%Y-%m-%dT%H:%M:%SZ"), "deletions_covered": "2026-11-25T15:00:00Z"
    }  # fmt: skip


def test_client_credentials_fetch_one_token_and_fetch_it_again_once_when_it_expires(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=50)
    provider = provider_for(standin, Clock(now))
    run(session_factory, provider, now)
    assert standin.token_grants == 1
    grant = standin.requests[0]
    assert (grant.method, str(grant.url)) == ("POST", "https://acme.my.salesforce.com/services/oauth2/token")
    assert grant.content == b"grant_type=client_credentials&client_id=coachbot-app&client_secret=s3cret"

    standin.expire_tokens()
    summary = run(session_factory, provider, now + HOUR)
    assert (standin.token_grants, standin.statuses.count(401)) == (2, 1)
    assert summary.unchanged == summary.fetched >= 1


def test_a_second_401_with_a_fresh_token_names_the_client_credentials_and_stores_nothing(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=50, refuse_tokens=True)
    with pytest.raises(CrmAuthError, match="check SALESFORCE_CLIENT_ID/SALESFORCE_CLIENT_SECRET") as error:
        run(session_factory, provider_for(standin, Clock(now)), now)
    assert error.value.setting == "SALESFORCE_CLIENT_ID/SALESFORCE_CLIENT_SECRET"
    assert (standin.token_grants, standin.statuses) == (2, [200, 401, 200, 401])
    assert stored(session_factory) == ({}, [])


def test_an_access_token_is_used_as_it_is_and_a_401_names_it(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=50, access_token="00Dstatic!token")
    provider = provider_for(standin, Clock(now))
    assert run(session_factory, provider, now).created == 50
    assert {request.headers["Authorization"] for request in standin.requests} == {"Bearer 00Dstatic!token"}

    standin.expire_tokens()
    with pytest.raises(CrmAuthError, match="check SALESFORCE_ACCESS_TOKEN"):
        run(session_factory, provider, now + HOUR)
    assert (standin.token_grants, standin.statuses.count(401)) == (0, 1)


def test_a_spent_daily_api_limit_stops_the_sync_saying_so_and_when_to_try_again(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=50, api_limit_spent=True)
    delays: list[float] = []
    with pytest.raises(CrmUnavailableError) as error:
        run(session_factory, provider_for(standin, Clock(now), delays), now)
    assert str(error.value) == (
        "Salesforce refused the request (REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.; api-usage=1/15000): "
        "the org's daily API request limit is spent (it counts every integration over a rolling 24 hours, so calls "
        "free up gradually): the next scheduled sync tries again, or run `coachbot sync` in a few hours. "
        "Nothing was lost; the sync resumes from the last stored page."
    )
    assert (standin.statuses, delays) == ([200, 403], [])  # the token, then one refused call: not retried
    assert stored(session_factory) == ({}, [])


def test_a_second_sync_with_nothing_changed_reads_from_the_cursor_less_the_overlap_and_writes_nothing(
    session_factory, now
) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=500)
    clock = Clock(now)
    provider = provider_for(standin, clock)
    run(session_factory, provider, now)
    before = stored(session_factory)
    clock.now = now + HOUR
    sent = len(standin.requests)

    summary = run(session_factory, provider, now + HOUR)
    since = standin.latest_modstamp() - OVERLAP
    assert (summary.created, summary.updated, summary.deleted) == (0, 0, 0)
    assert summary.unchanged == summary.fetched >= 1
    assert stored(session_factory) == before  # synced_at untouched too
    assert standin.requests[sent:][2].url.path.endswith("/deleted/")  # after users and stages, before any page
    # Deletions are looked for from where the last sync's coverage ended (its start), not from the cursor's modstamp.
    assert deleted_windows(standin) == [(now.isoformat(), (now + HOUR).isoformat())]
    assert standin.queries()[-2].endswith(
        f"FROM Opportunity WHERE SystemModstamp >= {since:%Y-%m-%dT%H:%M:%SZ} ORDER BY SystemModstamp, Id"
    )


def test_forty_changed_opportunities_are_fetched_and_exactly_they_are_updated(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=3000)
    clock = Clock(now)
    provider = provider_for(standin, clock)
    run(session_factory, provider, now)
    before, history_before = stored(session_factory)
    boundary = standin.latest_modstamp() - OVERLAP
    reread = {
        crm_id for crm_id, record in standin.records.items() if dt.datetime.fromisoformat(record["SystemModstamp"]) >= boundary
    }
    standin.now = clock.now = now + HOUR
    changed = standin.change(40)

    summary = run(session_factory, provider, now + 2 * HOUR)
    assert (summary.fetched, summary.created, summary.updated) == (len(reread | set(changed)), 0, 40)
    after, history_after = stored(session_factory)
    assert sorted(crm_id for crm_id, row in after.items() if row != before[crm_id]) == changed
    assert all(after[crm_id][-1] == now + 2 * HOUR for crm_id in changed)
    moved = sorted(set(history_after) - set(history_before))
    assert moved and all(crm_id in changed and at == now + HOUR for crm_id, _, at in moved)


def test_the_concurrent_request_limit_and_server_errors_are_retried_to_the_same_rows_as_a_clean_run(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    add_reps(session_factory, 4)
    run(session_factory, provider_for(SalesforceStandIn(now=now, opportunities=2000), Clock(now), page_size=200), now)
    clean = stored(session_factory)
    forget_everything(session_factory)

    standin = SalesforceStandIn(now=now, opportunities=2000, concurrency_limit_every=5, fail_every=20)
    delays: list[float] = []
    summary = run(session_factory, provider_for(standin, Clock(now), delays, page_size=200), now)
    assert summary.created == 2000
    assert stored(session_factory) == clean
    limited, failed = standin.statuses.count(403), standin.statuses.count(500)
    assert limited >= 4 and failed >= 1
    # Salesforce sends no Retry-After: each first retry backs off 0.25-0.5 s, with jitter.
    assert len(delays) == limited + failed and all(0.25 <= delay <= 0.5 for delay in delays)


def test_a_concurrent_request_limit_that_never_lifts_stops_the_sync_saying_so(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=50, concurrency_limit_every=1)
    delays: list[float] = []
    with pytest.raises(CrmUnavailableError) as error:
        run(session_factory, provider_for(standin, Clock(now), delays), now)
    assert str(error.value) == (
        "Salesforce kept failing (REQUEST_LIMIT_EXCEEDED: ConcurrentPerOrgLongTxn Limit exceeded.) on GET "
        "/services/data/v60.0/query after 5 retries; nothing was lost, the next sync resumes from the last stored page"
    )
    assert (standin.statuses, len(delays)) == ([200] + [403] * 6, 5)
    assert stored(session_factory) == ({}, [])


def test_a_record_with_wrong_types_is_skipped_with_its_id(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=60)
    standin.spoil(opportunity_id(5), Amount="lots")
    standin.spoil(opportunity_id(8), IsWon="maybe")
    standin.spoil(opportunity_id(13), Probability=250.0)
    summary = run(session_factory, provider_for(standin, Clock(now)), now)
    assert summary.skipped == {
        "unreadable Amount": [opportunity_id(5)],
        "unreadable IsWon": [opportunity_id(8)],
        "unreadable Probability": [opportunity_id(13)],
    }
    deals, _ = stored(session_factory)
    assert len(deals) == 57 and opportunity_id(5) not in deals


def test_an_opportunity_with_an_unreadable_history_row_is_skipped_and_the_rest_keep_their_history(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=60)
    standin.history[opportunity_id(7)] = [("Prospecting", "2026-09-01T10:00:00.000+0000"), ("Qualification", "last Tuesday")]
    summary = run(session_factory, provider_for(standin, Clock(now)), now)
    assert summary.skipped == {"unreadable OpportunityHistory": [opportunity_id(7)]}
    deals, history = stored(session_factory)
    assert len(deals) == 59 and opportunity_id(7) not in deals
    # Opportunity 6 went Prospecting -> ... -> Closed Won, 5 hours a stage, from its creation.
    created = now - dt.timedelta(days=200) + dt.timedelta(seconds=97 * 6)
    assert [row[1:] for row in history if row[0] == opportunity_id(6)] == [
        (stage, created + dt.timedelta(hours=5 * step))
        for step, stage in enumerate(["Prospecting", "Qualification", "Needs Analysis", "Value Proposition",
                                      "Proposal/Price Quote", "Negotiation/Review", "Closed Won"])
    ]  # fmt: skip


def test_a_page_that_is_not_json_stops_the_sync_keeping_earlier_pages_and_a_rerun_completes_it(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    run(session_factory, provider_for(SalesforceStandIn(now=now, opportunities=1000), Clock(now), page_size=200), now)
    clean = stored(session_factory)
    forget_everything(session_factory)

    standin = SalesforceStandIn(now=now, opportunities=1000, garbled_pages={600})
    provider = provider_for(standin, Clock(now), page_size=200)
    with pytest.raises(CrmGarbageError, match="not JSON"):
        run(session_factory, provider, now)
    deals, _ = stored(session_factory)
    in_order = sorted(standin.records.values(), key=lambda record: (record["SystemModstamp"], record["Id"]))
    assert set(deals) == {record["Id"] for record in in_order[:600]}
    assert stored_cursor(session_factory)["modified"] == dt.datetime.fromisoformat(in_order[599]["SystemModstamp"]).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )

    rerun = run(session_factory, provider, now)
    assert rerun.created == 400
    assert stored(session_factory) == clean


def test_opportunities_deleted_in_salesforce_leave_the_pipeline_with_deleted_at(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=100)
    clock = Clock(now)
    provider = provider_for(standin, clock)
    run(session_factory, provider, now)
    standin.now = now + HOUR
    gone = [opportunity_id(n) for n in (4, 40, 71)]
    standin.delete(gone)
    clock.now = now + 2 * HOUR

    summary = run(session_factory, provider, now + 2 * HOUR)
    assert summary.deleted == 3
    with session_factory() as session:
        marked = dict(session.execute(select(Deal.crm_id, Deal.deleted_at).where(Deal.deleted_at.is_not(None))).all())
    assert marked == dict.fromkeys(gone, now + 2 * HOUR)
    again = run(session_factory, provider, now + 3 * HOUR)
    assert (again.deleted, again.updated) == (0, 0)


def test_a_quiet_fortnight_chains_each_deleted_window_from_the_last_latest_date_covered(session_factory, now, caplog) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=100)
    clock = Clock(now)
    provider = provider_for(standin, clock)
    run(session_factory, provider, now)
    caplog.set_level(logging.WARNING, logger="bot.crm.salesforce")

    # Nothing changes for sixteen days; the sync runs daily, and on day 15 an opportunity is deleted.
    for day in range(1, 17):
        standin.now = clock.now = now + dt.timedelta(days=day)
        if day == 15:
            standin.delete([opportunity_id(42)])
        summary = run(session_factory, provider, clock.now)
        assert summary.deleted == (1 if day == 15 else 0)

    days = [now + dt.timedelta(days=day) for day in range(17)]
    assert deleted_windows(standin) == [(days[day - 1].isoformat(), days[day].isoformat()) for day in range(1, 17)]
    assert stored_cursor(session_factory)["deletions_covered"] == "2026-12-11T15:00:00Z"
    assert [record.getMessage() for record in caplog.records] == []  # every window starts where the last one ended


def test_a_deletion_still_in_flight_is_found_by_the_next_window_which_starts_at_latest_date_covered(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=100, deletions_in_flight=dt.timedelta(minutes=5))
    clock = Clock(now)
    provider = provider_for(standin, clock)
    run(session_factory, provider, now)
    standin.now = now + HOUR - dt.timedelta(minutes=2)
    standin.delete([opportunity_id(7)])  # two minutes before the next sync: not yet covered when it asks
    standin.now = clock.now = now + HOUR

    assert run(session_factory, provider, now + HOUR).deleted == 0
    assert stored_cursor(session_factory)["deletions_covered"] == "2026-11-25T15:55:00Z"
    standin.now = clock.now = now + 2 * HOUR
    assert run(session_factory, provider, now + 2 * HOUR).deleted == 1
    assert deleted_windows(standin)[-1] == ("2026-11-25T15:55:00+00:00", (now + 2 * HOUR).isoformat())


def test_a_sync_after_more_than_the_look_back_warns_that_deletions_may_be_missed(session_factory, now, caplog) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=20)
    clock = Clock(now)
    provider = provider_for(standin, clock)
    run(session_factory, provider, now)
    caplog.set_level(logging.WARNING, logger="bot.crm.salesforce")
    standin.now = clock.now = now + dt.timedelta(days=20)

    run(session_factory, provider, clock.now)

    assert [record.getMessage() for record in caplog.records] == [
        "salesforce: the last sync is over 14 days, 0:00:00 ago; deletions before 2026-12-01 15:00:00+00:00 may be missed"
    ]
    assert deleted_windows(standin) == [((now + dt.timedelta(days=6)).isoformat(), clock.now.isoformat())]


def test_a_cursor_stored_by_an_earlier_version_looks_for_deletions_from_its_modstamp(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=20)
    clock = Clock(now)
    provider = provider_for(standin, clock)
    run(session_factory, provider, now)
    newest = standin.latest_modstamp()
    with session_scope(session_factory) as session:
        session.get(CrmSyncState, "salesforce").cursor = newest.strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[union-attr]
    standin.now = clock.now = now + HOUR

    summary = run(session_factory, provider, now + HOUR)

    assert (summary.created, summary.updated) == (0, 0)
    assert deleted_windows(standin) == [((newest - OVERLAP).isoformat(), (now + HOUR).isoformat())]
    assert stored_cursor(session_factory) == {
        "modified": newest.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "deletions_covered": "2026-11-25T16:00:00Z",
    }


def test_an_org_without_opportunity_history_syncs_without_it(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=500, history_unavailable=True)
    summary = run(session_factory, provider_for(standin, Clock(now), page_size=200), now)
    assert summary.created == 500
    assert sum("FROM OpportunityHistory" in soql for soql in standin.queries()) == 1  # asked once, not per page
    created = now - dt.timedelta(days=200) + dt.timedelta(seconds=97 * 6)
    assert deal(session_factory, 6).stage_entered_at is None
    assert history(session_factory, 6) == [("Closed Won", created)]


def test_the_field_map_reads_custom_fields_and_the_product_lines(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=40, multi_currency=True)
    field_map = "product_line=Product_Family__c, currency=CurrencyIsoCode"
    run(session_factory, provider_for(standin, Clock(now), crm_field_map=field_map), now)
    assert "SELECT Product_Family__c FROM Opportunity GROUP BY Product_Family__c" in standin.queries()
    with session_factory() as session:
        assert session.scalars(select(ProductLine.name).order_by(ProductLine.name)).all() == ["Analytics", "Core", "Services"]
    assert (deal(session_factory, 4).product_line, deal(session_factory, 4).currency) == ("Analytics", "EUR")
    assert (deal(session_factory, 5).product_line, deal(session_factory, 5).currency) == ("Services", "USD")

    misspelt = provider_for(standin, Clock(now), crm_field_map="product_line=Product_Famly__c")
    with pytest.raises(SalesforceApiError, match="INVALID_FIELD: No such column 'Product_Famly__c'.*check CRM_FIELD_MAP"):
        run(session_factory, misspelt, now)


def test_doctor_makes_one_call_and_reports_the_api_requests_left(now) -> None:  # type: ignore[no-untyped-def]
    standin = SalesforceStandIn(now=now, opportunities=30)
    assert provider_for(standin, Clock(now)).doctor() == (
        "client credentials accepted, Opportunity fields readable "
        f"(latest change {standin.latest_modstamp():%Y-%m-%d %H:%M} UTC); 14,999 of 15,000 daily API requests left"
    )
    assert [request.url.path for request in standin.requests] == ["/services/oauth2/token", "/services/data/v60.0/query"]

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, crm_provider="salesforce", salesforce_instance_url=standin.base_url,
        salesforce_client_id="coachbot-app", salesforce_client_secret="wrong",
    )  # fmt: skip
    check = check_crm(settings, httpx.MockTransport(standin), now)
    assert (check.name, check.ok) == ("crm (salesforce)", False)
    assert check.detail.startswith(
        "Salesforce refused the client credentials (invalid_client: invalid client credentials): check SALESFORCE_CLIENT_ID"
    )
