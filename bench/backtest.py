"""The playbook back-test over N deals and their stage history (default 1,000,000, 300 reps), on SQLite and PostgreSQL.

The data: a year of deals, each created on a day of the last 400, moving through 1 to 6 open
stages (one stage-history row each) and, for 70% of them, into Closed Won or Closed Lost
(another row): about 4.2 history rows a deal. A few lack an amount (missing_field fires).

Measured in the same run, per database and size, each in its own process (so peak RSS is that run's):
- floor: one plain SQL pass, a streamed read of the whole stage history in deal order
  (deal id, stage, entered_at), each row touched;
- backtest: `backtest_playbooks` with the default playbook over the last 52 weeks;
- backtest --against: the same with a second playbook (every max_days halved), both from one pass;
- the same over N/10 deals in a fresh database, to show how the cost grows with N;
- idle: a process that imports the same modules and does nothing, the floor under every RSS figure.

Run: `python -m bench.backtest --deals 100000` first; `python -m bench.backtest` (make bench-backtest)
for 100,000 and 1,000,000. PostgreSQL: COACHBOT_TEST_POSTGRES_URL or the local `test` database, in
a private schema dropped afterwards. Figures go to bench/results/backtest.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import random
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, insert, select

from bench.common import analyze, fresh_database, peak_rss_kb
from bot.coaching.backtest import Period, backtest_playbooks
from bot.coaching.playbook import Playbook, load_playbook
from bot.database import make_engine
from bot.models import Deal, DealStageHistory, Person

NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
PERIOD = Period(NOW.date() - dt.timedelta(weeks=52) + dt.timedelta(days=1), NOW.date())
OPEN_STAGES = ("Prospecting", "Qualification", "Discovery", "Demo", "Proposal", "Negotiation")
LINES = ("Core Platform", "Analytics", "Services")
BATCH = 10_000
RUNS = ("floor", "backtest", "backtest_against")


def populate(engine: Engine, reps: int, deals: int, seed: int = 15) -> int:
    """`deals` deals over the last 400 days with their stage history; returns the history rows stored."""
    rng = random.Random(seed)
    person = {"created_at": NOW, "updated_at": NOW, "is_coach": False, "is_admin": False, "active": True}
    history_rows = 0
    with engine.begin() as connection:
        connection.execute(
            insert(Person),
            [{**person, "email": f"manager{m}@bench.example", "name": f"Manager {m}", "is_manager": True, "is_rep": False}
             for m in range(reps // 10 + 1)],
        )  # fmt: skip
        manager_ids = connection.scalars(select(Person.id).order_by(Person.id)).all()
        connection.execute(
            insert(Person),
            [{**person, "email": f"rep{r}@bench.example", "name": f"Rep {r}", "is_rep": True, "is_manager": False,
              "manager_id": manager_ids[r // 10]} for r in range(reps)],
        )  # fmt: skip
        rep_ids = connection.scalars(select(Person.id).where(Person.is_rep).order_by(Person.id)).all()
        deal_batch: list[dict[str, object]] = []
        history_batch: list[dict[str, object]] = []
        for number in range(deals):
            created = NOW - dt.timedelta(days=rng.randint(0, 400), hours=rng.randint(0, 23))
            reached = rng.randint(1, len(OPEN_STAGES))
            entered = created
            entries = []
            for stage in OPEN_STAGES[:reached]:
                entries.append((stage, entered))
                entered += dt.timedelta(days=rng.randint(1, 30), hours=rng.randint(0, 23))
            closes = rng.random() < 0.7 and entered < NOW
            won = closes and rng.random() < 0.25 + 0.1 * reached
            if closes:
                entries.append(("Closed Won" if won else "Closed Lost", entered))
            line = rng.choice(LINES)
            deal_batch.append(
                {"id": number + 1, "crm_source": "bench", "crm_id": f"B{number}", "owner_id": rep_ids[number % len(rep_ids)],
                 "name": f"Bench deal {number}", "currency": "USD",
                 "amount": Decimal(rng.randrange(2_000, 90_000, 500)) if rng.random() < 0.97 else None,
                 "stage": entries[-1][0], "stage_entered_at": entries[-1][1], "is_closed": closes, "is_won": won,
                 "created_at": created, "closed_at": entered if closes else None,
                 "close_date": (entered if closes else NOW + dt.timedelta(days=30)).date(),
                 "product_line": line, "product_name": line, "account_name": f"Account {number % 5000}", "synced_at": NOW}
            )  # fmt: skip
            history_batch.extend({"deal_id": number + 1, "stage": stage, "entered_at": at} for stage, at in entries)
            if len(deal_batch) == BATCH:
                connection.execute(insert(Deal), deal_batch)
                connection.execute(insert(DealStageHistory), history_batch)
                history_rows += len(history_batch)
                deal_batch, history_batch = [], []
        if deal_batch:
            connection.execute(insert(Deal), deal_batch)
            connection.execute(insert(DealStageHistory), history_batch)
            history_rows += len(history_batch)
    analyze(engine)
    return history_rows


def halved(playbook: Playbook) -> Playbook:
    """The playbook with every stage's max_days halved: a stricter draft to compare against."""
    stages = tuple(
        dataclasses.replace(stage, max_days=None if stage.max_days is None else max(1, stage.max_days // 2))
        for stage in playbook.stages
    )
    return dataclasses.replace(playbook, stages=stages)


def worker(mode: str, url: str) -> None:
    """One measured run in this process; prints a JSON line (seconds, peak RSS, what it found)."""
    engine = make_engine(url)
    result: dict[str, object] = {}
    started = time.perf_counter()
    if mode == "floor":
        rows = 0
        with engine.connect() as connection:
            # A server-side cursor on PostgreSQL: the pass streams, as the back-test does.
            streamed = connection.execution_options(stream_results=True, yield_per=5_000).execute(
                select(DealStageHistory.deal_id, DealStageHistory.stage, DealStageHistory.entered_at).order_by(
                    DealStageHistory.deal_id, DealStageHistory.entered_at
                )
            )
            for row in streamed:
                rows += row.deal_id > 0
        result = {"rows": rows}
    elif mode in ("backtest", "backtest_against"):
        from sqlalchemy.orm import Session

        playbook = load_playbook()
        playbooks = [playbook] if mode == "backtest" else [playbook, halved(playbook)]
        with Session(engine) as session:
            backtests = backtest_playbooks(session, playbooks, PERIOD, NOW)
        first = backtests[0]
        stale = first.rule("stale_stage")
        result = {
            "deals": first.deals,
            "closed": first.closed,
            "rep_weeks": first.rep_weeks,
            "stale_opened": stale.opened,
            "stale_win_rates": [stale.win_rate_with, stale.win_rate_without],
            "missing_field_opened": first.rule("missing_field").opened,
        }
        if len(backtests) > 1:
            result["against_stale_opened"] = backtests[1].rule("stale_stage").opened
    result["seconds"] = time.perf_counter() - started
    result["max_rss_kb"] = peak_rss_kb()
    engine.dispose()
    print(json.dumps(result))


def measure(mode: str, url: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.backtest", "--worker", mode, url], capture_output=True, text=True, timeout=7200
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_size(kind: str, scratch: str, reps: int, deals: int, console: Console) -> dict:
    with fresh_database(kind, scratch) as url:
        engine = make_engine(url)
        started = time.perf_counter()
        history_rows = populate(engine, reps, deals)
        engine.dispose()
        console.print(
            f"{kind}: {deals:,} deals, {history_rows:,} stage-history rows, {reps} reps stored in {time.perf_counter() - started:.0f} s"
        )
        figures: dict[str, object] = {"deals": deals, "history_rows": history_rows}
        for run in RUNS:
            figures[run] = measure(run, url)
            console.print(f"  {run}: {figures[run]['seconds']:.1f} s")  # type: ignore[index]
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--database", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--out", type=Path, default=Path("bench/results/backtest.json"))
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    console = Console(width=max(Console().width, 140))
    idle = measure("idle", "sqlite://")
    report: dict[str, object] = {
        "deals": args.deals,
        "reps": args.reps,
        "period": [PERIOD.start.isoformat(), PERIOD.end.isoformat()],
        "idle_rss_mb": round(idle["max_rss_kb"] / 1024, 1),
        "databases": {},
    }
    table = Table(title=f"Playbook back-test over 52 weeks, {args.reps} reps (idle process {report['idle_rss_mb']} MB)")
    for column in ("database", "deals", "history rows", "run", "seconds", "× floor", "peak RSS MB", "stale_stage opened"):
        table.add_column(column, justify="right")
    growth: list[str] = []
    with tempfile.TemporaryDirectory(prefix="coachbot-bench-backtest-") as scratch:
        for kind in args.database:
            try:
                sizes = [run_size(kind, scratch, args.reps, size, console) for size in (args.deals // 10, args.deals)]
            except Exception as exc:  # noqa: BLE001 - an unreachable PostgreSQL skips its half
                console.print(f"[yellow]{kind} skipped: {type(exc).__name__}: {str(exc)[:200]}[/yellow]")
                continue
            report["databases"][kind] = sizes  # type: ignore[index]
            for size in sizes:
                floor = size["floor"]["seconds"]
                for run in RUNS:
                    figures = size[run]
                    table.add_row(
                        kind, f"{size['deals']:,}", f"{size['history_rows']:,}", run.replace("_", " --"),
                        f"{figures['seconds']:.2f}", f"{figures['seconds'] / floor:.2f}×", f"{figures['max_rss_kb'] / 1024:.0f}",
                        f"{figures['stale_opened']:,}" if "stale_opened" in figures else "",
                    )  # fmt: skip
            small, big = sizes
            for run in RUNS:
                growth.append(
                    f"{kind} {run}: {big[run]['seconds']:.2f} s at {big['deals']:,} deals = "
                    f"{big[run]['seconds'] / small[run]['seconds']:.2f}× its {small[run]['seconds']:.2f} s at {small['deals']:,}"
                )
    console.print(table)
    for line in growth:
        console.print(line)
    report["growth"] = growth
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    console.print(f"Figures written to {args.out}")


if __name__ == "__main__":
    main()
