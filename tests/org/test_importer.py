"""`coachbot org import`: whole files or nothing, idempotent, bad lines named."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.database import session_scope
from bot.models import CoachAssignment, Person, Quota
from bot.org.importer import OrgFileError, read_org_file, store_org

ORG_CSV = """\
email,name,roles,manager,coach,timezone,currency,quota 2026-Q4,quota 2027-Q1
mia.manager@example.com,Mia Manager,manager;admin,,,America/New_York,USD,,
carl.coach@example.com,Carl Coach,coach,,,America/Chicago,USD,,
riley.rep@example.com,Riley Rep,rep,mia.manager@example.com,carl.coach@example.com,America/Los_Angeles,USD,"250,000",260000
Sam.Rep@Example.com,Sam Rep,rep,mia.manager@example.com,,,USD,200000,
"""

ORG_YAML = """\
people:
  - email: mia.manager@example.com
    name: Mia Manager
    roles: [manager, admin]
  - email: carl.coach@example.com
    name: Carl Coach
    roles: coach
  - email: riley.rep@example.com
    name: Riley Rep
    manager: mia.manager@example.com
    coach: [carl.coach@example.com]
    timezone: America/Los_Angeles
    quotas:
      2026-Q4: 250000
      2027-Q1: 260000
  - email: sam.rep@example.com
    name: Sam Rep
    manager: mia.manager@example.com
    quotas: {2026-Q4: 200000}
"""


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content)
    return path


def import_file(session_factory: sessionmaker[Session], path: Path):  # type: ignore[no-untyped-def]
    people = read_org_file(path, "USD")
    with session_scope(session_factory) as session:
        return store_org(session, people)


@pytest.mark.parametrize(("name", "content"), [("org.csv", ORG_CSV), ("org.yaml", ORG_YAML)])
def test_an_org_file_stores_people_roles_managers_coaches_and_quotas(session_factory, tmp_path, name, content) -> None:  # type: ignore[no-untyped-def]
    summary = import_file(session_factory, write(tmp_path, name, content))
    assert (summary.created, summary.updated, summary.quotas_written, summary.coach_links_changed) == (4, 0, 3, 1)
    with session_factory() as session:
        people = {p.email: p for p in session.scalars(select(Person))}
        assert sorted(people) == [
            "carl.coach@example.com",
            "mia.manager@example.com",
            "riley.rep@example.com",
            "sam.rep@example.com",
        ]
        riley = people["riley.rep@example.com"]
        assert riley.roles == ("rep",)
        assert people["mia.manager@example.com"].roles == ("manager", "admin")
        assert riley.manager_id == people["mia.manager@example.com"].id
        assert riley.timezone == "America/Los_Angeles"
        assert session.scalars(select(CoachAssignment.coach_id).where(CoachAssignment.rep_id == riley.id)).all() == [
            people["carl.coach@example.com"].id
        ]
        quotas = session.execute(
            select(Quota.period_start, Quota.period_end, Quota.amount, Quota.currency)
            .where(Quota.person_id == riley.id)
            .order_by(Quota.period_start)
        ).all()
        assert quotas == [
            (dt.date(2026, 10, 1), dt.date(2027, 1, 1), Decimal("250000.00"), "USD"),
            (dt.date(2027, 1, 1), dt.date(2027, 4, 1), Decimal("260000.00"), "USD"),
        ]


def test_importing_the_same_file_twice_changes_nothing(session_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "org.csv", ORG_CSV)
    import_file(session_factory, path)
    with session_factory() as session:
        before = [(p.id, p.updated_at) for p in session.scalars(select(Person).order_by(Person.id))]
        quota_ids = session.scalars(select(Quota.id).order_by(Quota.id)).all()
    summary = import_file(session_factory, path)
    assert (summary.created, summary.updated, summary.unchanged, summary.quotas_written) == (0, 0, 4, 0)
    assert not summary.changed
    with session_factory() as session:
        assert [(p.id, p.updated_at) for p in session.scalars(select(Person).order_by(Person.id))] == before
        assert session.scalars(select(Quota.id).order_by(Quota.id)).all() == quota_ids


def test_a_changed_quota_replaces_the_old_one(session_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import_file(session_factory, write(tmp_path, "org.csv", ORG_CSV))
    summary = import_file(session_factory, write(tmp_path, "org.csv", ORG_CSV.replace('"250,000"', "275000")))
    assert summary.quotas_written == 1
    with session_factory() as session:
        amounts = session.scalars(
            select(Quota.amount).join(Person).where(Person.email == "riley.rep@example.com").order_by(Quota.period_start)
        ).all()
    assert amounts == [Decimal("275000.00"), Decimal("260000.00")]


def test_bad_lines_are_reported_with_their_numbers_and_nothing_is_imported(session_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = ORG_CSV + (
        "not-an-email,Bad Email,rep,,,,,,\n"
        "zed@example.com,Zed,ceo,,,Mars/Base,,2026-Q5,\n"
        "riley.rep@example.com,Riley Twice,rep,,,,,,\n"
    )
    with pytest.raises(OrgFileError) as raised:
        import_file(session_factory, write(tmp_path, "org.csv", bad))
    assert raised.value.problems == [
        "line 6: not-an-email is not an email address",
        "line 7: unknown role ceo (use rep, manager, coach, admin)",
        "line 7: unknown time zone 'Mars/Base' (use an IANA name like Europe/Paris)",
        "line 7: quota 2026-Q4 '2026-Q5' is not an amount",
        "line 8: riley.rep@example.com already appears on line 4",
    ]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0


def test_a_bad_quota_is_reported_with_its_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    content = "email,name,roles,quota 2026-Q4,quota 2026-11\nriley@example.com,Riley,rep,lots,1000\n"
    with pytest.raises(OrgFileError) as raised:
        read_org_file(write(tmp_path, "org.csv", content), "USD")
    assert raised.value.problems == [
        "line 2: quota 2026-Q4 'lots' is not an amount",
    ]


def test_overlapping_quota_periods_are_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    content = "email,name,roles,quota 2026-Q4,quota 2026-11\nriley@example.com,Riley,rep,1000,500\n"
    with pytest.raises(OrgFileError, match="line 2: quota periods overlap"):
        read_org_file(write(tmp_path, "org.csv", content), "USD")


def test_a_manager_who_is_nowhere_is_an_error_and_nothing_is_stored(session_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    content = "email,name,roles,manager\nriley@example.com,Riley,rep,boss@example.com\n"
    with pytest.raises(OrgFileError, match="line 2: boss@example.com is not in the file nor already imported"):
        import_file(session_factory, write(tmp_path, "org.csv", content))
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0


def test_a_yaml_error_names_the_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OrgFileError, match="line 3: not valid YAML"):
        read_org_file(write(tmp_path, "org.yml", "people:\n  - email: a@b.co\n\tname: Tab Indented\n"), "USD")


def test_a_changed_coach_replaces_the_old_one(session_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import_file(session_factory, write(tmp_path, "org.csv", ORG_CSV))
    moved = ORG_CSV.replace(
        "riley.rep@example.com,Riley Rep,rep,mia.manager@example.com,carl.coach@example.com",
        "riley.rep@example.com,Riley Rep,rep,mia.manager@example.com,mia.manager@example.com",
    )
    summary = import_file(session_factory, write(tmp_path, "org.csv", moved))
    assert summary.coach_links_changed == 2  # one added, one removed
    with session_factory() as session:
        coaches = session.scalars(
            select(Person.email).join(CoachAssignment, CoachAssignment.coach_id == Person.id).order_by(Person.email)
        ).all()
    assert coaches == ["mia.manager@example.com"]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("z@example.com,Zed,rep,Europe,1000", "line 2: unknown time zone 'Europe' (use an IANA name like Europe/Paris)"),
        ("z@example.com,Zed,rep,,1e30", "line 2: quota 2026-Q4 must be from 0 to 999,999,999,999.99"),
        ("z@example.com,Zed,rep,,1000000000000", "line 2: quota 2026-Q4 must be from 0 to 999,999,999,999.99"),
        ("z@example.com,Zed,rep,,-5", "line 2: quota 2026-Q4 must be from 0 to 999,999,999,999.99"),
        ("z@example.com," + "N" * 201 + ",rep,,1", "line 2: name is longer than 200 characters"),
        ("z" * 320 + "@example.com,Zed,rep,,1", "line 2: " + "z" * 80 + " is not an email address"),
    ],
)
def test_values_the_database_cannot_hold_are_reported_by_line(tmp_path, row, problem) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OrgFileError) as raised:
        read_org_file(write(tmp_path, "org.csv", "email,name,roles,timezone,quota 2026-Q4\n" + row + "\n"), "USD")
    assert raised.value.problems == [problem]


def test_people_missing_from_a_later_file_stay_as_they_are_unless_asked_to_deactivate(session_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import_file(session_factory, write(tmp_path, "org.csv", ORG_CSV))
    without_sam = write(
        tmp_path, "later.csv", "\n".join(line for line in ORG_CSV.splitlines() if not line.startswith("Sam.Rep")) + "\n"
    )
    assert import_file(session_factory, without_sam).deactivated == 0
    with session_factory() as session:
        assert session.scalar(select(Person.active).where(Person.email == "sam.rep@example.com")) is True
    with session_scope(session_factory) as session:
        summary = store_org(session, read_org_file(without_sam, "USD"), deactivate_missing=True)
    assert (summary.deactivated, summary.changed) == (1, True)
    with session_factory() as session:
        sam = session.scalar(select(Person).where(Person.email == "sam.rep@example.com"))
        assert sam is not None and sam.active is False
        assert session.scalar(select(func.count()).select_from(Quota).where(Quota.person_id == sam.id)) == 1  # history kept
    # Back in the file, back at work.
    assert import_file(session_factory, write(tmp_path, "again.csv", ORG_CSV)).updated == 1
    with session_factory() as session:
        assert session.scalar(select(Person.active).where(Person.email == "sam.rep@example.com")) is True
