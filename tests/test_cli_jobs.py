"""`coachbot jobs run` keeping to the delivery policy (and `--force` saying it does not), and
`coachbot jobs preview --at WHEN`, which shows what would go out to whom and writes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from bot.database import session_scope
from bot.models import Action, DmBudgetUnit, FoldedItem, JobRun, OutboxMessage
from tests.jobs.test_policy import set_person
from tests.jobs.test_schedule import seed
from tests.test_cli import clean_environment, cli_env, wide_console  # noqa: F401 - fixtures

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("cli_env")


def counts(session_factory) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (OutboxMessage, JobRun, DmBudgetUnit, FoldedItem)
        }


def test_a_hand_run_nudge_holds_back_a_paused_rep_and_force_sends_it_saying_so(session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = seed(session_factory)
    set_person(session_factory, ids["nora"], paused_until=dt.date(2099, 1, 1))
    set_person(session_factory, ids["leo"], paused_until=dt.date(2099, 1, 1))
    held = runner.invoke(app, ["jobs", "run", "morning_nudge"])
    assert held.exit_code == 0, held.output
    assert held.output == (
        "morning_nudge: 0 nudge(s) queued for 2 rep(s) (reps with nothing worth saying, or not in Slack, get none); "
        "2 held back: paused, in quiet hours or not a working day where they are (--force sends anyway)\n"
    )
    assert counts(session_factory)["outbox"] == 0
    forced = runner.invoke(app, ["jobs", "run", "morning_nudge", "--person", "nora@example.com", "--force"])
    assert forced.exit_code == 0, forced.output
    assert forced.output == (
        "--force: working days, quiet hours, pauses and the daily budget are not applied to this run\n"
        "morning_nudge: 1 nudge(s) queued for 1 rep(s) (reps with nothing worth saying, or not in Slack, get none); "
        "forced: sent whatever the time where they are\n"
    )
    with session_factory() as session:
        assert session.scalars(select(OutboxMessage.recipient)).all() == ["UNORA"]


def test_preview_shows_what_goes_out_to_whom_at_that_moment_and_writes_nothing(session_factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COACHBOT_TIMEZONE", "America/New_York")
    ids = seed(session_factory)
    with session_scope(session_factory) as session:
        # Due Tuesday: the 09:00 round reminds Nora of it, but the nudge spent her day's one message.
        session.add(Action(person_id=ids["nora"], assigned_by_id=ids["mia"], text="Send Acme the pricing",
                           due_date=dt.date(2026, 11, 10), status="open",
                           created_at=dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)))  # fmt: skip
        session.add(JobRun(job="crm_sync", scheduled_for=dt.datetime(2026, 11, 9, 14, 0, tzinfo=dt.UTC), claimed_by="test",
                           status="succeeded"))  # fmt: skip
    before = counts(session_factory)
    result = runner.invoke(app, ["jobs", "preview", "--at", "2026-11-09 09:00"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "At Mon 2026-11-09 09:00 America/New_York (14:00 UTC):",
        "morning_nudge: Nora Rep <nora@example.com>, nudge, Mon Nov 09 09:00 EST: Good morning Nora: 3 things worth doing today.",
        "coaching_hourly: Mia Manager <mia@example.com>, plan_proposal, Mon Nov 09 09:00 EST: "
        "Nora Rep is projected at 30% of quota for Q4 2026: open a recovery plan?",
        "coaching_hourly: Mia Manager <mia@example.com>, plan_proposal, Mon Nov 09 09:00 EST: "
        "Leo Rep is projected at 30% of quota for Q4 2026: open a recovery plan?",
        "coaching_hourly: Nora Rep <nora@example.com>, action_reminder, in their next morning nudge: "
        "Send Acme the pricing (the day's budget is spent, or their nudge is still to come)",
        "crm_sync: already ran at that time (job_runs)",
        "Nothing was sent or written: the preview ran in a transaction that was rolled back.",
    ]
    # Outbox, ledger, budget and folded reminders exactly as they were; the same preview again says the same.
    assert counts(session_factory) == before
    assert runner.invoke(app, ["jobs", "preview", "--at", "2026-11-09 09:00"]).output == result.output


def test_preview_reads_an_iso_time_with_its_offset_and_says_when_nothing_fires(session_factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COACHBOT_TIMEZONE", "America/New_York")
    ids = seed(session_factory)
    # 17:00 UTC is 09:00 in Los Angeles: Leo's nudge; the hour's round and sync begin too.
    leo = runner.invoke(app, ["jobs", "preview", "--at", "2026-11-09T18:00:00+01:00"])
    assert leo.exit_code == 0, leo.output
    assert leo.output.splitlines()[:2] == [
        "At Mon 2026-11-09 12:00 America/New_York (17:00 UTC):",
        "morning_nudge: Leo Rep <leo@example.com>, nudge, Mon Nov 09 09:00 PST: Good morning Leo: 2 things worth doing today.",
    ]
    assert leo.output.splitlines()[-2:] == [
        "crm_sync, then gap_scan: would run; what it tells people depends on the CRM's data then, so it is not previewed",
        "Nothing was sent or written: the preview ran in a transaction that was rolled back.",
    ]
    set_person(session_factory, ids["leo"], paused_until=dt.date(2026, 11, 13))
    paused = runner.invoke(app, ["jobs", "preview", "--at", "2026-11-09T17:00Z"])
    lines = paused.output.splitlines()
    assert "morning_nudge: Leo Rep <leo@example.com>: held back: paused, in quiet hours or not a working day there" in lines
    assert not any(line.startswith("morning_nudge: Leo Rep <leo@example.com>, nudge") for line in lines)
    quiet = runner.invoke(app, ["jobs", "preview", "--at", "2026-11-09 09:07"])
    assert quiet.output.splitlines() == [
        "At Mon 2026-11-09 09:07 America/New_York (14:07 UTC):",
        "No scheduled job fires then.",
        "Nothing was sent or written: the preview ran in a transaction that was rolled back.",
    ]
    # Saturday 09:00: the nudge time, but not a working day; the round finds nothing to say.
    saturday = runner.invoke(app, ["jobs", "preview", "--at", "2026-11-07 09:00"])
    assert "morning_nudge" not in saturday.output


@pytest.mark.parametrize("moment", ["monday at 8", "2026-13-01 08:00", "2026-11-09 25:00", ""])
def test_preview_refuses_a_time_it_cannot_read_with_a_message_saying_how_to_write_it(moment: str) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["jobs", "preview", "--at", moment])
    assert result.exit_code == 2
    assert (
        f"Invalid value for --at: '{moment}' is not a date and time: use 'YYYY-MM-DD HH:MM' (in COACHBOT_TIMEZONE, UTC)"
        in " ".join(result.output.replace("│", " ").split())
    )
