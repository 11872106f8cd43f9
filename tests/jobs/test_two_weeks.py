"""Two weeks of the whole schedule (nudges, digests, the hourly round) across the EU and US clock
changes, for five people in five time zones, each tick followed by the outbox drain against the
stand-in Slack: every direct message reaches its reader on a working day, outside quiet hours,
nudges at 09:00 their time on both sides of the change, and no more than `nudges.daily_budget`
a day besides the urgent kinds (escalations, plan proposals, check-ins) that may go over it."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from sqlalchemy import select

from bot.coaching.policy import COUNTED_KINDS, URGENT_KINDS
from bot.database import session_scope
from bot.messaging.sender import PostLimiter, drain
from bot.models import Action, Deal, FoldedItem, Goal, OutboxMessage, Person, ProcessGap, Quota
from jobs import coaching_hourly, morning_nudge, weekly_digest
from jobs.schedule import Schedule
from tests.jobs.test_schedule import PLAYBOOK
from tests.jobs.test_schedule import schedule as nudge_schedule

# Europe changes on Sunday Oct 25 2026, the US on Sunday Nov 1; Kolkata never, Sydney not now.
PEOPLE = {
    "ULOU": ("Lou", "America/Los_Angeles"),
    "UNIA": ("Nia", "America/New_York"),
    "UBEA": ("Bea", "Europe/Berlin"),  # also the manager of the other four
    "UKAI": ("Kai", "Asia/Kolkata"),
    "USAM": ("Sam", "Australia/Sydney"),
}
START = dt.datetime(2026, 10, 18, 12, 0, tzinfo=dt.UTC)  # Sunday, everywhere
END = dt.datetime(2026, 11, 3, 0, 0, tzinfo=dt.UTC)  # Monday Nov 2 is over everywhere but Los Angeles
# Every wall-clock time the schedule uses (09:00, 08:00, the hour) falls on a half hour in all five zones.
TICK = dt.timedelta(minutes=30)


def seed(session_factory) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Each person: a deal with two gaps, a quota they are behind on, an action due Wednesday Oct 21
    (reminded the day before), one due Friday Oct 23 and never done (escalated), and a goal due Oct 30."""
    ids: dict[str, int] = {}
    with session_scope(session_factory) as session:
        for slack_id, (name, zone) in PEOPLE.items():
            person = Person(email=f"{name.lower()}@example.com", name=f"{name} Rep", is_rep=True, is_manager=slack_id == "UBEA",
                            slack_user_id=slack_id, timezone=zone)  # fmt: skip
            session.add(person)
            session.flush()
            ids[slack_id] = person.id
        for slack_id, person_id in ids.items():
            if slack_id != "UBEA":
                session.get(Person, person_id).manager_id = ids["UBEA"]  # type: ignore[union-attr]
            session.add(Quota(person_id=person_id, period_start=dt.date(2026, 10, 1), period_end=dt.date(2027, 1, 1),
                              amount=Decimal(100000), currency="USD"))  # fmt: skip
            deal = Deal(
                crm_source="test", crm_id=f"D-{slack_id}", owner_id=person_id, name=f"{slack_id} deal", amount=Decimal(50000),
                currency="USD", stage="Proposal", is_closed=False, is_won=False, created_at=START - dt.timedelta(days=40),
                close_date=dt.date(2026, 10, 10), stage_entered_at=START - dt.timedelta(days=30),
            )  # fmt: skip
            session.add(deal)
            session.flush()
            for rule, severity in (("close_date_past", "high"), ("stale_stage", "medium")):
                session.add(ProcessGap(deal_id=deal.id, rule=rule, severity=severity, detail=rule, opened_at=START))
            assigner = ids["UNIA"] if slack_id == "UBEA" else ids["UBEA"]
            for text, due in (("Send the pricing", dt.date(2026, 10, 21)), ("Book the demo", dt.date(2026, 10, 23))):
                session.add(Action(person_id=person_id, assigned_by_id=assigner, text=text, due_date=due, status="open",
                                   created_at=START - dt.timedelta(days=3)))  # fmt: skip
            session.add(Goal(person_id=person_id, set_by_id=assigner, competency="Discovery", description="Ask better questions",
                             due_date=dt.date(2026, 10, 30), status="open", created_at=START - dt.timedelta(days=3)))  # fmt: skip
    return ids


def due(session_factory, moment: dt.datetime) -> bool:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        pending = select(OutboxMessage.id).where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= moment)
        return session.scalars(pending.limit(1)).first() is not None


def test_two_weeks_across_the_clock_changes_keep_every_dm_in_working_hours_and_within_the_budget(session_factory, slack) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    settings = nudge_schedule(session_factory).settings
    sched = Schedule(settings, session_factory, PLAYBOOK, jobs=(morning_nudge.JOB, weekly_digest.JOB, coaching_hourly.JOB))
    client = WebClient(token="xoxb-test", base_url=slack.api_url)
    limiter = PostLimiter(per_channel_per_second=1000, global_per_minute=60_000)
    kinds = {}
    received: list[tuple[str, str, dt.datetime]] = []  # (reader, kind, when Slack got it)
    moment = START
    while moment <= END:
        sched.tick(moment)
        before = len(slack.calls_to("chat.postMessage"))
        if due(session_factory, moment):  # the drain finds nothing otherwise; skipping it keeps the test quick
            drain(session_factory, client, lambda moment=moment: moment, instance="test", limiter=limiter)
        new_calls = slack.calls_to("chat.postMessage")[before:]
        if new_calls:
            with session_factory() as session:
                kinds.update(dict(session.execute(select(OutboxMessage.payload["text"].as_string(), OutboxMessage.kind)).all()))
        for call in new_calls:
            received.append((call.body["channel"], kinds[call.body["text"]], moment))
        moment += TICK

    per_day: Counter[tuple[str, dt.date]] = Counter()
    over_allowed: Counter[tuple[str, dt.date]] = Counter()
    for reader, kind, when in received:
        local = when.astimezone(ZoneInfo(PEOPLE[reader][1]))
        # A working day, between the end of quiet hours (08:00) and their start (19:00).
        assert local.weekday() < 5 and dt.time(8, 0) <= local.time() < dt.time(19, 0), (reader, kind, local)
        if kind == "nudge":
            assert local.time() == dt.time(9, 0), (reader, local)
        if kind in COUNTED_KINDS:  # not the digest, nor replies like a goal closed (bot/coaching/policy.py)
            per_day[reader, local.date()] += 1
            over_allowed[reader, local.date()] += kind in URGENT_KINDS
    for (reader, day), count in per_day.items():
        assert count <= PLAYBOOK.nudges.daily_budget + over_allowed[reader, day], (reader, day, count)

    by_kind = Counter(kind for _, kind, _ in received)
    # Eleven working days each (Oct 19-23, Oct 26-30, Nov 2; Sydney's Nov 3 too), every one with
    # something to say (the overdue actions stay in every nudge): 56 nudges, and on each of those
    # days the nudge is the one message that is not urgent. Three Monday digests for Bea, at
    # 08:00 Berlin time on both sides of the change.
    assert by_kind["nudge"] == 56
    not_urgent = Counter(
        (reader, when.astimezone(ZoneInfo(PEOPLE[reader][1])).date())
        for reader, kind, when in received
        if kind in COUNTED_KINDS - URGENT_KINDS
    )
    assert len(not_urgent) == 56 and set(not_urgent.values()) == {1}
    digests = [
        when.astimezone(ZoneInfo("Europe/Berlin")).strftime("%b %d %H:%M %Z") for _, kind, when in received if kind == "digest"
    ]
    assert digests == ["Oct 19 08:00 CEST", "Oct 26 08:00 CET", "Nov 02 08:00 CET"]
    # Every reminder (two actions and a goal each) was over the budget, the day's nudge having spent
    # it: none went on its own, and each was carried by the next nudge, which did reach its reader.
    assert by_kind["action_reminder"] == by_kind["goal_reminder"] == 0
    sent_keys = {call.body["metadata"]["event_payload"]["outbox_key"] for call in slack.calls_to("chat.postMessage")}
    with session_factory() as session:
        carried = session.execute(select(FoldedItem.dedupe_key, FoldedItem.carried_by, FoldedItem.person_id)).all()
    assert sorted(key.split(":")[0] for key, _, _ in carried) == ["action_reminder"] * 10 + ["goal_reminder"] * 5
    assert all(by in sent_keys and by.startswith(f"nudge:{person_id}:") for _, by, person_id in carried)
    # The urgent ones: each overdue action told to its assigner once, and a plan proposed for each
    # of Bea's four reps (Bea's own has nobody to propose it to).
    assert sorted(reader for reader, kind, _ in received if kind == "action_escalation") == ["UBEA"] * 8 + ["UNIA"] * 2
    assert by_kind["plan_proposal"] == 4
    assert len(received) == sum(by_kind.values()) == len(slack.calls_to("chat.postMessage"))
    assert set(ids) == {reader for reader, _, _ in received}
