"""From the schedule to Slack: a week of ticks, each followed by the outbox drain, and what the
stand-in Slack received: who, when in their own time, what, how many."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from slack_sdk import WebClient

from bot.messaging.sender import PostLimiter, drain
from tests.jobs.test_schedule import FRIDAY, TICK, schedule, seed

ZONES = {"UMIA": ZoneInfo("America/New_York"), "UNORA": ZoneInfo("America/New_York"), "ULEO": ZoneInfo("America/Los_Angeles")}


def test_a_week_of_ticks_delivers_each_message_once_at_the_recipients_local_time(session_factory, slack) -> None:  # type: ignore[no-untyped-def]
    seed(session_factory)
    sched = schedule(session_factory)
    client = WebClient(token="xoxb-test", base_url=slack.api_url)
    limiter = PostLimiter(per_channel_per_second=1000, global_per_minute=60_000)
    delivered: list[tuple[str, str, str]] = []
    moment = FRIDAY
    while moment <= FRIDAY + dt.timedelta(days=8):
        sched.tick(moment)
        before = len(slack.calls_to("chat.postMessage"))
        drain(session_factory, client, lambda moment=moment: moment, instance="test", limiter=limiter)
        for call in slack.calls_to("chat.postMessage")[before:]:
            channel = call.body["channel"]
            # The first line of the fallback: a nudge's goes on to name each item (tests/jobs/test_schedule.py).
            first_line = call.body["text"].splitlines()[0]
            delivered.append((channel, moment.astimezone(ZONES[channel]).strftime("%a %H:%M %Z"), first_line))
        moment += TICK

    assert delivered == [
        ("UNORA", "Fri 09:00 EDT", "Good morning Nora: 2 things worth doing today."),
        ("ULEO", "Fri 09:00 PDT", "Good morning Leo: 2 things worth doing today."),
        ("UMIA", "Mon 08:00 EST", "Your team, week of Nov 2: 2 reps, 2 need attention."),
        ("UNORA", "Mon 09:00 EST", "Good morning Nora: 2 things worth doing today."),
        ("ULEO", "Mon 09:00 PST", "Good morning Leo: 2 things worth doing today."),
        ("UNORA", "Thu 09:00 EST", "Good morning Nora: 2 things worth doing today."),
        ("ULEO", "Thu 09:00 PST", "Good morning Leo: 2 things worth doing today."),
    ]
    # The digest's chart went up with files_upload_v2: one PNG, titled for the week.
    [chart] = slack.files
    assert (chart.filename, chart.title) == ("team-2026-11-02.png", "Team, week of Nov 02")
    assert chart.content.startswith(b"\x89PNG")
