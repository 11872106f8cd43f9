"""The weekly digest job for a leader over two managers, through the outbox to the stand-in Slack:
the roll-up per team first, then who needs attention across the org, and the chart beside it."""

from __future__ import annotations

from slack_sdk import WebClient
from sqlalchemy import update

from bot.coaching.gaps import scan_gaps
from bot.database import session_scope
from bot.messaging.sender import PostLimiter, drain
from bot.models import Person
from bot.settings import Settings
from jobs import weekly_digest
from jobs.job import JobContext
from tests.coaching.test_team import PLAYBOOK, TIMEZONE, seed_org

SETTINGS = Settings(_env_file=None, timezone=TIMEZONE)  # type: ignore[call-arg]


def test_a_leaders_digest_reaches_slack_with_each_teams_roll_up_then_who_needs_attention(session_factory, slack, now) -> None:  # type: ignore[no-untyped-def]
    ids = seed_org(session_factory)
    with session_scope(session_factory) as session:
        # Dana leads Mia (Riley, Sam) and Max (Olly), and Tess reports to her directly.
        session.execute(update(Person).where(Person.id == ids["max"]).values(manager_id=ids["dana"]))
        session.execute(update(Person).where(Person.id == ids["dana"]).values(slack_user_id="UDANA"))
    scan_gaps(session_factory, PLAYBOOK, now, default_timezone=TIMEZONE)
    summary = weekly_digest.run(JobContext(SETTINGS, session_factory, PLAYBOOK), now, "dana.director@example.com")
    assert summary == "1 digest(s) queued for 1 manager(s) (a manager can turn theirs off)"
    client = WebClient(token="xoxb-test", base_url=slack.api_url)
    drain(session_factory, client, lambda: now, instance="test", limiter=PostLimiter(1000, 60_000))

    [post] = slack.calls_to("chat.postMessage")
    assert (post.body["channel"], post.body["text"]) == (
        "UDANA",
        "Your org, week of Nov 23: 4 reps in 3 teams, 4 need attention.",
    )
    blocks = post.body["blocks"]
    assert blocks[0]["text"]["text"] == "Your org, week of Nov 23"
    texts = [block["text"]["text"] for block in blocks if block["type"] == "section"]
    # Max's team: Olly's $25,000 of $50,000 in 42 days, 60% of the quarter gone; nothing open.
    # Mia's: Riley's money (USD, the tie-break over Sam's EUR), Riley's and Sam's three wins, 4 of 5 open deals clean.
    # Dana's own: Tess, no quota, her one open deal with a gap.
    assert texts[1] == (
        "*By team*: the number | the process\n```"
        "team               won  pace  proj   win cycle cover | process   fix acted\n"
        "Max Manager        50%   83%   50%  100%  42 d  0.0x |       –     –     –\n"
        "Mia Manager        40%   66%   86%  100%  33 d  1.2x |     80%     –     –\n"
        "your direct reps     –     –     –  100%  40 d     – |      0%     –     –```"
    )
    assert texts[2] == "*Who needs coaching attention across the org* (4)"
    # Most reasons first, then the lowest projection (Tess has none), as everywhere.
    assert [text.split("\n")[0] for text in texts[3:]] == [
        "*Sam Rep* (Mia Manager): projected 46% of quota; pace 41%; 1 overdue action",
        "*Riley Rep* (Mia Manager): pace 66%; only 50% of open deals follow the process",
        "*Tess Rep* (your direct reps): only 0% of open deals follow the process; a recovery plan waits for you to open it",
        "*Olly Rep* (Max Manager): projected 50% of quota",
    ]
    # The chart went up beside it: one PNG, the teams' number beside their process.
    [chart] = slack.files
    assert (chart.channel_id, chart.filename, chart.title) == ("DDANA", "team-2026-11-23.png", "Team, week of Nov 23")
    assert chart.content.startswith(b"\x89PNG")
