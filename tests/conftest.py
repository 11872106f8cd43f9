"""Shared fixtures: a real database on SQLite and PostgreSQL (migrated as users migrate it),
a stand-in Slack Web API, and a few named people.

PostgreSQL: COACHBOT_TEST_POSTGRES_URL (default: the local server's `test` database). Where it is
unreachable the PostgreSQL half of the suite skips with the reason, unless
COACHBOT_TEST_REQUIRE_POSTGRES=1 (as in .ci/run), where that is a failure.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from bot.database import make_engine, make_session_factory
from bot.migrate import upgrade
from bot.models import Base
from tests.support.slack_standin import SlackStandIn

POSTGRES_URL = os.environ.get("COACHBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("COACHBOT_TEST_REQUIRE_POSTGRES") == "1"
REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "maven-crm"
VENDOR_SPECS = REPO_ROOT.parent / "shared" / "data" / "vendor-specs"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def postgres_url_with_schema(schema: str) -> str:
    # libpq's `options` sets search_path per connection, so every process (the CLI in a
    # subprocess too) sees only this test run's schema.
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """A private schema for this test session in the PostgreSQL `test` database."""
    try:
        admin = make_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with admin.begin() as connection:
            schema = f"coachbot_test_{uuid.uuid4().hex[:10]}"
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no PostgreSQL here"
        reason = f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__}); .ci/run provides one"
        if REQUIRE_POSTGRES:
            pytest.fail(reason)
        pytest.skip(reason)
    yield schema
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'coachbot.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def migrated_postgresql_url(postgres_schema: str) -> str:
    url = postgres_url_with_schema(postgres_schema)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a migrated, empty database: once on SQLite, once on PostgreSQL."""
    url = request.getfixturevalue(f"migrated_{request.param}_url")
    engine = make_engine(url)
    empty_tables(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


def empty_tables(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = SlackStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture
def now() -> dt.datetime:
    """Wednesday 2026-11-25, 15:00 UTC: 56 days into Q4, 61% of the quarter gone in New York."""
    return dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)


def require_shared(folder: Path, marker: str, what: str) -> Path:
    """`folder` beside the repo, if it holds `marker`; else a skip (a failure under COACHBOT_TEST_REQUIRE_SHARED=1)."""
    if (folder / marker).exists():
        return folder
    reason = f"{folder} not found: {what} comes with ../shared, which .ci/run provides"
    if os.environ.get("COACHBOT_TEST_REQUIRE_SHARED") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def require_shared_data() -> Path:
    """The Maven CRM export beside the repo, or a skip (a failure under COACHBOT_TEST_REQUIRE_SHARED=1)."""
    return require_shared(SHARED_DATA, "sales_pipeline.csv", "the Maven CRM export")


def require_vendor_specs() -> Path:
    """The vendors' API specs beside the repo (SOURCES.md there says where each came from), or a skip."""
    return require_shared(VENDOR_SPECS, "SOURCES.md", "the vendors' API specs")
