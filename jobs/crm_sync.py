"""The CRM sync job: pull the configured provider into the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from bot.coaching.playbook import Playbook, load_playbook
from bot.crm.base import CrmProvider
from bot.crm.providers import provider_from_settings
from bot.crm.sync import SyncSummary, sync
from bot.database import make_engine, make_session_factory
from bot.settings import Settings
from jobs.job import EveryMinutes, Job, JobContext


def run(
    settings: Settings,
    session_factory: sessionmaker[Session],
    now: dt.datetime,
    playbook: Playbook | None = None,
    on_progress: Callable[[int], None] | None = None,
    provider: CrmProvider | None = None,
) -> SyncSummary:
    """One sync of the configured provider, as of `now`."""
    return sync(
        session_factory,
        provider or provider_from_settings(settings, now),
        playbook or load_playbook(settings.playbook_path),
        now,
        default_currency=settings.currency,
        on_progress=on_progress,
    )


def run_from_cli(settings: Settings, console: Console) -> SyncSummary:
    """`coachbot sync`: the same run, with a progress bar when the output is a terminal."""
    now = dt.datetime.now(dt.UTC)
    provider = provider_from_settings(settings, now)
    # Before the progress bar starts: a bad playbook is a one-line refusal, not a broken bar.
    playbook = load_playbook(settings.playbook_path)
    columns = (TextColumn("Syncing {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal, transient=True) as progress:
        task = progress.add_task(provider.source, total=provider.expected_total())
        return run(
            settings,
            make_session_factory(make_engine(settings.database_url)),
            now,
            playbook=playbook,
            on_progress=lambda count: progress.advance(task, count),
            provider=provider,
        )


def print_summary(summary: SyncSummary, console: Console, max_listed: int = 10) -> None:
    """The end-of-sync report: counts, then every reason something was not used as-is."""
    console.print(
        f"Fetched {summary.fetched:,} deals: [green]{summary.created:,} created[/green], "
        f"[yellow]{summary.updated:,} updated[/yellow], {summary.unchanged:,} unchanged, "
        f"{summary.skipped_count:,} skipped" + (f", {summary.deleted:,} deleted in the CRM." if summary.deleted else ".")
    )
    if summary.org is not None:
        org = summary.org
        console.print(f"Org: {org.created} new, {org.updated} changed, {org.unchanged} unchanged people.")
    sections = [
        ("Skipped rows", {reason: len(rows) for reason, rows in summary.skipped.items()}, summary.skipped, None),
        (
            "Kept with an estimated value",
            {how: len(rows) for how, rows in summary.estimated.items()},
            summary.estimated,
            "Put the value in the export to replace the estimate on the next sync.",
        ),
        (
            "Owners with no matching person",
            dict(summary.unmatched_owners),
            None,
            "Add these people with `coachbot org import` (matched by CRM owner id, email, then name); "
            "their deals are kept and attach on the next sync.",
        ),
        (
            "Owners not linked to a Slack user",
            dict(summary.owners_without_slack),
            None,
            "Their deals are stored, but coachbot cannot nudge them: they are linked on their first "
            "command, or by `coachbot org import` with SLACK_BOT_TOKEN set (their Slack email must match).",
        ),
        (
            "Stages the playbook does not know",
            dict(summary.unknown_stages),
            None,
            "They weigh 0 in projections: add them (or aliases) to your playbook.",
        ),
        ("Products not in the catalogue", dict(summary.unknown_products), None, None),
    ]
    for title, counts, examples, hint in sections:
        if not counts:
            continue
        table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
        for key, count in sorted(counts.items(), key=lambda item: -item[1])[:max_listed]:
            example = f"e.g. {', '.join(examples[key][:3])}" if examples else ""
            table.add_row(f"{count:,}", key, example)
        if len(counts) > max_listed:
            table.add_row("…", f"{len(counts) - max_listed} more", "")
        console.print(table)
        if hint:
            console.print(hint, style="dim", highlight=False)


def _run_job(context: JobContext, now: dt.datetime, _: str | None) -> str:
    summary = run(context.settings, context.session_factory, now, playbook=context.playbook)
    return f"fetched {summary.fetched}, created {summary.created}, updated {summary.updated}, unchanged {summary.unchanged}"


JOB = Job(
    id="crm_sync",
    description="pull the CRM",
    trigger=EveryMinutes(lambda settings: settings.sync_every_minutes, "every {minutes} minutes (COACHBOT_SYNC_EVERY_MINUTES)"),
    run=_run_job,
)
