"""Button clicks (block_actions)."""

from slack_bolt import App

from handlers.actions import coaching


def register(app: App) -> None:
    coaching.register(app)
