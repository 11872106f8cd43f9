"""Migration 0010 gives every open goal its first progress mark, so the first week's "goals moved" has a baseline."""

from __future__ import annotations

from sqlalchemy import Engine, text

from bot.migrate import upgrade
from tests.test_migrations import fresh_engine  # noqa: F401 - the fixture, on SQLite and PostgreSQL


def test_open_goals_start_their_history_where_they_stand(fresh_engine: Engine) -> None:  # noqa: F811
    upgrade(fresh_engine, "0008_goal_measures")
    with fresh_engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO people (id, email, name, is_rep, is_manager, is_coach, is_admin, active, digest_enabled, created_at, updated_at)"
            " VALUES (1, 'riley@example.com', 'Riley', true, false, false, false, true, true, :at, :at)"
        ), {"at": "2026-11-01 00:00:00+00:00"})  # fmt: skip
        for goal_id, progress, status in ((1, 0.4, "open"), (2, 1.0, "achieved")):
            connection.execute(text(
                "INSERT INTO goals (id, person_id, competency, description, progress, status, created_at)"
                " VALUES (:id, 1, 'Discovery', 'Ask why', :progress, :status, :at)"
            ), {"id": goal_id, "progress": progress, "status": status, "at": "2026-11-01 00:00:00+00:00"})  # fmt: skip
    upgrade(fresh_engine)
    with fresh_engine.connect() as connection:
        marks = connection.execute(text("SELECT goal_id, progress, recorded_at IS NOT NULL FROM goal_progress")).all()
    assert [tuple(mark) for mark in marks] == [(1, 0.4, True)]
