"""`user_change` and `team_join`: people kept in step with their Slack profiles (bot/org/slack_profiles.py)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from bot.org.slack_profiles import SlackProfile, follow_slack_profile
from bot.runtime.guard import guarded
from bot.runtime.services import services_of
from bot.runtime.work import unit_of_work
from bot.slack_ids import TEAM_JOIN, USER_CHANGE


def handle_profile_event(event: dict[str, Any], context: BoltContext) -> None:
    profile = SlackProfile.from_event_user(event.get("user"))
    if profile is None:
        return
    with unit_of_work(context) as session:
        follow_slack_profile(session, profile, services_of(context).clock())


def register(app: App) -> None:
    app.event(USER_CHANGE)(guarded(handle_profile_event))
    app.event(TEAM_JOIN)(guarded(handle_profile_event))
