"""`coachbot doctor` says what is wrong, one check per dependency."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3

import pytest

from slack_sdk import WebClient

from bot.doctor import Check, check_crm, check_database, check_slack
from bot.settings import Settings


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
    assert check == Check("database", False, f"there is no database at {tmp_path / 'coachbot.db'} yet: run `coachbot migrate` to create it")
    assert list(tmp_path.iterdir()) == []


def test_a_slack_token_with_every_scope_passes(slack) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(slack_bot_token="xoxb-doctor", slack_api_url=slack.api_url)
    check = check_slack(settings, WebClient(token="xoxb-doctor", base_url=slack.api_url))
    assert check == Check("slack", True, "token accepted (team Example, bot user coachbot)")


def test_a_missing_scope_is_named(slack) -> None:  # type: ignore[no-untyped-def]
    slack.scopes = "commands,chat:write,files:write,users:read"
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
