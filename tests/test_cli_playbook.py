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
from tests.coaching.test_backtest import AFTER, PLAYBOOK_YAML, STRICT_YAML, store_history
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
        # Riley has open deals in 9 of the 13 weeks (from Oct 1); the Negotiation gap opened Nov 4, still open.
        "Back-test of the rules above over the last 13 weeks (coachbot playbook backtest):",
        "  next_step_missing: skipped: next steps are stored as they are now, not as of past weeks",
        "  close_date_past: skipped: expected close dates are stored as they are now, not as of past weeks",
        "  stale_stage (replayed): 0.11 gaps a rep a week; won with the gap none closed, without 1/1 (100%)",
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
        "Back-test of the rules above over the last 13 weeks (coachbot playbook backtest):",
        "  next_step_missing: skipped: next steps are stored as they are now, not as of past weeks",
        "  close_date_past: skipped: expected close dates are stored as they are now, not as of past weeks",
        "  stale_stage (replayed): 0.11 gaps a rep a week; won with the gap none closed, without 1/1 (100%)",
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


@pytest.fixture
def history_env(monkeypatch: pytest.MonkeyPatch, database_url: str, session_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The back-test's hand-built history (tests/coaching/test_backtest.py) stored, two playbooks beside it, replayed Dec 1."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(cli_playbook, "utcnow", lambda: AFTER)
    (tmp_path / "team.yml").write_text(PLAYBOOK_YAML)
    (tmp_path / "strict.yml").write_text(STRICT_YAML)
    store_history(session_factory)


NOTES = [
    "  next_step_missing: skipped: next steps are stored as they are now, not as of past weeks",
    "  next_step_overdue: skipped: next steps are stored as they are now, not as of past weeks",
    "  close_date_missing: skipped: expected close dates are stored as they are now, not as of past weeks",
    "  close_date_past: skipped: expected close dates are stored as they are now, not as of past weeks",
    "  stale_stage: replayed: from the stage history",
    "  no_activity: skipped: last activity is stored as it is now, not as of past weeks",
    "  missing_field: approximated: stages from the history; amount, product and account as they are now",
    "  single_product_line: skipped: judged on a rep's whole pipeline, not a deal: there are no closed deals to compare",
    "Won with gap / without: deals closed in the period that had the gap at some time while open / never.",
    "diff: the win rate with the gap minus without, in points; days open: the median, of gaps resolved.",
    "(few): fewer than 20 closed deals on a side, too few to go by.",
]
PERIOD_ARGS = ["--from", "2026-11-02", "--to", "2026-11-29"]


def lines(output: str) -> list[str]:
    return [line.rstrip() for line in output.splitlines()]


def test_backtest_prints_each_rules_figures_on_the_hand_built_history_and_writes_nothing(history_env, session_factory) -> None:  # type: ignore[no-untyped-def]
    with recorded_writes(session_factory) as writes:
        result = runner.invoke(app, ["playbook", "backtest", "team.yml", *PERIOD_ARGS])
    assert result.exit_code == 0, result.output
    assert writes == []
    assert lines(result.output) == [
        "Back-test of team.yml, Mon Nov 2 2026 to Sun Nov 29 2026 (4 weeks): 7 deals open in the period, 5 closed in it "
        "(2 won), 2 reps, 8 rep-weeks.",
        " rule                 replay        opened  still open  a rep a week  days open  won with gap  won without  diff (pts)",
        " next_step_missing    skipped",
        " next_step_overdue    skipped",
        " close_date_missing   skipped",
        " close_date_past      skipped",
        " stale_stage          replayed           3           1   0.38, max 1        7.5  1/3 (33%)     1/2 (50%)     -17 (few)",
        " no_activity          skipped",
        " missing_field        approximated       2           1   0.25, max 1         14  0/1 (0%)      2/4 (50%)     -50 (few)",
        " single_product_line  skipped",
        *NOTES,
    ]


def test_backtest_against_a_second_playbook_shows_both_rule_by_rule_and_draws_the_chart(history_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(
        app, ["playbook", "backtest", "team.yml", *PERIOD_ARGS, "--against", "strict.yml", "--chart", "rates.png"]
    )
    assert result.exit_code == 0, result.output
    output = lines(result.output)
    heading = (
        "Mon Nov 2 2026 to Sun Nov 29 2026 (4 weeks): 7 deals open in the period, 5 closed in it (2 won), 2 reps, 8 rep-weeks."
    )
    assert output[:2] == [f"A: Back-test of team.yml, {heading}", f"B: Back-test of strict.yml, {heading}"]
    assert output[2:13] == [
        " rule                 playbook  replay        opened  still open  a rep a week  days open  won with gap  won without  diff (pts)",
        " next_step_missing              skipped",
        " next_step_overdue              skipped",
        " close_date_missing             skipped",
        " close_date_past                skipped",
        " stale_stage          A         replayed           3           1   0.38, max 1        7.5  1/3 (33%)     1/2 (50%)     -17 (few)",
        " stale_stage          B         replayed           4           1   0.50, max 2          8  1/4 (25%)     1/1 (100%)    -75 (few)",
        " no_activity                    skipped",
        " missing_field        A         approximated       2           1   0.25, max 1         14  0/1 (0%)      2/4 (50%)     -50 (few)",
        " missing_field        B         approximated       2           1   0.25, max 1         14  0/1 (0%)      2/4 (50%)     -50 (few)",
        " single_product_line            skipped",
    ]
    png = (tmp_path / "rates.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert output[13:] == [*NOTES, f"Chart of the win rates ({len(png):,} bytes) written to rates.png."]


def test_backtest_says_which_playbook_turns_a_rule_off(history_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "quiet.yml").write_text(PLAYBOOK_YAML + "rules:\n  stale_stage: {enabled: false}\n")
    result = runner.invoke(app, ["playbook", "backtest", "team.yml", *PERIOD_ARGS, "--against", "quiet.yml"])
    assert result.exit_code == 0, result.output
    output = lines(result.output)
    assert " stale_stage          B         off" in output
    assert output[-1] == "  B: stale_stage: off: turned off in this playbook"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-11-31"], ["--from 2026-11-31: not a date; write it as YYYY-MM-DD."]),
        (["--to", "last week"], ["--to last week: not a date; write it as YYYY-MM-DD."]),
        (["--from", "2026-12-01", "--to", "2026-11-29"], ["--from 2026-12-01 is after --to 2026-11-29: nothing to replay."]),
        (["nope.yml"], ["nope.yml: cannot read the playbook (No such file or directory)", "1 mistake(s); nothing was replayed."]),
        (
            ["team.yml", "--against", "bad.yml"],
            ["bad.yml line 1: expected a mapping with a list of `stages`", "1 mistake(s); nothing was replayed."],
        ),
    ],
)
def test_backtest_refuses_a_bad_date_or_playbook_with_a_clear_message_and_exit_2(
    history_env, tmp_path: Path, args, message
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.yml").write_text("stages: 3\n")
    result = runner.invoke(app, ["playbook", "backtest", *args])
    assert (result.exit_code, lines(result.output)) == (2, message)


def test_preview_shows_the_backtest_figures_of_the_rules_it_shows(
    history_env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COACHBOT_PLAYBOOK", str(tmp_path / "team.yml"))
    preview = runner.invoke(app, ["playbook", "preview", "--person", "rep2@example.com"])
    assert preview.exit_code == 0, preview.output
    backtest = runner.invoke(app, ["playbook", "backtest"])  # the same 13 weeks to Dec 1, the same playbook
    assert backtest.exit_code == 0, backtest.output
    # Sep 2 to Dec 1 reaches D7 too (stale Sep 12, 19 days, lost) and D3's first gap (Oct 12 to Nov 4, 23 days):
    # stale_stage opens 5 gaps (days 7, 8, 19, 23: median 13.5) in 19 rep-weeks (rep1: 5 + 4, rep2: 10).
    assert lines(preview.output)[-6:] == [
        "Back-test of the rules above over the last 13 weeks (coachbot playbook backtest):",
        "  next_step_missing: skipped: next steps are stored as they are now, not as of past weeks",
        "  close_date_missing: skipped: expected close dates are stored as they are now, not as of past weeks",
        "  stale_stage (replayed): 0.26 gaps a rep a week, median 13.5 days open; won with the gap 1/4 (25%), without 1/2 (50%), "
        "-25 points (few deals)",
        "  missing_field (approximated): 0.11 gaps a rep a week, median 14 days open; won with the gap 0/1 (0%), without 2/5 (40%), "
        "-40 points (few deals)",
        "Preview only: nothing was written or sent.",
    ]
    table = lines(backtest.output)
    assert (
        " stale_stage          replayed           5           1   0.26, max 1       13.5  1/4 (25%)     1/2 (50%)     -25 (few)"
        in table
    )
    assert (
        " missing_field        approximated       2           1   0.11, max 1         14  0/1 (0%)      2/5 (40%)     -40 (few)"
        in table
    )
