"""The 1:1 agenda on a hand-built history: exact values, who may prepare it, Mark held and the rep's copy.

The team (test_goals.py): Vera manages Mia, who manages Riley; Carl coaches Riley; Olly coaches
nobody; Ada, added here, is an admin. `now` is Wednesday 2026-11-25 15:00 UTC, 10:00 in New York.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import to_dicts
from bot.blocks.agenda import one_on_one_copy_message
from bot.coaching import agenda as agendas
from bot.coaching.agenda import (
    OWN_AGENDA,
    AgendaAction,
    AgendaCheckin,
    AgendaGap,
    AgendaGoal,
    AgendaPlan,
    AgendaSnooze,
    AgendaWin,
    one_on_one_agenda,
)
from bot.coaching.errors import InvalidInput, NotAllowed
from bot.coaching.playbook import load_playbook
from bot.coaching.service import scorecard_for
from bot.database import session_scope
from bot.models import Action, AuditEntry, Deal, Goal, OneOnOne, OutboxMessage, Person, PlanCheckin, ProcessGap, RecoveryPlan
from tests.coaching.test_goals import Team, deal, outbox, person, seed_people
from tests.support.delivered import delivered

PLAYBOOK = load_playbook()
ZONE = "America/New_York"
send_copy = delivered(agendas.send_copy)


def utc(month: int, day: int, hour: int = 15) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


def gap(deal_row: Deal, rule: str, severity: str, detail: str, **fields: Any) -> ProcessGap:
    return ProcessGap(deal_id=deal_row.id, rule=rule, severity=severity, detail=detail, opened_at=utc(11, 1), **fields)


def seed_history(session_factory: sessionmaker[Session], team: Team, *, with_admin: bool = True) -> dict[str, int]:
    """Riley's quarter: three wins, five open deals (four with stored gaps, one snoozed), goals,
    actions, an open recovery plan with four check-ins. Ids of what the tests click on."""
    with session_scope(session_factory) as session:
        if with_admin:
            session.add(
                Person(email="ada.admin@example.com", name="Ada Admin", is_admin=True, slack_user_id="UADA", timezone=ZONE)
            )
        rep = team.riley
        acme = deal(rep, "O1", "50000", "Proposal", name="Acme renewal")
        globex = deal(rep, "O2", "20000", "Negotiation", name="Globex expansion", crm_url="https://crm.example.com/O2")
        initech = deal(rep, "O3", "80000", "Discovery", name="Initech pilot")
        hooli = deal(rep, "O4", "100000", "Prospecting", name="Hooli")
        clean = deal(rep, "O5", "10000", "Proposal", name="Umbrella")
        lost = deal(rep, "L1", "9000", "Closed Lost", name="Lost one", close_date=dt.date(2026, 11, 24))
        session.add_all([
            acme, globex, initech, hooli, clean, lost,
            deal(rep, "W1", "30000", "Closed Won", name="Wayne", close_date=dt.date(2026, 11, 20)),
            deal(rep, "W2", "10000", "Closed Won", name="Stark", close_date=dt.date(2026, 11, 5)),
            deal(rep, "W3", "5000", "Closed Won", name="Cyberdyne", close_date=dt.date(2026, 11, 11), product_line="Services"),
        ])  # fmt: skip
        session.flush()
        session.add_all([
            # Stored out of the playbook's order: the agenda lists a deal's reasons in rule order.
            gap(acme, "stale_stage", "medium", "30 days in Proposal (limit 21)"),
            gap(acme, "next_step_overdue", "medium", "next step was due Nov 20"),
            # Snoozed until today: back in the list.
            gap(globex, "close_date_past", "high", "close date Nov 20 has passed", snoozed_until=dt.date(2026, 11, 25),
                snooze_reason="Checking with legal"),
            gap(initech, "next_step_missing", "high", "no dated next step", snoozed_until=dt.date(2026, 12, 2),
                snooze_reason="Waiting on their budget cycle"),
            gap(hooli, "close_date_missing", "high", "no close date"),
            gap(lost, "next_step_missing", "high", "no dated next step"),  # the next scan resolves it
            gap(clean, "no_activity", "medium", "no activity for 20 days (limit 14)", resolved_at=utc(11, 20)),
        ])  # fmt: skip
        session.add_all([
            Goal(person_id=rep, set_by_id=team.carl, competency="Discovery", description="Two contacts on every deal",
                 due_date=dt.date(2026, 12, 18), progress=0.4),
            Goal(person_id=rep, set_by_id=team.mia, competency="Pipeline", description="Build Analytics pipeline",
                 measure="pipeline_in_line", measure_arg="Analytics", target=50000.0, progress=0.25),
            Goal(person_id=rep, set_by_id=team.mia, competency="Old", description="Done already", status="achieved",
                 progress=1.0),
        ])  # fmt: skip
        actions = [
            Action(person_id=rep, assigned_by_id=team.mia, text="Call the Acme CFO", due_date=dt.date(2026, 11, 23)),
            Action(person_id=rep, assigned_by_id=team.mia, text="Send the Globex recap", due_date=dt.date(2026, 11, 27)),
            Action(person_id=rep, assigned_by_id=team.carl, text="Role-play discovery", due_date=dt.date(2026, 12, 2)),
            Action(person_id=rep, assigned_by_id=team.carl, text="Read the playbook", due_date=dt.date(2026, 12, 3)),
            Action(person_id=rep, assigned_by_id=team.carl, text="Shadow a demo"),
            Action(person_id=rep, assigned_by_id=team.mia, text="Old news", due_date=dt.date(2026, 11, 20), status="done"),
        ]
        session.add_all(actions)
        session.add(
            RecoveryPlan(person_id=rep, manager_id=team.mia, period_start=dt.date(2026, 10, 1), period_end=dt.date(2026, 12, 31),
                         gap_amount=Decimal("55000"), pipeline_to_add=Decimal("40000"), currency="USD", status="cancelled",
                         opened_at=utc(10, 20))
        )  # fmt: skip
        plan = RecoveryPlan(
            person_id=rep, manager_id=team.mia, period_start=dt.date(2026, 10, 1), period_end=dt.date(2026, 12, 31),
            gap_amount=Decimal("60000"), pipeline_to_add=Decimal("45000"), currency="USD", status="open", opened_at=utc(11, 1),
        )  # fmt: skip
        session.add(plan)
        session.flush()
        session.add_all([
            PlanCheckin(plan_id=plan.id, asked_at=utc(11, 4, 14), answer="on_track", answered_at=utc(11, 4, 16)),
            PlanCheckin(plan_id=plan.id, asked_at=utc(11, 11, 14), answer="on_track", answered_at=utc(11, 11, 16)),
            PlanCheckin(plan_id=plan.id, asked_at=utc(11, 18, 14), answer="at_risk", note="Two deals slipped",
                        answered_at=utc(11, 18, 16)),
            # 02:00 UTC on the 25th is still the 24th in New York.
            PlanCheckin(plan_id=plan.id, asked_at=utc(11, 25, 2)),
        ])  # fmt: skip
        session.flush()
        return {"overdue_action": actions[0].id, "due_action": actions[1].id, "soon_action": actions[2].id}


@pytest.fixture
def team(session_factory: sessionmaker[Session]) -> Team:
    return seed_people(session_factory)


@pytest.fixture
def history(session_factory: sessionmaker[Session], team: Team) -> dict[str, int]:
    return seed_history(session_factory, team)


def agenda_for(session: Session, coach_id: int, rep_id: int, now: dt.datetime, **kwargs: Any) -> agendas.Agenda:
    return one_on_one_agenda(
        session, person(session, coach_id), person(session, rep_id), now, PLAYBOOK, default_timezone="UTC",
        default_currency="USD", **kwargs,
    )  # fmt: skip


def audit_rows(session_factory: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with session_factory() as session:
        columns = (AuditEntry.actor_id, AuditEntry.action, AuditEntry.subject_id, AuditEntry.detail, AuditEntry.at)
        return [tuple(row) for row in session.execute(select(*columns).order_by(AuditEntry.id))]


EXPECTED_GAPS = (
    AgendaGap("Acme renewal", None, Decimal("50000.00"), "USD", "Proposal", Decimal("30000.00"),
              ("next step was due Nov 20", "30 days in Proposal (limit 21)")),
    AgendaGap("Globex expansion", "https://crm.example.com/O2", Decimal("20000.00"), "USD", "Negotiation", Decimal("16000.00"),
              ("close date Nov 20 has passed",)),
    AgendaGap("Hooli", None, Decimal("100000.00"), "USD", "Prospecting", Decimal("5000.00"), ("no close date",)),
)  # fmt: skip


def test_the_agenda_holds_each_part_of_the_reps_history_exactly(session_factory, team, history, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        agenda = agenda_for(session, team.mia, team.riley, now)
        card = scorecard_for(session, person(session, team.riley), "quarter", now=now, playbook=PLAYBOOK,
                             default_timezone="UTC", default_currency="USD")  # fmt: skip
    assert (agenda.rep_id, agenda.rep_name, agenda.coach_name) == (team.riley, "Riley Rep", "Mia Manager")
    # No one-on-one marked held yet: the last 14 days, on Riley's calendar.
    assert (agenda.today, agenda.since, agenda.last_held) == (dt.date(2026, 11, 25), dt.date(2026, 11, 11), None)
    # The number and pace are /myperf's.
    assert agenda.card == card
    assert (card.won_amount, card.quota, card.attainment) == (Decimal("45000.00"), Decimal("100000.00"), 0.45)
    assert agenda.gaps == EXPECTED_GAPS and agenda.more_gap_deals == 0
    assert agenda.goals == (
        AgendaGoal("Discovery", "Two contacts on every deal", dt.date(2026, 12, 18), 0.4),
        AgendaGoal("Pipeline", "Build Analytics pipeline", None, 0.25, "pipeline_in_line", 50000.0, "Analytics"),
    )
    assert agenda.actions == (
        AgendaAction(history["overdue_action"], "Call the Acme CFO", dt.date(2026, 11, 23), overdue=True),
        AgendaAction(history["due_action"], "Send the Globex recap", dt.date(2026, 11, 27), overdue=False),
        AgendaAction(history["soon_action"], "Role-play discovery", dt.date(2026, 12, 2), overdue=False),
    )
    assert agenda.other_open_actions == 2
    assert agenda.plan == AgendaPlan(
        dt.date(2026, 12, 31), Decimal("60000.00"), Decimal("45000.00"), "USD",
        (AgendaCheckin(dt.date(2026, 11, 24), None, None), AgendaCheckin(dt.date(2026, 11, 18), "at_risk", "Two deals slipped"),
         AgendaCheckin(dt.date(2026, 11, 11), "on_track", None)),
    )  # fmt: skip
    assert agenda.snoozes == (
        AgendaSnooze("Initech pilot", "no dated next step", dt.date(2026, 12, 2), "Waiting on their budget cycle"),
    )
    assert agenda.wins == (
        AgendaWin("Wayne", Decimal("30000.00"), "USD", dt.date(2026, 11, 20), "Core"),
        AgendaWin("Cyberdyne", Decimal("5000.00"), "USD", dt.date(2026, 11, 11), "Services"),
    )
    assert agenda.won_since == Decimal("35000.00")
    assert audit_rows(session_factory) == [(team.mia, "view_one_on_one", team.riley, {"since": "2026-11-11"}, now)]


def test_the_next_agenda_starts_from_the_day_this_coach_marked_the_last_one_held(session_factory, team, history, now) -> None:  # type: ignore[no-untyped-def]
    week_ago = now - dt.timedelta(days=7)
    with session_scope(session_factory) as session:
        held_on = agendas.mark_held(
            session, person(session, team.mia), person(session, team.riley), week_ago, default_timezone="UTC"
        )
    assert held_on == dt.date(2026, 11, 18)
    with session_scope(session_factory) as session:
        mias = agenda_for(session, team.mia, team.riley, now)
        carls = agenda_for(session, team.carl, team.riley, now)
    assert (mias.since, mias.last_held, [win.deal_name for win in mias.wins]) == (
        dt.date(2026, 11, 18),
        dt.date(2026, 11, 18),
        ["Wayne"],
    )
    # Carl's one-on-ones with Riley are his own: Mia's leaves his agenda where it was.
    assert (carls.since, carls.last_held, [win.deal_name for win in carls.wins]) == (
        dt.date(2026, 11, 11),
        None,
        ["Wayne", "Cyberdyne"],
    )


def test_mark_held_records_the_reps_day_once_and_audits_it(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    late = utc(11, 26, 3)  # 22:00 on the 25th in New York
    with session_scope(session_factory) as session:
        mia, riley = person(session, team.mia), person(session, team.riley)
        assert agendas.mark_held(session, mia, riley, late, default_timezone="UTC") == dt.date(2026, 11, 25)
        assert agendas.mark_held(session, mia, riley, late + dt.timedelta(minutes=5), default_timezone="UTC") is None
        assert agendas.mark_held(session, mia, riley, utc(11, 26), default_timezone="UTC") == dt.date(2026, 11, 26)
    with session_factory() as session:
        rows = session.execute(select(OneOnOne.id, OneOnOne.coach_id, OneOnOne.rep_id, OneOnOne.held_at, OneOnOne.held_on)
                               .order_by(OneOnOne.id)).all()  # fmt: skip
    assert [tuple(row[1:]) for row in rows] == [
        (team.mia, team.riley, late, dt.date(2026, 11, 25)),
        (team.mia, team.riley, utc(11, 26), dt.date(2026, 11, 26)),
    ]
    assert audit_rows(session_factory) == [
        (team.mia, "one_on_one_held", team.riley, {"one_on_one_id": rows[0][0], "held_on": "2026-11-25"}, late),
        (team.mia, "one_on_one_held", team.riley, {"one_on_one_id": rows[1][0], "held_on": "2026-11-26"}, utc(11, 26)),
    ]


def test_the_biggest_gaps_stop_at_five_deals_and_count_the_rest(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        deals = [deal(team.riley, f"G{n}", f"{n}000", "Proposal", name=f"Deal {n}") for n in range(1, 8)]
        session.add_all(deals)
        session.flush()
        session.add_all(gap(row, "next_step_missing", "high", "no dated next step") for row in deals)
    with session_scope(session_factory) as session:
        agenda = agenda_for(session, team.mia, team.riley, now)
    assert [gap.deal_name for gap in agenda.gaps] == ["Deal 7", "Deal 6", "Deal 5", "Deal 4", "Deal 3"]
    assert agenda.more_gap_deals == 2


def test_an_empty_history_gives_an_empty_agenda(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        agenda = agenda_for(session, team.carl, team.riley, now)
    assert (agenda.gaps, agenda.goals, agenda.actions, agenda.plan, agenda.snoozes, agenda.wins) == ((), (), (), None, (), ())
    assert (agenda.more_gap_deals, agenda.other_open_actions, agenda.won_since) == (0, 0, Decimal(0))


# Who may prepare it ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["mia", "vera", "carl", "ada"])
def test_the_reps_managers_coaches_and_admins_may_prepare_it(session_factory, team, history, now, who) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        coach_id = team.__dict__.get(who) or session.scalar(select(Person.id).where(Person.slack_user_id == "UADA"))
        assert agenda_for(session, coach_id, team.riley, now).rep_name == "Riley Rep"


def test_anyone_else_is_refused_and_nothing_is_audited(session_factory, team, history, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        with pytest.raises(NotAllowed) as refused:
            agenda_for(session, team.olly, team.riley, now)
        assert (
            str(refused.value) == "Only Riley Rep's managers, assigned coaches and coachbot admins can prepare their 1:1 agenda."
        )
        with pytest.raises(NotAllowed) as own:
            agenda_for(session, team.riley, team.riley, now)
        assert str(own.value) == OWN_AGENDA
        with pytest.raises(NotAllowed):
            agendas.mark_held(session, person(session, team.olly), person(session, team.riley), now, default_timezone="UTC")
    assert audit_rows(session_factory) == []


def test_a_manager_is_not_a_rep_to_prepare_an_agenda_for(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session, pytest.raises(InvalidInput) as refused:
        agenda_for(session, team.vera, team.mia, now)
    assert str(refused.value) == "Mia Manager is not an active rep in coachbot's org."


# The rep's copy ---------------------------------------------------------------------------------


def test_the_reps_copy_is_queued_once_a_day_within_their_window_and_audited(session_factory, team, history, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        sent = send_copy(session, person(session, team.mia), person(session, team.riley), now, PLAYBOOK,
                         default_timezone="UTC", default_currency="USD")  # fmt: skip
        again = send_copy(session, person(session, team.mia), person(session, team.riley), now + dt.timedelta(hours=1),
                          PLAYBOOK, default_timezone="UTC", default_currency="USD")  # fmt: skip
    assert sent is not None and again is not None
    expected = one_on_one_copy_message(agenda=sent)
    key = f"one_on_one_copy:{team.mia}:{team.riley}:2026-11-25"
    assert outbox(session_factory) == [
        (key, "URILEY", "one_on_one_copy", {"text": expected.text, "blocks": to_dicts(expected.blocks)})
    ]
    # Sending is audited each time it is asked; the outbox key keeps it to one message.
    assert [row[:4] for row in audit_rows(session_factory)] == [
        (team.mia, "send_one_on_one", team.riley, {"key": key}),
        (team.mia, "send_one_on_one", team.riley, {"key": key}),
    ]


def test_a_copy_asked_for_in_the_reps_quiet_hours_waits_for_their_morning(session_factory, team, history) -> None:  # type: ignore[no-untyped-def]
    evening = utc(11, 26, 1)  # 20:00 on Wednesday in New York
    with session_scope(session_factory) as session:
        send_copy(session, person(session, team.mia), person(session, team.riley), evening, PLAYBOOK,
                  default_timezone="UTC", default_currency="USD")  # fmt: skip
    with session_factory() as session:
        assert session.scalars(select(OutboxMessage.next_attempt_at)).all() == [utc(11, 26, 13)]  # 08:00 Thursday


def test_a_rep_without_slack_gets_no_copy(session_factory, now) -> None:  # type: ignore[no-untyped-def]
    team = seed_people(session_factory, riley_slack=None)
    with session_scope(session_factory) as session:
        sent = send_copy(session, person(session, team.mia), person(session, team.riley), now, PLAYBOOK,
                         default_timezone="UTC", default_currency="USD")  # fmt: skip
    assert sent is None and outbox(session_factory) == [] and audit_rows(session_factory) == []
