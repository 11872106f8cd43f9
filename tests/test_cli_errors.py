"""The commonest admin mistakes, made through the real `coachbot` command: one line naming the fix,
the documented exit code, no traceback, and nothing written."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from bot.cli_errors import ExitCode, explain
from bot.database import make_engine, make_session_factory
from bot.migrate import alembic_config, upgrade
from bot.models import CrmSyncState, Deal, Person
from tests.conftest import POSTGRES_URL, postgres_url_with_schema
from tests.support.hubspot_standin import HubSpotStandIn
from tests.support.loopback import LoopbackServer
from tests.support.personas import seed_team
from tests.support.servers import coachbot, running_server
from tests.support.signing import SIGNING_SECRET

# Every command that reads the database, with the arguments it needs.
DATABASE_COMMANDS = [
    ("sync",),
    ("org", "import", "org.csv"),
    ("jobs", "run", "gap_scan"),
    ("playbook", "preview"),
    ("run", "--port", "0"),
]
ORG_CSV = "email,name,roles,manager\nmia@acme.test,Mia Manager,manager,\nriley@acme.test,Riley Rep,rep,mia@acme.test\n"

# The newest migration, whatever it is called: the messages name it.
HEAD = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://"))).get_current_head()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def run(workdir: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """`coachbot ARGS` in `workdir`, with only `settings` (and Slack's, for `run`) as its configuration."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "CRM_", "CSV_", "COACHBOT_", "DATABASE_", "HUBSPOT_", "SALESFORCE_", "PIPEDRIVE_"))
    }
    env.update(SLACK_BOT_TOKEN="xoxb-errors", SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL="http://127.0.0.1:9/")
    env.update(settings)
    return subprocess.run(coachbot(*args), env=env, cwd=workdir, capture_output=True, text=True, timeout=120)


def assert_refused(done: subprocess.CompletedProcess[str], code: ExitCode, message: str) -> None:
    assert (done.returncode, done.stderr) == (int(code), f"coachbot: {message}\n"), done.stderr
    assert done.stdout == ""


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def count(database_url: str, model: type) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(model)) or 0
    finally:
        engine.dispose()


# The database ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=lambda command: command[0])
def test_a_database_never_migrated_says_run_migrate_and_no_empty_file_is_left(workdir: Path, command: tuple[str, ...]) -> None:
    (workdir / "org.csv").write_text(ORG_CSV)
    done = run(workdir, *command)
    assert_refused(done, ExitCode.DATABASE_SCHEMA, "there is no database at coachbot.db yet: run `coachbot migrate` to create it")
    assert files_in(workdir) == ["org.csv"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, workdir: Path) -> Iterator[str]:
    """A database that exists and holds no tables: an empty SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        sqlite3.connect(workdir / "empty.db").close()
        yield "sqlite:///empty.db"
        return
    request.getfixturevalue("postgres_schema")  # skips, with the reason, where PostgreSQL is absent
    schema = f"coachbot_empty_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield postgres_url_with_schema(schema)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=lambda command: command[0])
def test_an_empty_database_says_run_migrate_and_gets_no_tables(
    workdir: Path, empty_database: str, command: tuple[str, ...]
) -> None:
    (workdir / "org.csv").write_text(ORG_CSV)
    done = run(workdir, *command, DATABASE_URL=empty_database)
    assert_refused(done, ExitCode.DATABASE_SCHEMA, "the database has no coachbot tables yet: run `coachbot migrate`")
    engine = make_engine(empty_database)
    with engine.connect() as connection:
        tables = connection.dialect.get_table_names(connection)
    engine.dispose()
    assert tables == []


def migrated_sqlite(workdir: Path, revision: str = "head") -> str:
    url = f"sqlite:///{workdir / 'coachbot.db'}"
    engine = make_engine(url)
    upgrade(engine, revision)
    engine.dispose()
    return url


def test_a_schema_from_an_older_release_says_run_migrate(workdir: Path) -> None:
    url = migrated_sqlite(workdir, "0002")
    done = run(workdir, "jobs", "run", "gap_scan", DATABASE_URL=url)
    assert_refused(
        done,
        ExitCode.DATABASE_SCHEMA,
        f"the database schema is at revision 0002, this version expects {HEAD}: run `coachbot migrate`",
    )
    migrated = run(workdir, "migrate", DATABASE_URL=url)
    assert (migrated.returncode, migrated.stdout) == (0, f"Database is at revision {HEAD}.\n")


@pytest.mark.parametrize("command", [("migrate",), ("sync",), ("playbook", "preview")], ids=lambda command: command[0])
def test_a_database_migrated_by_a_newer_coachbot_is_left_alone(workdir: Path, command: tuple[str, ...]) -> None:
    url = migrated_sqlite(workdir)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0009_from_the_future'"))
    done = run(workdir, *command, DATABASE_URL=url)
    assert_refused(
        done, ExitCode.DATABASE_SCHEMA,
        "the database schema is at revision 0009_from_the_future, which this version of coachbot does not know "
        f"(it expects {HEAD}): the database was migrated by a newer coachbot; run that version, "
        "or point DATABASE_URL at this version's database",
    )  # fmt: skip
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == "0009_from_the_future"
        assert connection.scalar(select(func.count()).select_from(Person)) == 0
    engine.dispose()


@pytest.mark.parametrize("command", [("migrate",), ("sync",), ("org", "import", "org.csv")], ids=lambda command: command[0])
def test_a_server_that_refuses_connections_is_named_without_its_password(workdir: Path, command: tuple[str, ...]) -> None:
    (workdir / "org.csv").write_text(ORG_CSV)
    done = run(workdir, *command, DATABASE_URL="postgres://coachbot:hunter2@127.0.0.1:9/coachbot")
    assert_refused(
        done, ExitCode.DATABASE_UNREACHABLE,
        "cannot connect to the database postgresql+psycopg://coachbot:***@127.0.0.1:9/coachbot (Connection refused): check DATABASE_URL",
    )  # fmt: skip
    assert files_in(workdir) == ["org.csv"]


@pytest.mark.postgres
def test_a_database_that_does_not_exist_on_the_server_is_named(workdir: Path, postgres_schema: str) -> None:
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/coachbot_no_such_database"
    done = run(workdir, "migrate", DATABASE_URL=url)
    assert_refused(
        done, ExitCode.DATABASE_UNREACHABLE,
        f"cannot connect to the database {url} (database \"coachbot_no_such_database\" does not exist): check DATABASE_URL",
    )  # fmt: skip


@pytest.mark.parametrize("command", [("migrate",), ("jobs", "run", "crm_sync")], ids=lambda command: command[0])
def test_an_unparseable_url_says_what_one_looks_like(workdir: Path, command: tuple[str, ...]) -> None:
    done = run(workdir, *command, DATABASE_URL="db.example.com:5432 coachbot")
    assert_refused(
        done, ExitCode.DATABASE_UNREACHABLE,
        "DATABASE_URL is not a database URL: expected e.g. postgresql+psycopg://user:password@host/db or sqlite:///coachbot.db",
    )  # fmt: skip
    assert files_in(workdir) == []


@pytest.mark.parametrize("command", [("migrate",), ("sync",)], ids=lambda command: command[0])
def test_a_sqlite_file_whose_folder_is_missing_names_the_folder(workdir: Path, command: tuple[str, ...]) -> None:
    done = run(workdir, *command, DATABASE_URL="sqlite:///data/coachbot.db")
    assert_refused(
        done, ExitCode.DATABASE_UNREACHABLE,
        "the folder data for the SQLite database in DATABASE_URL does not exist: create it, or fix DATABASE_URL",
    )  # fmt: skip
    assert files_in(workdir) == []


def test_a_file_that_is_not_a_database_is_named_and_left_as_it_was(workdir: Path) -> None:
    (workdir / "coachbot.db").write_text("my notes")
    done = run(workdir, "sync")
    assert_refused(
        done,
        ExitCode.DATABASE_UNREACHABLE,
        "cannot connect to the database sqlite:///coachbot.db (file is not a database): check DATABASE_URL",
    )
    assert (workdir / "coachbot.db").read_text() == "my notes"


# Debug output ---------------------------------------------------------------------------------


def test_debug_shows_the_traceback_before_the_same_message_and_exit_code(workdir: Path) -> None:
    message = "coachbot: there is no database at coachbot.db yet: run `coachbot migrate` to create it"
    for done in (run(workdir, "--debug", "sync"), run(workdir, "sync", COACHBOT_LOG_LEVEL="DEBUG")):
        assert done.returncode == ExitCode.DATABASE_SCHEMA
        assert done.stderr.startswith("Traceback (most recent call last):\n")
        assert "bot.database.NoDatabaseYet: there is no database at coachbot.db yet" in done.stderr
        assert done.stderr.splitlines()[-1] == message
    quiet = run(workdir, "sync")
    assert "Traceback" not in quiet.stderr and quiet.stderr == message + "\n"
    assert files_in(workdir) == []


def test_an_unexpected_error_is_named_by_its_type_only_and_points_to_debug() -> None:
    message, code = explain(RuntimeError("SELECT … WHERE email = 'riley@acme.test'"))
    assert (message, code) == (
        "unexpected error (RuntimeError); run `coachbot --debug …` to see the traceback, and report it",
        ExitCode.UNEXPECTED,
    )
    assert int(code) == 70


# The playbook ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [("sync",), ("run", "--port", "0"), ("playbook", "preview"), ("jobs", "run", "morning_nudge")],
    ids=lambda command: command[0],
)
def test_a_missing_playbook_is_named_and_nothing_is_synced(workdir: Path, command: tuple[str, ...]) -> None:
    url = migrated_sqlite(workdir)
    done = run(workdir, *command, DATABASE_URL=url, COACHBOT_PLAYBOOK="playbook.yml")
    assert_refused(done, ExitCode.BAD_INPUT, "playbook.yml: cannot read the playbook (No such file or directory)")
    assert count(url, Deal) == count(url, Person) == 0


def test_coachbot_run_with_an_invalid_playbook_lists_its_mistakes_and_boots_no_worker(workdir: Path) -> None:
    url = migrated_sqlite(workdir)
    (workdir / "playbook.yml").write_text("stages:\n  - {name: Demo, probability: 4}\nnudges:\n  local_time: 9:30\n")
    done = run(workdir, "run", "--port", "0", DATABASE_URL=url, COACHBOT_PLAYBOOK="playbook.yml")
    assert done.returncode == ExitCode.BAD_INPUT
    assert done.stderr.splitlines() == [
        "coachbot: playbook.yml line 2: stage 1 (Demo): `probability` must be a number from 0 to 1",
        'playbook.yml line 4: nudges: `local_time` must be a time in quotes, like "09:00" (unquoted, YAML reads it as a number)',
    ]
    assert "Booting worker" not in done.stdout + done.stderr


# Slack ----------------------------------------------------------------------------------------


def test_coachbot_run_with_a_refused_token_stops_in_the_master_after_one_auth_test(workdir: Path, slack) -> None:  # type: ignore[no-untyped-def]
    url = migrated_sqlite(workdir)
    slack.overrides["auth.test"] = {"ok": False, "error": "invalid_auth"}
    done = run(workdir, "run", "--port", "0", "--workers", "2", DATABASE_URL=url, SLACK_API_URL=slack.api_url)
    assert_refused(done, ExitCode.SLACK_REFUSED, "Slack: auth.test failed (invalid_auth): check SLACK_BOT_TOKEN")
    assert [call.headers.get("Authorization") for call in slack.calls_to("auth.test")] == ["Bearer xoxb-errors"]


def test_coachbot_run_with_a_token_missing_a_scope_names_the_scope(workdir: Path, slack) -> None:  # type: ignore[no-untyped-def]
    url = migrated_sqlite(workdir)
    slack.scopes = "commands,chat:write,users:read"
    done = run(workdir, "run", "--port", "0", DATABASE_URL=url, SLACK_API_URL=slack.api_url)
    assert_refused(
        done, ExitCode.SLACK_REFUSED,
        "Slack: team Example, bot user coachbot; missing scopes files:write, users:read.email, im:write, im:history: reinstall the app from manifest.yml",
    )  # fmt: skip
    assert len(slack.calls_to("auth.test")) == 1


def test_org_import_with_a_refused_token_stores_nobody(workdir: Path, slack, database_url: str) -> None:  # type: ignore[no-untyped-def]
    (workdir / "org.csv").write_text(ORG_CSV)
    slack.overrides["auth.test"] = {"ok": False, "error": "token_revoked"}
    done = run(workdir, "org", "import", "org.csv", DATABASE_URL=database_url, SLACK_API_URL=slack.api_url)
    assert_refused(done, ExitCode.SLACK_REFUSED, "Slack: auth.test failed (token_revoked): check SLACK_BOT_TOKEN")
    assert count(database_url, Person) == 0
    assert slack.calls_to("users.lookupByEmail") == []


# The CRM --------------------------------------------------------------------------------------


def test_a_crm_refusing_the_credentials_names_the_setting_and_nothing_is_stored(workdir: Path, database_url: str) -> None:
    standin = HubSpotStandIn(deal_count=5)
    with LoopbackServer(standin) as server:
        done = run(
            workdir, "sync", DATABASE_URL=database_url, CRM_PROVIDER="hubspot", HUBSPOT_TOKEN="pat-na1-wrong",
            HUBSPOT_API_URL=server.url,
        )  # fmt: skip
    assert done.returncode == ExitCode.CRM_FAILED, done.stderr
    assert done.stderr.startswith("coachbot: HubSpot refused the request (401: ")
    assert done.stderr.endswith("): check HUBSPOT_TOKEN and the permissions it grants\n")
    assert "Authentication credentials not found." in done.stderr and "pat-na1-wrong" not in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert count(database_url, Deal) == count(database_url, CrmSyncState) == 0


# The demo provider ----------------------------------------------------------------------------

DEMO_REFUSAL = (
    "CRM_PROVIDER is demo (the default), but this database holds 2 people the demo did not create "
    "(e.g. mia.manager@example.com): set CRM_PROVIDER to your CRM (README, CRM providers), or try coachbot "
    "with `coachbot demo`, which builds its own database"
)


@pytest.mark.parametrize(
    "command", [("sync",), ("jobs", "run", "crm_sync"), ("run", "--port", "0")], ids=lambda command: command[0]
)
def test_the_demo_provider_will_not_sync_into_a_real_org(
    workdir: Path, database_url: str, session_factory, slack, command
) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    done = run(workdir, *command, DATABASE_URL=database_url, SLACK_API_URL=slack.api_url)
    assert_refused(done, ExitCode.DEMO_REFUSED, DEMO_REFUSAL)
    assert (count(database_url, Person), count(database_url, Deal)) == (2, 3)


def test_the_demo_syncs_again_into_a_database_holding_only_its_own_people(workdir: Path, database_url: str) -> None:
    first = run(workdir, "sync", DATABASE_URL=database_url)
    assert first.returncode == 0, first.stderr
    again = run(workdir, "sync", DATABASE_URL=database_url)
    assert again.returncode == 0, again.stderr
    assert "Org: 0 new, 0 changed, 16 unchanged people." in again.stdout
    with make_session_factory(make_engine(database_url))() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 16


def test_coachbot_run_with_slack_out_of_reach_names_the_url_setting(workdir: Path) -> None:
    url = migrated_sqlite(workdir)
    done = run(workdir, "run", "--port", "0", DATABASE_URL=url, SLACK_API_URL="http://127.0.0.1:9/api/")
    assert_refused(done, ExitCode.SLACK_REFUSED, "Slack: cannot reach http://127.0.0.1:9/api/ (URLError): check SLACK_API_URL")


def test_an_unknown_job_is_a_usage_error(workdir: Path) -> None:
    done = run(workdir, "jobs", "run", "nudges")
    assert done.returncode == ExitCode.BAD_INPUT
    assert "Invalid value for NAME: unknown job 'nudges'; known: crm_sync, gap_scan" in done.stderr
    assert files_in(workdir) == []


def test_a_crm_that_keeps_failing_exits_with_the_crm_code() -> None:
    from bot.crm.http import CrmUnavailableError

    failure = CrmUnavailableError("HubSpot kept failing (HTTP 503) on GET /crm/v3/owners after 5 retries; nothing was lost")
    assert explain(failure) == (str(failure), ExitCode.CRM_FAILED)


def test_coachbot_run_asks_slack_about_the_token_once_however_many_workers_boot(workdir: Path, slack, database_url: str) -> None:  # type: ignore[no-untyped-def]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "CRM_", "COACHBOT_", "DATABASE_"))}
    env.update(
        DATABASE_URL=database_url, SLACK_BOT_TOKEN="xoxb-errors", SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url, COACHBOT_SCHEDULER="false",
    )  # fmt: skip
    with running_server(env, workdir, workers=2) as url:
        health = httpx.get(url + "/healthz").json()
        assert (health["ok"], health["database"]) == (True, "ok")
        log = next(workdir.glob("coachbot-run-*.log")).read_text()
        deadline = time.monotonic() + 30
        while log.count("Booting worker") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            log = next(workdir.glob("coachbot-run-*.log")).read_text()
        assert log.count("Booting worker") == 2
    assert len(slack.calls_to("auth.test")) == 1


def test_coachbot_run_with_refused_crm_credentials_stops_before_serving(workdir: Path, slack) -> None:  # type: ignore[no-untyped-def]
    url = migrated_sqlite(workdir)
    with LoopbackServer(HubSpotStandIn()) as server:
        done = run(
            workdir, "run", "--port", "0", DATABASE_URL=url, SLACK_API_URL=slack.api_url, CRM_PROVIDER="hubspot",
            HUBSPOT_TOKEN="pat-na1-wrong", HUBSPOT_API_URL=server.url,
        )  # fmt: skip
    assert done.returncode == ExitCode.CRM_FAILED, done.stderr
    assert done.stderr.startswith("coachbot: HubSpot refused the request (401: ")
    assert "Booting worker" not in done.stdout + done.stderr
    assert count(url, CrmSyncState) == 0
