"""Slash commands."""

from slack_bolt import App

from handlers.commands import coach, myperf


def register(app: App) -> None:
    myperf.register(app)
    coach.register(app)
