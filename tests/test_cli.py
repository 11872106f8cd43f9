"""The `coachbot` command line, as a newcomer and an admin use it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot import cli
from bot.cli import app
from bot.database import make_engine, make_session_factory
from bot.models import Person
from tests.conftest import require_shared_data
from tests.org.test_importer import ORG_CSV

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rich wraps at 80 columns off a terminal; assertions read whole lines.
    monkeypatch.setattr(cli.console, "width", 200)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("SLACK_", "CRM_", "CSV_", "COACHBOT_", "DATABASE_", "HUBSPOT_", "SALESFORCE_", "PIPEDRIVE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> str:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


@pytest.mark.parametrize(
    "command",
    [[], ["migrate"], ["sync"], ["run"], ["demo"], ["doctor"], ["org"], ["org", "import"], ["jobs"], ["jobs", "list"],
     ["jobs", "run"], ["jobs", "preview"], ["playbook"], ["playbook", "check"], ["playbook", "preview"]],
)  # fmt: skip
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: coachbot" in result.output


def test_demo_shows_a_rep_ahead_of_pace_and_one_behind(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "Org: 16 new, 0 changed, 0 unchanged people." in result.output
    assert "/myperf → Alex Rivera (ahead of pace), posted privately" in result.output
    assert "/myperf → Rowan Davis (behind pace), posted privately" in result.output
    assert "The demo team: 12 reps," in result.output
    assert "The number" in result.output and "Process:" in result.output
    assert list(tmp_path.iterdir()) == []  # the demo database lived in a temporary folder


def test_org_import_links_people_to_slack_by_email(cli_env, slack, monkeypatch, tmp_path, session_factory) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-cli")
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    slack.add_user("URILEY", "riley.rep@example.com", tz="America/Denver")
    (tmp_path / "org.csv").write_text(ORG_CSV)
    result = runner.invoke(app, ["org", "import", "org.csv"])
    assert result.exit_code == 0, result.output
    assert "org.csv: 4 people: 4 new, 0 changed, 0 unchanged; 3 quota(s) and 1 coach link(s) changed." in result.output
    assert "Slack: linked 1 people by email. Not in Slack:" in result.output
    assert sorted(call.body["email"] for call in slack.calls_to("users.lookupByEmail")) == [
        "carl.coach@example.com", "mia.manager@example.com", "riley.rep@example.com", "sam.rep@example.com",
    ]  # fmt: skip
    with session_factory() as session:
        riley = session.scalar(select(Person).where(Person.email == "riley.rep@example.com"))
        assert (riley.slack_user_id, riley.timezone) == ("URILEY", "America/Denver")

    again = runner.invoke(app, ["org", "import", "org.csv", "--no-link-slack"])
    assert "4 people: 0 new, 0 changed, 4 unchanged; 0 quota(s) and 0 coach link(s) changed." in again.output


def test_sync_of_the_maven_export_reports_the_created_dates_it_estimated(cli_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    data = require_shared_data()
    monkeypatch.setenv("CRM_PROVIDER", "csv")
    monkeypatch.setenv("CSV_DEALS_FILE", str(data / "sales_pipeline.csv"))
    monkeypatch.setenv("CSV_PRODUCTS_FILE", str(data / "products.csv"))
    result = runner.invoke(app, ["sync"])
    assert result.exit_code == 0, result.output
    assert "Fetched 8,800 deals: 8,800 created, 0 updated, 0 unchanged, 0 skipped." in result.output
    assert "Kept with an estimated value" in result.output
    assert re.search(
        r"500\s+no created date \(engage_date\): dated 2017-12-27, the newest date in the export\s+e\.g\. line \d+ \(id \w+\)",
        result.output,
    )
    assert "Put the value in the export to replace the estimate on the next sync." in result.output
    assert "Add these people with `coachbot org import`" in result.output
    assert "Owners with no matching person" in result.output
    second = runner.invoke(app, ["sync"])
    assert "Fetched 8,800 deals: 0 created, 0 updated, 8,800 unchanged, 0 skipped." in second.output


def test_a_bad_org_file_exits_with_every_problem_and_stores_nothing(cli_env, tmp_path, engine) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "org.csv").write_text("email,name,roles\nnope,Someone,rep\nok@example.com,,boss\n")
    env = {**os.environ, "DATABASE_URL": cli_env}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "org", "import", "org.csv"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[1:] == [
        "line 2: nope is not an email address",
        "line 3: name is empty",
        "line 3: unknown role boss (use rep, manager, coach, admin)",
    ]
    with make_session_factory(make_engine(cli_env))() as session:
        assert session.scalars(select(Person)).all() == []


def test_a_sync_from_the_command_line_is_followed_by_the_gap_scan(cli_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CRM_PROVIDER", "demo")
    result = runner.invoke(app, ["sync"])
    assert result.exit_code == 0, result.output
    [scan_line] = [line for line in result.output.splitlines() if line.startswith("gap_scan: ")]
    opened = int(re.match(r"gap_scan: (\d+) gaps opened", scan_line).group(1))  # type: ignore[union-attr]
    from bot.models import ProcessGap

    with make_session_factory(make_engine(cli_env))() as session:
        assert len(session.scalars(select(ProcessGap).where(ProcessGap.resolved_at.is_(None))).all()) == opened > 0
