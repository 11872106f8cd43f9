"""The daily DM budget and folding, driven through the schedule with the hourly round: a reminder
over `nudges.daily_budget`, or decided before the day's nudge, arrives inside the next morning
nudge; escalations and proposals may go over it but never out of the window; every window knob
(working days, quiet hours start and end, a pause) moves what goes out when."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.coaching import actions
from bot.coaching.notices import ActionEscalated, ActionReminder, GoalSet, Notices, PlanCheckinAsked
from bot.coaching.playbook import Playbook, QuietHours
from bot.database import session_scope
from bot.delivery import budget
from bot.delivery.messages import deliver
from bot.models import Action, DmBudgetUnit, FoldedItem, OutboxMessage, Person
from jobs import coaching_hourly, morning_nudge, weekly_digest
from jobs.job import JobContext
from jobs.schedule import Schedule
from tests.jobs.test_policy import set_person
from tests.jobs.test_schedule import PLAYBOOK, seed
from tests.jobs.test_schedule import schedule as nudge_schedule

NEW_YORK = ZoneInfo("America/New_York")
ZONES = {"UMIA": NEW_YORK, "UNORA": NEW_YORK, "ULEO": ZoneInfo("America/Los_Angeles")}
MONDAY = dt.datetime(2026, 11, 9, 5, 0, tzinfo=dt.UTC)  # Monday Nov 9, 00:00 in New York (EST)
TICK = dt.timedelta(minutes=15)


def playbook(**nudges: object) -> Playbook:
    return dataclasses.replace(PLAYBOOK, nudges=dataclasses.replace(PLAYBOOK.nudges, **nudges))


def schedule(session_factory, book: Playbook = PLAYBOOK) -> Schedule:  # type: ignore[no-untyped-def]
    """The per-person jobs and the hourly round, as `coachbot run` ticks them."""
    settings = nudge_schedule(session_factory).settings
    return Schedule(settings, session_factory, book, jobs=(morning_nudge.JOB, weekly_digest.JOB, coaching_hourly.JOB))


def run(sched: Schedule, start: dt.datetime, end: dt.datetime) -> None:
    moment = start
    while moment <= end:
        sched.tick(moment)
        moment += TICK


def add_action(session_factory, rep: int, by: int, text: str, due: dt.date, created: dt.datetime) -> int:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as session:
        action = Action(person_id=rep, assigned_by_id=by, text=text, due_date=due, status="open", created_at=created)
        session.add(action)
        session.flush()
        return action.id


def sent(session_factory, recipient: str | None = None) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(recipient, kind, when it may go out in the recipient's zone), in that order."""
    with session_factory() as session:
        rows = session.execute(
            select(OutboxMessage.recipient, OutboxMessage.kind, OutboxMessage.next_attempt_at).order_by(
                OutboxMessage.next_attempt_at, OutboxMessage.recipient, OutboxMessage.kind
            )
        ).all()
    return [
        (who, kind, when.astimezone(ZONES[who]).strftime("%a %b %d %H:%M"))
        for who, kind, when in rows
        if recipient in (None, who)
    ]


def nudge_titles(session_factory, key: str) -> list[str]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        payload = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.dedupe_key == key)).one()
    return [block["text"]["text"].split("*")[1] for block in payload["blocks"][1:] if block["type"] == "section"]


def folded(session_factory) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return [
            tuple(row) for row in session.execute(select(FoldedItem.dedupe_key, FoldedItem.carried_by).order_by(FoldedItem.id))
        ]


def test_a_reminder_over_the_budget_comes_in_the_next_morning_nudge_not_on_its_own(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    action = add_action(session_factory, ids["nora"], ids["mia"], "Send Acme the pricing", dt.date(2026, 11, 11), MONDAY)
    run(schedule(session_factory), MONDAY + dt.timedelta(days=1), MONDAY + dt.timedelta(days=2, hours=16))
    # Tuesday: the nudge at 09:00 spent the day's one unit, so the reminder the 09:00 round decided
    # (the action is due Wednesday) waits for Wednesday's nudge, which carries it as due today.
    assert sent(session_factory, "UNORA") == [("UNORA", "nudge", "Tue Nov 10 09:00"), ("UNORA", "nudge", "Wed Nov 11 09:00")]
    assert folded(session_factory) == [(f"action_reminder:{action}", f"nudge:{ids['nora']}:2026-11-11")]
    assert "Send Acme the pricing" in nudge_titles(session_factory, f"nudge:{ids['nora']}:2026-11-11")
    with session_factory() as session:
        assert session.get(Action, action).reminded_at is not None  # claimed once: never decided again


def test_a_budget_of_two_lets_the_reminder_go_out_after_the_nudge(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    add_action(session_factory, ids["nora"], ids["mia"], "Send Acme the pricing", dt.date(2026, 11, 11), MONDAY)
    run(
        schedule(session_factory, playbook(daily_budget=2)),
        MONDAY + dt.timedelta(days=1),
        MONDAY + dt.timedelta(days=1, hours=16),
    )
    assert sent(session_factory, "UNORA") == [
        ("UNORA", "action_reminder", "Tue Nov 10 09:00"),
        ("UNORA", "nudge", "Tue Nov 10 09:00"),
    ]
    assert folded(session_factory) == []
    with session_factory() as session:
        units = session.execute(
            select(DmBudgetUnit.unit, DmBudgetUnit.kind, DmBudgetUnit.local_day).where(DmBudgetUnit.person_id == ids["nora"])
            .order_by(DmBudgetUnit.unit)
        ).all()  # fmt: skip
    assert units == [(1, "nudge", dt.date(2026, 11, 10)), (2, "action_reminder", dt.date(2026, 11, 10))]


def test_a_reminder_decided_before_the_days_nudge_waits_in_it_even_with_budget_to_spare(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    set_person(session_factory, ids["nora"], nudge_time="11:00")
    action = add_action(session_factory, ids["nora"], ids["mia"], "Send Acme the pricing", dt.date(2026, 11, 11), MONDAY)
    run(
        schedule(session_factory, playbook(daily_budget=3)),
        MONDAY + dt.timedelta(days=1),
        MONDAY + dt.timedelta(days=1, hours=16),
    )
    assert sent(session_factory, "UNORA") == [("UNORA", "nudge", "Tue Nov 10 11:00")]
    assert folded(session_factory) == [(f"action_reminder:{action}", f"nudge:{ids['nora']}:2026-11-10")]
    assert "Send Acme the pricing" in nudge_titles(session_factory, f"nudge:{ids['nora']}:2026-11-10")


def test_a_folded_reminder_is_carried_even_when_it_would_not_rank_in_the_top_items(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    set_person(session_factory, ids["nora"], nudge_time="11:00")
    add_action(session_factory, ids["nora"], ids["mia"], "Send Acme the pricing", dt.date(2026, 11, 11), MONDAY)
    # One item a nudge: the two gaps outrank an action due tomorrow, but the folded reminder is kept.
    run(schedule(session_factory, playbook(max_items=1)), MONDAY + dt.timedelta(days=1), MONDAY + dt.timedelta(days=1, hours=16))
    assert nudge_titles(session_factory, f"nudge:{ids['nora']}:2026-11-10") == ["Nora Rep's big deal", "Send Acme the pricing"]


def test_escalations_may_go_over_the_budget_but_wait_out_the_weekend(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    thursday = MONDAY - dt.timedelta(days=4)
    for text in ("Call Acme", "Call Globex"):
        add_action(session_factory, ids["nora"], ids["mia"], text, dt.date(2026, 11, 6), thursday)
    # Friday Nov 6 is their due day; they are overdue from Saturday, when Mia hears nothing. The
    # plan proposals (Nora and Leo are projected short) are urgent too: four messages, budget 1.
    run(schedule(session_factory), MONDAY - dt.timedelta(days=2), MONDAY + dt.timedelta(hours=16))
    assert sent(session_factory, "UMIA") == [
        ("UMIA", "action_escalation", "Mon Nov 09 08:00"),
        ("UMIA", "action_escalation", "Mon Nov 09 08:00"),
        ("UMIA", "digest", "Mon Nov 09 08:00"),
        ("UMIA", "plan_proposal", "Mon Nov 09 08:00"),
        ("UMIA", "plan_proposal", "Mon Nov 09 08:00"),
    ]
    with session_factory() as session:
        units = session.scalars(select(DmBudgetUnit.unit).where(DmBudgetUnit.person_id == ids["mia"]).order_by(DmBudgetUnit.unit))
        assert units.all() == [1, 2, 3, 4]  # the digest is not counted


def test_working_days_decide_which_days_nudges_go_out(session_factory) -> None:  # type: ignore[no-untyped-def]
    seed(session_factory)
    book = playbook(working_days=("tue", "wed", "thu", "fri", "sat"))
    run(schedule(session_factory, book), MONDAY - dt.timedelta(days=2), MONDAY + dt.timedelta(hours=16))
    # Saturday Nov 7 is a working day now, Sunday and Monday are not.
    assert sent(session_factory, "UNORA") == [("UNORA", "nudge", "Sat Nov 07 09:00")]


def test_the_end_of_quiet_hours_is_when_a_nudge_inside_them_and_a_message_decided_at_night_go(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    book = playbook(quiet_hours=QuietHours(start="19:00", end="10:00"))
    run(schedule(session_factory, book), MONDAY, MONDAY + dt.timedelta(hours=16))
    # 09:00 is still quiet: the run waits (unclaimed, within the missed-run grace) until 10:00.
    assert sent(session_factory, "UNORA") == [("UNORA", "nudge", "Mon Nov 09 10:00")]
    escalation_from_the_night(session_factory, ids, book)
    assert sent(session_factory, "UMIA")[-1] == ("UMIA", "action_escalation", "Tue Nov 10 10:00")


def test_the_start_of_quiet_hours_holds_back_what_is_decided_after_it(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    early = playbook(quiet_hours=QuietHours(start="17:00", end="08:00"))
    with session_scope(session_factory) as session:
        nora, mia = session.get(Person, ids["nora"]), session.get(Person, ids["mia"])
        at_half_past_five = MONDAY + dt.timedelta(hours=17, minutes=30)
        delivered_assign(session, nora, mia, "Call Acme", at_half_past_five, early)
        delivered_assign(session, nora, mia, "Call Globex", at_half_past_five, PLAYBOOK)
    assert sent(session_factory, "UNORA") == [("UNORA", "action_assigned", "Mon Nov 09 17:30"),
                                              ("UNORA", "action_assigned", "Tue Nov 10 08:00")]  # fmt: skip


def test_a_reminder_decided_during_a_pause_waits_in_the_first_nudge_after_it(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    set_person(session_factory, ids["nora"], paused_until=dt.date(2026, 11, 10))
    action = add_action(session_factory, ids["nora"], ids["mia"], "Send Acme the pricing", dt.date(2026, 11, 11), MONDAY)
    run(
        schedule(session_factory, playbook(daily_budget=5)),
        MONDAY + dt.timedelta(days=1),
        MONDAY + dt.timedelta(days=2, hours=16),
    )
    assert sent(session_factory, "UNORA") == [("UNORA", "nudge", "Wed Nov 11 09:00")]
    assert folded(session_factory) == [(f"action_reminder:{action}", f"nudge:{ids['nora']}:2026-11-11")]


def escalation_from_the_night(session_factory, ids: dict[str, int], book: Playbook) -> None:  # type: ignore[no-untyped-def]
    """An action of Nora's due Monday, escalated to Mia by a round at 00:30 Tuesday her time."""
    add_action(session_factory, ids["nora"], ids["mia"], "Call Initech", dt.date(2026, 11, 9), MONDAY - dt.timedelta(days=3))
    night = MONDAY + dt.timedelta(days=1, minutes=30)
    with session_scope(session_factory) as session:
        notices = Notices()
        # not_before 00:00: only the window holds the escalation back.
        actions.escalate_overdue(session, notices, night, not_before=dt.time(0, 0), default_timezone="America/New_York")
        deliver(session, notices, night, playbook=book, default_timezone="America/New_York")


def delivered_assign(session, rep: Person, by: Person, text: str, now: dt.datetime, book: Playbook) -> None:  # type: ignore[no-untyped-def]
    notices = Notices()
    actions.assign_action(session, notices, rep=rep, assigned_by=by, text=text, due_date=None, now=now,
                          default_timezone="America/New_York")  # fmt: skip
    deliver(session, notices, now, playbook=book, default_timezone="America/New_York")


def test_two_instances_deciding_reminders_at_once_cannot_both_spend_the_last_unit(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    day = dt.date(2026, 11, 10)
    first = session_factory()
    nora_first = first.get(Person, ids["nora"])
    assert budget.spend(first, nora_first, day, key="action_reminder:1", kind="action_reminder", now=MONDAY, limit=1)
    outcome: list[int | None] = []

    def second_instance() -> None:
        with session_scope(session_factory) as session:
            nora = session.get(Person, ids["nora"])
            # Waits on the first instance's uncommitted unit, then finds the budget spent.
            outcome.append(budget.spend(session, nora, day, key="action_reminder:2", kind="action_reminder", now=MONDAY, limit=1))

    racing = threading.Thread(target=second_instance)
    racing.start()
    time.sleep(0.5)
    first.commit()
    first.close()
    racing.join(timeout=30)
    assert outcome == [None]
    with session_factory() as session:
        assert budget.spent(session, ids["nora"], day) == 1


def test_a_hand_run_hourly_round_keeps_to_the_window_unless_forced(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    add_action(session_factory, ids["nora"], ids["mia"], "Call Acme", dt.date(2026, 11, 5), MONDAY - dt.timedelta(days=7))
    saturday_noon = MONDAY - dt.timedelta(days=2) + dt.timedelta(hours=12)  # Sat Nov 7, 12:00 in New York
    context = JobContext(nudge_schedule(session_factory).settings, session_factory, PLAYBOOK)
    summary = coaching_hourly.JOB.run(context, saturday_noon, None)
    assert "1 escalations" in summary and "forced" not in summary
    assert [when for _, kind, when in sent(session_factory, "UMIA") if kind == "action_escalation"] == ["Mon Nov 09 08:00"]
    add_action(session_factory, ids["nora"], ids["mia"], "Call Globex", dt.date(2026, 11, 5), MONDAY - dt.timedelta(days=7))
    forced = dataclasses.replace(context, force=True)
    assert coaching_hourly.JOB.run(forced, saturday_noon, None).endswith(
        "1 escalations, 0 plan proposals, 0 check-ins, 0 plans closed; forced: queued for now whatever the time where they are"
    )
    assert [when for _, kind, when in sent(session_factory, "UMIA") if kind == "action_escalation"] == [
        "Sat Nov 07 12:00", "Mon Nov 09 08:00"
    ]  # fmt: skip


def test_a_hand_run_nudge_at_two_utc_holds_back_berlin_and_on_a_saturday_everyone(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    set_person(session_factory, ids["nora"], timezone="Europe/Berlin")
    context = JobContext(nudge_schedule(session_factory).settings, session_factory, PLAYBOOK)
    two_utc = MONDAY - dt.timedelta(hours=3)  # Monday Nov 9 02:00 UTC: 03:00 in Berlin, Sunday 18:00 in Los Angeles
    assert morning_nudge.JOB.run(context, two_utc, None).endswith(
        "2 held back: paused, in quiet hours or not a working day where they are (--force sends anyway)"
    )
    saturday = MONDAY - dt.timedelta(days=2) + dt.timedelta(hours=10)  # Sat Nov 7, 11:00 in Berlin, 02:00 in Los Angeles
    assert morning_nudge.JOB.run(context, saturday, None).startswith("0 nudge(s) queued for 2 rep(s)")
    assert sent(session_factory) == []


@pytest.mark.parametrize(("daily_budget", "queued", "kept"), [(1, 1, 0), (0, 0, 1)])
def test_a_budget_of_zero_keeps_every_reminder_for_the_nudge(session_factory, daily_budget, queued, kept) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    afternoon = MONDAY + dt.timedelta(days=1, hours=15)  # Tue Nov 10 15:00 in New York: no nudge went today
    with session_scope(session_factory) as session:
        nora = session.get(Person, ids["nora"])
        notices = Notices()
        notices.tell(nora, ActionReminder(key="action_reminder:7", action_id=7, text="Call Acme", due_date=dt.date(2026, 11, 11),
                                          days_left=1, assigned_by="Mia Manager"))  # fmt: skip
        delivered = deliver(session, notices, afternoon, playbook=playbook(daily_budget=daily_budget), default_timezone="UTC")
    assert (delivered.queued, delivered.folded) == (queued, kept)
    assert len(sent(session_factory, "UNORA")) == queued and len(folded(session_factory)) == kept


def test_with_no_budget_at_all_the_urgent_kinds_and_the_nudge_still_go(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    tuesday_ten = MONDAY + dt.timedelta(days=1, hours=10)  # Tue Nov 10 10:00 in New York
    none_left = playbook(daily_budget=0)
    with session_scope(session_factory) as session:
        nora = session.get(Person, ids["nora"])
        notices = Notices()
        notices.tell(nora, ActionEscalated(key="escalation:7", rep_name="Leo Rep", text="Call Acme", due_date=dt.date(2026, 11, 6),
                                           days_overdue=4))  # fmt: skip
        notices.tell(nora, PlanCheckinAsked(key="checkin:1:2026-11-10", checkin_id=1, manager_name="Mia Manager",
                                            period_end=dt.date(2027, 1, 1), days_left=52, gap=Decimal(70000),
                                            pipeline_to_add=Decimal(200000), currency="USD", commitments=("Two demos a week",)))  # fmt: skip
        assert deliver(session, notices, tuesday_ten, playbook=none_left, default_timezone="UTC").queued == 2
    context = JobContext(nudge_schedule(session_factory).settings, session_factory, none_left)
    assert morning_nudge.JOB.run(context, tuesday_ten, "nora@example.com").startswith("1 nudge(s) queued for 1 rep(s)")
    assert [kind for _, kind, _ in sent(session_factory, "UNORA")] == ["action_escalation", "nudge", "plan_checkin"]
    with session_factory() as session:
        assert budget.spent(session, ids["nora"], dt.date(2026, 11, 10)) == 3


def test_replies_go_out_after_the_nudge_spent_the_budget_and_spend_no_unit(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    tuesday_ten = MONDAY + dt.timedelta(days=1, hours=10)  # Tue Nov 10 10:00 in New York
    context = JobContext(nudge_schedule(session_factory).settings, session_factory, PLAYBOOK)
    assert morning_nudge.JOB.run(context, tuesday_ten, "nora@example.com").startswith("1 nudge(s) queued for 1 rep(s)")
    with session_scope(session_factory) as session:
        nora, mia = session.get(Person, ids["nora"]), session.get(Person, ids["mia"])
        notices = Notices()
        actions.assign_action(
            session, notices, rep=nora, assigned_by=mia, text="Send Acme the pricing", due_date=dt.date(2026, 11, 12),
            now=tuesday_ten,
        )  # fmt: skip
        notices.tell(nora, GoalSet(key="goal:1", set_by="Mia Manager", competency="Discovery", description="Three pain questions",
                                   due_date=None))  # fmt: skip
        delivered = deliver(session, notices, tuesday_ten, playbook=PLAYBOOK, default_timezone="UTC")
    assert (delivered.queued, delivered.folded) == (2, 0)
    assert sent(session_factory, "UNORA") == [
        ("UNORA", "action_assigned", "Tue Nov 10 10:00"),
        ("UNORA", "goal_set", "Tue Nov 10 10:00"),
        ("UNORA", "nudge", "Tue Nov 10 10:00"),
    ]
    assert folded(session_factory) == []
    with session_factory() as session:
        units = session.execute(select(DmBudgetUnit.unit, DmBudgetUnit.kind).where(DmBudgetUnit.person_id == ids["nora"])).all()
    assert units == [(1, "nudge")]
