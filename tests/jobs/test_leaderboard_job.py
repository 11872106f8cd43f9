"""The weekly leaderboard from the schedule to the stand-in Slack: once per team per week, in the team's
channel or right after the manager's digest, and a channel that refuses the post reported with what to fix."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from bot.coaching.playbook import Playbook, parse_playbook
from bot.database import session_scope
from bot.doctor import Check, check_leaderboards
from bot.messaging.sender import PostLimiter, drain
from bot.models import JobRun, OutboxMessage, Person
from bot.settings import Settings
from jobs import leaderboard, weekly_digest
from jobs.job import JobContext
from jobs.registry import JOBS
from jobs.schedule import Schedule
from tests.blocks.test_leaderboard_blocks import MONEY
from tests.coaching.test_playbook_leaderboard import with_sections
from tests.support.leaderboard_team import D, seed_leaderboard_team

MONDAY = dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.UTC)  # 08:00 in New York: the digest's time
CHANNEL = "C0SALES01"
BOARD_TEXT = "Discipline leaderboard, Mia Manager's team, the 7 days to Nov 30: 1. Nora Rep, 2. Leo Rep"
SETTINGS = Settings(_env_file=None, missed_run_grace_minutes=180, tick_seconds=60)  # type: ignore[call-arg]


def team_playbook(where: str = "channel", show_money: bool = False) -> Playbook:
    channel = f", channel: {CHANNEL}" if where == "channel" else ""
    money = ", show_money: true" if show_money else ""
    return parse_playbook(
        with_sections(f"teams:\n  mia@example.com:\n    leaderboard: {{enabled: true, where: {where}{channel}{money}}}")
    )


def schedule(session_factory, playbook: Playbook) -> Schedule:  # type: ignore[no-untyped-def]
    return Schedule(SETTINGS, session_factory, playbook, jobs=(weekly_digest.JOB, leaderboard.JOB))


def send(session_factory, slack, now: dt.datetime) -> None:  # type: ignore[no-untyped-def]
    client = WebClient(token="xoxb-test", base_url=slack.api_url)
    limiter = PostLimiter(per_channel_per_second=1000, global_per_minute=60_000)
    drain(session_factory, client, lambda: now, instance="test", limiter=limiter)


def test_the_leaderboard_runs_right_after_the_digest_in_the_one_registry() -> None:
    ids = [job.id for job in JOBS]
    assert ids.index("leaderboard") == ids.index("weekly_digest") + 1
    assert leaderboard.JOB.when(SETTINGS) == "the playbook's digest day and time, each manager's time zone, after the digest"


def test_the_board_is_posted_in_the_teams_channel_once_a_week(session_factory, slack) -> None:  # type: ignore[no-untyped-def]
    ids = seed_leaderboard_team(session_factory, MONDAY)
    playbook = team_playbook()
    sched = schedule(session_factory, playbook)
    sched.tick(MONDAY - dt.timedelta(minutes=15))
    assert session_factory().scalars(select(OutboxMessage.kind)).all() == []  # not yet 08:00
    sched.tick(MONDAY)
    sched.tick(MONDAY + dt.timedelta(minutes=15))
    context = JobContext(SETTINGS, session_factory, playbook)
    assert leaderboard.JOB.run(context, MONDAY + dt.timedelta(hours=2), None) == (
        "0 leaderboard(s) queued for 1 team(s) that opted in (a board goes out once a week)"
    )
    send(session_factory, slack, MONDAY + dt.timedelta(hours=2))
    [post] = slack.messages_to(CHANNEL)
    assert post.text == BOARD_TEXT
    assert MONEY.search(json.dumps(post.blocks, ensure_ascii=False) + post.text) is None
    assert post.blocks[2]["text"]["text"] == (
        "*1.* Nora Rep · adherence 50% · 2 gaps fixed, median 7h · goals +30 pts\n"
        "*2.* Leo Rep · adherence 100% · 1 gap fixed, median 30h · goals +10 pts"
    )
    with session_factory() as session:
        assert session.execute(
            select(OutboxMessage.dedupe_key, OutboxMessage.recipient, OutboxMessage.status).where(
                OutboxMessage.kind == "leaderboard"
            )
        ).all() == [(f"leaderboard:{ids['mia']}:2026-11-30", CHANNEL, "sent")]
        assert session.scalars(select(JobRun.job).where(JobRun.job.startswith("leaderboard"))).all() == [
            f"leaderboard:{ids['mia']}"
        ]
    sched.tick(MONDAY + 7 * D)
    send(session_factory, slack, MONDAY + 7 * D)
    assert [message.text.split(":")[0] for message in slack.messages_to(CHANNEL)] == [
        "Discipline leaderboard, Mia Manager's team, the 7 days to Nov 30",
        "Discipline leaderboard, Mia Manager's team, the 7 days to Dec 7",
    ]


def test_a_team_that_allows_money_sees_it_in_the_channel(session_factory, slack) -> None:  # type: ignore[no-untyped-def]
    seed_leaderboard_team(session_factory, MONDAY)
    schedule(session_factory, team_playbook(show_money=True)).tick(MONDAY)
    send(session_factory, slack, MONDAY)
    [post] = slack.messages_to(CHANNEL)
    assert post.blocks[2]["text"]["text"] == (
        "*1.* Nora Rep · adherence 50% · 2 gaps fixed, median 7h · goals +30 pts · 40% of quota ($40,000 won)\n"
        "*2.* Leo Rep · adherence 100% · 1 gap fixed, median 30h · goals +10 pts · $12,500 won (no quota)"
    )


def test_a_board_for_the_digest_is_the_managers_next_message_after_it(session_factory, slack) -> None:  # type: ignore[no-untyped-def]
    seed_leaderboard_team(session_factory, MONDAY)
    schedule(session_factory, team_playbook("digest")).tick(MONDAY)
    send(session_factory, slack, MONDAY)
    assert [message.text for message in slack.messages_to("UMIA")] == [
        "Your team, week of Nov 30: 3 reps, 1 need attention.",
        BOARD_TEXT,
    ]
    assert slack.messages_to(CHANNEL) == []


def test_a_manager_who_turned_the_digest_off_gets_no_board_with_it(session_factory, slack) -> None:  # type: ignore[no-untyped-def]
    ids = seed_leaderboard_team(session_factory, MONDAY)
    with session_scope(session_factory) as session:
        session.get_one(Person, ids["mia"]).digest_enabled = False
    schedule(session_factory, team_playbook("digest")).tick(MONDAY)
    assert session_factory().scalars(select(OutboxMessage.kind)).all() == []
    forced = JobContext(SETTINGS, session_factory, team_playbook("digest"), force=True)
    assert leaderboard.JOB.run(forced, MONDAY, None) == (
        "0 leaderboard(s) queued for 1 team(s) that opted in (a board goes out once a week); "
        "1 that go(es) with the digest skipped: the manager turned the digest off (even with --force)"
    )
    assert session_factory().scalars(select(OutboxMessage.kind)).all() == []


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        ("not_in_channel", f"coachbot is not a member of {CHANNEL}: invite it there (type /invite @coachbot in the channel)"),
        ("channel_not_found", f"Slack knows no channel {CHANNEL} that coachbot can see: check the id in the playbook's "
                              "leaderboard (a private channel must invite coachbot first)"),
        ("is_archived", f"channel {CHANNEL} is archived: unarchive it or name another channel in the playbook's leaderboard"),
    ],
)  # fmt: skip
def test_a_channel_that_refuses_the_post_is_reported_with_what_to_fix(session_factory, slack, engine, error, fix) -> None:  # type: ignore[no-untyped-def]
    seed_leaderboard_team(session_factory, MONDAY)
    playbook = team_playbook()
    slack.fail("chat.postMessage", error, channel=CHANNEL)
    schedule(session_factory, playbook).tick(MONDAY)
    send(session_factory, slack, MONDAY)
    assert slack.messages_to(CHANNEL) == []
    with session_factory() as session:
        assert session.execute(
            select(OutboxMessage.status, OutboxMessage.last_error).where(OutboxMessage.kind == "leaderboard")
        ).all() == [("parked", error)]
    fix = f"leaderboard not posted in {CHANNEL} ({error}): {fix}"
    summary = leaderboard.JOB.run(JobContext(SETTINGS, session_factory, playbook), MONDAY + dt.timedelta(hours=1), None)
    assert summary == f"0 leaderboard(s) queued for 1 team(s) that opted in (a board goes out once a week); {fix}"
    assert check_leaderboards(engine) == [Check("leaderboard", True, fix, warning=True)]


def test_a_board_for_the_digest_waits_like_the_digest_for_a_paused_manager_unless_forced(session_factory, slack) -> None:  # type: ignore[no-untyped-def]
    ids = seed_leaderboard_team(session_factory, MONDAY)
    with session_scope(session_factory) as session:
        session.get_one(Person, ids["mia"]).paused_until = dt.date(2026, 12, 4)
    playbook = team_playbook("digest")
    schedule(session_factory, playbook).tick(MONDAY)
    assert session_factory().scalars(select(OutboxMessage.kind)).all() == []
    forced = JobContext(SETTINGS, session_factory, playbook, force=True)
    assert leaderboard.JOB.run(forced, MONDAY, "mia@example.com") == (
        "1 leaderboard(s) queued for 1 team(s) that opted in (a board goes out once a week)"
    )
    assert session_factory().scalars(select(OutboxMessage.recipient).where(OutboxMessage.kind == "leaderboard")).all() == ["UMIA"]


def test_doctor_is_quiet_about_leaderboards_that_went_out(session_factory, slack, engine) -> None:  # type: ignore[no-untyped-def]
    seed_leaderboard_team(session_factory, MONDAY)
    schedule(session_factory, team_playbook()).tick(MONDAY)
    send(session_factory, slack, MONDAY)
    assert len(slack.messages_to(CHANNEL)) == 1
    assert check_leaderboards(engine) == []


def test_a_channel_post_whose_answer_was_lost_is_parked_as_uncertain_never_posted_twice(session_factory, slack) -> None:  # type: ignore[no-untyped-def]
    seed_leaderboard_team(session_factory, MONDAY)
    slack.fail("chat.postMessage", accept=True, drop=True, times=1, channel=CHANNEL)
    schedule(session_factory, team_playbook()).tick(MONDAY)
    send(session_factory, slack, MONDAY)
    send(session_factory, slack, MONDAY + dt.timedelta(minutes=5))
    assert len(slack.messages_to(CHANNEL)) == 1  # Slack kept the first attempt; nothing was posted again
    [history] = slack.calls_to("conversations.history")
    assert history.body["channel"] == CHANNEL
    with session_factory() as session:
        [(status, error)] = session.execute(
            select(OutboxMessage.status, OutboxMessage.last_error).where(OutboxMessage.kind == "leaderboard")
        ).all()
    assert status == "parked"
    assert error.startswith("uncertain: ") and error.endswith(
        f"could not read the history of {CHANNEL} (missing_scope, needs channels:history)"
    )
