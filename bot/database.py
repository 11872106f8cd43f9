"""Engine and sessions: one session per request or job run, committed or rolled back as a whole."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import zlib
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Insert


def make_engine(database_url: str, **kwargs: object) -> Engine:
    """An engine for `database_url`, with SQLite tuned for a small bot's concurrency."""
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(database_url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # SQLite leaves foreign keys off unless asked, per connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets the HTTP workers read while a sync writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: rendered objects stay readable after the unit of work commits.
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    session = session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_ignoring_conflicts(session: Session, model: Any, conflict_columns: list[str]) -> Insert:
    """INSERT … ON CONFLICT (columns) DO NOTHING, on whichever database the session uses.

    To learn whether the row went in, add `.returning(<primary key>)` and check for a row:
    rowcount is -1 on PostgreSQL when SQLAlchemy fetches the new key itself.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model.__table__).on_conflict_do_nothing(index_elements=conflict_columns)


class Busy(Exception):
    """Another process holds the lock for this work."""


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock named `name` for the block, or raise Busy at once.

    A session-level lock belongs to its connection, so a process that dies releases it with its
    connection: a killed run never blocks the next one. SQLite (one machine, one writer at a
    time) needs no lock; work there is made safe to repeat instead.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        # Advisory locks are server-wide: the key names the database and schema too, so two
        # coachbot installs (or test runs) on one server never block each other.
        where = connection.execute(text("SELECT current_database() || '.' || current_schema()")).scalar()
        key = zlib.crc32(f"coachbot:{where}:{name}".encode())
        acquired = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
        connection.commit()
        if not acquired:
            raise Busy(name)
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()
