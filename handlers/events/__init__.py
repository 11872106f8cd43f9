"""Events API events (event_callback)."""

from slack_bolt import App

from handlers.events import home, people


def register(app: App) -> None:
    home.register(app)
    people.register(app)
