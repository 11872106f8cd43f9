"""Two admin commands end to end: leavers leave with `org import --deactivate-missing`, and a
hand-run `jobs run crm_sync` is followed by the gap scan, as the schedule runs it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot import cli
from bot.cli import app
from bot.database import make_engine, make_session_factory
from bot.models import Person, ProcessGap
from tests.org.test_importer import ORG_CSV

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> None:
    for name in list(os.environ):
        if name.startswith(("SLACK_", "CRM_", "CSV_", "COACHBOT_", "DATABASE_", "HUBSPOT_", "SALESFORCE_", "PIPEDRIVE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    # Rich wraps at 80 columns off a terminal; assertions read whole lines.
    monkeypatch.setattr(cli.console, "width", 200)


def test_deactivate_missing_deactivates_a_leaver_and_says_so(tmp_path: Path, database_url: str) -> None:
    (tmp_path / "org.csv").write_text(ORG_CSV)
    assert runner.invoke(app, ["org", "import", "org.csv", "--no-link-slack"]).exit_code == 0
    leaver_gone = "\n".join(line for line in ORG_CSV.splitlines() if not line.startswith("Sam.Rep")) + "\n"
    (tmp_path / "later.csv").write_text(leaver_gone)

    kept = runner.invoke(app, ["org", "import", "later.csv", "--no-link-slack"])
    assert kept.exit_code == 0, kept.output
    assert "later.csv: 3 people: 0 new, 0 changed, 3 unchanged;" in kept.output
    assert "deactivated" not in kept.output

    result = runner.invoke(app, ["org", "import", "later.csv", "--no-link-slack", "--deactivate-missing"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].endswith(" 1 not in the file deactivated.")
    with make_session_factory(make_engine(database_url))() as session:
        active = dict(session.execute(select(Person.email, Person.active)).all())
    assert active == {
        "mia.manager@example.com": True, "carl.coach@example.com": True,
        "riley.rep@example.com": True, "sam.rep@example.com": False,
    }  # fmt: skip


def test_a_hand_run_crm_sync_job_is_followed_by_the_gap_scan(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("CRM_PROVIDER", "demo")
    result = runner.invoke(app, ["jobs", "run", "crm_sync"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines if re.match(r"^(crm_sync|gap_scan): ", line)] == ["crm_sync", "gap_scan"]
    [scan_line] = [line for line in lines if line.startswith("gap_scan: ")]
    opened = int(re.match(r"gap_scan: (\d+) gaps opened", scan_line).group(1))  # type: ignore[union-attr]
    with make_session_factory(make_engine(database_url))() as session:
        assert len(session.scalars(select(ProcessGap).where(ProcessGap.resolved_at.is_(None))).all()) == opened > 0
