"""The schedule driven through time: a week across a DST change, downtime, restarts, two instances.

Time moves in 15-minute ticks; assertions are on the outbox rows the ticks queued (who, what, and
when in the recipient's own time zone). tests/jobs/test_delivery.py follows them to Slack.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, update

from bot.coaching.playbook import load_playbook
from bot.database import session_scope
from bot.models import Deal, JobRun, OutboxMessage, Person, ProcessGap, Quota
from bot.settings import Settings
from jobs import morning_nudge, weekly_digest
from jobs.schedule import Schedule, local_instants

PLAYBOOK = load_playbook()
NEW_YORK, LOS_ANGELES = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")
# Friday Oct 30 2026, 00:00 UTC. US clocks go back on Sunday Nov 1 (EDT -> EST).
FRIDAY = dt.datetime(2026, 10, 30, 0, 0, tzinfo=dt.UTC)
TICK = dt.timedelta(minutes=15)


def seed(session_factory) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Mia manages Nora (New York) and Leo (Los Angeles); each has one deal with two open gaps."""
    with session_scope(session_factory) as session:
        mia = Person(
            email="mia@example.com", name="Mia Manager", is_manager=True, slack_user_id="UMIA", timezone="America/New_York"
        )
        session.add(mia)
        session.flush()
        ids = {"mia": mia.id}
        for key, name, tz in (("nora", "Nora Rep", "America/New_York"), ("leo", "Leo Rep", "America/Los_Angeles")):
            rep = Person(
                email=f"{key}@example.com",
                name=name,
                is_rep=True,
                slack_user_id=f"U{key.upper()}",
                timezone=tz,
                manager_id=mia.id,
            )
            session.add(rep)
            session.flush()
            ids[key] = rep.id
            session.add(
                Quota(
                    person_id=rep.id,
                    period_start=dt.date(2026, 10, 1),
                    period_end=dt.date(2027, 1, 1),
                    amount=Decimal(100000),
                    currency="USD",
                )
            )
            deal = Deal(
                crm_source="test", crm_id=f"D-{key}", owner_id=rep.id, name=f"{name}'s big deal", amount=Decimal(50000),
                currency="USD", stage="Proposal", is_closed=False, is_won=False, created_at=FRIDAY - dt.timedelta(days=40),
                close_date=dt.date(2026, 10, 20), stage_entered_at=FRIDAY - dt.timedelta(days=30),
            )  # fmt: skip
            session.add(deal)
            session.flush()
            opened = FRIDAY - dt.timedelta(days=2)
            session.add_all(
                [
                    ProcessGap(
                        deal_id=deal.id,
                        rule="close_date_past",
                        severity="high",
                        detail="close date Oct 20 has passed",
                        opened_at=opened,
                    ),
                    ProcessGap(
                        deal_id=deal.id,
                        rule="stale_stage",
                        severity="medium",
                        detail="30 days in Proposal (limit 21)",
                        opened_at=opened,
                    ),
                ]
            )
    return ids


def schedule(session_factory, **settings) -> Schedule:  # type: ignore[no-untyped-def]
    """The per-person jobs of the schedule (no CRM sync, no hourly round): what reaches people when."""
    settings = Settings(_env_file=None, missed_run_grace_minutes=180, tick_seconds=60, **settings)  # type: ignore[call-arg]
    return Schedule(settings, session_factory, PLAYBOOK, jobs=(morning_nudge.JOB, weekly_digest.JOB))


def run(sched: Schedule, start: dt.datetime, end: dt.datetime, skip: tuple[dt.datetime, dt.datetime] | None = None) -> None:
    moment = start
    while moment <= end:
        if skip is None or not skip[0] <= moment < skip[1]:
            sched.tick(moment)
        moment += TICK


def queued(session_factory) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(recipient, kind, created at in the recipient's zone) for every outbox row, in order."""
    zones = {"UMIA": NEW_YORK, "UNORA": NEW_YORK, "ULEO": LOS_ANGELES}
    with session_factory() as session:
        rows = session.execute(
            select(OutboxMessage.recipient, OutboxMessage.kind, OutboxMessage.created_at).order_by(
                OutboxMessage.created_at, OutboxMessage.recipient
            )
        ).all()
    return [
        (recipient, kind, created.astimezone(zones[recipient]).strftime("%a %b %d %H:%M %Z")) for recipient, kind, created in rows
    ]


def test_a_week_across_the_dst_change_sends_each_nudge_and_digest_at_local_time_once(session_factory) -> None:  # type: ignore[no-untyped-def]
    seed(session_factory)
    run(schedule(session_factory), FRIDAY, FRIDAY + dt.timedelta(days=8))
    # Friday: first nudge. Weekend: none. Monday: the gaps were nudged 3 days ago, so again;
    # Tuesday and Wednesday: nothing new (renudge after 3 days); Thursday: again. The digest:
    # Monday 08:00 in Mia's zone. 09:00 stays 09:00 on both sides of the DST change.
    assert queued(session_factory) == [
        ("UNORA", "nudge", "Fri Oct 30 09:00 EDT"),
        ("ULEO", "nudge", "Fri Oct 30 09:00 PDT"),
        ("UMIA", "digest", "Mon Nov 02 08:00 EST"),
        ("UNORA", "nudge", "Mon Nov 02 09:00 EST"),
        ("ULEO", "nudge", "Mon Nov 02 09:00 PST"),
        ("UNORA", "nudge", "Thu Nov 05 09:00 EST"),
        ("ULEO", "nudge", "Thu Nov 05 09:00 PST"),
    ]


def test_the_nudge_carries_the_gaps_naming_the_deal_with_why_in_its_numbers_and_why_it_ranks_there(session_factory) -> None:  # type: ignore[no-untyped-def]
    seed(session_factory)
    run(schedule(session_factory), FRIDAY + dt.timedelta(hours=12), FRIDAY + dt.timedelta(hours=14))
    with session_factory() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "UNORA"))
    assert row.payload["text"] == (
        "Good morning Nora: 2 things worth doing today.\n"
        "• Nora Rep's big deal ($50,000 · Proposal, 30 days in stage): "
        "Close date Oct 20 passed 10 days ago and the deal is still open: your forecast is off.\n"
        "• Nora Rep's big deal ($50,000 · Proposal, 30 days in stage): In Proposal 30 days; the playbook allows 21."
    )
    texts = [block["text"]["text"] for block in row.payload["blocks"] if block["type"] == "section"]
    assert texts == [
        "*Good morning Nora: 2 things worth doing today.*",
        "*Nora Rep's big deal*\n$50,000 · Proposal, 30 days in stage\n"
        "_Why:_ Close date Oct 20 passed 10 days ago and the deal is still open: your forecast is off.\n"
        "_Do:_ Move the close date to when it will really close, or close it lost.",
        "*Nora Rep's big deal*\n$50,000 · Proposal, 30 days in stage\n"
        "_Why:_ In Proposal 30 days; the playbook allows 21.\n"
        "_Do:_ Advance it, or book the step that will.",
    ]
    ranks = [block["elements"][0]["text"] for block in row.payload["blocks"] if block["type"] == "context"]
    assert ranks == [
        "Ranked 1st: $30,000 at stake at high severity, the biggest risk of your 2 open gaps.",  # $50,000 × Proposal's 0.6
        "Ranked 2nd of your 2 open gaps: $30,000 at stake at medium severity.",
    ]
    buttons = [
        element["action_id"] for block in row.payload["blocks"] if block["type"] == "actions" for element in block["elements"]
    ]
    assert buttons == ["deal_update", "nudge_gap_snooze", "nudge_gap_fixed"] * 2


def test_a_nudge_missed_while_down_goes_out_once_on_return_within_the_grace_window(session_factory) -> None:  # type: ignore[no-untyped-def]
    seed(session_factory)
    # Down from 08:30 to 10:45 New York time on Friday (12:30-14:45 UTC).
    down = (FRIDAY + dt.timedelta(hours=12, minutes=30), FRIDAY + dt.timedelta(hours=14, minutes=45))
    run(schedule(session_factory), FRIDAY, FRIDAY + dt.timedelta(hours=23), skip=down)
    assert [row for row in queued(session_factory) if row[0] == "UNORA"] == [("UNORA", "nudge", "Fri Oct 30 10:45 EDT")]


def test_a_nudge_missed_past_the_grace_window_is_not_sent_late(session_factory) -> None:  # type: ignore[no-untyped-def]
    seed(session_factory)
    down = (FRIDAY + dt.timedelta(hours=12, minutes=30), FRIDAY + dt.timedelta(hours=17))  # back at 13:00 EDT, 4 h late
    run(schedule(session_factory), FRIDAY, FRIDAY + dt.timedelta(hours=23), skip=down)
    assert [row for row in queued(session_factory) if row[0] == "UNORA"] == []


def test_a_restarted_or_second_instance_never_repeats_a_run(session_factory) -> None:  # type: ignore[no-untyped-def]
    seed(session_factory)
    first, restarted = schedule(session_factory), schedule(session_factory)
    nine = dt.datetime(2026, 10, 30, 13, 0, tzinfo=dt.UTC)
    first.tick(nine)
    restarted.tick(nine)
    restarted.tick(nine + TICK)
    first.tick(nine + TICK)
    assert queued(session_factory) == [("UNORA", "nudge", "Fri Oct 30 09:00 EDT")]
    with session_factory() as session:
        runs = session.execute(select(JobRun.job, JobRun.scheduled_for)).all()
    assert [(job.split(":")[0], when) for job, when in runs] == [("nudge", nine)]


def test_nothing_worth_saying_sends_nothing(session_factory) -> None:  # type: ignore[no-untyped-def]
    seed(session_factory)
    with session_scope(session_factory) as session:
        for gap in session.scalars(select(ProcessGap)):
            gap.resolved_at = FRIDAY
    run(schedule(session_factory), FRIDAY, FRIDAY + dt.timedelta(days=1))
    assert [row for row in queued(session_factory) if row[1] == "nudge"] == []


@pytest.mark.parametrize(
    ("nudge_time", "sent"),
    [("10:30", "Fri Oct 30 10:30 EDT"), ("07:30", "Fri Oct 30 08:00 EDT")],  # 07:30 is in quiet hours (until 08:00)
)
def test_a_rep_can_move_their_nudge_time_but_not_into_quiet_hours(session_factory, nudge_time, sent) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    with session_scope(session_factory) as session:
        session.get(Person, ids["nora"]).nudge_time = nudge_time  # type: ignore[union-attr]
    run(schedule(session_factory), FRIDAY, FRIDAY + dt.timedelta(hours=20))
    assert [row for row in queued(session_factory) if row[0] == "UNORA"] == [("UNORA", "nudge", sent)]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Sunday Nov 1 2026 in New York: 01:30 happens twice; it is scheduled once.
        (dt.time(1, 30), [dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC)]),
        (dt.time(9, 0), [dt.datetime(2026, 11, 1, 14, 0, tzinfo=dt.UTC)]),
    ],
)
def test_local_times_map_to_one_instant_on_the_day_clocks_go_back(at: dt.time, expected: list[dt.datetime]) -> None:
    start, end = dt.datetime(2026, 11, 1, 4, 0, tzinfo=dt.UTC), dt.datetime(2026, 11, 2, 4, 0, tzinfo=dt.UTC)
    assert list(local_instants(NEW_YORK, at, start, end)) == expected


def test_a_leaver_gets_no_nudge_and_leaves_the_managers_digest(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    with session_scope(session_factory) as session:
        session.get(Person, ids["leo"]).active = False  # type: ignore[union-attr]
    # Monday Nov 2: Mia's digest at 08:00 New York, the nudges at 09:00 in each rep's zone.
    run(schedule(session_factory), dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC), dt.datetime(2026, 11, 2, 19, 0, tzinfo=dt.UTC))
    assert [(recipient, kind) for recipient, kind, _ in queued(session_factory)] == [("UMIA", "digest"), ("UNORA", "nudge")]
    with session_factory() as session:
        [digest] = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.kind == "digest")).all()
    assert digest["text"] == "Your team, week of Nov 2: 1 reps, 1 need attention."


def test_a_hand_run_over_every_rep_queues_and_marks_what_their_own_scheduled_runs_did(session_factory) -> None:  # type: ignore[no-untyped-def]
    def nudges_and_marked_gaps() -> tuple[list[tuple[str, str, dict]], list[int]]:  # type: ignore[type-arg]
        with session_factory() as session:
            rows = session.execute(
                select(OutboxMessage.dedupe_key, OutboxMessage.recipient, OutboxMessage.payload).order_by(
                    OutboxMessage.dedupe_key
                )
            )
            marked = session.scalars(
                select(ProcessGap.id).where(ProcessGap.last_nudged_at.is_not(None)).order_by(ProcessGap.id)
            ).all()
            return [tuple(row) for row in rows], list(marked)  # type: ignore[misc]

    seed(session_factory)
    # Friday: Nora's nudge at 09:00 in New York, Leo's at 09:00 in Los Angeles, each in its own claim.
    run(schedule(session_factory), FRIDAY + dt.timedelta(hours=12), FRIDAY + dt.timedelta(hours=18))
    scheduled = nudges_and_marked_gaps()
    assert sorted(recipient for _, recipient, _ in scheduled[0]) == ["ULEO", "UNORA"] and scheduled[1]
    with session_scope(session_factory) as session:
        session.execute(delete(OutboxMessage))
        session.execute(update(ProcessGap).values(last_nudged_at=None))
    assert morning_nudge.JOB.run(schedule(session_factory).context, FRIDAY + dt.timedelta(hours=20), None).startswith(
        "2 nudge(s) queued for 2 rep(s)"
    )
    assert nudges_and_marked_gaps() == scheduled


@pytest.mark.parametrize(
    ("ids", "rest"),
    [
        (
            {"slack_team_id": "T0TEAM", "slack_app_id": "A0APP"},
            "…and 1 more: see them all in <slack://app?team=T0TEAM&id=A0APP&tab=home|your coachbot Home>.",
        ),
        ({"slack_app_id": "A0APP"}, "…and 1 more: see them all in your coachbot Home tab."),
        ({}, "…and 1 more: see them all in your coachbot Home tab."),
    ],
)
def test_and_n_more_links_to_the_app_home_with_slack_team_id_and_slack_app_id_set(session_factory, ids, rest) -> None:  # type: ignore[no-untyped-def]
    people = seed(session_factory)
    with session_scope(session_factory) as session:
        deal_id = session.scalar(select(Deal.id).where(Deal.owner_id == people["nora"]))
        session.add_all(
            ProcessGap(deal_id=deal_id, rule=rule, severity="low", detail=rule, opened_at=FRIDAY - dt.timedelta(days=2))
            for rule in ("next_step_missing", "missing_field")
        )
    run(schedule(session_factory, **ids), FRIDAY + dt.timedelta(hours=12), FRIDAY + dt.timedelta(hours=14))
    with session_factory() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "UNORA"))
    contexts = [element["text"] for block in row.payload["blocks"] if block["type"] == "context" for element in block["elements"]]
    assert [text for text in contexts if text.startswith("…and")] == [rest]
