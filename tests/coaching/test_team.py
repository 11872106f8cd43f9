"""The team view's rows, on SQLite and PostgreSQL: who sees whom, and figures that read as each rep's own scorecard."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.errors import NotAllowed
from bot.coaching.gaps import scan_gaps
from bot.coaching.playbook import PlaybookError, load_playbook, parse_playbook
from bot.coaching.service import scorecard_for
from bot.coaching.team import (
    NO_TEAM,
    NOT_YOUR_REP,
    TeamRow,
    attention_order,
    attention_reasons,
    rep_scorecard,
    team_performance,
    team_rows,
)
from bot.database import session_scope
from bot.models import Action, AuditEntry, CoachAssignment, Person, Quota, RecoveryPlan
from tests.support.personas import _deal, seed_team

PLAYBOOK = load_playbook()
TIMEZONE = "America/New_York"
# New Year's Eve, 12:00 UTC: already Q1 2027 in Kiritimati (UTC+14), still Q4 2026 everywhere else.
YEAR_END = dt.datetime(2026, 12, 31, 12, 0, tzinfo=dt.UTC)


def seed_org(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """Riley and Mia (tests/support/personas.py), and around them:

    - Dana, a manager over Mia (so Riley is hers indirectly) and over Tess directly;
    - Sam, Mia's second rep, in Berlin with a EUR quota, deals in EUR and USD, a deal in a stage
      the playbook does not know, a deleted deal, an overdue action and an open recovery plan;
    - Tess, in Kiritimati, no quota, one open deal with no next step, a proposed plan;
    - Ivy, Mia's former rep (inactive); Carl, a coach assigned to Sam; Ada, an admin;
    - Olly, a rep of another manager, Max.
    """
    ids = seed_team(session_factory)
    with session_scope(session_factory) as session:
        dana = Person(email="dana.director@example.com", name="Dana Director", is_manager=True, timezone=TIMEZONE)
        max_ = Person(email="max.manager@example.com", name="Max Manager", is_manager=True)
        carl = Person(email="carl.coach@example.com", name="Carl Coach", is_coach=True)
        ada = Person(email="ada.admin@example.com", name="Ada Admin", is_admin=True)
        session.add_all([dana, max_, carl, ada])
        session.flush()
        session.execute(update(Person).where(Person.id == ids["mia"]).values(manager_id=dana.id))
        sam = Person(email="sam.rep@example.com", name="Sam Rep", is_rep=True, manager_id=ids["mia"], timezone="Europe/Berlin")
        tess = Person(
            email="tess.rep@example.com", name="Tess Rep", is_rep=True, manager_id=dana.id, timezone="Pacific/Kiritimati"
        )
        ivy = Person(email="ivy.rep@example.com", name="Ivy Rep", is_rep=True, manager_id=ids["mia"], active=False)
        olly = Person(email="olly.rep@example.com", name="Olly Rep", is_rep=True, manager_id=max_.id)
        session.add_all([sam, tess, ivy, olly])
        session.flush()
        session.add(CoachAssignment(coach_id=carl.id, rep_id=sam.id))
        for quarter_start, quarter_end in (
            (dt.date(2026, 10, 1), dt.date(2027, 1, 1)),
            (dt.date(2027, 1, 1), dt.date(2027, 4, 1)),
        ):
            session.add(
                Quota(
                    person_id=sam.id, period_start=quarter_start, period_end=quarter_end, amount=Decimal("80000"), currency="EUR"
                )
            )
        session.add(
            Quota(
                person_id=olly.id,
                period_start=dt.date(2026, 10, 1),
                period_end=dt.date(2027, 1, 1),
                amount=Decimal("50000"),
                currency="USD",
            )
        )
        dated = {
            "next_step": "Call",
            "next_step_date": dt.date(2026, 11, 27),
            "stage_entered_at": dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
        }
        session.add_all(
            [
                _deal(sam, "S1", "20000", "Closed Won", currency="EUR", close_date=dt.date(2026, 11, 3)),
                _deal(sam, "S2", "5000", "Closed Won", close_date=dt.date(2026, 11, 4)),  # USD: not in Sam's EUR money
                _deal(sam, "S3", "30000", "Demo", currency="EUR", close_date=dt.date(2026, 12, 20), **dated),
                _deal(sam, "S4", "10000", "Legal Review", currency="EUR", crm_probability=0.5, close_date=dt.date(2026, 12, 15), **dated),
                _deal(sam, "S5", "12345.67", "Negotiation", currency="EUR", close_date=dt.date(2027, 2, 1), **dated),
                _deal(sam, "S6", "99000", "Proposal", currency="EUR", close_date=dt.date(2026, 12, 1),
                      deleted_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)),
                _deal(tess, "T1", "15000", "Qualification", close_date=dt.date(2026, 12, 30)),
                _deal(tess, "T2", "8000", "Closed Won", close_date=dt.date(2026, 11, 10)),
                _deal(olly, "X1", "25000", "Closed Won", close_date=dt.date(2026, 11, 12)),
            ]
        )  # fmt: skip
        session.add_all(
            [
                Action(person_id=sam.id, text="Book the QBR", due_date=dt.date(2026, 11, 20)),
                Action(person_id=sam.id, text="Update the forecast", due_date=dt.date(2026, 12, 20)),
                Action(person_id=ids["riley"], text="Done already", due_date=dt.date(2026, 11, 1), status="done"),
                RecoveryPlan(person_id=sam.id, manager_id=ids["mia"], period_start=dt.date(2026, 10, 1), period_end=dt.date(2027, 1, 1),
                             gap_amount=Decimal("60000"), pipeline_to_add=Decimal("90000"), currency="EUR", status="open"),
                RecoveryPlan(person_id=tess.id, manager_id=dana.id, period_start=dt.date(2026, 10, 1), period_end=dt.date(2027, 1, 1),
                             gap_amount=Decimal("1"), pipeline_to_add=Decimal("1"), currency="USD", status="proposed"),
            ]
        )  # fmt: skip
        session.flush()
        people = {"dana": dana, "max": max_, "carl": carl, "ada": ada, "sam": sam, "tess": tess, "ivy": ivy, "olly": olly}
        return {**ids, **{key: person.id for key, person in people.items()}}


def person(session: Session, person_id: int) -> Person:
    found = session.get(Person, person_id)
    assert found is not None
    return found


def view(session: Session, viewer_id: int, now: dt.datetime, kind: str = "quarter"):  # type: ignore[no-untyped-def]
    return team_performance(
        session, person(session, viewer_id), kind, now=now, playbook=PLAYBOOK, default_timezone=TIMEZONE,  # type: ignore[arg-type]
        default_currency="USD",
    )  # fmt: skip


@contextmanager
def counted_queries(session: Session) -> Iterator[list[str]]:
    engine = session.get_bind()
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("instant", ["now", "year_end"])
@pytest.mark.parametrize("kind", ["week", "month", "quarter", "year"])
def test_a_team_row_reads_as_the_reps_own_scorecard(session_factory, now, instant, kind) -> None:  # type: ignore[no-untyped-def]
    ids = seed_org(session_factory)
    moment = now if instant == "now" else YEAR_END
    scan_gaps(session_factory, PLAYBOOK, moment, default_timezone=TIMEZONE)
    with session_factory() as session:
        reps = [person(session, ids[name]) for name in ("riley", "sam", "tess", "olly")]
        rows = team_rows(session, reps, kind, now=moment, playbook=PLAYBOOK, default_timezone=TIMEZONE, default_currency="USD")
        for rep, row in zip(reps, rows, strict=True):
            card = scorecard_for(
                session, rep, kind, now=moment, playbook=PLAYBOOK, default_timezone=TIMEZONE, default_currency="USD"
            )
            overdue = sum(1 for action in card.development.actions if action.overdue)
            assert (row.person_id, row.name) == (rep.id, rep.name)
            assert (
                row.currency, row.quota, row.won_amount, row.attainment, row.pace, row.projected_amount,
                row.projected_attainment, row.open_deals, row.deals_with_gaps, row.adherence, row.overdue_actions,
                row.win_rate, row.sales_cycle_days, row.pipeline_in_period, row.coverage,
            ) == (
                card.currency, card.quota, card.won_amount, card.attainment, card.pace, card.projected_amount,
                card.projected_attainment, card.open_deal_count, len(card.deal_gaps), card.adherence, overdue,
                card.win_rate_by_count, card.sales_cycle_days, card.pipeline_in_period, card.coverage,
            ), rep.name  # fmt: skip
            if card.development.plan is not None:
                assert row.plan == card.development.plan.status


def test_the_rows_hold_the_figures_worked_out_by_hand(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_org(session_factory)
    scan_gaps(session_factory, PLAYBOOK, now, default_timezone=TIMEZONE)
    with session_factory() as session:
        team = view(session, ids["dana"], now)
    assert team.rows == (
        # Sam: €20,000 won of €80,000 (the USD deal left out); projected 20,000 + 30,000 × 0.40 (Demo)
        # + 10,000 × 0.5 (Legal Review, the CRM's probability); Q1's Negotiation and the deleted deal do not count.
        TeamRow(
            person_id=ids["sam"], name="Sam Rep", currency="EUR", quota=Decimal("80000.00"), won_amount=Decimal("20000.00"),
            attainment=0.25, pace=pytest.approx(0.25 * (92 * 24 + 1) / (55 * 24 + 17)), projected_amount=Decimal("37000.00"),
            projected_attainment=0.4625, open_deals=3, deals_with_gaps=0, adherence=1.0, overdue_actions=1, plan="open",
            attention=("projected 46% of quota", "pace 41%", "1 overdue action"),
            # Won S1 (33 days from creation) and S2 (34, USD: still a win by count); €30,000 + €10,000 closing this quarter.
            closed_deals=2, won_deals=2, sales_cycle_days=33.5, pipeline_in_period=Decimal("40000.00"),
        ),
        TeamRow(
            person_id=ids["riley"], name="Riley Rep", currency="USD", quota=Decimal("100000.00"), won_amount=Decimal("40000.00"),
            attainment=0.4, pace=pytest.approx(0.4 * (92 * 24 + 1) / (55 * 24 + 11)), projected_amount=Decimal("86000.00"),
            projected_attainment=0.86, open_deals=2, deals_with_gaps=1, adherence=0.5, overdue_actions=0, plan=None,
            attention=("pace 66%", "only 50% of open deals follow the process"),
            closed_deals=1, won_deals=1, sales_cycle_days=32, pipeline_in_period=Decimal("70000.00"),
        ),
        # Tess has no quota: no attainment, pace or projection, but her gaps and her proposed plan show.
        TeamRow(
            person_id=ids["tess"], name="Tess Rep", currency="USD", quota=None, won_amount=Decimal("8000.00"), attainment=None,
            pace=None, projected_amount=Decimal("10250.00"), projected_attainment=None, open_deals=1, deals_with_gaps=1,
            adherence=0.0, overdue_actions=0, plan="proposed",
            attention=("only 0% of open deals follow the process", "a recovery plan waits for you to open it"),
            closed_deals=1, won_deals=1, sales_cycle_days=40, pipeline_in_period=Decimal("15000.00"),
        ),
    )  # fmt: skip
    # Coverage: the pipeline closing this quarter over the gap to quota; Tess has no quota, so no gap.
    assert [row.coverage for row in team.rows] == [pytest.approx(40000 / 60000), pytest.approx(70000 / 60000), None]
    assert [row.win_rate for row in team.rows] == [1.0, 1.0, 1.0]
    assert (team.period.label, team.open_deals, team.adherence) == ("Q4 2026", 6, 4 / 6)
    totals = team.totals
    assert totals is not None
    # One EUR quota and one USD quota: on a tie the team's default currency wins; Sam and Tess are left out.
    assert (totals.currency, totals.reps, totals.quota, totals.won_amount, totals.projected_amount, totals.left_out) == (
        "USD",
        1,
        Decimal("100000.00"),
        Decimal("40000.00"),
        Decimal("86000.00"),
        2,
    )


def test_a_manager_sees_the_reps_under_them_directly_and_indirectly(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_org(session_factory)
    with session_factory() as session:
        assert sorted(row.name for row in view(session, ids["dana"], now).rows) == ["Riley Rep", "Sam Rep", "Tess Rep"]
        # Mia sees her own two active reps: not Ivy, who left, nor Dana's Tess.
        assert sorted(row.name for row in view(session, ids["mia"], now).rows) == ["Riley Rep", "Sam Rep"]


def test_a_coach_sees_only_the_reps_assigned_to_them(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_org(session_factory)
    with session_factory() as session:
        assert [row.name for row in view(session, ids["carl"], now).rows] == ["Sam Rep"]


def test_an_admin_sees_every_active_rep(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_org(session_factory)
    with session_factory() as session:
        assert sorted(row.name for row in view(session, ids["ada"], now).rows) == ["Olly Rep", "Riley Rep", "Sam Rep", "Tess Rep"]


def test_a_rep_without_a_team_role_is_refused_politely(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_org(session_factory)
    with session_factory() as session, pytest.raises(NotAllowed) as refused:
        view(session, ids["riley"], now)
    assert str(refused.value) == NO_TEAM


def test_a_manager_with_nobody_under_them_gets_an_empty_team(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_org(session_factory)
    with session_factory() as session:
        session.execute(update(Person).where(Person.id == ids["olly"]).values(manager_id=None))
        assert view(session, ids["max"], now).rows == ()


def test_every_rep_in_a_team_view_is_audited(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_org(session_factory)
    with session_scope(session_factory) as session:
        view(session, ids["mia"], now, "month")
    with session_factory() as session:
        entries = session.execute(
            select(AuditEntry.actor_id, AuditEntry.action, AuditEntry.subject_id, AuditEntry.detail, AuditEntry.at)
        ).all()
    assert sorted(entries) == sorted([(ids["mia"], "view_team", ids[rep], {"period": "month"}, now) for rep in ("riley", "sam")])


def test_a_manager_gets_a_reps_scorecard_and_the_look_is_audited(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_org(session_factory)
    with session_scope(session_factory) as session:
        card = rep_scorecard(
            session, person(session, ids["dana"]), person(session, ids["riley"]), "quarter", now=now, playbook=PLAYBOOK,
            default_timezone=TIMEZONE, default_currency="USD",
        )  # fmt: skip
    assert (card.person_name, card.won_amount) == ("Riley Rep", Decimal("40000.00"))
    with session_factory() as session:
        entries = session.execute(select(AuditEntry.actor_id, AuditEntry.action, AuditEntry.subject_id, AuditEntry.detail)).all()
    assert entries == [(ids["dana"], "view_scorecard", ids["riley"], {"period": "quarter"})]


@pytest.mark.parametrize(
    ("viewer", "subject"), [("riley", "sam"), ("carl", "riley"), ("mia", "tess"), ("max", "riley"), ("mia", None)]
)
def test_a_scorecard_not_yours_to_see_is_refused_without_a_word_about_the_rep(session_factory, now, viewer, subject) -> None:  # type: ignore[no-untyped-def]
    ids = seed_org(session_factory)
    with session_factory() as session:
        rep = person(session, ids[subject]) if subject else None
        with pytest.raises(NotAllowed) as refused:
            rep_scorecard(session, person(session, ids[viewer]), rep, "quarter", now=now, playbook=PLAYBOOK,
                          default_timezone=TIMEZONE, default_currency="USD")  # fmt: skip
        assert str(refused.value) == NOT_YOUR_REP
        assert session.scalars(select(AuditEntry)).all() == []


def test_the_team_view_costs_the_same_few_queries_for_three_reps_or_thirty(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_org(session_factory)
    with session_factory() as session:
        with counted_queries(session) as small:
            view(session, ids["dana"], now)
        session.add_all(
            Person(email=f"extra{number}@example.com", name=f"Extra {number}", is_rep=True, manager_id=ids["mia"])
            for number in range(27)
        )
        session.flush()
        with counted_queries(session) as large:
            assert len(view(session, ids["dana"], now).rows) == 30
    # Reading the viewer's team, the people, then won, lost, open (+ the CRM-weighted stages), overdue actions,
    # plans, quotas, goals, and one multi-row INSERT of the audit rows (once per rep before, at the commit).
    assert len(large) == len(small) <= 12
    assert sum(statement.startswith("INSERT INTO audit_log") for statement in large) == 1


def row(name: str, projected: float | None, attention: tuple[str, ...]) -> TeamRow:
    return TeamRow(
        person_id=0, name=name, currency="USD", quota=None, won_amount=Decimal(0), attainment=None, pace=None,
        projected_amount=Decimal(0), projected_attainment=projected, open_deals=0, deals_with_gaps=0, adherence=None,
        overdue_actions=0, plan=None, attention=attention,
    )  # fmt: skip


def test_who_needs_attention_comes_first_then_the_lowest_projection_then_the_name() -> None:
    rows = [
        row("Abe", None, ()),
        row("Bea", 0.9, ("1 overdue action",)),
        row("Cy", 0.5, ("pace 40%",)),
        row("Di", 0.2, ("projected 20% of quota", "pace 10%")),
        row("Ed", None, ("1 overdue action",)),
        row("Al", 0.9, ("1 overdue action",)),
    ]
    assert [r.name for r in sorted(rows, key=attention_order)] == ["Di", "Cy", "Al", "Bea", "Ed", "Abe"]


def test_attention_thresholds_come_from_the_playbook() -> None:
    strict = parse_playbook(
        "stages:\n  - {name: Proposal, probability: 0.6}\n"
        "recovery: {projected_below: 0.5}\nattention: {pace_below: 1.1, process_below: 0.9}\n",
        "strict.yml",
    )
    assert (strict.recovery.projected_below, strict.attention.pace_below, strict.attention.process_below) == (0.5, 1.1, 0.9)
    # Projected 60%, pace 100%, 80% of open deals follow the process: by the defaults only the
    # projection needs attention; by the strict playbook the pace and the process do, the projection not.
    assert attention_reasons(PLAYBOOK, 1.0, 0.6, 0.8, 0, None) == ("projected 60% of quota",)
    assert attention_reasons(strict, 1.0, 0.6, 0.8, 0, None) == ("pace 100%", "only 80% of open deals follow the process")
    assert attention_reasons(strict, 1.2, 0.4, 0.95, 2, "proposed") == (
        "projected 40% of quota",
        "2 overdue actions",
        "a recovery plan waits for you to open it",
    )


def test_attention_thresholds_that_are_not_shares_are_named_with_their_line() -> None:
    with pytest.raises(PlaybookError) as raised:
        parse_playbook(
            "stages:\n  - {name: Proposal, probability: 0.6}\nattention:\n  pace_below: 3\n  process_below: yes\n", "team.yml"
        )
    assert raised.value.errors == (
        "team.yml line 4: attention: `pace_below` must be a share above 0 and at most 2, like 0.8",
        "team.yml line 5: attention: `process_below` must be a share above 0 and at most 1, like 0.6",
    )
