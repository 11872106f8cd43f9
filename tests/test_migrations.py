"""The schema the migrations build is the schema the models describe, on both databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from bot.database import make_engine
from bot.migrate import alembic_config, current_revision, upgrade
from bot.models import Base
from tests.conftest import BACKENDS, POSTGRES_URL, postgres_url_with_schema


@pytest.fixture(params=BACKENDS)
def fresh_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """An engine on a database with no tables at all."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        engine.dispose()
        return
    request.getfixturevalue("postgres_schema")  # skips (or fails in CI) when PostgreSQL is absent
    schema = f"coachbot_fresh_{uuid.uuid4().hex[:8]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(postgres_url_with_schema(schema))
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_migrated_schema_equals_the_models(fresh_engine: Engine) -> None:
    upgrade(fresh_engine)
    assert schema_differences(fresh_engine) == []
    assert current_revision(fresh_engine) is not None


def test_migrating_twice_changes_nothing(fresh_engine: Engine) -> None:
    upgrade(fresh_engine)
    revision = current_revision(fresh_engine)
    upgrade(fresh_engine)
    assert current_revision(fresh_engine) == revision
    assert schema_differences(fresh_engine) == []


def test_downgrade_to_base_removes_every_table_and_upgrade_restores_them(fresh_engine: Engine) -> None:
    upgrade(fresh_engine)
    command.downgrade(alembic_config(fresh_engine), "base")
    assert set(inspect(fresh_engine).get_table_names()) == {"alembic_version"}
    upgrade(fresh_engine)
    assert schema_differences(fresh_engine) == []
