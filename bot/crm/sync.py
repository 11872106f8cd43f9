"""`coachbot sync`: store what a provider returns, upserting deals by CRM id.

Each page is written and committed together with the provider's cursor, so an interrupted sync
resumes where it stopped. An unchanged deal is not written at all: a second sync with nothing
changed in the CRM changes no row.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from queue import Full, Queue
from typing import Any

from sqlalchemy import Row, String, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.crm.base import CrmDeal, CrmError, CrmProvider, DealPage, LinksByCrmId, StageCatalogue
from bot.crm.bulk import among, insert_new
from bot.database import Busy, exclusive, session_scope
from bot.dml import rows_affected
from bot.models import CrmSyncState, Deal, DealStageHistory, Person, ProductLine
from bot.org.importer import ImportSummary, store_org

# The columns a sync owns; a deal is rewritten only when one of these differs.
SYNCED_COLUMNS = (
    "owner_id", "crm_owner_key", "name", "account_name", "amount", "currency", "stage", "crm_probability",
    "is_closed", "is_won", "stage_entered_at", "close_date", "next_step", "next_step_date",
    "last_activity_at", "product_name", "product_line", "crm_url", "created_at", "closed_at",
    "crm_modified_at", "deleted_at",
)  # fmt: skip


@dataclass
class SyncSummary:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)
    estimated: dict[str, list[str]] = field(default_factory=dict)
    unmatched_owners: Counter[str] = field(default_factory=Counter)
    owners_without_slack: Counter[str] = field(default_factory=Counter)
    unknown_stages: Counter[str] = field(default_factory=Counter)
    unknown_products: Counter[str] = field(default_factory=Counter)
    org: ImportSummary | None = None

    @property
    def skipped_count(self) -> int:
        return sum(len(rows) for rows in self.skipped.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "fetched": self.fetched,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "skipped": {reason: len(rows) for reason, rows in self.skipped.items()},
            "estimated": {how: len(rows) for how, rows in self.estimated.items()},
            "unmatched_owners": dict(self.unmatched_owners),
            "owners_without_slack": dict(self.owners_without_slack),
            "unknown_stages": dict(self.unknown_stages),
            "unknown_products": dict(self.unknown_products),
        }


class OwnerDirectory:
    """Matches CRM owners to people: by CRM owner id, then email, then exact name.

    A name shared by two people matches neither: a guess would hand one rep the other's deals.
    """

    def __init__(self, session: Session) -> None:
        self.by_owner_id: dict[str, int] = {}
        self.by_email: dict[str, int] = {}
        self.by_name: dict[str, int | None] = {}
        # People the deals attach to but who cannot be nudged: no Slack user linked yet.
        self.without_slack: dict[int, str] = {}
        rows = session.execute(select(Person.id, Person.email, Person.name, Person.crm_owner_id, Person.slack_user_id))
        for person_id, email, name, crm_owner_id, slack_user_id in rows:
            if not slack_user_id:
                self.without_slack[person_id] = email
            if crm_owner_id:
                self.by_owner_id[crm_owner_id.strip().casefold()] = person_id
            self.by_email[email.casefold()] = person_id
            key = name.strip().casefold()
            self.by_name[key] = None if key in self.by_name else person_id

    def find(self, deal: CrmDeal) -> int | None:
        key = (deal.owner_key or "").strip().casefold()
        email = (deal.owner_email or (key if "@" in key else "")).strip().casefold()
        for found in (self.by_owner_id.get(key), self.by_email.get(email), self.by_name.get(key)):
            if found is not None:
                return found
        return None


def sync(
    session_factory: sessionmaker[Session],
    provider: CrmProvider,
    playbook: StageCatalogue,
    now: dt.datetime,
    default_currency: str = "USD",
    on_progress: Callable[[int], None] | None = None,
) -> SyncSummary:
    """Pull everything new from `provider` and store it; returns what happened."""
    summary = SyncSummary()
    connection = provider.source
    engine = session_factory.kw["bind"]
    try:
        with exclusive(engine, f"sync:{connection}"):
            _sync(session_factory, provider, playbook, now, default_currency, on_progress, summary)
    except Busy:
        raise CrmError(f"another coachbot sync of {connection} is running; this one stopped without changes") from None
    return summary


def _sync(
    session_factory: sessionmaker[Session],
    provider: CrmProvider,
    playbook: StageCatalogue,
    now: dt.datetime,
    default_currency: str,
    on_progress: Callable[[int], None] | None,
    summary: SyncSummary,
) -> None:
    connection = provider.source
    with session_scope(session_factory) as session:
        org = provider.fetch_org()
        if org is not None:
            summary.org = store_org(session, org)
        _store_product_lines(session, provider.product_lines())
        if isinstance(provider, LinksByCrmId):
            _relink(session, connection, provider.record_url_prefix())
        state = session.get(CrmSyncState, connection) or CrmSyncState(connection=connection)
        state.last_started_at = now
        session.add(state)
        cursor = state.cursor

    # People do not change during a sync; one directory serves every page.
    with session_factory() as session:
        owners = OwnerDirectory(session)
        first_sync = session.scalar(select(Deal.id).where(Deal.crm_source == connection).limit(1)) is None
    for page in prefetched(provider.fetch_deals(cursor)):
        with session_scope(session_factory) as session:
            _store_page(session, connection, page, owners, playbook, now, default_currency, summary, first_sync)
            page_state = session.get(CrmSyncState, connection)
            assert page_state is not None  # written before the first page
            if page.cursor is not None:
                page_state.cursor = page.cursor
        if on_progress:
            on_progress(len(page.deals) + sum(len(rows) for rows in page.skipped.values()))

    with session_scope(session_factory) as session:
        finished = session.get(CrmSyncState, connection)
        assert finished is not None  # written before the first page
        finished.last_finished_at = now
        finished.last_summary = summary.as_dict()


def store_deal(
    session: Session, source: str, deal: CrmDeal, playbook: StageCatalogue, now: dt.datetime, default_currency: str = "USD"
) -> SyncSummary:
    """Store one deal read back from the CRM (after a write) exactly as a sync stores its pages."""
    summary = SyncSummary()
    _store_page(session, source, DealPage(deals=[deal]), OwnerDirectory(session), playbook, now, default_currency, summary, False)
    return summary


_DONE = object()


def prefetched(pages: Iterator[DealPage], depth: int = 1) -> Iterator[DealPage]:
    """Fetch the next page on a thread while the current one is written.

    A CRM takes 100 ms or more to serve a page; waiting for it while the database is idle (and
    the reverse) would add the two. The thread only reads from the CRM: pages are still stored
    and committed one by one, in order, each with its own cursor. An error in the fetch is raised
    here, after the pages before it were stored. One page waiting (`depth`) already overlaps the
    two; each more is a page more in memory (2,000 Salesforce opportunities with their history).
    """
    queue: Queue[object] = Queue(maxsize=depth)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        queue.put(page, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            queue.put(exc)

    worker = threading.Thread(target=fetch, name="crm-fetch", daemon=True)
    worker.start()
    try:
        while (item := queue.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=5)


def _relink(session: Session, source: str, prefix: str | None) -> None:
    """Link every stored deal of `source` to prefix + its CRM id (or to nothing), in one UPDATE.

    Only the deals whose link differs are written: a setting added since the last sync (e.g.
    HUBSPOT_PORTAL_ID) links the deals synced before it, which an incremental sync would not re-read.
    """
    link = literal(prefix, String) + Deal.crm_id if prefix else None
    session.execute(update(Deal).where(Deal.crm_source == source, Deal.crm_url.is_distinct_from(link)).values(crm_url=link))


def _store_product_lines(session: Session, lines: Iterable[str]) -> None:
    wanted = {line for line in lines if line}
    if not wanted:
        return
    known = set(session.scalars(select(ProductLine.name).where(ProductLine.name.in_(wanted))))
    session.add_all(ProductLine(name=line) for line in sorted(wanted - known))
    session.flush()


def _store_page(
    session: Session,
    source: str,
    page: DealPage,
    owners: OwnerDirectory,
    playbook: StageCatalogue,
    now: dt.datetime,
    default_currency: str,
    summary: SyncSummary,
    first_sync: bool,
) -> None:
    summary.fetched += len(page.deals)
    for reason, rows in page.skipped.items():
        summary.skipped.setdefault(reason, []).extend(rows)
    for how, rows in page.estimated.items():
        summary.estimated.setdefault(how, []).extend(rows)
    summary.unknown_products.update(page.unknown_products)

    incoming = {deal.crm_id: deal for deal in page.deals}
    wanted = {crm_id: _deal_values(deal, owners, playbook, default_currency, summary) for crm_id, deal in incoming.items()}
    # A source with no deal stored when the sync began (a first sync) has nothing to read back.
    existing = {} if first_sync else _stored(session, source, list(incoming))

    if page.deleted_ids:
        summary.deleted += _mark_deleted(session, source, page.deleted_ids, now)

    history: list[tuple[int, str, dt.datetime]] = []  # (deal id, stage, entered_at)
    if new := [crm_id for crm_id in incoming if crm_id not in existing]:
        # RETURNING gives the new ids for the stage history in the same round trip.
        new_rows = [{"crm_source": source, "crm_id": crm_id, "synced_at": now, **wanted[crm_id]} for crm_id in new]
        returned = insert_new(session, Deal, new_rows, ["crm_source", "crm_id"], (Deal.id, Deal.crm_id))
        created: dict[str, int] = {row.crm_id: row.id for row in returned}
        summary.created += len(created)
        for crm_id, deal_id in created.items():
            deal = incoming[crm_id]
            entries = deal.stage_history or ((deal.stage, deal.stage_entered_at or deal.created_at),)
            history.extend((deal_id, stage, entered_at) for stage, entered_at in entries)
        # Stored meanwhile, by an earlier page of this sync (a deal changed while it ran) or by
        # another run: compared below like any stored deal.
        if conflicted := [crm_id for crm_id in new if crm_id not in created]:
            existing.update(_stored(session, source, conflicted))

    to_update: list[dict[str, Any]] = []
    for crm_id, current in existing.items():
        values = wanted[crm_id]
        synced: tuple[Any, ...] = tuple(current)[2:]  # after id and crm_id, as _stored reads them
        if any(_differs(stored, values[name]) for name, stored in zip(SYNCED_COLUMNS, synced)):
            to_update.append({"id": current.id, "synced_at": now, **values})
            if current.stage != values["stage"]:
                deal = incoming[crm_id]
                history.append((current.id, deal.stage, deal.stage_entered_at or now))
        else:
            summary.unchanged += 1
    if to_update:
        session.execute(update(Deal), to_update)
        summary.updated += len(to_update)
    if history:
        # A deal moved back to a stage it entered at the same moment before: keep one entry.
        insert_new(
            session,
            DealStageHistory,
            [{"deal_id": deal_id, "stage": stage, "entered_at": entered_at} for deal_id, stage, entered_at in history],
            ["deal_id", "entered_at", "stage"],
        )
    _store_product_lines(session, {deal.product_line for deal in incoming.values() if deal.product_line})


def _stored(session: Session, source: str, crm_ids: list[str]) -> dict[str, Row[Any]]:
    """The stored deals among `crm_ids`: id, crm_id and the synced columns, in one keyed read (or a few on SQLite)."""
    columns = [Deal.id, Deal.crm_id, *(getattr(Deal, name) for name in SYNCED_COLUMNS)]
    stored: dict[str, Row[Any]] = {}
    for condition in among(session, Deal.crm_id, crm_ids):
        for row in session.execute(select(*columns).where(Deal.crm_source == source, condition)):
            stored[row.crm_id] = row
    return stored


def _mark_deleted(session: Session, source: str, crm_ids: list[str], now: dt.datetime) -> int:
    """Deals the CRM deleted or archived leave the pipeline; the row stays for history."""
    marked = 0
    for condition in among(session, Deal.crm_id, crm_ids):
        marked += rows_affected(
            session,
            update(Deal)
            .where(Deal.crm_source == source, condition, Deal.deleted_at.is_(None))
            .values(deleted_at=now, synced_at=now)
            .execution_options(synchronize_session=False),
        )
    return marked


def _deal_values(
    deal: CrmDeal, owners: OwnerDirectory, playbook: StageCatalogue, default_currency: str, summary: SyncSummary
) -> dict[str, Any]:
    rule = playbook.stage(deal.stage)
    if rule is None:
        summary.unknown_stages[deal.stage] += 1
    is_closed = deal.is_closed if deal.is_closed is not None else bool(rule and rule.closed)
    is_won = deal.is_won if deal.is_won is not None else bool(rule and rule.won)
    owner_id = owners.find(deal)
    if owner_id is None:
        summary.unmatched_owners[deal.owner_key or "(no owner)"] += 1
    elif owner_id in owners.without_slack:
        summary.owners_without_slack[owners.without_slack[owner_id]] += 1
    return {
        "owner_id": owner_id,
        "crm_owner_key": deal.owner_key,
        "name": deal.name[:500],
        "account_name": deal.account_name,
        "amount": deal.amount.quantize(Decimal("0.01")) if deal.amount is not None else None,
        "currency": (deal.currency or default_currency).upper(),
        "stage": deal.stage,
        "crm_probability": deal.crm_probability,
        "is_closed": is_closed,
        "is_won": is_won and is_closed,
        "stage_entered_at": deal.stage_entered_at,
        "close_date": deal.close_date,
        "next_step": deal.next_step,
        "next_step_date": deal.next_step_date,
        "last_activity_at": deal.last_activity_at,
        "product_name": deal.product_name,
        "product_line": deal.product_line,
        "crm_url": deal.crm_url,
        "created_at": deal.created_at,
        "closed_at": deal.closed_at,
        "crm_modified_at": deal.crm_modified_at,
        # A deal the CRM serves again is live again, even if it was deleted before.
        "deleted_at": None,
    }


def _differs(stored: Any, incoming: Any) -> bool:
    if isinstance(stored, dt.datetime) and isinstance(incoming, dt.datetime):
        # SQLite hands back UTC with the offset re-attached; compare instants, not representations.
        return stored.astimezone(dt.UTC) != incoming.astimezone(dt.UTC)
    if isinstance(stored, float) and isinstance(incoming, float):
        return abs(stored - incoming) > 1e-9
    return stored != incoming
