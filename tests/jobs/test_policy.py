"""One delivery window per person: their own nudge time, a pause, the digest off, quiet hours and
weekends, for the schedule, for hand-run jobs and for every message the domain decides."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.coaching import actions
from bot.database import session_scope
from bot.models import OutboxMessage, Person
from bot.settings import Settings
from jobs import morning_nudge, weekly_digest
from jobs.job import JobContext
from tests.jobs.test_schedule import PLAYBOOK, queued, run, schedule, seed
from tests.support.delivered import delivered

NEW_YORK = ZoneInfo("America/New_York")
MONDAY = dt.datetime(2026, 11, 2, 5, 0, tzinfo=dt.UTC)  # Monday Nov 2, 00:00 in New York
SETTINGS = Settings(_env_file=None, timezone="America/New_York")  # type: ignore[call-arg]


def set_person(session_factory, person_id: int, **values) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        person = session.get(Person, person_id)
        for name, value in values.items():
            setattr(person, name, value)


def test_a_reps_own_nudge_time_is_when_their_nudge_goes_out(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    set_person(session_factory, ids["nora"], nudge_time="10:30")
    run(schedule(session_factory), MONDAY, MONDAY + dt.timedelta(hours=20))
    nudges = [(who, when) for who, kind, when in queued(session_factory) if kind == "nudge"]
    assert nudges == [("UNORA", "Mon Nov 02 10:30 EST"), ("ULEO", "Mon Nov 02 09:00 PST")]


def test_a_paused_rep_gets_nothing_through_their_last_day_off_and_their_nudge_the_day_after(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    set_person(session_factory, ids["nora"], paused_until=dt.date(2026, 11, 3))
    run(schedule(session_factory), MONDAY, MONDAY + dt.timedelta(days=3))
    nora = [when for who, kind, when in queued(session_factory) if who == "UNORA"]
    assert nora == ["Wed Nov 04 09:00 EST"]


def test_a_manager_who_turned_the_digest_off_gets_none(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    set_person(session_factory, ids["mia"], digest_enabled=False)
    run(schedule(session_factory), MONDAY, MONDAY + dt.timedelta(hours=20))
    assert [kind for who, kind, _ in queued(session_factory) if who == "UMIA"] == []


def test_a_hand_run_nudge_holds_back_reps_outside_their_window_unless_forced(session_factory) -> None:  # type: ignore[no-untyped-def]
    seed(session_factory)
    two_am_utc = dt.datetime(2026, 11, 4, 2, 0, tzinfo=dt.UTC)  # 21:00 in New York, 18:00 in Los Angeles
    context = JobContext(SETTINGS, session_factory, PLAYBOOK)
    assert morning_nudge.JOB.run(context, two_am_utc, None) == (
        "1 nudge(s) queued for 2 rep(s) (reps with nothing worth saying, or not in Slack, get none); "
        "1 held back: paused, in quiet hours or not a working day where they are (--force sends anyway)"
    )
    assert [who for who, _, _ in queued(session_factory)] == ["ULEO"]
    forced = JobContext(SETTINGS, session_factory, PLAYBOOK, force=True)
    assert morning_nudge.JOB.run(forced, two_am_utc, None).endswith("; forced: sent whatever the time where they are")
    assert sorted(who for who, _, _ in queued(session_factory)) == ["ULEO", "UNORA"]
    saturday = dt.datetime(2026, 11, 7, 15, 0, tzinfo=dt.UTC)
    assert weekly_digest.JOB.run(context, saturday, None) == (
        "0 digest(s) queued for 1 manager(s) (a manager can turn theirs off); "
        "1 held back: paused, in quiet hours or not a working day where they are (--force sends anyway)"
    )


def test_a_forced_digest_goes_out_of_the_window_but_never_to_a_manager_who_turned_it_off(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    set_person(session_factory, ids["mia"], digest_enabled=False)
    saturday = dt.datetime(2026, 11, 7, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York, not a working day
    context = JobContext(SETTINGS, session_factory, PLAYBOOK)
    # Turned off is not "held back": the window has nothing to do with it.
    assert weekly_digest.JOB.run(context, saturday, None) == (
        "0 digest(s) queued for 1 manager(s) (a manager can turn theirs off); "
        "1 turned their digest off (skipped, even with --force)"
    )
    forced = JobContext(SETTINGS, session_factory, PLAYBOOK, force=True)
    assert weekly_digest.JOB.run(forced, saturday, None) == (
        "0 digest(s) queued for 1 manager(s) (a manager can turn theirs off); "
        "1 turned their digest off (skipped, even with --force); forced: sent whatever the time where they are"
    )
    assert queued(session_factory) == []
    set_person(session_factory, ids["mia"], digest_enabled=True)
    assert weekly_digest.JOB.run(forced, saturday, None) == (
        "1 digest(s) queued for 1 manager(s) (a manager can turn theirs off); forced: sent whatever the time where they are"
    )
    assert [(who, kind, when) for who, kind, when in queued(session_factory)] == [("UMIA", "digest", "Sat Nov 07 10:00 EST")]


def test_a_message_decided_outside_the_window_waits_for_it_to_open(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    friday_night = dt.datetime(2026, 11, 7, 3, 30, tzinfo=dt.UTC)  # Friday Nov 6, 22:30 in New York
    with session_scope(session_factory) as session:
        nora, mia = session.get(Person, ids["nora"]), session.get(Person, ids["mia"])
        delivered(actions.assign_action)(session, rep=nora, assigned_by=mia, text="Call Acme", due_date=None, now=friday_night,
                                         default_timezone="America/New_York")  # fmt: skip
    with session_factory() as session:
        [(created, due)] = session.execute(select(OutboxMessage.created_at, OutboxMessage.next_attempt_at)).all()
    assert created == friday_night
    # Not on the weekend, not before quiet hours end: Monday 08:00 where Nora is.
    assert due.astimezone(NEW_YORK) == dt.datetime(2026, 11, 9, 8, 0, tzinfo=NEW_YORK)
