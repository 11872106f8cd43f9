"""`coachbot playbook …`: check a playbook file, preview what it would do today without doing it, and back-test it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli_backtest import BACKTEST_WEEKS, default_period, figures_line, print_backtest
from bot.cli_errors import ExitCode
from bot.coaching.backtest import Backtest, Period, backtest_playbooks
from bot.coaching.gaps import (
    GapChange,
    NudgeItem,
    Org,
    ScanDeal,
    catalogue_for,
    choose_for_nudge,
    plan_changes,
    read_deals,
    read_open_gaps,
)
from bot.coaching.playbook import Playbook, PlaybookError, load_playbook
from bot.coaching.rules import evaluate_person
from bot.models import Deal, Person

console = Console()
playbook_app = typer.Typer(
    help="The playbook: check a file, preview what it would do today, back-test it over the stored history.",
    no_args_is_help=True,
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@playbook_app.command()
def check(
    file: Annotated[
        Path | None, typer.Argument(help="Playbook YAML (default: COACHBOT_PLAYBOOK, else the built-in one).", dir_okay=False)
    ] = None,
) -> None:
    """Check a playbook: print a summary when it is valid, else every mistake with its line (exit 1)."""
    if file is None:
        from bot.settings import load_settings

        file = load_settings().playbook_path
    playbook = _load_or_exit(file, "nothing was changed")
    console.print(Text(f"{file or 'default playbook'}: OK."), *map(Text, playbook_summary(playbook)), sep="\n", highlight=False)
    console.print(_rules_table(playbook))


def _load_or_exit(file: Path | None, consequence: str, code: int = 1) -> Playbook:
    try:
        return load_playbook(file)
    except PlaybookError as exc:
        for error in exc.errors:
            console.print(Text(error, style="red"), highlight=False)
        console.print(f"{len(exc.errors)} mistake(s); {consequence}.")
        raise typer.Exit(code) from None


def playbook_summary(playbook: Playbook) -> list[str]:
    """A few lines on what the playbook holds."""
    open_stages = [stage for stage in playbook.stages if not stage.closed]
    enabled = [rule for rule in playbook.rules.values() if rule.enabled]
    required = ", ".join(f"{name} from {stage}" for name, stage in playbook.required_fields.items()) or "none"
    nudges, digest = playbook.nudges, playbook.digest
    return [
        f"{len(playbook.stages)} stages ({len(open_stages)} open), {len(enabled)} of {len(playbook.rules)} rules on, "
        f"{len(playbook.teams)} team override(s).",
        f"Required fields: {required}.",
        f"Nudges at {nudges.local_time} on {', '.join(nudges.working_days)}, up to {nudges.max_items} items; "
        f"digest {digest.weekday} {digest.local_time}.",
    ]


def _rules_table(playbook: Playbook) -> Table:
    table = Table(title="Rules", title_justify="left", box=None, padding=(0, 2))
    for column in ("rule", "severity", "on", "parameters"):
        table.add_column(column)
    for rule in playbook.rules.values():
        params = ", ".join(f"{key}={value}" for key, value in rule.params.items())
        table.add_row(rule.name, rule.severity, "yes" if rule.enabled else "no", params)
    return table


@playbook_app.command()
def preview(
    person: Annotated[str | None, typer.Option(help="Only this person (email).")] = None,
) -> None:
    """Dry run for today: per rep, the gaps a scan would open and resolve and what a nudge would carry. Writes nothing."""
    from bot.database import make_session_factory
    from bot.migrate import open_migrated_database
    from bot.settings import load_settings

    settings = load_settings()
    playbook = load_playbook(settings.playbook_path)
    session_factory = make_session_factory(open_migrated_database(settings.database_url))
    if not show_preview(session_factory, playbook, utcnow(), console, person_email=person, default_timezone=settings.timezone):
        raise typer.Exit(1)


def show_preview(
    session_factory: sessionmaker[Session],
    playbook: Playbook,
    now: dt.datetime,
    out: Console,
    *,
    person_email: str | None = None,
    default_timezone: str = "UTC",
) -> bool:
    """Print the preview; False when `person_email` names nobody. Reads only, then rolls back."""
    with session_factory() as session:
        try:
            query = select(Person).where(Person.active.is_(True)).order_by(Person.name, Person.id)
            if person_email is not None:
                query = select(Person).where(Person.email == person_email.strip().lower())
            else:
                query = query.where(Person.is_rep.is_(True))
            people = session.scalars(query).all()
            if not people:
                out.print(
                    Text(f"Nobody with the email {person_email}." if person_email else "No active reps yet."), highlight=False
                )
                return person_email is None
            org = Org(session, playbook, default_timezone)
            catalogue = catalogue_for(session, playbook)
            shown: set[str] = set()
            for someone in people:
                shown |= _preview_person(session, org, someone, catalogue, now, out)
            if shown:
                [backtest] = backtest_playbooks(session, [playbook], default_period(now), now, default_timezone=default_timezone)
                out.print(
                    Text(f"Back-test of the rules above over the last {BACKTEST_WEEKS} weeks (coachbot playbook backtest):")
                )
                for figures in backtest.rules:
                    if figures.rule in shown:
                        out.print(Text(f"  {figures_line(figures)}"))
            out.print(Text("Preview only: nothing was written or sent."), style="dim")
            return True
        finally:
            session.rollback()


def _preview_person(
    session: Session, org: Org, person: Person, catalogue: tuple[str, ...], now: dt.datetime, out: Console
) -> set[str]:
    """Print one person's preview; the rules it showed."""
    connection = session.connection()
    deals = read_deals(connection, Deal.owner_id == person.id)
    open_gaps = read_open_gaps(connection, Deal.owner_id == person.id)
    changes = plan_changes(deals, open_gaps, org, now)
    by_id = {deal.id: deal for deal in deals}
    names = {deal.id: deal.name for deal in deals}
    gone = sorted({change.deal_id for change in changes} - names.keys())  # deals closed or deleted since
    for start in range(0, len(gone), 500):
        rows = session.execute(select(Deal.id, Deal.name).where(Deal.id.in_(gone[start : start + 500])))
        names.update((deal_id, name) for deal_id, name in rows)
    playbook, today = org.playbook(person.id), org.today(person.id, now)

    heading = Text(f"{person.name} <{person.email}>", style="bold")
    out.print(heading + Text(f" · {len(deals)} open deal(s), {today:%a %b} {today.day}"))
    for kind, mark, label in (("open", "+", "would open"), ("resolve", "-", "would resolve")):
        listed = [change for change in changes if change.kind == kind]
        out.print(Text(f"  {label}: {len(listed)}"))
        for change in listed:
            deal_name = names.get(change.deal_id, change.deal_id)
            out.print(Text(f"    {mark} {deal_name}: {change.detail} ({change.rule}, {change.severity})"))
    kept = [change for change in changes if change.kind in ("keep", "update")]
    snoozed = sum(1 for change in kept if change.snoozed_until is not None and change.snoozed_until > today)
    out.print(Text(f"  still open: {len(kept)}" + (f" ({snoozed} snoozed)" if snoozed else "")))

    items = choose_for_nudge(
        [_item(change, by_id[change.deal_id]) for change in changes if change.kind != "resolve"],
        playbook, today, org.zone(person.id),
    )  # fmt: skip
    when = "" if playbook.nudges.is_working_day(today) else " (today is not a nudge day)"
    out.print(Text(f"  a nudge would carry{when}:" + ("" if items else " nothing")))
    for position, item in enumerate(items, start=1):
        out.print(Text(f"    {position}. {item.deal_name}: {item.detail}"))
    findings = evaluate_person(deals, catalogue, playbook)
    for finding in findings:
        out.print(Text(f"  pipeline: {finding.detail} ({finding.rule}, not stored)"))
    return {change.rule for change in changes} | {finding.rule for finding in findings}


@playbook_app.command()
def backtest(
    file: Annotated[
        Path | None,
        typer.Argument(help="Playbook YAML to replay (default: COACHBOT_PLAYBOOK, else the built-in one).", dir_okay=False),
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help=f"First day, YYYY-MM-DD (default: {BACKTEST_WEEKS} weeks before --to).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (default: today, UTC).")] = None,
    against: Annotated[Path | None, typer.Option(help="A second playbook, compared side by side.", dir_okay=False)] = None,
    chart: Annotated[Path | None, typer.Option(help="Also draw the win rates as a PNG chart here.", dir_okay=False)] = None,
) -> None:
    """Replay the stored deals and stage history with a playbook: per rule, the gaps it would have opened and the win rates with and without them."""
    from bot.database import make_session_factory
    from bot.migrate import open_migrated_database
    from bot.settings import load_settings

    settings = load_settings()
    now = utcnow()
    period = _period_or_exit(from_, to, now)
    file = file or settings.playbook_path
    playbooks = [_load_or_exit(file, "nothing was replayed", ExitCode.BAD_INPUT)]
    labels = [str(file) if file else "default playbook"]
    if against is not None:
        playbooks.append(_load_or_exit(against, "nothing was replayed", ExitCode.BAD_INPUT))
        labels.append(str(against))
    session_factory = make_session_factory(open_migrated_database(settings.database_url))
    with session_factory() as session:
        backtests = backtest_playbooks(session, playbooks, period, now, default_timezone=settings.timezone)
        session.rollback()
    print_backtest(console, backtests, labels)
    if chart is not None:
        _write_chart(chart, backtests, labels)


def _period_or_exit(from_: str | None, to: str | None, now: dt.datetime) -> Period:
    def day(value: str, option: str) -> dt.date:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            console.print(Text(f"{option} {value}: not a date; write it as YYYY-MM-DD.", style="red"), highlight=False)
            raise typer.Exit(ExitCode.BAD_INPUT) from None

    end = day(to, "--to") if to is not None else now.astimezone(dt.UTC).date()
    start = day(from_, "--from") if from_ is not None else default_period(dt.datetime.combine(end, dt.time(), dt.UTC)).start
    if start > end:
        console.print(Text(f"--from {start} is after --to {end}: nothing to replay.", style="red"), highlight=False)
        raise typer.Exit(ExitCode.BAD_INPUT)
    return Period(start, end)


def _write_chart(path: Path, backtests: Sequence[Backtest], labels: Sequence[str]) -> None:
    from bot.charts import backtest_chart

    judged = [figures.rule for figures in backtests[0].rules if any(b.rule(figures.rule).judged for b in backtests)]
    series = [
        (label, [backtest.rule(rule).win_rate_with for rule in judged], [backtest.rule(rule).win_rate_without for rule in judged])
        for label, backtest in zip(labels, backtests)
    ]
    png = backtest_chart(judged, series)
    try:
        path.write_bytes(png)
    except OSError as exc:
        console.print(Text(f"{path}: cannot write the chart ({exc.strerror}).", style="red"), highlight=False)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    console.print(Text(f"Chart of the win rates ({len(png):,} bytes) written to {path}."), highlight=False)


def _item(change: GapChange, deal: ScanDeal) -> NudgeItem:
    return NudgeItem(
        change.gap_id, change.deal_id, deal.name, deal.crm_url, change.rule, change.severity,
        change.detail, change.impact, change.snoozed_until, change.last_nudged_at,
    )  # fmt: skip
