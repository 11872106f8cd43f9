"""Process gaps over time: a gap opens when a rule starts firing on a deal and is resolved when it stops.

A scan judges only the deals whose gaps may have changed since the last complete scan: deals
written since, deals of owners whose time zone or team changed, and deals where time crossed a
date or a day limit (bot/coaching/rescan.py says how each is found). The first scan, and one
after a playbook change, judges every open deal. Either way the gaps end as a full scan leaves them.

Deals are judged a chunk at a time, in id order, with that chunk's open gaps, and each chunk is
committed: memory stays flat however many deals there are, and an interrupted scan has lost
nothing (the next one picks up). A scan that finds nothing changed writes nothing.

- Open gaps on a deal that closed or was deleted are resolved: the deal no longer needs fixing.
- A snoozed gap stays open (the rule still fires); it is only left out of nudges until its
  `snoozed_until` date, and its manager sees why (`team_snoozes`).
- Person-level findings (single_product_line) are computed when needed, never stored: a gap row
  belongs to a deal (`process_gaps.deal_id` is required), and a finding about a whole pipeline
  has no deal. `person_findings` gives them for one rep; the scan counts them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, NamedTuple, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Result, Row, Table, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from bot.access import audit, people_under
from bot.coaching import rescan
from bot.coaching.playbook import NudgeSettings, Playbook, StageRule
from bot.coaching.rules import (
    Finding,
    PipelineShape,
    detail_changes_at,
    evaluate_deal,
    evaluate_person,
    evaluate_pipeline,
    impact,
    rank_key,
)
from bot.database import IN_CHUNK, Busy, exclusive, in_chunks, session_scope
from bot.models import Deal, GapScanState, Person, ProcessGap, ProductLine

CHUNK_SIZE = 5_000  # deals per read and commit: big enough to amortise round trips, small enough to stay flat


class GapError(Exception):
    """A gap request that cannot be done (unknown gap, a date in the past, a scan already running)."""


@dataclass
class ScanSummary:
    """What the gaps are after a scan and what it changed. Two scans that leave the same are equal,
    however they got there (`deals_judged` and `full_scan` say how, and are not compared)."""

    opened: int = 0
    resolved: int = 0
    # Gaps open before the scan that still fire (snoozed ones included).
    still_open: int = 0
    # Open deals the gaps now stand for: judged by this scan or unchanged since they were.
    deals_scanned: int = 0
    # Open gaps rewritten: detail or severity changed ("40 days in Demo" becoming "41 days"),
    # or when their day count next moves on.
    updated: int = 0
    # Open gaps snoozed past today: kept open, left out of nudges.
    snoozed: int = 0
    # Reps with a person-level finding (single_product_line); computed, not stored.
    person_findings: int = 0
    # Deals whose rules ran in this scan (every open deal in a full scan).
    deals_judged: int = field(default=0, compare=False)
    # Why this scan judged every open deal; None when it judged only what changed.
    full_scan: str | None = field(default=None, compare=False)


class GapChange(NamedTuple):
    """What a scan does, or would do, about one rule on one deal (a tuple: a scan makes millions)."""

    kind: Literal["open", "keep", "update", "resolve"]
    deal_id: int
    rule: str
    severity: str
    detail: str | None
    impact: float = 0.0
    gap_id: int | None = None
    snoozed_until: dt.date | None = None
    last_nudged_at: dt.datetime | None = None
    # When passing time alone next changes the detail (see rules.detail_changes_at).
    changes_at: dt.datetime | None = None


@dataclass(frozen=True)
class NudgeItem:
    gap_id: int | None
    deal_id: int
    deal_name: str
    crm_url: str | None
    rule: str
    severity: str
    detail: str | None
    impact: float
    snoozed_until: dt.date | None = None
    last_nudged_at: dt.datetime | None = None
    # What a nudge says of the deal, and the facts its "why" quotes (the rep's team playbook's limits).
    account_name: str | None = None
    amount: Decimal | None = None
    currency: str = "USD"
    stage: str | None = None
    stage_entered_at: dt.datetime | None = None
    next_step: str | None = None
    next_step_date: dt.date | None = None
    close_date: dt.date | None = None
    last_activity_at: dt.datetime | None = None
    stage_max_days: int | None = None
    idle_limit_days: int | None = None


@dataclass(frozen=True)
class SnoozedGap:
    gap_id: int
    rep_name: str
    rep_email: str
    deal_name: str
    rule: str
    detail: str | None
    snoozed_until: dt.date
    reason: str | None
    rep_id: int = 0


class ScanDeal(NamedTuple):
    """What the rules read of a deal, plus its id, owner and link (a tuple: reading it is cheap)."""

    id: int
    owner_id: int | None
    name: str
    amount: Decimal | None
    stage: str
    is_closed: bool
    close_date: dt.date | None
    stage_entered_at: dt.datetime | None
    next_step: str | None
    next_step_date: dt.date | None
    product_line: str | None
    crm_probability: float | None
    last_activity_at: dt.datetime | None
    product_name: str | None
    account_name: str | None
    crm_url: str | None


class OpenGap(NamedTuple):
    id: int
    deal_id: int
    rule: str
    severity: str
    detail: str | None
    snoozed_until: dt.date | None
    last_nudged_at: dt.datetime | None


class ScanGap(NamedTuple):
    """An open gap as the scan reads it: what OpenGap holds, and when its day count next moves on."""

    id: int
    deal_id: int
    rule: str
    severity: str
    detail: str | None
    snoozed_until: dt.date | None
    last_nudged_at: dt.datetime | None
    changes_at: dt.datetime | None


SCAN_COLUMNS = tuple(getattr(Deal, name) for name in ScanDeal._fields)
GAP_COLUMNS = tuple(getattr(ProcessGap, name) for name in OpenGap._fields)
_SCAN_GAP_COLUMNS = tuple(getattr(ProcessGap, name) for name in ScanGap._fields)


def read_deals(connection: Connection, *criteria: ColumnElement[bool], limit: int | None = None) -> list[ScanDeal]:
    """Open, live deals matching `criteria`, in id order."""
    query = select(*SCAN_COLUMNS).where(Deal.is_closed.is_(False), Deal.deleted_at.is_(None), *criteria).order_by(Deal.id)
    return [ScanDeal._make(row) for row in connection.execute(query.limit(limit))]


def read_open_gaps(connection: Connection, *criteria: ColumnElement[bool]) -> list[OpenGap]:
    query = select(*GAP_COLUMNS).join(Deal, Deal.id == ProcessGap.deal_id).where(ProcessGap.resolved_at.is_(None), *criteria)
    return [OpenGap._make(row) for row in connection.execute(query)]


_PEOPLE = select(Person.id, Person.email, Person.manager_id, Person.timezone)
_chain = _PEOPLE.where(Person.id == bindparam("person_id")).cte("manager_chain", recursive=True)
# UNION, not UNION ALL: a loop in the org chart yields a row already found, which ends the recursion.
_MANAGER_CHAIN = select(_chain.union(_PEOPLE.join(_chain, Person.id == _chain.c.manager_id)))


class Org:
    """Who manages whom and where everyone is: the team playbook and the local date of each deal owner.

    Read once per scan; the people table is small next to deals. `around` reads only that person
    and their managers: enough for their own playbook and date, and what one rep's nudge needs
    (a nudge run for every rep must not read the whole people table once per rep).
    """

    def __init__(self, session: Session, playbook: Playbook, default_timezone: str = "UTC", *, around: int | None = None) -> None:
        self.base = playbook
        self.default_timezone = default_timezone
        rows = session.execute(_PEOPLE) if around is None else session.execute(_MANAGER_CHAIN, {"person_id": around})
        self.people = {row.id: (row.email, row.manager_id, row.timezone) for row in rows}
        self._playbooks: dict[int | None, Playbook] = {}
        self._zones: dict[str, ZoneInfo] = {}
        self._todays: dict[tuple[str, dt.datetime], dt.date] = {}

    def managers(self, person_id: int | None) -> list[str]:
        """Emails of the person's managers, nearest first (a loop in the org chart stops the walk)."""
        emails: list[str] = []
        seen = {person_id}
        manager_id = self.people.get(person_id, (None, None, None))[1] if person_id is not None else None
        while manager_id is not None and manager_id not in seen and manager_id in self.people:
            seen.add(manager_id)
            email, manager_id, _ = self.people[manager_id]
            emails.append(email)
        return emails

    def playbook(self, person_id: int | None) -> Playbook:
        if person_id not in self._playbooks:
            self._playbooks[person_id] = self.base.for_team(self.managers(person_id))
        return self._playbooks[person_id]

    def zone(self, person_id: int | None) -> ZoneInfo:
        name = self.people.get(person_id, (None, None, None))[2] if person_id is not None else None
        name = name or self.default_timezone
        if name not in self._zones:
            self._zones[name] = ZoneInfo(name)
        return self._zones[name]

    def today(self, person_id: int | None, now: dt.datetime) -> dt.date:
        zone = self.zone(person_id)
        # Asked once per deal in a scan: cached per (zone, instant).
        key = (zone.key, now)
        if key not in self._todays:
            self._todays[key] = now.astimezone(zone).date()
        return self._todays[key]


def plan_changes(
    deals: Sequence[ScanDeal], open_gaps: Sequence[OpenGap | ScanGap], org: Org, now: dt.datetime
) -> list[GapChange]:
    """The changes that bring `open_gaps` in line with the rules firing on `deals` (pure: writes nothing).

    `open_gaps` are the unresolved gaps on these deals and on any deal no longer open; the
    latter are resolved. Two open gaps for one (deal, rule), which the database's unique index
    now refuses, are healed: the older is kept, the other resolved. A gap read without its
    `changes_at` (an OpenGap) is kept when its severity and detail still hold.
    """
    by_key: dict[tuple[int, str], OpenGap | ScanGap] = {}
    changes: list[GapChange] = []
    for stored in sorted(open_gaps, key=lambda gap: gap.id):
        if (stored.deal_id, stored.rule) in by_key:
            changes.append(GapChange("resolve", stored.deal_id, stored.rule, stored.severity, stored.detail, gap_id=stored.id))
        else:
            by_key[(stored.deal_id, stored.rule)] = stored
    for deal in deals:
        playbook = org.playbook(deal.owner_id)
        for finding in evaluate_deal(deal, playbook, now, org.today(deal.owner_id, now)):
            gap = by_key.pop((deal.id, finding.rule)) if (deal.id, finding.rule) in by_key else None
            changes_at = detail_changes_at(finding.rule, deal, now)
            if gap is None:
                changes.append(
                    GapChange("open", deal.id, finding.rule, finding.severity, finding.detail, finding.impact,
                              changes_at=changes_at)
                )  # fmt: skip
                continue
            stored_changes_at = gap.changes_at if isinstance(gap, ScanGap) else changes_at  # an OpenGap has none
            same = (gap.severity, gap.detail, stored_changes_at) == (finding.severity, finding.detail, changes_at)
            kind: Literal["keep", "update"] = "keep" if same else "update"
            changes.append(
                GapChange(kind, deal.id, finding.rule, finding.severity, finding.detail, finding.impact, gap.id,
                          gap.snoozed_until, gap.last_nudged_at, changes_at)
            )  # fmt: skip
    changes.extend(
        GapChange("resolve", gap.deal_id, gap.rule, gap.severity, gap.detail, gap_id=gap.id) for gap in by_key.values()
    )
    return changes


def scan_gaps(
    session_factory: sessionmaker[Session],
    playbook: Playbook,
    now: dt.datetime,
    catalogue_lines: Sequence[str] | None = None,
    *,
    default_timezone: str = "UTC",
    chunk_size: int = CHUNK_SIZE,
    full: bool = False,
) -> ScanSummary:
    """Open, keep current and resolve the process gaps of every open deal, as of `now`.

    Only the deals whose gaps may have changed since the last scan are judged, unless `full`.
    """
    try:
        with exclusive(session_factory.kw["bind"], "gap_scan"):
            return _scan(session_factory, playbook, now, catalogue_lines, default_timezone, chunk_size, full)
    except Busy:
        raise GapError("another gap scan is running; this one stopped without changes") from None


_OPEN_GAPS = (ProcessGap.resolved_at.is_(None),)


def _scan(
    session_factory: sessionmaker[Session],
    playbook: Playbook,
    now: dt.datetime,
    catalogue_lines: Sequence[str] | None,
    default_timezone: str,
    chunk_size: int,
    full: bool,
) -> ScanSummary:
    summary = ScanSummary()
    with session_factory() as session:
        connection = session.connection()
        state = session.get(GapScanState, rescan.STATE_ID)
        # Taken before any deal is read: a write from here on is seen now or by the next scan.
        mark, in_flight = rescan.change_mark(connection, state)
        org = Org(session, playbook, default_timezone)
        catalogue = catalogue_lines if catalogue_lines is not None else catalogue_for(session, playbook)
        open_before = connection.scalar(select(func.count()).select_from(ProcessGap).where(*_OPEN_GAPS)) or 0
        owners = rescan.owner_entries(org)
        fingerprint = rescan.playbook_fingerprint(playbook)
        summary.full_scan = "asked for" if full else rescan.why_full(state, fingerprint, now, open_before)
        ids = None
        if summary.full_scan is None:
            assert state is not None
            ids = rescan.deals_to_judge(connection, state, org, owners, now)
            if ids is None:
                summary.full_scan = "too many deals to judge one by one"
    if ids is None:
        _judge_all(session_factory, org, now, chunk_size, summary)
    else:
        _judge_some(session_factory, org, now, ids, chunk_size, summary)
    summary.still_open = open_before - summary.resolved
    with session_scope(session_factory) as session:
        connection = session.connection()
        summary.deals_scanned, summary.person_findings = _count_pipelines(connection, org, catalogue)
        summary.snoozed = _count_snoozed(connection, org, now)
        if ids is None or ids:
            # A scan that had no deal to judge leaves the state as it was: still true, and nothing written.
            _save_state(
                session,
                state,
                fingerprint,
                now,
                mark,
                in_flight,
                owners,
                summary,
                open_before,
                full=summary.full_scan is not None,
            )
    return summary


def _judge_all(session_factory: sessionmaker[Session], org: Org, now: dt.datetime, chunk_size: int, summary: ScanSummary) -> None:
    after_id = 0
    while True:
        with session_scope(session_factory) as session:
            # Core execution: plain rows, without the ORM's per-row bookkeeping.
            connection = session.connection()
            deals = read_deals(connection, Deal.id > after_id, limit=chunk_size)
            # The gaps of this id range, including those on deals closed since the last scan.
            in_range = [ProcessGap.deal_id > after_id, *_OPEN_GAPS]
            if deals:
                in_range.append(ProcessGap.deal_id <= deals[-1].id)
            open_gaps = [ScanGap._make(row) for row in connection.execute(select(*_SCAN_GAP_COLUMNS).where(*in_range))]
            changes = plan_changes(deals, open_gaps, org, now)
            _apply(connection, changes, now)
        _count(summary, changes, deals)
        if not deals:
            break
        after_id = deals[-1].id


def _judge_some(
    session_factory: sessionmaker[Session], org: Org, now: dt.datetime, ids: list[int], chunk_size: int, summary: ScanSummary
) -> None:
    """Judge the deals `ids` (closed and deleted ones resolve their gaps), a chunk at a time."""
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        with session_scope(session_factory) as session:
            connection = session.connection()
            deals: list[ScanDeal] = []
            open_gaps: list[ScanGap] = []
            for part in range(0, len(chunk), rescan.IN_CHUNK):
                some = chunk[part : part + rescan.IN_CHUNK]
                deals.extend(read_deals(connection, Deal.id.in_(some)))
                query = select(*_SCAN_GAP_COLUMNS).where(ProcessGap.deal_id.in_(some), *_OPEN_GAPS)
                open_gaps.extend(ScanGap._make(row) for row in connection.execute(query))
            changes = plan_changes(deals, open_gaps, org, now)
            _apply(connection, changes, now)
        _count(summary, changes, deals)


def _save_state(
    session: Session,
    state: GapScanState | None,
    fingerprint: str,
    now: dt.datetime,
    mark: int,
    in_flight: list[int],
    owners: dict[str, str],
    summary: ScanSummary,
    open_before: int,
    *,
    full: bool,
) -> None:
    if state is None:
        state = GapScanState(id=rescan.STATE_ID, full_scan_at=now)
    state = session.merge(state)
    state.playbook_fingerprint, state.scanned_at = fingerprint, now
    state.open_gaps, state.open_deals = open_before + summary.opened - summary.resolved, summary.deals_scanned
    state.change_mark, state.changes_in_flight, state.owners = mark, in_flight, owners
    if full:
        state.full_scan_at = now


_GAPS = cast(Table, ProcessGap.__table__)  # a declarative model's table is a Table; the stubs say FromClause
# Core executemany statements: the ORM's bulk paths cost more per row than the rules do.
# ON CONFLICT: a gap another scan opened meanwhile (SQLite has no advisory lock) is left to it.
_OPEN = {
    name: dialect.insert(_GAPS).on_conflict_do_nothing(
        index_elements=["deal_id", "rule"], index_where=_GAPS.c.resolved_at.is_(None)
    )
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_UPDATE = (
    update(_GAPS)
    .where(_GAPS.c.id == bindparam("gap_id"))
    .values(severity=bindparam("severity"), detail=bindparam("detail"), changes_at=bindparam("changes_at"))
)
_RESOLVE = update(_GAPS).where(_GAPS.c.id == bindparam("gap_id")).values(resolved_at=bindparam("resolved_at"))


def _apply(connection: Connection, changes: Iterable[GapChange], now: dt.datetime) -> None:
    opened, updated, resolved = [], [], []
    for c in changes:
        if c.kind == "open":
            opened.append({"deal_id": c.deal_id, "rule": c.rule, "severity": c.severity, "detail": c.detail, "opened_at": now,
                           "changes_at": c.changes_at})  # fmt: skip
        elif c.kind == "update":
            updated.append({"gap_id": c.gap_id, "severity": c.severity, "detail": c.detail, "changes_at": c.changes_at})
        elif c.kind == "resolve":
            resolved.append({"gap_id": c.gap_id, "resolved_at": now})
    for statement, rows in ((_OPEN[connection.dialect.name], opened), (_UPDATE, updated), (_RESOLVE, resolved)):
        if rows:
            connection.execute(statement, rows)


def _count(summary: ScanSummary, changes: Sequence[GapChange], deals: Sequence[ScanDeal]) -> None:
    summary.deals_judged += len(deals)
    for change in changes:
        summary.opened += change.kind == "open"
        summary.resolved += change.kind == "resolve"
        summary.updated += change.kind == "update"


def _count_snoozed(connection: Connection, org: Org, now: dt.datetime) -> int:
    """Open gaps snoozed past their owner's today (snoozes are few: an index holds just those)."""
    # No time zone is more than a day from UTC: later dates are all an owner's today could be before.
    earliest = now.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    rows = connection.execute(
        select(ProcessGap.snoozed_until, Deal.owner_id)
        .join(Deal, Deal.id == ProcessGap.deal_id)
        .where(*_OPEN_GAPS, ProcessGap.snoozed_until.is_not(None), ProcessGap.snoozed_until >= earliest)
    )
    return sum(1 for snoozed_until, owner_id in rows if snoozed_until is not None and snoozed_until > org.today(owner_id, now))


def _count_pipelines(connection: Connection, org: Org, catalogue: Sequence[str]) -> tuple[int, int]:
    """(open deals, reps with a person-level finding), from one grouped read of a small index."""
    rows = connection.execute(
        select(Deal.owner_id, Deal.product_line, func.count()).where(*rescan.OPEN).group_by(Deal.owner_id, Deal.product_line)
    )
    open_deals = 0
    shapes: dict[int, PipelineShape] = {}
    for owner_id, line, deals in rows:
        open_deals += deals
        if owner_id is not None and line:
            # The rules ask only "one line or more than one"; stake sets a finding's rank, not whether it fires.
            shape = shapes.setdefault(owner_id, PipelineShape())
            shape.lined_deals += deals
            shape.lines.add(line)
    found = sum(1 for owner_id, shape in shapes.items() if evaluate_pipeline(shape, catalogue, org.playbook(owner_id)))
    return open_deals, found


def catalogue_for(session: Session, playbook: Playbook) -> tuple[str, ...]:
    """The product-line catalogue: the playbook's, else the lines found in the CRM."""
    return playbook.product_lines or tuple(session.scalars(select(ProductLine.name).order_by(ProductLine.name)))


def time_to_fix(gap: ProcessGap) -> dt.timedelta | None:
    """How long the gap was open before it was resolved; None while it is open."""
    return None if gap.resolved_at is None else gap.resolved_at - gap.opened_at


def snooze_gap(
    session: Session, gap_id: int, until: dt.date, reason: str, now: dt.datetime, *, today: dt.date | None = None,
    by: Person | None = None,
) -> ProcessGap:  # fmt: skip
    """Keep an open gap out of nudges until `until` (a later date than `today`, default now's UTC date); audited, by `by`."""
    gap = session.get(ProcessGap, gap_id)
    if gap is None or gap.resolved_at is not None:
        raise GapError(f"gap {gap_id} is not open: there is nothing to snooze")
    if until <= (today or now.date()):
        raise GapError(f"snooze until a later date than today, not {until:%Y-%m-%d}")
    reason = reason.strip()
    if not reason:
        raise GapError("say why the gap is snoozed: the manager sees the reason")
    gap.snoozed_until, gap.snooze_reason = until, reason[:500]
    session.flush()
    owner_id = session.scalar(select(Deal.owner_id).where(Deal.id == gap.deal_id))
    owner = session.get(Person, owner_id) if owner_id is not None else None
    audit(
        session,
        by,
        "snooze_gap",
        now,
        subject=owner,
        detail={"gap_id": gap.id, "until": until.isoformat(), "reason": gap.snooze_reason},
    )
    return gap


def team_snoozes(session: Session, manager_id: int, today: dt.date) -> list[SnoozedGap]:
    """Open gaps snoozed past `today` on deals of everyone under the manager, soonest back first."""
    return snoozes_of(session, people_under(session, manager_id), today)


def snoozes_of(session: Session, rep_ids: Iterable[int], today: dt.date) -> list[SnoozedGap]:
    """Open gaps snoozed past `today` on the deals of `rep_ids`, with the rep's reason, soonest back first.

    The one read of snoozes: the digest, `/teamperf @rep` and the manager's App Home show these rows.
    """
    found: list[SnoozedGap] = []
    for chunk in in_chunks(sorted(set(rep_ids))):
        rows = session.execute(
            select(ProcessGap, Deal.name.label("deal_name"), Person.name.label("rep_name"), Person.email, Person.id)
            .join(Deal, Deal.id == ProcessGap.deal_id)
            .join(Person, Person.id == Deal.owner_id)
            .where(
                Deal.owner_id.in_(chunk),
                ProcessGap.resolved_at.is_(None),
                ProcessGap.snoozed_until > today,
            )
        )
        for gap, deal_name, rep_name, email, rep_id in rows:
            assert gap.snoozed_until is not None  # the query asks for snoozes that last past today
            found.append(
                SnoozedGap(gap.id, rep_name, email, deal_name, gap.rule, gap.detail, gap.snoozed_until, gap.snooze_reason, rep_id)
            )
    return sorted(found, key=lambda snoozed: (snoozed.snoozed_until, snoozed.rep_name, snoozed.deal_name, snoozed.rule))


def is_nudgeable(
    snoozed_until: dt.date | None, last_nudged_at: dt.datetime | None, today: dt.date, zone: ZoneInfo, nudges: NudgeSettings
) -> bool:
    """Not snoozed past today, and not carried by a nudge in the last `renudge_days` local days."""
    if snoozed_until is not None and snoozed_until > today:
        return False
    return last_nudged_at is None or (today - last_nudged_at.astimezone(zone).date()).days >= nudges.renudge_days


def choose_for_nudge(items: Iterable[NudgeItem], playbook: Playbook, today: dt.date, zone: ZoneInfo) -> list[NudgeItem]:
    """The items one nudge carries: nudgeable ones, biggest impact first, at most `max_items`."""
    eligible = [item for item in items if is_nudgeable(item.snoozed_until, item.last_nudged_at, today, zone, playbook.nudges)]
    eligible.sort(key=lambda item: (*rank_key(item.rule, item.severity, item.impact), item.deal_name))
    return eligible[: playbook.nudges.max_items]


# The open gaps on reps' open deals with what a nudge shows and weighs of each deal, in one
# read: the morning run reads this once for every rep, so no second query and no unused columns.
_NUDGE_GAPS = (
    select(*GAP_COLUMNS, Deal.owner_id, Deal.name.label("deal_name"), Deal.crm_url, Deal.amount, Deal.stage,
           Deal.crm_probability, Deal.account_name, Deal.currency, Deal.stage_entered_at, Deal.next_step,
           Deal.next_step_date, Deal.close_date, Deal.last_activity_at)
    .join(Deal, Deal.id == ProcessGap.deal_id)
    .where(Deal.is_closed.is_(False), Deal.deleted_at.is_(None), ProcessGap.resolved_at.is_(None))
)  # fmt: skip
# A gap the rep said they fixed waits for the next sync to settle it (bot/coaching/fixes.py), but
# not for ever: with no sync settling it in this many days (scheduled syncs off, none run by hand),
# the gap is nudged again. A sync settles the claim later all the same.
FIX_CLAIM_WAIT_DAYS = 3
FEW_REPS = IN_CHUNK  # up to this many reps, their gaps are read by owner; more, every open gap is read once
_STREAM = {"stream_results": True, "yield_per": CHUNK_SIZE}  # a server-side cursor on PostgreSQL: memory stays flat


def nudge_items(
    session: Session, person_id: int, playbook: Playbook, now: dt.datetime, *, default_timezone: str = "UTC"
) -> list[NudgeItem]:
    """What a nudge to the rep would carry now, from the stored open gaps on their open deals."""
    return nudge_items_by_rep(session, [person_id], playbook, now, default_timezone=default_timezone).get(person_id, [])


def nudge_items_by_rep(
    session: Session, person_ids: Iterable[int], playbook: Playbook, now: dt.datetime, *, default_timezone: str = "UTC",
    counts: dict[int, int] | None = None,
) -> dict[int, list[NudgeItem]]:  # fmt: skip
    """`nudge_items` for each of the reps (those with nothing to carry left out), from one read of their gaps.

    The items and their order are choose_for_nudge's: only the best `max_items` of each rep's
    gaps are kept while reading, so memory grows with reps, not with gaps. `counts`, when given,
    receives how many nudgeable gaps each rep has in all (what "and N more" and a rank count).
    """
    wanted = set(person_ids)
    if not wanted:
        return {}
    # One rep: just their manager chain; many: the whole people table, small next to the gaps.
    org = Org(session, playbook, default_timezone, around=next(iter(wanted)) if len(wanted) == 1 else None)
    reps = {person_id: _RepGaps(org, person_id, now) for person_id in wanted}
    query = _NUDGE_GAPS.where(not_waiting_for_a_recheck(now), *_surely_not_nudgeable_left_out(reps.values(), now))
    rows: Result[Any]
    if len(wanted) <= FEW_REPS:
        rows = session.connection().execute(query.where(Deal.owner_id.in_(wanted)))
    else:
        rows = session.connection().execute(query, execution_options=_STREAM)
    # Unpacked, not read by attribute: this loop runs once per open gap, and a Row's attributes cost.
    for row in rows:
        # The first 13 columns: what choosing needs; the rest are read only for the chosen.
        gap_id, _, rule, severity, _, snoozed_until, last_nudged_at, owner_id, deal_name, _, amount, stage, probability = row[:13]
        rep = reps.get(owner_id)
        if rep is None:
            continue
        # Most gaps were never snoozed nor nudged: nudgeable without asking.
        if (snoozed_until is None and last_nudged_at is None) or is_nudgeable(
            snoozed_until, last_nudged_at, rep.today, rep.zone, rep.playbook.nudges
        ):
            rep.considered += 1
            rep.consider(row, gap_id, rule, severity, deal_name, rep.stake(amount, stage, probability))
    if counts is not None:
        counts.update({person_id: rep.considered for person_id, rep in reps.items() if rep.considered})
    return {person_id: items for person_id, rep in reps.items() if (items := rep.chosen())}


class _RepGaps:
    """One rep's best gaps so far while all reps' gaps stream past."""

    def __init__(self, org: Org, person_id: int, now: dt.datetime) -> None:
        self.playbook = org.playbook(person_id)
        self.today, self.zone = org.today(person_id, now), org.zone(person_id)
        self.max_items = self.playbook.nudges.max_items
        # (rank, impact, row): the rows stay rows until chosen, as most gaps are not.
        self.best: list[tuple[tuple[float, int, int, str, int], float, Row[Any]]] = []
        # The impact of the worst gap kept once `max_items` are: a gap below it can never be chosen.
        self.floor = -math.inf
        self.stages: dict[str, StageRule | None] = {}
        self.considered = 0  # nudgeable gaps seen, chosen or not
        idle = self.playbook.rules.get("no_activity")
        self.idle_limit_days: int | None = idle.params.get("days") if idle is not None else None

    def stake(self, amount: Decimal | None, stage: str, crm_probability: float | None) -> float:
        """rules.money_at_stake of a deal with these values, the stage looked up once per rep."""
        if stage not in self.stages:
            self.stages[stage] = self.playbook.stage(stage)
        stage_rule = self.stages[stage]
        probability = stage_rule.probability if stage_rule is not None else crm_probability
        return float(amount or 0) * float(probability or 0)

    def consider(self, row: Row[Any], gap_id: int, rule: str, severity: str, deal_name: str, stake: float) -> None:
        weighed = impact(severity, stake)
        if weighed < self.floor:
            return
        # choose_for_nudge's order; the gap id last, as its stable sort of gaps read in id order.
        self.best.append(((*rank_key(rule, severity, weighed), deal_name, gap_id), weighed, row))
        if len(self.best) > 4 * self.max_items:
            self._trim()

    def _trim(self) -> None:
        self.best.sort(key=lambda ranked: ranked[0])
        del self.best[self.max_items :]
        if len(self.best) == self.max_items:
            self.floor = self.best[-1][1]

    def chosen(self) -> list[NudgeItem]:
        self._trim()
        return [
            NudgeItem(row.id, row.deal_id, row.deal_name, row.crm_url, row.rule, row.severity, row.detail, stake,
                      row.snoozed_until, row.last_nudged_at, row.account_name, row.amount, row.currency, row.stage,
                      row.stage_entered_at, row.next_step, row.next_step_date, row.close_date, row.last_activity_at,
                      self._max_days(row.stage), self.idle_limit_days)
            for _, stake, row in self.best
        ]  # fmt: skip

    def _max_days(self, stage: str) -> int | None:
        stage_rule = self.stages.get(stage) if stage in self.stages else self.playbook.stage(stage)
        return stage_rule.max_days if stage_rule is not None else None


def not_waiting_for_a_recheck(now: dt.datetime) -> ColumnElement[bool]:
    """No "I fixed it" claim on the gap, or one older than FIX_CLAIM_WAIT_DAYS that no sync settled."""
    return or_(ProcessGap.fix_claimed_at.is_(None), ProcessGap.fix_claimed_at <= now - dt.timedelta(days=FIX_CLAIM_WAIT_DAYS))


def _surely_not_nudgeable_left_out(reps: Iterable[_RepGaps], now: dt.datetime) -> list[ColumnElement[bool]]:
    """Criteria that leave out gaps no rep could be nudged about today, so they are never read.

    Loose on purpose; is_nudgeable decides exactly. A gap snoozed past the latest today anywhere
    (no time zone is more than a day ahead of UTC) is left out, and so is one nudged too lately
    for the shortest `renudge_days`: local dates `renudge_days` apart in one zone are more than
    `renudge_days - 1` days apart, give or take a daylight-saving shift (3 hours covers any).
    """
    utc_today = now.astimezone(dt.UTC).date()
    renudge_days = min(rep.playbook.nudges.renudge_days for rep in reps)
    nudged_before = now - dt.timedelta(days=renudge_days - 1) + dt.timedelta(hours=3)
    return [
        or_(ProcessGap.snoozed_until.is_(None), ProcessGap.snoozed_until <= utc_today + dt.timedelta(days=1)),
        or_(ProcessGap.last_nudged_at.is_(None), ProcessGap.last_nudged_at < nudged_before),
    ]


def person_findings(
    session: Session, person_id: int, playbook: Playbook, catalogue: Sequence[str] | None = None
) -> list[Finding]:
    """Person-level findings for one rep (computed from their open deals; never stored)."""
    team_playbook = Org(session, playbook).playbook(person_id)
    deals = read_deals(session.connection(), Deal.owner_id == person_id)
    return evaluate_person(deals, catalogue if catalogue is not None else catalogue_for(session, playbook), team_playbook)
