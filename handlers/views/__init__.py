"""Modal submissions (view_submission)."""

from slack_bolt import App

from handlers.views import coach, plans, preferences, writeback


def register(app: App) -> None:
    plans.register(app)
    coach.register(app)
    preferences.register(app)
    writeback.register(app)
