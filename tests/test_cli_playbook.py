"""`coachbot playbook check` and `coachbot playbook preview`, as an admin uses them."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from bot import cli_playbook
from bot.cli_playbook import playbook_app
from bot.coaching.gaps import scan_gaps, snooze_gap
from bot.coaching.playbook import load_playbook
from bot.database import session_scope
from bot.models import Deal, ProcessGap
from bot.settings import Settings
from jobs import gap_scan
from tests.coaching.test_gaps import recorded_writes
from tests.support.personas import RILEY, seed_team

runner = CliRunner()
app = typer.Typer()
app.add_typer(playbook_app, name="playbook")


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Rich wraps at 80 columns off a terminal; assertions read whole lines.
    monkeypatch.setattr(cli_playbook.console, "width", 200)
    for name in list(os.environ):
        if name.startswith(("COACHBOT_", "DATABASE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_check_says_ok_and_summarises_a_valid_playbook() -> None:
    result = runner.invoke(app, ["playbook", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:4] == [
        "default playbook: OK.",
        "8 stages (6 open), 8 of 8 rules on, 0 team override(s).",
        "Required fields: amount from Qualification, product_line from Proposal.",
        "Nudges at 09:00 on mon, tue, wed, thu, fri, up to 3 items; digest mon 08:00.",
    ]
    rows = [line.split() for line in result.output.splitlines()]
    assert ["no_activity", "medium", "yes", "days=14"] in rows
    assert ["single_product_line", "low", "yes", "min_deals=3"] in rows


def test_check_lists_every_mistake_with_its_line_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "team.yml").write_text(
        "stages:\n  - {name: Demo, probability: 0.4}\nrules:\n  no_activty: {}\nnudges:\n  local_time: 9:30\n"
    )
    result = runner.invoke(app, ["playbook", "check", "team.yml"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "team.yml line 4: rule `no_activty` is unknown (known: next_step_missing, next_step_overdue, close_date_missing, "
        "close_date_past, stale_stage, no_activity, missing_field, single_product_line)",
        'team.yml line 6: nudges: `local_time` must be a time in quotes, like "09:00" (unquoted, YAML reads it as a number)',
        "2 mistake(s); nothing was changed.",
    ]


def test_check_reads_COACHBOT_PLAYBOOK_when_no_file_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine.yml").write_text("stages:\n  - {name: Demo, probability: 0.4}\nrules: {stale_stage: {enabled: false}}\n")
    monkeypatch.setenv("COACHBOT_PLAYBOOK", str(tmp_path / "mine.yml"))
    result = runner.invoke(app, ["playbook", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == [
        f"{tmp_path / 'mine.yml'}: OK.",
        "1 stages (1 open), 7 of 8 rules on, 0 team override(s).",
    ]


@pytest.fixture
def preview_env(monkeypatch: pytest.MonkeyPatch, database_url: str, now: dt.datetime) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COACHBOT_TIMEZONE", "America/New_York")
    monkeypatch.setattr(cli_playbook, "utcnow", lambda: now)


def test_preview_shows_what_a_scan_would_open_and_what_a_nudge_would_carry_and_writes_nothing(
    preview_env, session_factory
) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    with recorded_writes(session_factory) as writes:
        result = runner.invoke(app, ["playbook", "preview"])
    assert result.exit_code == 0, result.output
    assert writes == []
    assert result.output.splitlines() == [
        "Riley Rep <riley.rep@example.com> · 2 open deal(s), Wed Nov 25",
        "  would open: 3",
        "    + Globex expansion: no dated next step (next_step_missing, high)",
        "    + Globex expansion: close date Nov 20 has passed (close_date_past, high)",
        "    + Globex expansion: 36 days in Negotiation (limit 14) (stale_stage, medium)",
        "  would resolve: 0",
        "  still open: 0",
        "  a nudge would carry:",
        "    1. Globex expansion: no dated next step",
        "    2. Globex expansion: close date Nov 20 has passed",
        "    3. Globex expansion: 36 days in Negotiation (limit 14)",
        "Preview only: nothing was written or sent.",
    ]
    with session_factory() as session:
        assert session.scalars(select(ProcessGap)).all() == []


def test_preview_of_one_person_after_a_scan_shows_resolutions_and_snoozes(preview_env, session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    scan_gaps(session_factory, load_playbook(), now, default_timezone="America/New_York")
    with session_scope(session_factory) as session:
        session.execute(Deal.__table__.update().where(Deal.crm_id == "O2").values(close_date=dt.date(2026, 12, 18)))
        stale = session.scalars(select(ProcessGap.id).where(ProcessGap.rule == "stale_stage")).one()
        snooze_gap(session, stale, dt.date(2026, 12, 1), "Legal review", now)
    with recorded_writes(session_factory) as writes:
        result = runner.invoke(app, ["playbook", "preview", "--person", RILEY.upper()])
    assert result.exit_code == 0, result.output
    assert writes == []
    assert result.output.splitlines() == [
        "Riley Rep <riley.rep@example.com> · 2 open deal(s), Wed Nov 25",
        "  would open: 0",
        "  would resolve: 1",
        "    - Globex expansion: close date Nov 20 has passed (close_date_past, high)",
        "  still open: 2 (1 snoozed)",
        "  a nudge would carry:",
        "    1. Globex expansion: no dated next step",
        "Preview only: nothing was written or sent.",
    ]
    with session_factory() as session:
        assert session.scalars(select(ProcessGap.resolved_at)).all() == [None, None, None]


def test_preview_of_someone_unknown_says_so_and_exits_1(preview_env, session_factory) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    result = runner.invoke(app, ["playbook", "preview", "--person", "nobody@example.com"])
    assert result.exit_code == 1
    assert result.output == "Nobody with the email nobody@example.com.\n"


def test_the_gap_scan_job_runs_the_scan_with_the_configured_playbook(session_factory, database_url, now, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    (tmp_path / "quiet.yml").write_text(
        "stages:\n  - {name: Negotiation, probability: 0.8}\n  - {name: Proposal, probability: 0.6}\n"
        "rules: {close_date_past: {enabled: false}}\n"
    )
    settings = Settings(database_url=database_url, playbook_path=tmp_path / "quiet.yml", timezone="America/New_York")
    summary = gap_scan.run(settings, session_factory, now)
    assert (gap_scan.JOB.id, summary.opened, summary.deals_scanned) == ("gap_scan", 1, 2)
    with session_factory() as session:
        assert session.execute(select(ProcessGap.rule, ProcessGap.detail)).all() == [("next_step_missing", "no dated next step")]

