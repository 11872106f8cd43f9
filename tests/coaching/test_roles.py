"""Roles and coach assignments changed by an admin: only by admins, each change audited, nothing half-done."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.errors import InvalidInput, NotAllowed, WrongState
from bot.coaching.roles import RoleChange, assign_coach, change_role, unassign_coach
from bot.database import session_scope
from bot.models import AuditEntry, CoachAssignment, Person
from tests.coaching.test_goals import Team, person, seed_people


@pytest.fixture
def team(session_factory: sessionmaker[Session]) -> Team:
    return seed_people(session_factory)


@pytest.fixture
def ada(session_factory: sessionmaker[Session]) -> int:
    """Ada, the admin."""
    with session_scope(session_factory) as session:
        admin = Person(email="ada.admin@example.com", name="Ada Admin", is_admin=True, slack_user_id="UADA")
        session.add(admin)
        session.flush()
        return admin.id


def audit_rows(session_factory: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with session_factory() as session:
        columns = (AuditEntry.actor_id, AuditEntry.action, AuditEntry.subject_id, AuditEntry.detail, AuditEntry.at)
        return [tuple(row) for row in session.execute(select(*columns).order_by(AuditEntry.id))]


def assignments(session_factory: sessionmaker[Session]) -> list[tuple[int, int]]:
    with session_factory() as session:
        return [
            tuple(row)
            for row in session.execute(select(CoachAssignment.coach_id, CoachAssignment.rep_id).order_by(CoachAssignment.id))
        ]  # type: ignore[misc]


def test_an_admin_gives_a_role_and_the_change_is_audited(session_factory, team, ada, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        change = change_role(session, person(session, ada), person(session, team.riley), "coach", grant=True, now=now)
    assert change == RoleChange("coach", True, changed=True)
    with session_factory() as session:
        assert person(session, team.riley).roles == ("rep", "coach")
    assert audit_rows(session_factory) == [(ada, "set_role", team.riley, {"role": "coach", "granted": True}, now)]


def test_removing_the_coach_role_ends_that_persons_coach_assignments(session_factory, team, ada, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        change = change_role(session, person(session, ada), person(session, team.carl), "coach", grant=False, now=now)
    assert change == RoleChange("coach", False, changed=True, assignments_ended=1)
    assert assignments(session_factory) == []
    [(actor, action, subject, detail, _)] = audit_rows(session_factory)
    assert (actor, action, subject, detail) == (
        ada,
        "set_role",
        team.carl,
        {"role": "coach", "granted": False, "coach_assignments_ended": 1},
    )


def test_removing_the_rep_role_ends_the_coach_assignments_to_them(session_factory, team, ada, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        change = change_role(session, person(session, ada), person(session, team.riley), "rep", grant=False, now=now)
    assert (change.changed, change.assignments_ended) == (True, 1)
    assert assignments(session_factory) == []


def test_a_role_already_held_changes_nothing_and_is_not_audited(session_factory, team, ada, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        admin = person(session, ada)
        assert change_role(session, admin, person(session, team.riley), "rep", grant=True, now=now) == RoleChange(
            "rep", True, changed=False
        )
        assert change_role(session, admin, person(session, team.riley), "admin", grant=False, now=now) == RoleChange(
            "admin", False, changed=False
        )
    assert audit_rows(session_factory) == []


def test_the_last_admin_keeps_the_role(session_factory, team, ada, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session, pytest.raises(WrongState) as refused:
        change_role(session, person(session, ada), person(session, ada), "admin", grant=False, now=now)
    assert str(refused.value) == "Ada Admin is the last admin; make someone else an admin first."
    with session_scope(session_factory) as session:
        admin = person(session, ada)
        change_role(session, admin, person(session, team.mia), "admin", grant=True, now=now)
        assert change_role(session, admin, admin, "admin", grant=False, now=now).changed


def test_an_unknown_role_is_refused_naming_the_roles(session_factory, team, ada, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session, pytest.raises(InvalidInput) as refused:
        change_role(session, person(session, ada), person(session, team.riley), "<!boss>", grant=True, now=now)
    assert str(refused.value) == "There is no role “<!boss>”. The roles are rep, manager, coach, admin."


def test_only_admins_change_roles_and_coach_assignments(session_factory, team, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        mia, riley, olly = person(session, team.mia), person(session, team.riley), person(session, team.olly)
        for attempt in (
            lambda: change_role(session, mia, riley, "coach", grant=True, now=now),
            lambda: assign_coach(session, mia, olly, riley, now),
            lambda: unassign_coach(session, mia, person(session, team.carl), riley, now),
        ):
            with pytest.raises(NotAllowed) as refused:
                attempt()
            assert str(refused.value) == "Only coachbot admins can change roles and coach assignments."
    assert audit_rows(session_factory) == []
    assert assignments(session_factory) == [(team.carl, team.riley)]


def test_an_admin_assigns_and_unassigns_a_coach_and_both_are_audited(session_factory, team, ada, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        assert assign_coach(session, person(session, ada), person(session, team.olly), person(session, team.riley), now) is True
    assert assignments(session_factory) == [(team.carl, team.riley), (team.olly, team.riley)]
    with session_scope(session_factory) as session:
        assert unassign_coach(session, person(session, ada), person(session, team.carl), person(session, team.riley), now) is True
    assert assignments(session_factory) == [(team.olly, team.riley)]
    assert [row[:4] for row in audit_rows(session_factory)] == [
        (ada, "assign_coach", team.riley, {"coach_id": team.olly}),
        (ada, "unassign_coach", team.riley, {"coach_id": team.carl}),
    ]


def test_assigning_twice_or_unassigning_nobody_changes_nothing(session_factory, team, ada, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        admin, riley = person(session, ada), person(session, team.riley)
        assert assign_coach(session, admin, person(session, team.carl), riley, now) is False
        assert unassign_coach(session, admin, person(session, team.olly), riley, now) is False
    assert audit_rows(session_factory) == []
    assert assignments(session_factory) == [(team.carl, team.riley)]


@pytest.mark.parametrize(
    ("coach", "rep", "message"),
    [
        ("mia", "riley", "Mia Manager does not have the coach role; give it to them first."),
        ("olly", "mia", "Mia Manager is not a rep; only reps are coached."),
        ("carl", "carl", "Nobody can be their own coach."),
    ],
)
def test_only_a_coach_is_assigned_and_only_to_a_rep(session_factory, team, ada, now, coach, rep, message) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session, pytest.raises(InvalidInput) as refused:
        assign_coach(
            session, person(session, ada), person(session, getattr(team, coach)), person(session, getattr(team, rep)), now
        )
    assert str(refused.value) == message


def test_someone_who_left_cannot_be_assigned(session_factory, team, ada, now) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        person(session, team.riley).active = False
    with session_scope(session_factory) as session, pytest.raises(InvalidInput) as refused:
        assign_coach(session, person(session, ada), person(session, team.olly), person(session, team.riley), now)
    assert str(refused.value) == "Riley Rep is no longer active in coachbot."
