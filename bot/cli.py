"""The `coachbot` command line. Entry points only start things; the work lives in bot/ and jobs/."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy import Engine

from bot.cli_errors import debug_requested, report
from bot.cli_outbox import outbox_app
from bot.cli_playbook import playbook_app
from bot.settings import Settings, load_settings

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="coachbot",
    help="coachbot: sales coaching in Slack. The number, and how it is being built.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
org_app = typer.Typer(help="The sales org: people, roles, managers, coaches, quotas.", no_args_is_help=True)
app.add_typer(org_app, name="org")
jobs_app = typer.Typer(help="The scheduled jobs: list them, or run one once now.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
app.add_typer(playbook_app, name="playbook")
app.add_typer(outbox_app, name="outbox")
_options = {"debug": False}


@app.callback()
def global_options(
    debug: Annotated[bool, typer.Option("--debug", help="When a command fails, show the traceback too.")] = False,
) -> None:
    _options["debug"] = debug


def _settings() -> Settings:
    from bot.logs import configure_logging

    settings = load_settings()
    configure_logging(settings)
    # Alembic narrates every step, httpx every request, at INFO; the CLI prints its own outcome instead.
    for chatty in ("alembic", "httpx"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
    return settings


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (DATABASE_URL) to the latest version."""
    from bot.database import open_database
    from bot.migrate import current_revision, require_current_schema, upgrade

    settings = _settings()
    engine = open_database(settings.database_url, create=True)
    require_current_schema(engine, allow_behind=True)
    upgrade(engine)
    console.print(f"Database is at revision [bold]{current_revision(engine)}[/bold].")


@app.command()
def sync() -> None:
    """Pull deals (and, for the demo, the org) from the configured CRM_PROVIDER and store them."""
    from bot.coaching.playbook import load_playbook
    from bot.database import make_engine, make_session_factory
    from jobs import crm_sync
    from jobs.job import JobContext
    from jobs.registry import followers

    settings = _settings()
    _check_database(settings, syncing=True).dispose()
    summary = crm_sync.run_from_cli(settings, console)
    crm_sync.print_summary(summary, console)
    # As the schedule does: the gaps (and the goals measured from the CRM) follow the sync at once,
    # so the App Home, /teamperf and the digest agree with /myperf from the first sync on.
    context = JobContext(
        settings, make_session_factory(make_engine(settings.database_url)), load_playbook(settings.playbook_path)
    )
    for job in followers(crm_sync.JOB):
        console.print(f"{job.id}: {job.run(context, dt.datetime.now(dt.UTC), None)}", highlight=False)


@org_app.command("import")
def org_import(
    file: Annotated[Path, typer.Argument(help="Org file, CSV or YAML (see README, 'Org file').", exists=True, dir_okay=False)],
    link_slack: Annotated[bool, typer.Option(help="Link people to Slack users by email (needs SLACK_BOT_TOKEN).")] = True,
    deactivate_missing: Annotated[
        bool, typer.Option(help="Deactivate people the file leaves out (leavers): no messages, out of team views; history kept.")
    ] = False,
) -> None:
    """Import people, roles, managers, coaches and quotas. Safe to run again: unchanged rows stay as they are."""
    from bot.database import make_session_factory, session_scope
    from bot.migrate import open_migrated_database
    from bot.org.importer import read_org_file, store_org
    from bot.slack_client import make_web_client, verify_bot_token

    settings = _settings()
    people = read_org_file(file, settings.currency, settings.fiscal_year_start_month)
    session_factory = make_session_factory(open_migrated_database(settings.database_url))
    if link_slack and settings.slack_bot_token:
        # Before anything is stored: a refused token would otherwise fail every lookup, one by one.
        verify_bot_token(make_web_client(settings, quiet=True), settings.slack_api_url)
    with session_scope(session_factory) as session:
        summary = store_org(session, people, deactivate_missing=deactivate_missing)
    console.print(
        f"{file.name}: {len(people)} people: {summary.created} new, {summary.updated} changed, "
        f"{summary.unchanged} unchanged; {summary.quotas_written} quota(s) and {summary.coach_links_changed} coach link(s) changed."
        + (f" {summary.deactivated} not in the file deactivated." if deactivate_missing else "")
    )
    if link_slack and settings.slack_bot_token:
        from bot.identity import link_people_by_email

        with session_scope(session_factory) as session:
            report = link_people_by_email(session, make_web_client(settings))
        message = f"Slack: linked {report.linked} people by email."
        if report.not_in_slack:
            message += f" Not in Slack: {', '.join(report.not_in_slack)}."
        if report.failed:
            message += " Lookup failed (linked on first command instead): " + ", ".join(
                f"{email} ({error})" for email, error in report.failed.items()
            )
        console.print(message, highlight=False)
    elif link_slack:
        console.print("Slack: SLACK_BOT_TOKEN is not set, so people are linked on their first command instead.")


@app.command()
def run(
    port: Annotated[int, typer.Option(help="HTTP port (HTTP mode).")] = 3000,
    host: Annotated[str, typer.Option(help="Interface to listen on (HTTP mode).")] = "0.0.0.0",  # noqa: S104
    workers: Annotated[int, typer.Option(help="Server processes (HTTP mode).")] = 2,
    threads: Annotated[int, typer.Option(help="Threads per server process (HTTP mode).")] = 8,
) -> None:
    """Start the Slack app: Socket Mode when SLACK_APP_TOKEN is set, else HTTP (POST /slack/events, GET /healthz)."""
    from bot.server import serve_http, serve_socket_mode

    settings = _settings()
    if settings.socket_mode:
        serve_socket_mode(settings)
    else:
        settings.require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
        serve_http(settings, host, port, workers, threads)


@jobs_app.command("list")
def jobs_list() -> None:
    """Every scheduled job, when it runs and what it does."""
    from rich.table import Table

    from jobs.registry import JOBS

    settings = _settings()
    table = Table("job", "when", "what")
    for job in JOBS:
        table.add_row(job.id, job.when(settings), job.description)
    console.print(table)


@jobs_app.command("run")
def jobs_run(
    name: Annotated[str, typer.Argument(help="A job from `coachbot jobs list`.")],
    person: Annotated[str | None, typer.Option(help="Only this person (email), for nudges and digests.")] = None,
    force: Annotated[
        bool,
        typer.Option(help="Send now to people in quiet hours, on a day off or paused too, and reminders over the daily budget."),
    ] = False,
) -> None:
    """Run one job once, now (same unique keys as the schedule: nothing is sent twice)."""
    from bot.coaching.playbook import load_playbook
    from bot.database import make_session_factory
    from jobs.job import JobContext
    from jobs.registry import BY_ID, run_with_followers

    settings = _settings()
    if name not in BY_ID:
        raise typer.BadParameter(f"unknown job {name!r}; known: {', '.join(BY_ID)}", param_hint="NAME")
    engine = _check_database(settings, syncing=name == "crm_sync")
    context = JobContext(settings, make_session_factory(engine), load_playbook(settings.playbook_path), force=force)
    if force:
        console.print(
            "--force: working days, quiet hours, pauses and the daily budget are not applied to this run",
            highlight=False,
            soft_wrap=True,
        )
    # As the schedule runs it: a sync is followed by a gap scan.
    for job_id, result in run_with_followers(BY_ID[name], context, dt.datetime.now(dt.UTC), person):
        console.print(f"{job_id}: {result}", highlight=False, soft_wrap=True)


@jobs_app.command("preview")
def jobs_preview(
    at: Annotated[
        str,
        typer.Option(
            "--at",
            help="The moment: 'YYYY-MM-DD HH:MM' in COACHBOT_TIMEZONE, or an ISO datetime with its offset (…T13:00Z).",
        ),
    ],
) -> None:
    """What the schedule would send to whom at that moment; sends and writes nothing."""
    from bot.coaching.playbook import load_playbook
    from bot.database import make_session_factory
    from jobs.job import JobContext
    from jobs.preview import BadMoment, parse_moment, preview

    settings = _settings()
    try:
        moment = parse_moment(at, settings.timezone)
    except BadMoment as exc:
        raise typer.BadParameter(str(exc), param_hint="--at") from None
    engine = _check_database(settings)
    context = JobContext(settings, make_session_factory(engine), load_playbook(settings.playbook_path))
    for line in preview(context, moment).lines(settings.timezone):
        console.print(line, highlight=False, soft_wrap=True)


@app.command()
def doctor() -> None:
    """Check the database, playbook, org, outbox, Slack token and CRM credentials; exit 1 if any fails."""
    from bot.doctor import run_checks

    checks = run_checks(_settings())
    colour = {"OK": "green", "WARN": "yellow", "FAIL": "red"}
    for check in checks:
        mark = Text(f"{check.status:<4}", style=colour[check.status])
        console.print(mark, " ", Text(check.name, style="bold"), ": ", Text(check.detail), sep="", soft_wrap=True)
    if not all(check.ok for check in checks):
        raise typer.Exit(1)


@app.command()
def demo(
    database: Annotated[
        Path | None, typer.Option(help="SQLite file to build the demo in (default: a fresh temporary one).")
    ] = None,
    chart: Annotated[Path | None, typer.Option(help="Save the weekly digest's chart image (PNG) here.")] = None,
) -> None:
    """Build the demo org in a fresh SQLite database and show what coachbot would post. No Slack needed."""
    from bot.demo import run_demo

    settings = _settings()
    run_demo(settings, console, database, now=dt.datetime.now(dt.UTC), chart=chart)


def _check_database(settings: Settings, *, syncing: bool = False) -> Engine:
    """The engine of a reachable, migrated database; before a sync, also one the sync may safely write to."""
    from bot.migrate import open_migrated_database

    engine = open_migrated_database(settings.database_url)
    if syncing:
        from bot.doctor import require_safe_sync

        try:
            require_safe_sync(settings, engine, dt.datetime.now(dt.UTC))
        except BaseException:
            engine.dispose()
            raise
    return engine


def main() -> None:
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - the one place errors become messages and exit codes
        raise SystemExit(report(exc, err_console, debug=debug_requested(_options["debug"]))) from None
