"""`coachbot doctor` says what is wrong, one check per dependency."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from decimal import Decimal

import pytest
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from bot.database import session_scope
from bot.doctor import Check, check_crm, check_database, check_demo_target, check_org, check_outbox, check_playbook, check_slack
from bot.messaging.sender import UNCERTAIN
from bot.models import OutboxMessage, Person, Quota
from bot.settings import Settings
from tests.support.personas import seed_team


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Settings() reads the environment and .env: a developer's real token must not reach a test.
    for name in list(os.environ):
        if name.startswith(("SLACK_", "CRM_", "CSV_", "COACHBOT_", "DATABASE_", "HUBSPOT_", "SALESFORCE_", "PIPEDRIVE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_a_migrated_database_passes(database_url: str) -> None:
    check = check_database(Settings(database_url=database_url))
    assert check.ok and check.detail.startswith("connected, schema at ")


def test_an_unmigrated_database_says_to_migrate(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sqlite3.connect(tmp_path / "empty.db").close()
    check = check_database(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}"))
    assert check == Check("database", False, "the database has no coachbot tables yet: run `coachbot migrate`")


def test_a_missing_sqlite_file_says_to_migrate_and_is_not_created(tmp_path) -> None:  # type: ignore[no-untyped-def]
    check = check_database(Settings(database_url=f"sqlite:///{tmp_path / 'coachbot.db'}"))
    assert check == Check(
        "database", False, f"there is no database at {tmp_path / 'coachbot.db'} yet: run `coachbot migrate` to create it"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_slack_token_with_every_scope_passes(slack) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(slack_bot_token="xoxb-doctor", slack_api_url=slack.api_url)
    check = check_slack(settings, WebClient(token="xoxb-doctor", base_url=slack.api_url))
    assert check == Check("slack", True, "token accepted (team Example, bot user coachbot)")


def test_a_missing_scope_is_named(slack) -> None:  # type: ignore[no-untyped-def]
    slack.scopes = "commands,chat:write,files:write,users:read,im:write,im:history"
    settings = Settings(slack_bot_token="xoxb-doctor", slack_api_url=slack.api_url)
    check = check_slack(settings, WebClient(token="xoxb-doctor", base_url=slack.api_url))
    assert check == Check(
        "slack", False, "team Example, bot user coachbot; missing scopes users:read.email: reinstall the app from manifest.yml"
    )


def test_a_revoked_token_says_which_setting(slack) -> None:  # type: ignore[no-untyped-def]
    slack.overrides["auth.test"] = {"ok": False, "error": "token_revoked"}
    settings = Settings(slack_bot_token="xoxb-doctor", slack_api_url=slack.api_url)
    check = check_slack(settings, WebClient(token="xoxb-doctor", base_url=slack.api_url))
    assert check == Check("slack", False, "auth.test failed (token_revoked): check SLACK_BOT_TOKEN")


def test_no_slack_token_is_reported() -> None:
    assert check_slack(Settings(), None) == Check("slack", False, "SLACK_BOT_TOKEN is not set")


def test_the_demo_crm_reports_its_size() -> None:
    check = check_crm(Settings(), None, dt.datetime(2026, 11, 25, tzinfo=dt.UTC))
    assert check.ok and check.name == "crm (demo)"
    assert check.detail.startswith("readable, ") and check.detail.endswith(" deals")


def test_an_unreadable_csv_is_reported_with_its_setting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(crm_provider="csv", csv_deals_file=tmp_path / "missing.csv")
    check = check_crm(settings, None, dt.datetime(2026, 11, 25, tzinfo=dt.UTC))
    assert not check.ok and "CSV_DEALS_FILE" in check.detail


# The playbook, the org and the outbox -----------------------------------------------------------


def test_the_built_in_playbook_passes_with_a_summary() -> None:
    assert check_playbook(Settings()) == Check("playbook", True, "the built-in playbook: 8 stages, 8 of 8 rules on")


def test_a_playbook_mistake_is_reported_with_its_file_and_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "team.yml").write_text(
        "stages:\n  - {name: Demo, probability: 0.4}\nrules:\n  no_activty: {}\nnudges:\n  local_time: 9:30\n"
    )
    check = check_playbook(Settings(playbook_path=tmp_path / "team.yml"))
    assert check == Check("playbook", False, (
        f"{tmp_path / 'team.yml'} line 4: rule `no_activty` is unknown (known: next_step_missing, next_step_overdue, "
        "close_date_missing, close_date_past, stale_stage, no_activity, missing_field, single_product_line) "
        "(and 1 more: `coachbot playbook check` lists them)"
    ))  # fmt: skip
    assert check.status == "FAIL"


def test_an_empty_org_says_to_import_one(engine, now) -> None:  # type: ignore[no-untyped-def]
    assert check_org(Settings(), engine, now) == [
        Check("org", True, "no people yet: run `coachbot org import FILE`", warning=True)
    ]


def test_a_complete_org_passes_every_org_check(engine, session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    with session_scope(session_factory) as session:
        for number, person in enumerate(session.scalars(select(Person)), start=1):
            person.slack_user_id = f"U{number}"
    assert [(check.status, check.name, check.detail) for check in check_org(Settings(), engine, now)] == [
        ("OK", "org (Slack links)", "all 2 people linked to Slack"),
        ("OK", "org (managers)", "every manager has reps"),
        ("OK", "org (quotas)", "every rep has a quota for Q4 2026"),
    ]


def test_unlinked_people_idle_managers_and_reps_without_a_quota_are_warnings(engine, session_factory, now) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    with session_scope(session_factory) as session:
        nora = Person(email="nora.new@example.com", name="Nora New", is_rep=True)
        session.add_all([nora, Person(email="ivan.idle@example.com", name="Ivan Idle", is_manager=True)])
        session.add(Person(email="gone.rep@example.com", name="Gone Rep", is_rep=True, active=False))
        session.flush()
        # Next quarter's quota is not this quarter's.
        session.add(
            Quota(
                person_id=nora.id,
                period_start=dt.date(2027, 1, 1),
                period_end=dt.date(2027, 4, 1),
                amount=Decimal(1),
                currency="USD",
            )
        )
    checks = check_org(Settings(), engine, now)
    assert [(check.status, check.name, check.detail) for check in checks] == [
        ("WARN", "org (Slack links)", (
            "4 of 4 people not linked to Slack (ivan.idle@example.com, mia.manager@example.com, nora.new@example.com "
            "and 1 more): they cannot be nudged until their first command, or `coachbot org import` with "
            "SLACK_BOT_TOKEN set (their Slack email must match)"
        )),
        ("WARN", "org (managers)", (
            "1 manager(s) with no reps (ivan.idle@example.com): name them as `manager` of their reps in the org file"
        )),
        ("WARN", "org (quotas)", (
            "1 rep(s) with no quota for Q4 2026 (nora.new@example.com): their scorecards show no pace or gap; "
            "add a `quota` column for the period to the org file"
        )),
    ]  # fmt: skip
    assert all(check.ok for check in checks)  # warnings do not fail doctor


def test_an_outbox_with_nothing_parked_passes(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session, session.begin():
        session.add(OutboxMessage(dedupe_key="nudge:U1:2026-11-25", recipient="U1", kind="nudge", payload={"text": "hi"}))
    assert check_outbox(engine) == Check("outbox", True, "1 waiting to be sent, none parked")


def test_parked_and_uncertain_messages_are_counted_apart(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session, session.begin():
        for number, (status, error) in enumerate(
            [("parked", "channel_not_found"), ("parked", UNCERTAIN), ("parked", UNCERTAIN), ("sent", None), ("pending", None)]
        ):
            session.add(OutboxMessage(
                dedupe_key=f"nudge:U{number}", recipient=f"U{number}", kind="nudge", payload={"text": "hi"},
                status=status, last_error=error,
            ))  # fmt: skip
    assert check_outbox(engine) == Check("outbox", True, (
        "1 waiting to be sent; 1 parked after a permanent error (latest: channel_not_found); "
        "2 uncertain (the sender stopped mid-send; each was possibly sent, never re-sent)"
    ), warning=True)  # fmt: skip


def test_the_demo_provider_pointed_at_a_real_org_fails_the_crm_check(engine, session_factory) -> None:  # type: ignore[no-untyped-def]
    seed_team(session_factory)
    check = check_demo_target(Settings(), engine)
    assert check is not None and (check.status, check.name) == ("FAIL", "crm (demo)")
    assert check.detail.startswith("CRM_PROVIDER is demo (the default), but this database holds 2 people the demo did not create")
    assert check_demo_target(Settings(crm_provider="hubspot", hubspot_token="pat"), engine) is None


def test_doctor_prints_one_ok_warn_or_fail_line_per_check_and_fails_on_a_fail(database_url, session_factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bot import cli

    seed_team(session_factory)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CRM_PROVIDER", "csv")
    monkeypatch.setenv("CSV_DEALS_FILE", "deals.csv")
    monkeypatch.setattr(cli.console, "width", 400)
    result = CliRunner().invoke(cli.app, ["doctor"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "OK   database", "OK   playbook", "WARN org (Slack links)", "OK   org (managers)", "OK   org (quotas)",
        "OK   outbox", "FAIL slack", "FAIL crm (csv)",
    ]  # fmt: skip
    assert lines[1] == "OK   playbook: the built-in playbook: 8 stages, 8 of 8 rules on"
    assert lines[6] == "FAIL slack: SLACK_BOT_TOKEN is not set"
