"""Slash commands."""

from slack_bolt import App

from handlers.commands import coach, myperf, teamperf


def register(app: App) -> None:
    myperf.register(app)
    teamperf.register(app)
    coach.register(app)
