"""`/myperf` through the Bolt app with signed requests: a rep whose team has a leaderboard sees their own
place privately, and nobody else's name or figures."""

from __future__ import annotations

import json

import pytest
from slack_bolt import BoltRequest

from bot.app import create_app
from bot.coaching.playbook import Playbook, load_playbook
from bot.settings import Settings
from tests.jobs.test_leaderboard_job import MONDAY, team_playbook
from tests.support.leaderboard_team import seed_leaderboard_team
from tests.support.signing import SIGNING_SECRET, sign, slash_command_body


def app_with(slack, session_factory, database_url, playbook: Playbook):  # type: ignore[no-untyped-def]
    settings = Settings(
        slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
        database_url=database_url, timezone="America/New_York",
    )  # fmt: skip
    return create_app(settings, session_factory=session_factory, playbook=playbook, clock=lambda: MONDAY)


def myperf(app, slack, user_id: str) -> dict:  # type: ignore[no-untyped-def]
    body = slash_command_body("/myperf", "", user_id, slack.response_url())
    response = app.dispatch(BoltRequest(body=body, headers=sign(body)))
    assert (response.status, response.body) == (200, "")
    return slack.wait_for("response")[-1].body


@pytest.mark.parametrize(
    ("user", "place", "figures", "others"),
    [
        ("ULEO", "You rank 2nd of 2 on process discipline this week.",
         "adherence 100% · 1 gap fixed, median 30h · goals +10 pts", ("Nora", "Pat")),
        ("UPAT", "Nothing to rank you on this week yet: no open deals, no gap fixed and no goal.",
         "no open deals · no gap fixed · no goals", ("Nora", "Leo")),
    ],
)  # fmt: skip
def test_a_rep_sees_their_own_rank_privately_and_no_one_elses_name(  # type: ignore[no-untyped-def]
    slack, session_factory, database_url, user, place, figures, others
) -> None:
    seed_leaderboard_team(session_factory, MONDAY)
    message = myperf(app_with(slack, session_factory, database_url, team_playbook()), slack, user)
    assert message["response_type"] == "ephemeral"
    assert message["blocks"][-1] == {"type": "section", "text": {"type": "mrkdwn", "text": (
        f"*Process discipline*\n{place}\n{figures}"
    )}}  # fmt: skip
    shown = json.dumps(message)
    assert [name for name in others if name in shown] == []


def test_a_rep_whose_team_has_no_leaderboard_sees_no_rank(slack, session_factory, database_url) -> None:  # type: ignore[no-untyped-def]
    seed_leaderboard_team(session_factory, MONDAY)
    message = myperf(app_with(slack, session_factory, database_url, load_playbook()), slack, "UNORA")
    assert "Process discipline" not in json.dumps(message)
    assert message["blocks"][-1]["type"] == "context"  # the scorecard's footnote ends it, as before
