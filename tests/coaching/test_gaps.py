"""Process gaps over time, on SQLite and PostgreSQL: opened, kept current, resolved, snoozed, never doubled."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from importlib import resources
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.nudges import nudge_text
from bot.coaching import gaps, rescan
from bot.coaching.fixes import claim_fix
from bot.coaching.gaps import (
    GapChange,
    GapError,
    NudgeItem,
    OpenGap,
    Org,
    ScanGap,
    ScanSummary,
    SnoozedGap,
    nudge_items,
    nudge_items_by_rep,
    person_findings,
    plan_changes,
    read_deals,
    scan_gaps,
    snooze_gap,
    team_snoozes,
    time_to_fix,
)
from bot.coaching.nudges import morning_nudge
from bot.coaching.playbook import load_playbook, parse_playbook
from bot.database import exclusive, make_engine, make_session_factory, session_scope
from bot.models import Deal, GapScanState, Person, ProcessGap
from tests.conftest import empty_tables
from tests.support.personas import MIA, RILEY, _deal, seed_team

PLAYBOOK = load_playbook()
DAY = dt.timedelta(days=1)


def gap_rows(session_factory: sessionmaker[Session]) -> list[tuple[object, ...]]:
    with session_factory() as session:
        rows = session.execute(
            select(
                Deal.crm_id, ProcessGap.rule, ProcessGap.severity, ProcessGap.detail, ProcessGap.opened_at, ProcessGap.resolved_at
            )
            .join(Deal, Deal.id == ProcessGap.deal_id)
            .order_by(Deal.crm_id, ProcessGap.rule, ProcessGap.id)
        )
        return [tuple(row) for row in rows]


@contextmanager
def recorded_writes(session_factory: sessionmaker[Session]) -> Iterator[list[str]]:
    """Every INSERT, UPDATE or DELETE sent to the database inside the block."""
    engine = session_factory.kw["bind"]
    writes: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield writes
    finally:
        event.remove(engine, "before_cursor_execute", record)


def gap_id(session_factory: sessionmaker[Session], crm_id: str, rule: str) -> int:
    with session_factory() as session:
        return session.scalars(
            select(ProcessGap.id)
            .join(Deal)
            .where(Deal.crm_id == crm_id, ProcessGap.rule == rule, ProcessGap.resolved_at.is_(None))
        ).one()


def change_deal(session_factory: sessionmaker[Session], crm_id: str, **values: object) -> None:
    with session_scope(session_factory) as session:
        session.execute(update(Deal).where(Deal.crm_id == crm_id).values(**values))


# Riley's Globex expansion (O2) breaks three rules on the 25th; Acme (O1) breaks none.
O2_GAPS = [
    ("O2", "close_date_past", "high", "close date Nov 20 has passed"),
    ("O2", "next_step_missing", "high", "no dated next step"),
    ("O2", "stale_stage", "medium", "36 days in Negotiation (limit 14)"),
]


def test_a_scan_opens_a_gap_for_each_rule_firing_on_an_open_deal(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    summary = scan_gaps(session_factory, PLAYBOOK, now)
    assert summary == ScanSummary(opened=3, resolved=0, still_open=0, deals_scanned=2)
    assert gap_rows(session_factory) == [(*gap, now, None) for gap in O2_GAPS]


def test_a_second_scan_with_nothing_changed_writes_nothing(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    scan_gaps(session_factory, PLAYBOOK, now)
    with recorded_writes(session_factory) as writes:
        summary = scan_gaps(session_factory, PLAYBOOK, now)
    assert writes == []
    assert summary == ScanSummary(opened=0, resolved=0, still_open=3, deals_scanned=2)
    assert gap_rows(session_factory) == [(*gap, now, None) for gap in O2_GAPS]


def test_a_gap_resolves_when_its_rule_stops_firing_and_open_ones_stay_current(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    scan_gaps(session_factory, PLAYBOOK, now)
    change_deal(session_factory, "O2", next_step="Call the CFO", next_step_date=dt.date(2026, 11, 30))
    later = now + 2 * DAY
    summary = scan_gaps(session_factory, PLAYBOOK, later)
    assert summary == ScanSummary(opened=0, resolved=1, still_open=2, deals_scanned=2, updated=1)
    assert gap_rows(session_factory) == [
        ("O2", "close_date_past", "high", "close date Nov 20 has passed", now, None),
        ("O2", "next_step_missing", "high", "no dated next step", now, later),
        ("O2", "stale_stage", "medium", "38 days in Negotiation (limit 14)", now, None),
    ]
    with session_factory() as session:
        fixed = session.scalars(select(ProcessGap).where(ProcessGap.rule == "next_step_missing")).one()
        still_open = session.scalars(select(ProcessGap).where(ProcessGap.rule == "stale_stage")).one()
        assert (time_to_fix(fixed), time_to_fix(still_open)) == (2 * DAY, None)


def test_a_rule_firing_again_opens_a_new_gap_and_never_a_second_open_one(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    scan_gaps(session_factory, PLAYBOOK, now)
    change_deal(session_factory, "O2", next_step="Call the CFO", next_step_date=dt.date(2026, 11, 30))
    scan_gaps(session_factory, PLAYBOOK, now + DAY)
    change_deal(session_factory, "O2", next_step=None)
    for hours in (48, 49, 50):
        scan_gaps(session_factory, PLAYBOOK, now + dt.timedelta(hours=hours))
    next_step_gaps = [row for row in gap_rows(session_factory) if row[1] == "next_step_missing"]
    assert next_step_gaps == [
        ("O2", "next_step_missing", "high", "no dated next step", now, now + DAY),
        ("O2", "next_step_missing", "high", "no dated next step", now + 2 * DAY, None),
    ]


@pytest.mark.parametrize(
    "how", [{"is_closed": True, "stage": "Closed Lost"}, {"deleted_at": dt.datetime(2026, 11, 26, tzinfo=dt.UTC)}]
)
def test_the_gaps_of_a_deal_that_closed_or_was_deleted_are_resolved(session_factory, now, how) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    scan_gaps(session_factory, PLAYBOOK, now)
    change_deal(session_factory, "O2", **how)
    # O2 has the highest id: its gaps lie past the last open deal, in the scan's final range.
    summary = scan_gaps(session_factory, PLAYBOOK, now + DAY, chunk_size=1)
    assert summary == ScanSummary(opened=0, resolved=3, still_open=0, deals_scanned=1)
    assert gap_rows(session_factory) == [(*gap, now, now + DAY) for gap in O2_GAPS]


def test_a_scan_in_small_chunks_finds_what_one_big_chunk_finds(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_team(session_factory)
    with session_scope(session_factory) as session:
        riley = session.get(Person, ids["riley"])
        session.add_all(_deal(riley, f"N{n}", "1000", "Demo", close_date=dt.date(2026, 11, n)) for n in range(1, 8))
    summary = scan_gaps(session_factory, PLAYBOOK, now, chunk_size=3)
    assert (summary.deals_scanned, summary.opened) == (9, 3 + 7 * 2)
    in_chunks = gap_rows(session_factory)
    with session_scope(session_factory) as session:
        session.execute(ProcessGap.__table__.delete())
    scan_gaps(session_factory, PLAYBOOK, now)
    assert gap_rows(session_factory) == in_chunks
    assert ("N3", "close_date_past", "high", "close date Nov 3 has passed", now, None) in in_chunks
    assert ("N3", "next_step_missing", "high", "no dated next step", now, None) in in_chunks


def test_the_database_keeps_one_open_gap_per_deal_and_rule(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    scan_gaps(session_factory, PLAYBOOK, now)
    with session_factory() as session:
        o2 = session.scalars(select(Deal.id).where(Deal.crm_id == "O2")).one()
        session.add(
            ProcessGap(
                deal_id=o2, rule="stale_stage", severity="medium", detail="36 days in Negotiation (limit 14)", opened_at=now
            )
        )
        with pytest.raises(IntegrityError, match="process_gaps"):
            session.flush()
        session.rollback()
        # Resolved gaps are history: any number of them may sit beside the open one.
        session.add(ProcessGap(deal_id=o2, rule="stale_stage", severity="medium", detail="3 days", opened_at=now - 9 * DAY,
                               resolved_at=now - 5 * DAY))  # fmt: skip
        session.commit()
    assert [row[1:] for row in gap_rows(session_factory) if row[1] == "stale_stage"] == [
        ("stale_stage", "medium", "36 days in Negotiation (limit 14)", now, None),
        ("stale_stage", "medium", "3 days", now - 9 * DAY, now - 5 * DAY),
    ]


def test_a_duplicate_open_gap_read_by_a_plan_is_healed(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    # Rows from before the unique index (the migration heals those too) or from another reader.
    ids = seed_team(session_factory)
    with session_factory() as session:
        org = Org(session, PLAYBOOK)
        [o2] = read_deals(session.connection(), Deal.crm_id == "O2")
    twice = [
        OpenGap(gap_id, o2.id, "stale_stage", "medium", "36 days in Negotiation (limit 14)", None, None) for gap_id in (7, 9)
    ]
    changes = plan_changes([o2], twice, org, now)
    assert [(change.kind, change.rule, change.gap_id) for change in changes if change.rule == "stale_stage"] == [
        ("resolve", "stale_stage", 9),
        ("keep", "stale_stage", 7),
    ]
    assert ids["riley"] == o2.owner_id


def add_second_team(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """Vic manages Sam, who has a deal just like Riley's Globex expansion."""
    with session_scope(session_factory) as session:
        vic = Person(email="vic.manager@example.com", name="Vic Manager", is_manager=True)
        session.add(vic)
        session.flush()
        sam = Person(email="sam.rep@example.com", name="Sam Rep", is_rep=True, manager_id=vic.id, timezone="Europe/Berlin")
        session.add(sam)
        session.flush()
        session.add(
            _deal(sam, "S1", "30000", "Negotiation", name="Initech", close_date=dt.date(2026, 12, 20),
                  stage_entered_at=dt.datetime(2026, 10, 20, tzinfo=dt.UTC), next_step="Redlines",
                  next_step_date=dt.date(2026, 11, 27))
        )  # fmt: skip
        return {"vic": vic.id, "sam": sam.id}


def test_a_team_override_changes_the_gaps_of_that_managers_reps_only(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    add_second_team(session_factory)
    text = load_playbook_text().replace(
        "teams: {}",
        f"teams:\n  {MIA}:\n    stages: {{Negotiation: {{max_days: 40}}}}\n    rules: {{close_date_past: {{severity: low}}}}",
    )
    scan_gaps(session_factory, parse_playbook(text, "team.yml"), now)
    assert [row[:4] for row in gap_rows(session_factory)] == [
        ("O2", "close_date_past", "low", "close date Nov 20 has passed"),
        ("O2", "next_step_missing", "high", "no dated next step"),
        ("S1", "stale_stage", "medium", "36 days in Negotiation (limit 14)"),
    ]


def load_playbook_text() -> str:
    from importlib import resources

    return resources.files("bot.coaching").joinpath("default_playbook.yml").read_text("utf-8")


def test_a_snoozed_gap_stays_out_of_nudges_until_its_date_and_the_managers_see_why(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_team(session_factory)
    vic = add_second_team(session_factory)["vic"]
    with session_scope(session_factory) as session:
        vp = Person(email="val.vp@example.com", name="Val VP", is_manager=True)
        session.add(vp)
        session.flush()
        session.get(Person, ids["mia"]).manager_id = vp.id  # type: ignore[union-attr]
    scan_gaps(session_factory, PLAYBOOK, now)
    with session_scope(session_factory) as session:
        snoozed = snooze_gap(session, gap_id(session_factory, "O2", "next_step_missing"), dt.date(2026, 12, 1),
                             "  Waiting for legal to return the redlines ", now)  # fmt: skip
        assert (snoozed.snoozed_until, snoozed.snooze_reason) == (
            dt.date(2026, 12, 1),
            "Waiting for legal to return the redlines",
        )
    with session_factory() as session:
        assert [(item.rule, item.detail) for item in nudge_items(session, ids["riley"], PLAYBOOK, now)] == [
            ("close_date_past", "close date Nov 20 has passed"),
            ("stale_stage", "36 days in Negotiation (limit 14)"),
        ]
        assert team_snoozes(session, ids["mia"], now.date()) == [
            SnoozedGap(snoozed.id, "Riley Rep", RILEY, "Globex expansion", "next_step_missing", "no dated next step",
                       dt.date(2026, 12, 1), "Waiting for legal to return the redlines", ids["riley"]),
        ]  # fmt: skip
        # Mia's manager sees it too; Vic, who manages someone else, does not.
        assert [snooze.gap_id for snooze in team_snoozes(session, vp.id, now.date())] == [snoozed.id]
        assert team_snoozes(session, vic, now.date()) == []

    summary = scan_gaps(session_factory, PLAYBOOK, now + DAY)
    assert (summary.still_open, summary.snoozed, summary.resolved) == (4, 1, 0)  # Sam's stale Initech too

    # Back on its date (Riley's, in New York), first in line again.
    back = dt.datetime(2026, 12, 1, 14, 0, tzinfo=dt.UTC)
    with session_factory() as session:
        assert [item.rule for item in nudge_items(session, ids["riley"], PLAYBOOK, back)] == [
            "next_step_missing", "close_date_past", "stale_stage",
        ]  # fmt: skip
        assert team_snoozes(session, ids["mia"], back.date()) == []


def test_snoozing_needs_an_open_gap_a_later_date_and_a_reason(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    scan_gaps(session_factory, PLAYBOOK, now)
    open_gap = gap_id(session_factory, "O2", "stale_stage")
    with session_factory() as session:
        with pytest.raises(GapError, match="^snooze until a later date than today, not 2026-11-25$"):
            snooze_gap(session, open_gap, now.date(), "later", now)
        with pytest.raises(GapError, match="^say why the gap is snoozed: the manager sees the reason$"):
            snooze_gap(session, open_gap, now.date() + DAY, "  ", now)
        with pytest.raises(GapError, match="^gap 999999 is not open: there is nothing to snooze$"):
            snooze_gap(session, 999999, now.date() + DAY, "later", now)


def test_a_gap_a_nudge_carried_waits_renudge_days_before_it_is_carried_again(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_team(session_factory)
    scan_gaps(session_factory, PLAYBOOK, now)
    with session_scope(session_factory) as session:
        session.execute(update(ProcessGap).where(ProcessGap.rule == "next_step_missing").values(last_nudged_at=now - 2 * DAY))
    with session_factory() as session:
        assert [item.rule for item in nudge_items(session, ids["riley"], PLAYBOOK, now)] == ["close_date_past", "stale_stage"]
        # Three of Riley's days later (any hour of the day), it may be carried again.
        carried = nudge_items(session, ids["riley"], PLAYBOOK, now + DAY - dt.timedelta(hours=5))
        assert carried[0] == NudgeItem(
            carried[0].gap_id, carried[0].deal_id, "Globex expansion", "https://crm.example.com/deals/O2",
            "next_step_missing", "high", "no dated next step", 3 * 20000 * 0.8, None, now - 2 * DAY,
            # What the nudge says of the deal and quotes in its why, read in the same pass.
            None, Decimal("20000"), "USD", "Negotiation", dt.datetime(2026, 10, 20, tzinfo=dt.UTC), None, None,
            dt.date(2026, 11, 20), None, 14, 14,
        )  # fmt: skip


@pytest.mark.parametrize(("days_ago", "carried"), [(4, False), (5, True)])
def test_renudge_days_read_from_the_playbook_file_sets_how_long_a_nudged_gap_rests(  # type: ignore[no-untyped-def]
    session_factory, now, days_ago, carried
) -> None:
    default = resources.files("bot.coaching").joinpath("default_playbook.yml").read_text("utf-8")
    assert "  renudge_days: 3\n" in default
    book = parse_playbook(default.replace("  renudge_days: 3\n", "  renudge_days: 5\n"), "team.yml")
    ids = seed_team(session_factory)
    scan_gaps(session_factory, book, now)
    with session_scope(session_factory) as session:
        session.execute(
            update(ProcessGap).where(ProcessGap.rule == "next_step_missing").values(last_nudged_at=now - days_ago * DAY)
        )
    with session_factory() as session:
        rules = [item.rule for item in nudge_items(session, ids["riley"], book, now)]
    assert rules == (["next_step_missing"] if carried else []) + ["close_date_past", "stale_stage"]


def test_person_level_findings_are_computed_and_counted_never_stored(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_team(session_factory)
    with session_scope(session_factory) as session:
        riley = session.get(Person, ids["riley"])
        session.execute(update(Deal).where(Deal.crm_id == "O2").values(product_line="Core"))
        session.add(_deal(riley, "O3", "5000", "Demo", close_date=dt.date(2026, 12, 5), product_line="Core"))
    summary = scan_gaps(session_factory, PLAYBOOK, now, catalogue_lines=["Analytics", "Core", "Services"])
    assert summary.person_findings == 1
    assert {row[1] for row in gap_rows(session_factory)} == {"close_date_past", "next_step_missing", "stale_stage"}
    with session_factory() as session:
        [finding] = person_findings(session, ids["riley"], PLAYBOOK)
    assert (finding.rule, finding.severity, finding.detail) == (
        "single_product_line", "low", "all 3 open deals are in Core; none in Analytics or Services",
    )  # fmt: skip
    assert finding.impact == pytest.approx(50000 * 0.6 + 20000 * 0.8 + 5000 * 0.4)


@pytest.mark.postgres
def test_a_second_scan_while_one_runs_stops_without_changes_on_postgresql(migrated_postgresql_url, now) -> None:  # type: ignore[no-untyped-def]
    # PostgreSQL only: SQLite has no advisory locks; a scan there is safe to repeat (duplicates are healed).
    engine = make_engine(migrated_postgresql_url)
    empty_tables(engine)
    session_factory = make_session_factory(engine)
    seed_team(session_factory)
    with exclusive(engine, "gap_scan"):
        with pytest.raises(GapError, match="^another gap scan is running; this one stopped without changes$"):
            scan_gaps(session_factory, PLAYBOOK, now)
    assert gap_rows(session_factory) == []
    engine.dispose()


def test_deals_without_an_owner_are_judged_with_the_playbook_as_written(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        session.add(
            Deal(crm_source="test", crm_id="U1", name="Unowned", amount=Decimal("100"), currency="USD", stage="Demo",
                 created_at=now - 30 * DAY, close_date=dt.date(2026, 12, 1))
        )  # fmt: skip
    assert scan_gaps(session_factory, PLAYBOOK, now).opened == 1
    assert [row[:4] for row in gap_rows(session_factory)] == [("U1", "next_step_missing", "high", "no dated next step")]


# The scan judges only what may have changed; these prove the gaps end as a full scan leaves them.


def test_a_rescan_with_nothing_changed_judges_no_deal(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    first = scan_gaps(session_factory, PLAYBOOK, now)
    again = scan_gaps(session_factory, PLAYBOOK, now + dt.timedelta(minutes=10))
    assert (first.full_scan, first.deals_judged) == ("no earlier scan", 2)
    assert (again.full_scan, again.deals_judged, again.still_open, again.deals_scanned) == (None, 0, 3, 2)


def test_a_rescan_judges_the_deals_written_since_and_no_other(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_team(session_factory)
    with session_scope(session_factory) as session:
        riley = session.get(Person, ids["riley"])
        session.add_all(_deal(riley, f"N{n}", "1000", "Demo", close_date=dt.date(2026, 12, 9), next_step="Call",
                              next_step_date=dt.date(2026, 12, 1), stage_entered_at=now - DAY) for n in range(5))  # fmt: skip
    scan_gaps(session_factory, PLAYBOOK, now)
    change_deal(session_factory, "N3", next_step=None)
    summary = scan_gaps(session_factory, PLAYBOOK, now + dt.timedelta(hours=1))
    assert (summary.full_scan, summary.deals_judged, summary.opened, summary.deals_scanned) == (None, 1, 1, 7)
    assert ("N3", "next_step_missing", "high", "no dated next step", now + dt.timedelta(hours=1), None) in gap_rows(
        session_factory
    )


def test_a_playbook_or_team_override_change_makes_the_next_scan_full(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    scan_gaps(session_factory, PLAYBOOK, now)
    team = parse_playbook(
        load_playbook_text().replace("teams: {}", f"teams:\n  {MIA}:\n    rules: {{stale_stage: {{enabled: false}}}}")
    )
    summary = scan_gaps(session_factory, team, now)
    assert (summary.full_scan, summary.deals_judged, summary.resolved) == ("the playbook changed", 2, 1)
    assert scan_gaps(session_factory, team, now).full_scan is None


def test_a_next_step_is_overdue_from_the_reps_own_midnight(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    # Tokyo's Nov 26 begins at 15:00 UTC on the 25th; New York's five hours after UTC's.
    ids = seed_team(session_factory)
    with session_scope(session_factory) as session:
        session.get(Person, ids["riley"]).timezone = "Asia/Tokyo"  # type: ignore[union-attr]
        riley = session.get(Person, ids["riley"])
        session.add(_deal(riley, "T1", "1000", "Demo", close_date=dt.date(2026, 12, 9), next_step="Call",
                          next_step_date=dt.date(2026, 11, 25), stage_entered_at=now - DAY))  # fmt: skip
    before = now - dt.timedelta(minutes=1)
    scan_gaps(session_factory, PLAYBOOK, before)
    assert [row for row in gap_rows(session_factory) if row[0] == "T1"] == []
    summary = scan_gaps(session_factory, PLAYBOOK, now)
    assert (summary.full_scan, summary.deals_judged, summary.opened) == (None, 1, 1)
    assert [row for row in gap_rows(session_factory) if row[0] == "T1"] == [
        ("T1", "next_step_overdue", "medium", "next step was due Nov 25", now, None)
    ]


def test_a_day_count_moves_on_when_its_whole_day_has_passed(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    scan_gaps(session_factory, PLAYBOOK, now)
    entered = dt.datetime(2026, 10, 20, tzinfo=dt.UTC)  # Globex entered Negotiation: 36 days and 15 hours before `now`
    with session_factory() as session:
        assert session.scalars(select(ProcessGap.changes_at).where(ProcessGap.rule == "stale_stage")).one() == entered + 37 * DAY
    assert scan_gaps(session_factory, PLAYBOOK, entered + 37 * DAY - dt.timedelta(seconds=1)).deals_judged == 0
    summary = scan_gaps(session_factory, PLAYBOOK, entered + 37 * DAY)
    assert (summary.deals_judged, summary.updated) == (1, 1)
    assert ("O2", "stale_stage", "medium", "37 days in Negotiation (limit 14)", now, None) in gap_rows(session_factory)


def test_an_owners_time_zone_or_manager_change_rejudges_their_deals(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_team(session_factory)
    vic = add_second_team(session_factory)["vic"]
    team = parse_playbook(
        load_playbook_text().replace(
            "teams: {}", "teams:\n  vic.manager@example.com:\n    rules: {close_date_past: {severity: low}}"
        )
    )
    scan_gaps(session_factory, team, now)
    with session_scope(session_factory) as session:
        session.get(Person, ids["riley"]).manager_id = vic  # type: ignore[union-attr]
    summary = scan_gaps(session_factory, team, now)
    assert (summary.full_scan, summary.deals_judged, summary.updated) == (None, 2, 1)
    assert ("O2", "close_date_past", "low", "close date Nov 20 has passed") in [row[:4] for row in gap_rows(session_factory)]


def test_a_deleted_owners_deals_are_judged_as_unowned(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    sam = add_second_team(session_factory)["sam"]
    team = parse_playbook(
        load_playbook_text().replace("teams: {}", "teams:\n  vic.manager@example.com:\n    stages: {Negotiation: {max_days: 40}}")
    )
    scan_gaps(session_factory, team, now)
    assert gap_rows(session_factory) == []
    with session_scope(session_factory) as session:
        session.execute(Person.__table__.delete().where(Person.id == sam))  # the database clears deals.owner_id
    summary = scan_gaps(session_factory, team, now)
    assert (summary.full_scan, summary.deals_judged) == (None, 1)
    assert [row[:4] for row in gap_rows(session_factory)] == [
        ("S1", "stale_stage", "medium", "36 days in Negotiation (limit 14)")
    ]


def test_open_gaps_changed_outside_the_scan_make_the_next_scan_full(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    scan_gaps(session_factory, PLAYBOOK, now)
    with session_scope(session_factory) as session:
        session.execute(update(ProcessGap).where(ProcessGap.rule == "stale_stage").values(resolved_at=now))
    summary = scan_gaps(session_factory, PLAYBOOK, now)
    assert (summary.full_scan, summary.opened) == ("open gaps changed outside the scan", 1)


def test_a_scan_as_of_an_earlier_time_than_the_last_is_full(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    scan_gaps(session_factory, PLAYBOOK, now)
    assert scan_gaps(session_factory, PLAYBOOK, now - DAY).full_scan == "the clock is before the last scan's"
    assert scan_gaps(session_factory, PLAYBOOK, now, full=True).full_scan == "asked for"


ZONES = ("Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Tokyo", "America/New_York", "Europe/Berlin", "Asia/Kolkata", None)
STAGES = ("Prospecting", "Qualification", "Discovery", "Demo", "Proposal", "Negotiation", "Mystery stage")


def what_a_full_scan_would_change(session_factory: sessionmaker[Session], playbook, now, default_timezone) -> list[GapChange]:  # type: ignore[no-untyped-def]
    """Every change a full scan would make now, read-only: none when the stored gaps are a full scan's."""
    with session_factory() as session:
        connection = session.connection()
        org = Org(session, playbook, default_timezone)
        deals = read_deals(connection)
        gaps = [ScanGap._make(row) for row in connection.execute(
            select(*(getattr(ProcessGap, name) for name in ScanGap._fields)).where(ProcessGap.resolved_at.is_(None)))]  # fmt: skip
        return [change for change in plan_changes(deals, gaps, org, now) if change.kind != "keep"]


def random_deal_values(rng: random.Random, now: dt.datetime) -> dict[str, object]:
    today = now.date()
    return {
        "stage": rng.choice(STAGES),
        "stage_entered_at": now - dt.timedelta(hours=rng.randint(-30, 24 * 30)),
        "close_date": None if rng.random() < 0.1 else today + dt.timedelta(days=rng.randint(-3, 3)),
        "next_step": rng.choice([None, "", "  ", "Call the buyer"]),
        "next_step_date": None if rng.random() < 0.1 else today + dt.timedelta(days=rng.randint(-3, 3)),
        "last_activity_at": None if rng.random() < 0.2 else now - dt.timedelta(hours=rng.randint(0, 24 * 20)),
        "amount": rng.choice([None, Decimal("0"), Decimal("5000")]),
        "product_line": rng.choice([None, "", "Core", "Analytics"]),
    }


def fresh_deal(owner: Person, crm_id: str, rng: random.Random, now: dt.datetime) -> Deal:
    values = random_deal_values(rng, now)
    deal = _deal(
        owner, crm_id, "1000", str(values.pop("stage")), **{key: value for key, value in values.items() if key != "amount"}
    )
    deal.amount = values["amount"]  # type: ignore[assignment]
    return deal


def test_incremental_scans_leave_what_full_scans_leave_through_random_changes_and_time(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(8)
    text = load_playbook_text()
    playbooks = {
        "as shipped": PLAYBOOK,
        "team overrides": parse_playbook(text.replace("teams: {}", "teams:\n  m1@example.com:\n    stages: {Demo: {max_days: 3}}\n"
                                                       "    rules: {no_activity: {days: 2}, close_date_past: {enabled: false}}\n"
                                                       "  m0@example.com:\n    rules: {next_step_overdue: {severity: high}}")),
    }  # fmt: skip
    with session_scope(session_factory) as session:
        managers = [Person(email=f"m{n}@example.com", name=f"Manager {n}", is_manager=True) for n in range(3)]
        session.add_all(managers)
        session.flush()
        reps = [Person(email=f"r{n}@example.com", name=f"Rep {n}", is_rep=True, manager_id=managers[n % 3].id,
                       timezone=ZONES[n % len(ZONES)]) for n in range(9)]  # fmt: skip
        session.add_all(reps)
        session.flush()
        rep_ids, manager_ids = [rep.id for rep in reps], [manager.id for manager in managers]
        session.add_all(fresh_deal(reps[n % 9], f"R{n}", rng, now) for n in range(60))
    clock, playbook, default_timezone = now, PLAYBOOK, "UTC"
    kinds: dict[str, int] = {}

    def change(crm_id: str, **values: object) -> None:
        change_deal(session_factory, crm_id, **values)

    for step in range(60):
        what = rng.choice(["field", "field", "field", "close", "delete", "reopen", "owner", "new deal", "zone", "manager",
                           "playbook", "default zone", "delete rep", "time", "time", "time", "nothing"])  # fmt: skip
        kinds[what] = kinds.get(what, 0) + 1
        crm_id = f"R{rng.randrange(60)}"
        if what == "field":
            values = random_deal_values(rng, clock)
            keys = rng.sample(sorted(values), rng.randint(1, 3))
            change(crm_id, **{key: values[key] for key in keys})
        elif what == "close":
            change(crm_id, is_closed=True, stage=rng.choice(["Closed Won", "Closed Lost"]))
        elif what == "delete":
            change(crm_id, deleted_at=clock)
        elif what == "reopen":
            change(crm_id, is_closed=False, deleted_at=None, stage=rng.choice(STAGES))
        elif what == "owner":
            change(crm_id, owner_id=rng.choice([*rep_ids, None]))
        elif what == "new deal":
            with session_scope(session_factory) as session:
                owner = session.get(Person, rng.choice(rep_ids))
                session.add(fresh_deal(owner, f"X{step}", rng, clock))
        elif what == "zone":
            with session_scope(session_factory) as session:
                session.get(Person, rng.choice(rep_ids)).timezone = rng.choice(ZONES)  # type: ignore[union-attr]
        elif what == "manager":
            with session_scope(session_factory) as session:
                session.get(Person, rng.choice(rep_ids)).manager_id = rng.choice([*manager_ids, None])  # type: ignore[union-attr]
        elif what == "playbook":
            playbook = playbooks[rng.choice(sorted(playbooks))]
        elif what == "default zone":
            default_timezone = rng.choice(["UTC", "Asia/Tokyo", "America/Los_Angeles"])
        elif what == "delete rep" and len(rep_ids) > 4:
            gone = rep_ids.pop(rng.randrange(len(rep_ids)))
            with session_scope(session_factory) as session:
                session.execute(Person.__table__.delete().where(Person.id == gone))
        # Every step moves the clock a little, some a lot (past local midnights and whole days).
        clock += rng.choice([dt.timedelta(0), dt.timedelta(minutes=rng.randint(1, 90)), dt.timedelta(hours=rng.randint(1, 30))])
        scan_gaps(session_factory, playbook, clock, default_timezone=default_timezone, chunk_size=7)
        assert what_a_full_scan_would_change(session_factory, playbook, clock, default_timezone) == [], (step, what)
        kinds["incremental"] = kinds.get("incremental", 0) + 1
    final = scan_gaps(session_factory, playbook, clock, default_timezone=default_timezone, full=True)
    assert (final.opened, final.resolved, final.updated) == (0, 0, 0)
    assert all(kinds.get(what, 0) >= 2 for what in ("field", "close", "owner", "zone", "manager", "playbook", "time")), kinds


def changed_crm_ids(engine, state: GapScanState) -> list[str]:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return sorted(connection.scalars(select(Deal.crm_id).where(rescan.changed_since(connection.dialect.name, state))))


def take_mark(engine) -> GapScanState:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        mark, in_flight = rescan.change_mark(connection, None)
    return GapScanState(change_mark=mark, changes_in_flight=in_flight)


def test_deals_written_after_the_mark_are_changed_and_those_before_are_not(engine, session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    state = take_mark(engine)
    assert changed_crm_ids(engine, state) == []
    change_deal(session_factory, "O1", next_step="Send the quote")
    with session_scope(session_factory) as session:
        session.get(Deal, session.scalars(select(Deal.id).where(Deal.crm_id == "O2")).one()).amount = Decimal("1")  # type: ignore[union-attr]
    assert changed_crm_ids(engine, state) == ["O1", "O2"]
    assert changed_crm_ids(engine, take_mark(engine)) == []


@pytest.mark.postgres
def test_a_write_still_running_when_the_mark_is_taken_counts_as_changed_on_postgresql(migrated_postgresql_url, now) -> None:  # type: ignore[no-untyped-def]
    # Transaction ids are handed out in start order but commit in any order: the mark keeps the running ones.
    engine = make_engine(migrated_postgresql_url)
    empty_tables(engine)
    seed_team(make_session_factory(engine))
    with engine.connect() as slow:
        slow.execute(update(Deal).where(Deal.crm_id == "O1").values(next_step="Slow write"))
        change_deal(make_session_factory(engine), "O2", next_step="Quick write")  # a later id, committed first
        state = take_mark(engine)
        slow.commit()
    assert len(state.changes_in_flight) >= 1
    assert changed_crm_ids(engine, state) == ["O1"]
    engine.dispose()


def test_a_rescan_with_most_deals_to_judge_again_is_a_full_scan(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_team(session_factory)
    with session_scope(session_factory) as session:
        session.execute(
            Deal.__table__.insert(),
            [{"crm_source": "test", "crm_id": f"M{n}", "owner_id": ids["riley"], "name": f"Deal M{n}", "currency": "USD",
              "stage": "Demo", "is_closed": False, "is_won": False, "created_at": now, "synced_at": now} for n in range(1_100)],
        )  # fmt: skip
    scan_gaps(session_factory, PLAYBOOK, now)
    with session_scope(session_factory) as session:
        session.execute(update(Deal).where(Deal.crm_id.like("M%")).values(next_step="Call"))
    summary = scan_gaps(session_factory, PLAYBOOK, now)
    assert (summary.full_scan, summary.deals_judged, summary.deals_scanned) == (
        "too many deals to judge one by one",
        1_102,
        1_102,
    )


def many_reps_with_gaps(session_factory: sessionmaker[Session], now: dt.datetime) -> list[int]:
    """Twelve reps in zones from UTC-11 to UTC+14 under two managers (one with a team playbook),
    three open deals each, scanned, then some gaps snoozed and some nudged at scattered times."""
    rng = random.Random(8)
    zones = (
        "Pacific/Pago_Pago",
        "America/Los_Angeles",
        "America/New_York",
        "UTC",
        "Europe/Berlin",
        "Asia/Tokyo",
        "Pacific/Kiritimati",
    )
    with session_scope(session_factory) as session:
        managers = [
            Person(email=MIA, name="Mia Manager", is_manager=True),
            Person(email="vic.manager@example.com", name="Vic Manager", is_manager=True),
        ]
        session.add_all(managers)
        session.flush()
        reps = [Person(email=f"rep{n}@example.com", name=f"Rep {n}", is_rep=True, manager_id=managers[n % 2].id,
                       timezone=zones[n % len(zones)]) for n in range(12)]  # fmt: skip
        session.add_all(reps)
        session.flush()
        session.add_all(
            _deal(rep, f"M{rep.id}-{d}", str(rng.randrange(5_000, 60_000, 5_000)), rng.choice(("Discovery", "Proposal", "Negotiation")),
                  name=f"Deal {d % 2}", close_date=now.date() + dt.timedelta(days=rng.randint(-10, 30)),
                  stage_entered_at=now - dt.timedelta(days=rng.randint(1, 50)),
                  next_step_date=now.date() + dt.timedelta(days=rng.randint(-5, 5)))
            for rep in reps for d in range(3)
        )  # fmt: skip
        rep_ids = [rep.id for rep in reps]
    team = parse_playbook(
        load_playbook_text().replace("teams: {}", f"teams:\n  {MIA}:\n    rules: {{no_activity: {{severity: high}}}}"), "team.yml"
    )
    scan_gaps(session_factory, team, now)
    with session_scope(session_factory) as session:
        for gap in session.scalars(select(ProcessGap).order_by(ProcessGap.id)):
            if rng.random() < 0.2:
                gap.snoozed_until = now.date() + dt.timedelta(days=rng.randint(-1, 2))
            if rng.random() < 0.5:
                gap.last_nudged_at = now - dt.timedelta(hours=rng.randint(24, 96))
    return rep_ids


@pytest.mark.parametrize("few_reps", [500, 1], ids=["read by owner", "every open gap read once"])
def test_nudge_items_for_many_reps_at_once_are_what_each_rep_alone_gets(session_factory, now, monkeypatch, few_reps) -> None:  # type: ignore[no-untyped-def]
    # Past FEW_REPS every open gap is read in one pass; a threshold of 1 takes that path with twelve reps.
    monkeypatch.setattr(gaps, "FEW_REPS", few_reps)
    rep_ids = many_reps_with_gaps(session_factory, now)
    team = parse_playbook(
        load_playbook_text().replace("teams: {}", f"teams:\n  {MIA}:\n    rules: {{no_activity: {{severity: high}}}}"), "team.yml"
    )
    with session_factory() as session:
        for moment in (now, now + dt.timedelta(hours=11), now + DAY + dt.timedelta(hours=3), now + 2 * DAY):
            one_by_one = {rep_id: nudge_items(session, rep_id, team, moment) for rep_id in rep_ids}
            assert nudge_items_by_rep(session, rep_ids, team, moment) == {
                rep_id: items for rep_id, items in one_by_one.items() if items
            }
            assert sum(len(items) for items in one_by_one.values()) > 12  # most reps have something to be told


@pytest.mark.parametrize(
    ("zone", "nudged_local", "now_local"),
    [
        # Spring forward: three local days apart but an hour short of two days and a minute.
        ("America/New_York", dt.datetime(2026, 3, 7, 23, 59), dt.datetime(2026, 3, 10, 0, 0)),
        ("Pacific/Kiritimati", dt.datetime(2026, 11, 22, 23, 59), dt.datetime(2026, 11, 25, 0, 0)),
        ("Pacific/Pago_Pago", dt.datetime(2026, 11, 22, 23, 59), dt.datetime(2026, 11, 25, 0, 0)),
    ],
)
def test_a_gap_is_carried_again_the_first_minute_of_the_third_local_day_in_any_zone(  # type: ignore[no-untyped-def]
    session_factory, now, zone, nudged_local, now_local
) -> None:
    ids = seed_team(session_factory)
    scan_gaps(session_factory, PLAYBOOK, now)
    nudged_at, moment = (local.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC) for local in (nudged_local, now_local))
    with session_scope(session_factory) as session:
        session.execute(update(Person).where(Person.id == ids["riley"]).values(timezone=zone))
        session.execute(update(ProcessGap).where(ProcessGap.rule == "next_step_missing").values(last_nudged_at=nudged_at))
    with session_factory() as session:
        assert "next_step_missing" in [item.rule for item in nudge_items(session, ids["riley"], PLAYBOOK, moment)]
        assert "next_step_missing" not in [
            item.rule for item in nudge_items(session, ids["riley"], PLAYBOOK, moment - dt.timedelta(minutes=2))
        ]


def test_the_open_gap_count_and_the_rest_leave_out_snoozed_claimed_and_lately_nudged_gaps(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_team(session_factory)
    with session_scope(session_factory) as session:
        riley = session.get_one(Person, ids["riley"])
        riley.slack_user_id = "URILEY"
        session.add_all(
            _deal(riley, f"N{n}", f"{n}0000", "Proposal", name=f"Deal N{n}", close_date=dt.date(2026, 12, 10),
                  stage_entered_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
            for n in (1, 2, 3, 4)
        )  # fmt: skip
    scan_gaps(session_factory, PLAYBOOK, now)  # seven open gaps: N1-N4 have no next step, O2 has three
    with session_scope(session_factory) as session:
        snooze_gap(session, gap_id(session_factory, "N4", "next_step_missing"), dt.date(2026, 12, 1), "Waiting on legal", now)
        claim_fix(session, gap_id(session_factory, "N3", "next_step_missing"), session.get_one(Person, ids["riley"]), now)
        session.execute(
            update(ProcessGap)
            .where(ProcessGap.id == gap_id(session_factory, "N2", "next_step_missing"))
            .values(last_nudged_at=now - 2 * DAY)
        )
    with session_factory() as session:
        nudge = morning_nudge(session, session.get_one(Person, ids["riley"]), PLAYBOOK, now, "UTC")
        assert nudge is not None
        # Left out: N4 (snoozed), N3 (claimed fixed, waiting for a recheck), N2 (nudged 2 days ago).
        assert [(item.title, item.rank_reason) for item in nudge.items] == [
            ("Globex expansion", "Ranked 1st: $16,000 at stake at high severity, the biggest risk of your 4 open gaps."),
            ("Globex expansion", "Ranked 2nd of your 4 open gaps: $16,000 at stake at high severity."),
            ("Globex expansion", "Ranked 3rd of your 4 open gaps: $16,000 at stake at medium severity."),
        ]
        assert nudge.total == 4  # N1's gap is the one more
        assert nudge_text(nudge.name, nudge.items, nudge.total).splitlines()[-1] == (
            "…and 1 more: see them all in your coachbot Home tab."
        )


def test_the_why_quotes_the_limits_of_the_reps_team(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_team(session_factory)
    vic = add_second_team(session_factory)
    change_deal(session_factory, "O2", last_activity_at=now - 10 * DAY, close_date=dt.date(2026, 12, 20))  # three gaps: all shown
    change_deal(session_factory, "S1", last_activity_at=now - 20 * DAY)
    text = load_playbook_text().replace(
        "teams: {}", f"teams:\n  {MIA}:\n    stages: {{Negotiation: {{max_days: 30}}}}\n    rules: {{no_activity: {{days: 7}}}}"
    )
    playbook = parse_playbook(text, "team.yml")
    scan_gaps(session_factory, playbook, now)
    with session_scope(session_factory) as session:
        session.get_one(Person, ids["riley"]).slack_user_id = "URILEY"
        session.get_one(Person, vic["sam"]).slack_user_id = "USAM"
    with session_factory() as session:
        whys = {
            person_id: sorted(item.why for item in nudge.items)
            for person_id in (ids["riley"], vic["sam"])
            if (nudge := morning_nudge(session, session.get_one(Person, person_id), playbook, now, "UTC")) is not None
        }
    # Riley is in Mia's team, whose override allows 30 days in Negotiation and 7 without activity;
    # Sam, in Vic's, is held to the playbook's own 14 and 14.
    assert [why for why in whys[ids["riley"]] if "the playbook allows" in why] == [
        "In Negotiation 36 days; the playbook allows 30.",
        "No activity for 10 days; the playbook allows 7.",
    ]
    assert whys[vic["sam"]] == [
        "In Negotiation 36 days; the playbook allows 14.",
        "No activity for 20 days; the playbook allows 14.",
    ]


def test_a_fix_claim_no_sync_settles_stops_hiding_the_gap_after_fix_claim_wait_days(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_team(session_factory)
    scan_gaps(session_factory, PLAYBOOK, now)
    claimed = gap_id(session_factory, "O2", "next_step_missing")
    with session_scope(session_factory) as session:
        claim_fix(session, claimed, session.get_one(Person, ids["riley"]), now)
    assert gaps.FIX_CLAIM_WAIT_DAYS == 3
    with session_factory() as session:

        def carried(at: dt.datetime) -> list[str]:
            return [item.rule for item in nudge_items(session, ids["riley"], PLAYBOOK, at)]

        # No sync runs (COACHBOT_SYNC_EVERY_MINUTES=0, none by hand): the claim waits three days.
        assert carried(now + 3 * DAY - dt.timedelta(minutes=1)) == ["close_date_past", "stale_stage"]
        assert carried(now + 3 * DAY) == ["next_step_missing", "close_date_past", "stale_stage"]
        assert session.get_one(ProcessGap, claimed).fix_claimed_at == now  # still there for a sync to settle
