"""Actions: assigning (and who may), completing once, reminding the day before, escalating once."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import to_dicts
from bot.blocks.coaching import action_assigned_message, action_done_message, action_reminder_message, escalation_message
from bot.coaching import actions
from bot.coaching.actions import overdue_actions
from bot.coaching.errors import InvalidInput, NotAllowed, NotFound
from bot.database import session_scope
from bot.models import Action, Goal
from tests.coaching.test_goals import Team, deal, outbox, person, seed_people
from tests.support.delivered import delivered

action_reminders = delivered(actions.action_reminders)
assign_action = delivered(actions.assign_action)
complete_action = delivered(actions.complete_action)
escalate_overdue = delivered(actions.escalate_overdue)


@pytest.fixture
def team(session_factory: sessionmaker[Session]) -> Team:
    return seed_people(session_factory)


def action_rows(session_factory: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with session_factory() as session:
        columns = (
            Action.person_id,
            Action.assigned_by_id,
            Action.text,
            Action.due_date,
            Action.deal_id,
            Action.goal_id,
            Action.status,
        )
        return list(session.execute(select(*columns).order_by(Action.id)))


def add_action(session_factory: sessionmaker[Session], team: Team, due: dt.date | None, **fields: Any) -> int:
    values: dict[str, Any] = {
        "person_id": team.riley, "assigned_by_id": team.carl, "text": "Call the CFO at Acme", "due_date": due,
        "status": "open", "created_at": dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC),
    }  # fmt: skip
    values.update(fields)
    with session_scope(session_factory) as session:
        action = Action(**values)
        session.add(action)
        session.flush()
        return action.id


def message_payload(message: Any) -> dict[str, Any]:
    return {"text": message.text, "blocks": to_dicts(message.blocks)}


# Assigning --------------------------------------------------------------------------------------


def test_a_coach_assigns_an_action_and_the_rep_gets_it_with_a_done_button(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        acme = deal(team.riley, "A1", name="Acme renewal", crm_url="https://crm.example.com/A1")
        goal = Goal(person_id=team.riley, set_by_id=team.carl, competency="Discovery", description="Two contacts", created_at=now)
        session.add_all([acme, goal])
        session.flush()
        action = assign_action(
            session, rep=person(session, team.riley), assigned_by=person(session, team.carl), text="  Call the CFO at Acme ",
            due_date=dt.date(2026, 11, 27), deal=acme, goal=goal, now=now,
        )  # fmt: skip
        ids = (action.id, acme.id, goal.id)
    action_id, deal_id, goal_id = ids
    assert action_rows(session_factory) == [
        (team.riley, team.carl, "Call the CFO at Acme", dt.date(2026, 11, 27), deal_id, goal_id, "open")
    ]
    expected = action_assigned_message(
        action_id=action_id, text="Call the CFO at Acme", assigned_by="Carl Coach", due_date=dt.date(2026, 11, 27),
        deal_name="Acme renewal", deal_url="https://crm.example.com/A1", goal="Discovery",
    )  # fmt: skip
    assert outbox(session_factory) == [(f"action:{action_id}", "URILEY", "action_assigned", message_payload(expected))]
    assert expected.text == "Carl Coach asked you to: Call the CFO at Acme (due Fri, Nov 27)"


@pytest.mark.parametrize("assigner", ["olly", "riley"])
def test_only_the_reps_managers_and_coach_may_assign_actions(session_factory, team, now, assigner) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        with pytest.raises(NotAllowed, match="Only Riley Rep's managers and assigned coaches can assign them actions."):
            assign_action(
                session, rep=person(session, team.riley), assigned_by=person(session, getattr(team, assigner)),
                text="Anything", due_date=None, now=now,
            )  # fmt: skip
    assert action_rows(session_factory) == []
    assert outbox(session_factory) == []


def test_the_managers_manager_may_assign_too(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        assign_action(
            session,
            rep=person(session, team.riley),
            assigned_by=person(session, team.vera),
            text="Forecast call",
            due_date=None,
            now=now,
        )
    assert [row[1] for row in action_rows(session_factory)] == [team.vera]


def test_an_action_on_someone_elses_deal_or_already_due_or_empty_is_refused(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        rep, coach = person(session, team.riley), person(session, team.carl)
        mias = deal(team.mia, "M1")
        session.add(mias)
        session.flush()
        with pytest.raises(InvalidInput, match="That deal is not Riley Rep's."):
            assign_action(session, rep=rep, assigned_by=coach, text="Call", due_date=None, deal=mias, now=now)
        # Nov 25 10:00 in New York: the 24th has passed there.
        with pytest.raises(InvalidInput, match="Nov 24 has already passed where Riley Rep is; pick today or later."):
            assign_action(session, rep=rep, assigned_by=coach, text="Call", due_date=dt.date(2026, 11, 24), now=now)
        with pytest.raises(InvalidInput, match="Please fill in the action."):
            assign_action(session, rep=rep, assigned_by=coach, text=" \n ", due_date=None, now=now)
    assert action_rows(session_factory) == []


def test_a_rep_without_slack_still_gets_the_action_but_no_message(session_factory, now, caplog) -> None:  # type: ignore[no-untyped-def]
    team = seed_people(session_factory, riley_slack=None)
    with caplog.at_level(logging.WARNING), session_scope(session_factory) as session:
        action = assign_action(
            session, rep=person(session, team.riley), assigned_by=person(session, team.carl), text="Call", due_date=None, now=now
        )
    assert len(action_rows(session_factory)) == 1
    assert outbox(session_factory) == []
    assert f"action_assigned not queued (action:{action.id}): person {team.riley} has no Slack account linked" in caplog.text


# Completing -------------------------------------------------------------------------------------


def test_the_rep_marks_an_action_done_and_the_coach_is_told_once(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    action_id = add_action(session_factory, team, dt.date(2026, 11, 27))
    for _ in range(2):
        with session_scope(session_factory) as session:
            action = complete_action(session, action_id, person(session, team.riley), now)
            assert (action.status, action.done_at) == ("done", now)
    expected = action_done_message(text="Call the CFO at Acme", done_by="Riley Rep", rep_name="Riley Rep")
    assert outbox(session_factory) == [(f"action_done:{action_id}", "UCARL", "action_done", message_payload(expected))]
    assert expected.text == "Riley Rep marked “Call the CFO at Acme” done."


def test_the_assigner_marking_it_done_is_not_told_about_it(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    action_id = add_action(session_factory, team, None)
    with session_scope(session_factory) as session:
        complete_action(session, action_id, person(session, team.carl), now)
    assert [row[-1] for row in action_rows(session_factory)] == ["done"]
    assert outbox(session_factory) == []


def test_a_manager_up_the_chain_may_mark_it_done_for_the_rep(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    action_id = add_action(session_factory, team, None)
    with session_scope(session_factory) as session:
        complete_action(session, action_id, person(session, team.vera), now)
    [(_, recipient, _, payload)] = outbox(session_factory)
    assert (recipient, payload["text"]) == ("UCARL", "Vera Vp marked “Call the CFO at Acme” done (Riley Rep's action).")


def test_an_outsider_may_not_mark_an_action_done(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    action_id = add_action(session_factory, team, None)
    with session_scope(session_factory) as session:
        with pytest.raises(
            NotAllowed, match="Only Riley Rep, whoever assigned it and Riley Rep's managers can mark this action done."
        ):
            complete_action(session, action_id, person(session, team.olly), now)
        with pytest.raises(NotFound, match="That action no longer exists."):
            complete_action(session, action_id + 1000, person(session, team.riley), now)
    assert [row[-1] for row in action_rows(session_factory)] == ["open"]


# Overdue and escalation ---------------------------------------------------------------------------


def test_an_action_is_overdue_from_midnight_on_the_reps_calendar(session_factory, team) -> None:  # type: ignore[no-untyped-def]
    action_id = add_action(session_factory, team, dt.date(2026, 11, 24))
    with session_factory() as session:
        # 23:59 on Nov 24 in New York, already Nov 25 in UTC: not overdue yet.
        assert overdue_actions(session, dt.datetime(2026, 11, 25, 4, 59, tzinfo=dt.UTC)) == []
        assert [a.id for a in overdue_actions(session, dt.datetime(2026, 11, 25, 5, 0, tzinfo=dt.UTC))] == [action_id]


def test_an_overdue_action_is_escalated_to_its_assigner_exactly_once(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    overdue = add_action(session_factory, team, dt.date(2026, 11, 23))
    add_action(session_factory, team, dt.date(2026, 11, 25))  # due today: not overdue
    add_action(session_factory, team, dt.date(2026, 11, 20), status="done")
    with session_scope(session_factory) as session:
        assert escalate_overdue(session, now) == 1
    with session_scope(session_factory) as session:
        assert escalate_overdue(session, now + dt.timedelta(hours=1)) == 0
    expected = escalation_message(
        rep_name="Riley Rep", text="Call the CFO at Acme", due_date=dt.date(2026, 11, 23), days_overdue=2
    )
    assert outbox(session_factory) == [(f"escalation:{overdue}", "UCARL", "action_escalation", message_payload(expected))]
    assert expected.text == "Riley Rep has not yet done “Call the CFO at Acme”, due Mon, Nov 23 (2 days ago)."
    with session_factory() as session:
        assert session.get(Action, overdue).escalated_at == now  # type: ignore[union-attr]


def test_an_action_whose_assigner_is_gone_escalates_to_the_reps_manager(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    overdue = add_action(session_factory, team, dt.date(2026, 11, 23), assigned_by_id=None)
    with session_scope(session_factory) as session:
        assert escalate_overdue(session, now) == 1
    assert [(row[0], row[1]) for row in outbox(session_factory)] == [(f"escalation:{overdue}", "UMIA")]


def test_escalation_waits_for_the_assigners_working_day(session_factory, team) -> None:  # type: ignore[no-untyped-def]
    add_action(session_factory, team, dt.date(2026, 11, 23))
    with session_scope(session_factory) as session:
        assert escalate_overdue(session, dt.datetime(2026, 11, 25, 8, 59, tzinfo=dt.UTC)) == 0  # 08:59 in London
    with session_scope(session_factory) as session:
        assert escalate_overdue(session, dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)) == 1


def test_an_assigner_without_slack_is_not_escalated_to_and_the_action_stays_unclaimed(session_factory, now, caplog) -> None:  # type: ignore[no-untyped-def]
    team = seed_people(session_factory, carl_slack=None)
    overdue = add_action(session_factory, team, dt.date(2026, 11, 23))
    with caplog.at_level(logging.WARNING), session_scope(session_factory) as session:
        assert escalate_overdue(session, now) == 0
    assert outbox(session_factory) == []
    assert f"action_escalation not queued (escalation:{overdue}): person {team.carl} has no Slack account linked" in caplog.text
    with session_factory() as session:
        assert session.get(Action, overdue).escalated_at is None  # type: ignore[union-attr]


# Reminders ----------------------------------------------------------------------------------------


def test_the_rep_is_reminded_the_day_before_an_action_is_due_exactly_once(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    tomorrow = add_action(session_factory, team, dt.date(2026, 11, 26))
    add_action(session_factory, team, dt.date(2026, 11, 27))  # two days out: not yet
    add_action(session_factory, team, dt.date(2026, 11, 26), created_at=now - dt.timedelta(hours=2))  # assigned this morning
    for _ in range(2):
        with session_scope(session_factory) as session:
            queued = action_reminders(session, now)
    assert queued == 0
    expected = action_reminder_message(
        action_id=tomorrow, text="Call the CFO at Acme", due_date=dt.date(2026, 11, 26), days_left=1, assigned_by="Carl Coach"
    )
    assert outbox(session_factory) == [(f"action_reminder:{tomorrow}", "URILEY", "action_reminder", message_payload(expected))]
    assert expected.text == "Due tomorrow, Thu, Nov 26: Call the CFO at Acme (asked by Carl Coach)"


def test_no_reminder_before_the_reps_morning(session_factory, team) -> None:  # type: ignore[no-untyped-def]
    add_action(session_factory, team, dt.date(2026, 11, 26))
    with session_scope(session_factory) as session:
        assert action_reminders(session, dt.datetime(2026, 11, 25, 13, 59, tzinfo=dt.UTC)) == 0  # 08:59 in New York
    assert outbox(session_factory) == []
