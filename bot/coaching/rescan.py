"""Which deals a gap scan must judge again, and what it remembers to know that next time.

A deal's gaps depend on its own row, its owner (time zone and team playbook), the playbook and
the clock. After a complete scan, only these make a deal's gaps differ from what is stored:

- its row changed: `deals.change_seq` is set by every write (bot/models/crm.py), and the scan
  keeps a mark of what it had seen (`change_mark`, and on PostgreSQL the transactions still
  running then, which commit later with smaller ids);
- its owner's time zone or team changed, or the owner was deleted (the database then clears
  `owner_id` without the row's write counter moving): the owners' entries are kept and compared;
- time crossed a date or a day limit (bot/coaching/rules.py: `time_limits`), found with range
  predicates on indexed deal columns, or a firing rule's day count moved on (`changes_at` on the gap).

Anything else means a full scan: no state yet, a changed playbook (fingerprinted), a clock that went
back, or open gaps that changed outside the scan (their count is kept and compared).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, func, or_, select, text

from bot.coaching.playbook import Playbook
from bot.coaching.rules import TimeLimits, time_limits
from bot.models import Deal, GapScanState, ProcessGap

if TYPE_CHECKING:
    from bot.coaching.gaps import Org

STATE_ID = 1
# Beyond this many deals to judge again (or this share of the open ones) a full scan reads less
# per deal than looking them up by id, and the set of ids would no longer be small.
MAX_IDS = 200_000
MAX_SHARE = 0.5
IN_CHUNK = 500  # ids per IN (...): well under SQLite's bound-parameter limit
OPEN = (Deal.is_closed.is_(False), Deal.deleted_at.is_(None))
_UNOWNED = ""


def playbook_fingerprint(playbook: Playbook) -> str:
    """A digest of what the rules read of a playbook: stages, aliases, required fields, rules, teams."""
    return _digest((playbook.stages, playbook.aliases, playbook.required_fields, playbook.rules, playbook.teams))


def _digest(value: object) -> str:
    # The playbook's parts are frozen dataclasses and read-only mappings whose repr lists every value.
    return hashlib.sha256(repr(value).encode()).hexdigest()


def owner_entries(org: Org) -> dict[str, str]:
    """Per owner (person id as text, "" for deals without one): email, time zone and team playbook."""
    playbooks: dict[int, str] = {}

    def team(playbook: Playbook) -> str:
        if id(playbook) not in playbooks:
            playbooks[id(playbook)] = _digest((playbook.stages, playbook.rules, playbook.required_fields))[:16]
        return playbooks[id(playbook)]

    entries = {_UNOWNED: f" {org.zone(None).key} {team(org.base)}"}
    for person_id, (email, _, _) in org.people.items():
        entries[str(person_id)] = f"{email} {org.zone(person_id).key} {team(org.playbook(person_id))}"
    return entries


def change_mark(connection: Connection, state: GapScanState | None) -> tuple[int, list[int]]:
    """Where deal writes stand now: (mark, transactions still running), taken before any deal is read."""
    if connection.dialect.name == "postgresql":
        row = connection.execute(
            text(
                "SELECT CAST(CAST(pg_snapshot_xmax(s) AS TEXT) AS BIGINT),"
                " ARRAY(SELECT CAST(CAST(pg_snapshot_xip(s) AS TEXT) AS BIGINT))"
                " FROM (SELECT pg_current_snapshot() AS s) AS now_running"
            )
        ).one()
        return int(row[0]), sorted(int(xid) for xid in row[1])
    largest = connection.scalar(select(func.coalesce(func.max(Deal.change_seq), 0)))
    return max(int(largest or 0), state.change_mark if state is not None else 0), []


def changed_since(dialect: str, state: GapScanState) -> ColumnElement[bool]:
    """Deals written since the scan that left `state` took its mark."""
    if dialect != "postgresql":
        return Deal.change_seq > state.change_mark  # the largest value seen then
    # One past the highest finished transaction id then (any id from there on was still running
    # or not yet given out), and the lower ones still running.
    if not state.changes_in_flight:
        return Deal.change_seq >= state.change_mark
    return or_(Deal.change_seq >= state.change_mark, Deal.change_seq.in_(state.changes_in_flight))


def why_full(state: GapScanState | None, fingerprint: str, now: dt.datetime, open_gaps: int) -> str | None:
    """Why this scan must judge every deal, or None when it may judge only what changed."""
    if state is None:
        return "no earlier scan"
    if state.playbook_fingerprint != fingerprint:
        return "the playbook changed"
    if now < state.scanned_at:
        return "the clock is before the last scan's"
    if open_gaps != state.open_gaps:
        return "open gaps changed outside the scan"
    return None


def deals_to_judge(
    connection: Connection, state: GapScanState, org: Org, owners: dict[str, str], now: dt.datetime
) -> list[int] | None:
    """Ids of the deals whose gaps may differ from what is stored, in id order; None when there
    are more than MAX_IDS, or MAX_SHARE of the open deals (a full scan is then cheaper)."""
    ids: set[int] = set()
    limit = min(MAX_IDS, max(int(state.open_deals * MAX_SHARE), 1_000))

    def add(query: Any) -> bool:
        # Streamed (a server-side cursor on PostgreSQL), so a day's worth of due deals stops at the limit.
        for deal_id in connection.execution_options(stream_results=True, yield_per=10_000).scalars(query):
            ids.add(deal_id)
            if len(ids) > limit:
                return False
        return True

    searches = [select(Deal.id).where(changed_since(connection.dialect.name, state))]
    searches.extend(_owners_changed(state, owners))
    searches.append(
        select(ProcessGap.deal_id).where(
            ProcessGap.resolved_at.is_(None), ProcessGap.changes_at.is_not(None), ProcessGap.changes_at <= now
        )
    )
    searches.extend(_crossed_limits(org, state.scanned_at, now))
    for query in searches:
        if not add(query):
            return None
    return sorted(ids)


def _owners_changed(state: GapScanState, owners: dict[str, str]) -> Iterable[Any]:
    before = state.owners
    changed = sorted(int(key) for key, entry in owners.items() if key != _UNOWNED and before.get(key) != entry)
    gone = before.keys() - owners.keys()
    for start in range(0, len(changed), IN_CHUNK):
        yield select(Deal.id).where(*OPEN, Deal.owner_id.in_(changed[start : start + IN_CHUNK]))
    # A deleted owner's deals lost their owner_id without being written through the models.
    if gone or changed or before.get(_UNOWNED) != owners[_UNOWNED]:
        yield select(Deal.id).where(*OPEN, Deal.owner_id.is_(None))


def _crossed_limits(org: Org, since: dt.datetime, now: dt.datetime) -> Iterable[Any]:
    """Open deals where a time-driven rule may have started firing between `since` and `now`."""
    if now <= since:
        return
    limits = TimeLimits()
    for playbook in {id(found): found for found in map(org.playbook, [None, *org.people])}.values():
        limits |= time_limits(playbook)
    # A date rule fires once the owner's own date is past the deal's date; only the time zones
    # whose date moved on can have crossed one, from their date then up to (not including) now's.
    moved = [
        (since.astimezone(zone).date(), now.astimezone(zone).date())
        for zone in {org.zone(person_id).key: org.zone(person_id) for person_id in [None, *org.people]}.values()
    ]
    moved = [(before, after) for before, after in moved if before < after]
    if moved:
        first, last = min(before for before, _ in moved), max(after for _, after in moved)
        for wanted, column in ((limits.next_step_dates, Deal.next_step_date), (limits.close_dates, Deal.close_date)):
            if wanted:
                yield select(Deal.id).where(*OPEN, column >= first, column < last)
    # A day limit is crossed once `limit + 1` whole days have passed since the stage or activity began.
    for days, column in [(days, Deal.stage_entered_at) for days in sorted(limits.stage_days)] + [
        (days, Deal.last_activity_at) for days in sorted(limits.idle_days)
    ]:
        span = dt.timedelta(days=days + 1)
        yield select(Deal.id).where(*OPEN, column > since - span, column <= now - span)
