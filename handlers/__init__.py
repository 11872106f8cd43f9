"""Slack listeners, grouped by surface. `register_handlers(app)` registers them in a fixed order."""

from slack_bolt import App

from handlers import actions, commands, events, views


def register_handlers(app: App) -> None:
    commands.register(app)
    actions.register(app)
    views.register(app)
    events.register(app)
