"""Button clicks (block_actions)."""

from slack_bolt import App

from handlers.actions import agenda, coaching, preferences, writeback


def register(app: App) -> None:
    coaching.register(app)
    preferences.register(app)
    agenda.register(app)
    writeback.register(app)
