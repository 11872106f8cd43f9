"""Engine and sessions: one session per request or job run, committed or rolled back as a whole."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Insert


def make_engine(database_url: str, **kwargs: object) -> Engine:
    """An engine for `database_url`, with SQLite tuned for a small bot's concurrency."""
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(database_url, pool_pre_ping=True, **kwargs)


class DatabaseUnavailable(Exception):
    """DATABASE_URL cannot be used: unparseable, unreachable, or naming a place that does not exist."""


class NoDatabaseYet(Exception):
    """The SQLite file DATABASE_URL names does not exist yet; `coachbot migrate` creates it."""


def open_database(database_url: str, *, create: bool = False) -> Engine:
    """An engine that has connected once, or DatabaseUnavailable / NoDatabaseYet saying why not.

    Only `create=True` (what `coachbot migrate` passes) may bring a new SQLite file into being:
    SQLite creates a missing file on first connect, and an empty file left by a failed command
    looks like a database to the next one.
    """
    try:
        url = make_url(database_url)
    except exc.ArgumentError as error:
        raise DatabaseUnavailable(
            "DATABASE_URL is not a database URL: expected e.g. postgresql+psycopg://user:password@host/db "
            "or sqlite:///coachbot.db"
        ) from error
    shown = safe_url(url)
    if url.get_backend_name() == "sqlite":
        _check_sqlite_path(url, create)
    try:
        engine = make_engine(database_url)
    except (exc.ArgumentError, exc.NoSuchModuleError) as error:
        raise DatabaseUnavailable(f"DATABASE_URL ({shown}) names no database coachbot can use ({error})") from error
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            if url.get_backend_name() == "sqlite":
                # SQLite opens any file lazily; reading its schema is what tells a database from a text file.
                connection.execute(text("SELECT count(*) FROM sqlite_master"))
    except exc.DBAPIError as error:
        engine.dispose()
        raise DatabaseUnavailable(f"cannot connect to the database {shown} ({_reason(error)}): check DATABASE_URL") from error
    return engine


def safe_url(url: URL | str) -> str:
    """The URL as it may be shown: never the password."""
    return (make_url(url) if isinstance(url, str) else url).render_as_string(hide_password=True)


def _check_sqlite_path(url: URL, create: bool) -> None:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return
    path = Path(url.database)
    if not path.parent.is_dir():
        raise DatabaseUnavailable(
            f"the folder {path.parent} for the SQLite database in DATABASE_URL does not exist: create it, or fix DATABASE_URL"
        )
    if not create and not path.exists():
        raise NoDatabaseYet(f"there is no database at {path} yet: run `coachbot migrate` to create it")


def _reason(error: exc.DBAPIError) -> str:
    """The driver's own words, cut to the part that names the problem."""
    first_line = (str(error.orig).strip().splitlines() or ["unknown error"])[0]
    return first_line.rsplit(" failed: ", 1)[-1].removeprefix("FATAL:").strip()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
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


IN_CHUNK = 500  # ids per IN (...): well under SQLite's bound-parameter limit


def in_chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    """`ids` in slices short enough for one IN (...)."""
    for start in range(0, len(ids), IN_CHUNK):
        yield list(ids[start : start + IN_CHUNK])


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
