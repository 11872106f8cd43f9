"""The digest's week, on SQLite and PostgreSQL: gaps fixed and opened, nudges acted on, goals, check-ins, snoozes, a leader's teams."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.digest import build_digest
from bot.coaching.discipline import Discipline
from bot.database import session_scope
from bot.models import Deal, Person, ProcessGap
from tests.coaching.test_team import PLAYBOOK, TIMEZONE, person, seed_org
from tests.support.personas import _deal

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def gap(deal: Deal, rule: str, opened_at: dt.datetime, resolved_at: dt.datetime | None = None,
        last_nudged_at: dt.datetime | None = None) -> ProcessGap:  # fmt: skip
    return ProcessGap(deal_id=deal.id, rule=rule, severity="warning", opened_at=opened_at, resolved_at=resolved_at,
                      last_nudged_at=last_nudged_at)  # fmt: skip


def seed_week(session_factory: sessionmaker[Session], ids: dict[str, int], now: dt.datetime) -> None:
    """Gaps of Dana's reps opened and fixed around the week before `now`, and one of Olly's (not Dana's)."""
    with session_scope(session_factory) as session:
        riley, sam, olly = (session.get_one(Person, ids[key]) for key in ("riley", "sam", "olly"))
        open_deal = _deal(riley, "G1", "1000", "Proposal", close_date=dt.date(2026, 12, 1))
        won_deal = _deal(riley, "G2", "2000", "Closed Won", close_date=dt.date(2026, 11, 24))
        deleted = _deal(sam, "G3", "3000", "Demo", close_date=dt.date(2026, 12, 1), deleted_at=now - 2 * DAY)
        others = _deal(olly, "G4", "4000", "Demo", close_date=dt.date(2026, 12, 1))
        session.add_all([open_deal, won_deal, deleted, others])
        session.flush()
        session.add_all(
            [
                # Fixed this week on a deal still open, 10 h after it opened, after a nudge.
                gap(open_deal, "next_step_missing", now - 3 * DAY, now - 3 * DAY + 10 * HOUR, last_nudged_at=now - 3 * DAY + HOUR),
                # Opened this week, still open.
                gap(open_deal, "close_date_past", now - DAY),
                # Opened and fixed before the week: counts for nothing.
                gap(open_deal, "stage_stuck", now - 20 * DAY, now - 10 * DAY),
                # Opened before the week, resolved this week when the deal was won (the scan resolves a closed deal's gaps).
                gap(won_deal, "next_step_overdue", now - 8 * DAY, now - 8 * DAY + 36 * HOUR, last_nudged_at=now - 8 * DAY + HOUR),
                # Opened this week, resolved this week when the deal was deleted; nudged only after it was fixed.
                gap(deleted, "next_step_missing", now - 5 * DAY, now - 2 * DAY, last_nudged_at=now - DAY),
                # Resolved after `now`: opened, not yet fixed as of the digest.
                gap(open_deal, "amount_missing", now - 2 * DAY, now + HOUR),
                # Still open on a deal won since the last gap scan: it counts the week the scan resolves it.
                gap(won_deal, "next_step_missing", now - 2 * DAY),
                # Olly is not under Dana.
                gap(others, "next_step_missing", now - DAY, now - HOUR),
            ]
        )  # fmt: skip


def test_the_week_counts_the_teams_gaps_fixed_and_opened_in_the_seven_days_before_now(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_org(session_factory)
    seed_week(session_factory, ids, now)
    with session_factory() as session:
        digest = build_digest(
            session, person(session, ids["dana"]), PLAYBOOK, now, default_timezone=TIMEZONE, default_currency="USD"
        )
    # Fixed: the open deal's (10 h), the won deal's (36 h), the deleted deal's (72 h); median 36 h.
    # Opened: the open deal's three of this week (one resolved only after now) and the deleted deal's.
    # Nudges whose two days ended this week: the open deal's (fixed 9 h later) and the won deal's (35 h);
    # the deleted deal's nudge came after its fix, a day ago. Open deals: Riley's three (G1 with a gap),
    # Sam's three, Tess's one.
    assert digest.changes == Discipline(
        gaps_opened=4, hours_to_fix=(10.0, 36.0, 72.0), nudged=2, nudged_fixed_in_two_days=2, open_deals=7, deals_with_gaps=1
    )
    assert digest.changes.median_hours_to_fix == 36.0
    weeks = {week.name: week.discipline for week in digest.weeks}
    assert weeks["Riley Rep"] == Discipline(
        gaps_opened=3, hours_to_fix=(10.0, 36.0), nudged=2, nudged_fixed_in_two_days=2, open_deals=3, deals_with_gaps=1
    )
    assert weeks["Sam Rep"] == Discipline(gaps_opened=1, hours_to_fix=(72.0,), open_deals=3)
    assert weeks["Tess Rep"] == Discipline(open_deals=1)
    assert digest.week_of == dt.date(2026, 11, 23)
    # Dana leads one manager, Mia, and Tess directly: one team's digest, not a leader's.
    assert digest.teams == ()


def test_a_manager_without_reps_has_an_empty_week(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_org(session_factory)
    with session_scope(session_factory) as session:
        session.add(Person(email="nora.new@example.com", name="Nora New", is_manager=True))
    with session_factory() as session:
        nora = session.query(Person).filter_by(email="nora.new@example.com").one()
        digest = build_digest(session, nora, PLAYBOOK, now, default_timezone=TIMEZONE, default_currency="USD")
    assert digest.changes == Discipline()
    assert digest.teams == () and digest.weeks == ()
    assert digest.team.rows == ()
    assert ids  # the org exists; Nora just has nobody under her


def test_the_digest_shows_the_teams_snoozes_with_the_reps_own_reason_until_they_end(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    from bot.blocks import to_dicts
    from bot.blocks.digest import digest_blocks
    from bot.coaching.digest import build_digest
    from bot.coaching.gaps import snooze_gap
    from bot.coaching.playbook import load_playbook
    from bot.database import session_scope
    from bot.models import Deal, Person, ProcessGap
    from tests.support.personas import seed_team

    ids = seed_team(session_factory)
    with session_scope(session_factory) as session:
        deal_id = session.scalar(select(Deal.id).where(Deal.crm_id == "O2"))
        gap = ProcessGap(deal_id=deal_id, rule="next_step_missing", severity="high", detail="no dated next step", opened_at=now)
        session.add(gap)
        session.flush()
        snooze_gap(
            session, gap.id, dt.date(2026, 12, 2), "Buyer <on leave> until December", now, by=session.get(Person, ids["riley"])
        )
        gap_id = gap.id
    playbook = load_playbook()
    with session_factory() as session:
        digest = build_digest(
            session, session.get(Person, ids["mia"]), playbook, now, default_timezone="America/New_York", default_currency="USD"
        )
    texts = [block["text"]["text"] for block in to_dicts(digest_blocks(digest)) if block["type"] == "section"]
    assert (
        "*Snoozed by your reps* (1)\n• *Riley Rep* · Globex expansion, no dated next step · until Dec 2: “Buyer &lt;on leave&gt; until December”"
        in texts
    )
    # Fixed in the CRM, the gap resolves, and its snooze ends with it.
    with session_scope(session_factory) as session:
        session.get(ProcessGap, gap_id).resolved_at = now  # type: ignore[union-attr]
    with session_factory() as session:
        assert (
            build_digest(
                session,
                session.get(Person, ids["mia"]),
                playbook,
                now,
                default_timezone="America/New_York",
                default_currency="USD",
            ).snoozes
            == ()
        )


def test_each_reps_week_has_the_goals_set_and_closed_the_plan_check_ins_and_the_snoozes_of_the_week(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    from bot.coaching.digest import CheckinAnswer, GoalMove
    from bot.coaching.gaps import snooze_gap
    from bot.models import Goal, GoalProgress, PlanCheckin, RecoveryPlan

    ids = seed_org(session_factory)
    with session_scope(session_factory) as session:
        riley_id, sam_id = ids["riley"], ids["sam"]
        session.add_all(
            [
                Goal(person_id=riley_id, competency="Cross-sell", description="Analytics pipeline", progress=0.25,
                     created_at=now - 2 * DAY),
                Goal(person_id=riley_id, competency="Discovery", description="Ask about budget", progress=1.0,
                     status="achieved", created_at=now - 30 * DAY, closed_at=now - DAY),
                Goal(person_id=riley_id, competency="Hygiene", description="Dated next steps", progress=0.5,
                     status="missed", created_at=now - 30 * DAY, closed_at=now - 10 * DAY),  # closed before the week
                Goal(person_id=riley_id, competency="Old", description="Cancelled", progress=0.1,
                     status="cancelled", created_at=now - 30 * DAY, closed_at=now - DAY),  # not achieved nor missed
                Goal(id=901, person_id=riley_id, competency="Pipeline", description="Add $50k", progress=0.5,
                     created_at=now - 30 * DAY),
                Goal(id=902, person_id=riley_id, competency="Steady", description="Unmoved", progress=0.4,
                     created_at=now - 30 * DAY),
                Goal(person_id=riley_id, competency="Ancient", description="Set before history was kept", progress=0.7,
                     created_at=now - 300 * DAY),
            ]
        )  # fmt: skip
        session.flush()
        achieved_id = session.scalar(select(Goal.id).where(Goal.competency == "Discovery"))
        session.add_all(
            [
                # Pipeline: 10% three weeks ago, 30% just over a week ago, 50% two days ago: moved from 30% to 50%.
                GoalProgress(goal_id=901, recorded_at=now - 20 * DAY, progress=0.1),
                GoalProgress(goal_id=901, recorded_at=now - 8 * DAY, progress=0.3),
                GoalProgress(goal_id=901, recorded_at=now - 2 * DAY, progress=0.5),
                GoalProgress(goal_id=902, recorded_at=now - 20 * DAY, progress=0.4),
                GoalProgress(goal_id=achieved_id, recorded_at=now - 9 * DAY, progress=0.8),
                GoalProgress(goal_id=achieved_id, recorded_at=now - DAY, progress=1.0),
            ]
        )  # fmt: skip
        # Sam's open plan, from seed_org.
        [plan_id] = session.scalars(select(RecoveryPlan.id).where(RecoveryPlan.person_id == sam_id))
        session.add_all(
            [
                PlanCheckin(plan_id=plan_id, asked_at=now - 3 * DAY, answer="at_risk", answered_at=now - 3 * DAY + HOUR,
                            note="Legal is  slow"),
                PlanCheckin(plan_id=plan_id, asked_at=now - 10 * DAY, answer="on_track", answered_at=now - 10 * DAY),
                PlanCheckin(plan_id=plan_id, asked_at=now - HOUR),  # not answered yet
            ]
        )  # fmt: skip
        deal = _deal(session.get_one(Person, riley_id), "Z1", "1000", "Proposal", name="Zeta")
        session.add(deal)
        session.flush()
        snoozed = gap(deal, "next_step_missing", now - DAY)
        session.add(snoozed)
        session.flush()
        snooze_gap(session, snoozed.id, dt.date(2026, 12, 4), "Buyer on leave", now)
    with session_factory() as session:
        digest = build_digest(session, person(session, ids["dana"]), PLAYBOOK, now, default_timezone=TIMEZONE,
                              default_currency="USD")  # fmt: skip
    weeks = {week.name: week for week in digest.weeks}
    # Set, then achieved (it stood at 80% a week ago), in the order they happened; then the open goal that
    # moved. The unmoved goal and the one with no history from before the week are not news.
    assert weeks["Riley Rep"].goals == (
        GoalMove("Cross-sell", "Analytics pipeline", "set", 0.25), GoalMove("Discovery", "Ask about budget", "achieved", 1.0, 0.8),
        GoalMove("Pipeline", "Add $50k", "moved", 0.5, 0.3),
    )  # fmt: skip
    assert weeks["Sam Rep"].checkins == (CheckinAnswer("at_risk", "Legal is  slow", now - 3 * DAY + HOUR),)
    assert [(snooze.deal_name, snooze.reason) for snooze in weeks["Riley Rep"].snoozes] == [("Zeta", "Buyer on leave")]
    assert (weeks["Sam Rep"].goals, weeks["Sam Rep"].snoozes, weeks["Tess Rep"].checkins) == ((), (), ())
    # Who needs attention first, as the team read model orders them.
    assert [week.name for week in digest.weeks] == [row.name for row in digest.team.rows]


def test_a_leader_over_two_managers_gets_each_teams_number_beside_its_process(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    import pytest
    from sqlalchemy import update

    ids = seed_org(session_factory)
    with session_scope(session_factory) as session:
        # Max (Olly's manager) now reports to Dana too: Dana leads Mia's team, Max's and Tess directly.
        session.execute(update(Person).where(Person.id == ids["max"]).values(manager_id=ids["dana"]))
        open_deal = session.scalar(select(Deal).where(Deal.crm_id == "O2"))
        assert open_deal is not None
        session.add_all(
            [
                gap(open_deal, "next_step_missing", now - 3 * DAY, now - 3 * DAY + 10 * HOUR, last_nudged_at=now - 3 * DAY + HOUR),
                gap(open_deal, "close_date_past", now - DAY),
            ]
        )  # fmt: skip
    with session_factory() as session:
        digest = build_digest(session, person(session, ids["dana"]), PLAYBOOK, now, default_timezone=TIMEZONE,
                              default_currency="USD")  # fmt: skip
    assert digest.is_leader
    max_team, mia_team, own = digest.teams
    assert [(team.name, [row.name for row in team.rows]) for team in digest.teams] == [
        ("Max Manager", ["Olly Rep"]), ("Mia Manager", ["Sam Rep", "Riley Rep"]), ("your direct reps", ["Tess Rep"]),
    ]  # fmt: skip
    riley_row = next(row for row in digest.team.rows if row.name == "Riley Rep")
    # Mia's team: Riley's USD quota and Sam's EUR one tie, so the team's money is in USD (the default)
    # and Riley's alone: $40,000 won of $100,000, $86,000 projected, $70,000 closing against the $60,000 gap.
    # Riley won 1 of 1 (32 days), Sam 2 of 2 (33 and 34 days). Open deals: Riley's 2 (O2 with a gap), Sam's 3.
    assert (mia_team.attainment, mia_team.projected_attainment, mia_team.pace) == (0.4, 0.86, riley_row.pace)
    assert (mia_team.win_rate, mia_team.sales_cycle_days, mia_team.coverage) == (1.0, 33.0, pytest.approx(70000 / 60000))
    assert (mia_team.adherence, mia_team.discipline.median_hours_to_fix, mia_team.discipline.nudged_fixed_share) == (
        0.8,
        10.0,
        1.0,
    )
    # Max's team: Olly won $25,000 of $50,000 in 42 days, nothing open to cover the gap, no open deals.
    assert (max_team.attainment, max_team.win_rate, max_team.sales_cycle_days, max_team.coverage, max_team.adherence) == (
        0.5, 1.0, 42.0, 0.0, None,
    )  # fmt: skip
    # Tess has no quota: no number for her team, but her win and her process count.
    assert (own.attainment, own.pace, own.coverage, own.win_rate, own.sales_cycle_days, own.adherence) == (
        None, None, None, 1.0, 40.0, 1.0,
    )  # fmt: skip
    # Olly is projected at 50% of quota: Max's one rep needs attention too.
    assert (mia_team.needing_attention, max_team.needing_attention, own.needing_attention) == (2, 1, 1)
    assert digest.team_of(ids["olly"]) == "Max Manager"
