"""`coachbot demo`: the demo org in a fresh SQLite database, and what coachbot would post to it."""

from __future__ import annotations

import base64
import datetime as dt
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import to_dicts
from bot.blocks.agenda import agenda_message
from bot.blocks.scorecard import scorecard_blocks
from bot.blocks.terminal import render_blocks
from bot.blocks.writeback import update_modal
from bot.cli_backtest import default_period, print_backtest
from bot.coaching.agenda import one_on_one_agenda
from bot.coaching.backtest import backtest_playbooks
from bot.coaching.gaps import scan_gaps
from bot.coaching.playbook import Playbook, load_playbook
from bot.coaching.scorecard import Scorecard
from bot.coaching.service import scorecard_for
from bot.crm.demo import LEADER, demo_email
from bot.database import make_engine, make_session_factory, session_scope
from bot.delivery.digests import queue_weekly_digest
from bot.delivery.nudges import queue_morning_nudge
from bot.migrate import upgrade
from bot.models import OutboxMessage, Person
from bot.runtime.services import Services
from bot.runtime.writeback import update_form
from bot.settings import Settings
from jobs import crm_sync


class DemoError(Exception):
    """The demo cannot run as asked."""


# The digests are composed a minute after the gap scan: a digest counts the week up to its moment
# (not including it), so at the scan's own moment the gaps it just opened would read "0 opened".
AFTER_THE_SCAN = dt.timedelta(minutes=1)


def run_demo(settings: Settings, console: Console, database: Path | None, now: dt.datetime, chart: Path | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="coachbot-demo-") as scratch:
        if database is not None and database.exists():
            raise DemoError(f"{database} exists; the demo builds a fresh database and will not overwrite a file")
        path = database or Path(scratch) / "demo.db"
        demo_settings = settings.model_copy(update={"database_url": f"sqlite:///{path}", "crm_provider": "demo"})
        engine = make_engine(demo_settings.database_url)
        upgrade(engine)
        session_factory = make_session_factory(engine)
        console.rule("[bold]coachbot demo")
        console.print(f"Fresh SQLite database, migrated. Syncing the built-in demo CRM as of {now:%Y-%m-%d %H:%M} UTC…")
        summary = crm_sync.run(demo_settings, session_factory, now)
        crm_sync.print_summary(summary, console)

        playbook = load_playbook(demo_settings.playbook_path)
        with session_factory() as session:
            reps = session.scalars(select(Person).where(Person.is_rep).order_by(Person.name)).all()
            cards = {
                rep.id: scorecard_for(
                    session,
                    rep,
                    "quarter",
                    now=now,
                    playbook=playbook,
                    default_timezone=demo_settings.timezone,
                    default_currency=demo_settings.currency,
                    fiscal_year_start_month=demo_settings.fiscal_year_start_month,
                )
                for rep in reps
            }
        console.print()
        console.print(_team_line(cards.values()))
        for label, card in _showcase(list(cards.values())):
            console.print()
            title = f"/myperf → {card.person_name} ({label}), posted privately"
            console.print(render_blocks(to_dicts(scorecard_blocks(card, now)), title))
        console.print()
        console.print("That is what reps see when they type [bold]/myperf[/bold] in Slack.")
        _show_nudges_and_digest(
            console,
            demo_settings,
            session_factory,
            playbook,
            now,
            [card.person_name for _, card in _showcase(list(cards.values()))],
            chart,
        )
        _show_leader_digest(console, demo_settings, session_factory, playbook, now)
        _show_one_on_one(
            console, demo_settings, session_factory, playbook, now, _showcase(list(cards.values()))[-1][1].person_name
        )
        _show_update_modal(console, demo_settings, session_factory, playbook, now, _showcase(list(cards.values()))[-1][1])
        _show_backtest(console, session_factory, playbook, now, demo_settings.timezone)
        console.print()
        console.print("See README.md to install coachbot in your workspace.")
        engine.dispose()


def _show_nudges_and_digest(
    console: Console,
    settings: Settings,
    session_factory: sessionmaker[Session],
    playbook: Playbook,
    now: dt.datetime,
    rep_names: list[str],
    chart: Path | None,
) -> None:
    """Scan for process gaps, then queue (never send) the showcase reps' nudges and a manager's digest."""
    scan = scan_gaps(session_factory, playbook, now, default_timezone=settings.timezone)
    console.print()
    console.rule("[bold]The schedule")
    console.print(f"Gap scan: {scan.opened} process gaps opened on {scan.deals_scanned} open deals.")
    with session_scope(session_factory) as session:
        people = session.scalars(select(Person).order_by(Person.id)).all()
        for number, person in enumerate(people, start=1):
            person.slack_user_id = f"UDEMO{number:03d}"  # stand-ins: the demo has no Slack workspace
        session.flush()
        for name in rep_names:
            rep = next(person for person in people if person.name == name)
            queue_morning_nudge(session, rep, playbook, now, settings.timezone)
        manager = next(person for person in people if person.is_manager)
        queue_weekly_digest(
            session, manager, playbook, now + AFTER_THE_SCAN, default_timezone=settings.timezone, default_currency=settings.currency,
            fiscal_year_start_month=settings.fiscal_year_start_month,
        )  # fmt: skip
        names = {person.slack_user_id: person.name for person in people}
        messages = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    for message in messages:
        console.print()
        when = "Monday" if message.kind == "digest" else "working days"
        nudge_time = playbook.digest.local_time if message.kind == "digest" else playbook.nudges.local_time
        title = f"{message.kind} → {names[message.recipient]} ({when} at {nudge_time}, their time), direct message"
        console.print(render_blocks(message.payload["blocks"], title))
        if message.kind == "nudge" and (link := _first_link(message.payload["blocks"])):
            console.print(f"Open in CRM opens the deal's own page, e.g. {link} (the demo CRM's pages are on example.com).")
        if message.kind == "digest" and "chart" in message.payload:
            png = base64.b64decode(message.payload["chart"]["png_base64"])
            if chart is not None:
                chart.write_bytes(png)
                console.print(f"The digest's chart ({len(png):,} bytes) is saved to {chart}.")
            else:
                console.print(
                    f"The digest also carries a chart image ({len(png):,} bytes): `coachbot demo --chart chart.png` saves it."
                )


def _first_link(blocks: list[dict[str, Any]]) -> str | None:
    """The first link button's URL in a message, which the terminal rendering shows only as a label."""
    urls = (element.get("url") for block in blocks if block["type"] == "actions" for element in block["elements"])
    return next((url for url in urls if url), None)


def _show_leader_digest(
    console: Console, settings: Settings, session_factory: sessionmaker[Session], playbook: Playbook, now: dt.datetime
) -> None:
    """The weekly digest of the demo's sales leader, over both managers: each team's roll-up first (queued, never sent)."""
    with session_scope(session_factory) as session:
        leader = session.scalars(select(Person).where(Person.email == demo_email(LEADER[0]))).one()
        queue_weekly_digest(
            session, leader, playbook, now + AFTER_THE_SCAN, default_timezone=settings.timezone, default_currency=settings.currency,
            fiscal_year_start_month=settings.fiscal_year_start_month,
        )  # fmt: skip
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith(f"digest:{leader.id}:"))
        ).one_or_none()
    if message is not None:
        console.print()
        title = f"digest → {leader.name}, their managers' teams rolled up (Monday at {playbook.digest.local_time}, their time), direct message"
        console.print(render_blocks(message.payload["blocks"], title))


def _show_one_on_one(
    console: Console, settings: Settings, session_factory: sessionmaker[Session], playbook: Playbook, now: dt.datetime,
    rep_name: str,
) -> None:  # fmt: skip
    """The 1:1 agenda the rep's manager would get from `/coach 1on1 @rep` (read only: nothing is recorded)."""
    with session_factory() as session:
        rep = session.scalars(select(Person).where(Person.name == rep_name)).one()
        manager = session.get_one(Person, rep.manager_id)
        agenda = one_on_one_agenda(
            session, manager, rep, now, playbook, default_timezone=settings.timezone, default_currency=settings.currency,
            fiscal_year_start_month=settings.fiscal_year_start_month, audited=False,
        )  # fmt: skip
    console.print()
    title = f"/coach 1on1 @{rep.name} → {manager.name}, posted privately"
    console.print(render_blocks(to_dicts(agenda_message(agenda).blocks), title))


def _show_update_modal(
    console: Console, settings: Settings, session_factory: sessionmaker[Session], playbook: Playbook, now: dt.datetime,
    card: Scorecard,
) -> None:  # fmt: skip
    """ "Update…" on the rep's first listed deal: the modal as the demo can honestly show it.

    The demo CRM is read-only (its deals are generated), so the modal says so and lists what it
    would let the rep change; nothing is written, and no outcome is invented.
    """
    deal = next((gaps.deal for gaps in card.deal_gaps if gaps.deal.deal_id is not None), None)
    if deal is None or deal.deal_id is None:
        return
    with session_factory() as session:
        rep_id = session.scalars(select(Person.id).where(Person.name == card.person_name)).one()
    services = Services(settings=settings, session_factory=session_factory, playbook=playbook, clock=lambda: now)
    view = update_modal(update_form(services, rep_id, deal.deal_id)).to_dict()
    console.print()
    console.print(render_blocks(view["blocks"], f"Update… on {deal.name} → {card.person_name}, a modal"))
    console.print(
        "With HubSpot, Salesforce or Pipedrive connected, the form's Save to CRM writes the fields to the CRM, "
        "reads the deal back and answers what changed and which gaps closed."
    )


def _show_backtest(
    console: Console, session_factory: sessionmaker[Session], playbook: Playbook, now: dt.datetime, timezone: str
) -> None:
    """The playbook replayed over the demo's stage history: which rules went with lost deals."""
    period = default_period(now)
    with session_factory() as session:
        backtests = backtest_playbooks(session, [playbook], period, now, default_timezone=timezone)
    console.print()
    console.rule("[bold]Which rules predict losses")
    print_backtest(console, backtests, ["the default playbook"])
    console.print("Try a draft of your own against it: coachbot playbook backtest draft.yml --against your.yml")


def _showcase(cards: list[Scorecard]) -> list[tuple[str, Scorecard]]:
    """One rep ahead of pace and one behind it (the furthest each way); on a period's first day,
    before pace means anything, by projected attainment."""

    def standing(card: Scorecard) -> float:
        return card.pace if card.pace is not None else (card.projected_attainment or 0.0)

    ranked = sorted(cards, key=standing)
    return [("ahead of pace", ranked[-1]), ("behind pace", ranked[0])] if ranked else []


def _team_line(cards: Collection[Scorecard]) -> str:
    ahead = sum(1 for card in cards if (card.pace or 0) >= 1)
    return f"The demo team: {len(cards)} reps, {ahead} on or ahead of pace, {len(cards) - ahead} behind."
