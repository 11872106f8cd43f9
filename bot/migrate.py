"""Apply the Alembic migrations the way `coachbot migrate` does."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # env.py takes this engine rather than a URL, so passwords never pass through ini strings.
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to `revision`."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


class SchemaNotCurrent(Exception):
    """The database schema is not the one this code was written for; the message says what to run."""


def require_current_schema(engine: Engine, *, allow_behind: bool = False) -> str | None:
    """The database's revision, after checking this code knows it (and, unless `allow_behind`, that it is the head).

    A revision this code does not know was written by a newer coachbot: running older code on it,
    or "upgrading" it, would misread tables that have moved on.
    """
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory.from_config(alembic_config(engine))
    head = script.get_current_head()
    revision = current_revision(engine)
    if revision is not None:
        try:
            script.get_revision(revision)
        except CommandError:
            raise SchemaNotCurrent(
                f"the database schema is at revision {revision}, which this version of coachbot does not know "
                f"(it expects {head}): the database was migrated by a newer coachbot; run that version, "
                "or point DATABASE_URL at this version's database"
            ) from None
    if allow_behind or revision == head:
        return revision
    if revision is None:
        raise SchemaNotCurrent("the database has no coachbot tables yet: run `coachbot migrate`")
    raise SchemaNotCurrent(f"the database schema is at revision {revision}, this version expects {head}: run `coachbot migrate`")


def open_migrated_database(database_url: str) -> Engine:
    """What every command but `migrate` starts with: a reachable database at this code's schema."""
    from bot.database import open_database

    engine = open_database(database_url)
    try:
        require_current_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
