"""The gap scan over N open deals (default 1,000,000, a few hundred reps), on SQLite and PostgreSQL.

Measured in the same run, per database, each in its own process (so peak RSS is that run's):
- floor: one plain SQL pass, a streamed read of the columns the scan needs from every open deal;
- first scan: no earlier scan, so every deal is judged and every gap opens (about 1.8 a deal);
- unchanged rescan: an hour later with no deal written; only what time changed is judged
  (a day count moving on for deals that entered their stage or were last active at that hour);
- rescan after 1% changed: a sync-like write of 1% of the open deals (next steps, dates,
  stages, amounts, through SQLAlchemy as the sync writes), then a scan an hour after the last;
- next-day scan: a day later still, so every day count and the day's dates move on;
- the same over N/10 deals in a fresh database, to show how the cost grows with N;
- idle: a process that imports the same modules and does nothing, the floor under every RSS figure.
Each scan's ratio is to the floor measured in the same run. The goal (issue 8): a rescan after 1%
changed costs at most one floor.

Run: `python -m bench.gap_scan --deals 100000` first; `python -m bench.gap_scan` for the 1,000,000.
PostgreSQL: COACHBOT_TEST_POSTGRES_URL or the local `test` database, in a private schema dropped
afterwards. Figures go to bench/results/gap_scan.json.
"""

from __future__ import annotations

import argparse
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
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session

from bench.common import analyze, fresh_database, peak_rss_kb
from bot.coaching.gaps import SCAN_COLUMNS, scan_gaps
from bot.coaching.playbook import load_playbook
from bot.database import make_engine, make_session_factory
from bot.models import Deal, Person, ProcessGap, ProductLine

NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
OPEN_STAGES = ("Prospecting", "Qualification", "Discovery", "Demo", "Proposal", "Negotiation")
LINES = ("Core Platform", "Analytics", "Services")
ZONES = ("America/New_York", "America/Los_Angeles", "Europe/London", "Asia/Tokyo")
BATCH = 10_000
HOUR = dt.timedelta(hours=1)
# run -> (worker mode, the scan's `now`)
RUNS = {
    "first_scan": ("scan", NOW),
    "unchanged_rescan": ("scan", NOW + HOUR),
    "rescan_after_1pct_changed": ("scan", NOW + 2 * HOUR),
    "next_day_scan": ("scan", NOW + 2 * HOUR + dt.timedelta(days=1)),
}


def populate(engine: Engine, reps: int, deals: int, seed: int = 11) -> None:
    """A manager per 10 reps and `deals` open deals spread evenly, with the usual share of gaps."""
    rng = random.Random(seed)
    person = {"created_at": NOW, "updated_at": NOW, "is_coach": False, "is_admin": False, "active": True}
    with engine.begin() as connection:
        connection.execute(insert(ProductLine), [{"name": line} for line in LINES])
        connection.execute(
            insert(Person),
            [{**person, "email": f"manager{m}@bench.example", "name": f"Manager {m}", "is_manager": True, "is_rep": False}
             for m in range(reps // 10 + 1)],
        )  # fmt: skip
        manager_ids = connection.scalars(select(Person.id).order_by(Person.id)).all()
        connection.execute(
            insert(Person),
            [{**person, "email": f"rep{r}@bench.example", "name": f"Rep {r}", "is_rep": True, "is_manager": False,
              "manager_id": manager_ids[r // 10], "timezone": ZONES[r % len(ZONES)]} for r in range(reps)],
        )  # fmt: skip
        rep_ids = connection.scalars(select(Person.id).where(Person.is_rep).order_by(Person.id)).all()
        batch: list[dict[str, object]] = []
        for number in range(deals):
            owner_index = number % len(rep_ids)
            # Every 20th rep sells one line only (single_product_line fires for them).
            line = LINES[0] if owner_index % 20 == 0 else rng.choice(LINES)
            entered = NOW - dt.timedelta(days=rng.randint(1, 40), hours=rng.randint(0, 23))
            batch.append(
                {"crm_source": "bench", "crm_id": f"G{number}", "owner_id": rep_ids[owner_index],
                 "crm_owner_key": f"rep{owner_index}", "name": f"Bench deal {number}",
                 "amount": Decimal(rng.randrange(2_000, 90_000, 500)) if rng.random() < 0.97 else None,
                 "currency": "USD", "stage": rng.choice(OPEN_STAGES), "is_closed": False, "is_won": False,
                 "created_at": entered - dt.timedelta(days=rng.randint(0, 60)), "stage_entered_at": entered,
                 "close_date": NOW.date() + dt.timedelta(days=rng.randint(-15, 90)) if rng.random() < 0.95 else None,
                 "next_step": "Call the buyer" if rng.random() < 0.75 else None,
                 "next_step_date": NOW.date() + dt.timedelta(days=rng.randint(-10, 14)),
                 "last_activity_at": NOW - dt.timedelta(days=rng.randint(0, 30)), "product_line": line,
                 "product_name": line, "account_name": f"Account {number % 5000}", "synced_at": NOW}
            )  # fmt: skip
            if len(batch) == BATCH:
                connection.execute(insert(Deal), batch)
                batch = []
        if batch:
            connection.execute(insert(Deal), batch)
    analyze(engine)


def change_one_percent(engine: Engine, seed: int = 12) -> int:
    """What a sync brings in: 1% of the open deals rewritten, a few fields each (not measured)."""
    rng = random.Random(seed)
    with Session(engine) as session:
        ids = session.scalars(select(Deal.id).where(Deal.is_closed.is_(False), Deal.deleted_at.is_(None)).order_by(Deal.id)).all()
        chosen = rng.sample(ids, len(ids) // 100)
        rows = []
        for deal_id in chosen:
            row: dict[str, object] = {"id": deal_id, "synced_at": NOW + HOUR}
            change = rng.choice(("next_step", "dates", "stage", "amount"))
            if change == "next_step":
                row.update(
                    next_step=rng.choice((None, "Send the proposal")),
                    next_step_date=NOW.date() + dt.timedelta(days=rng.randint(-3, 14)),
                )
            elif change == "dates":
                row.update(close_date=NOW.date() + dt.timedelta(days=rng.randint(-5, 60)), last_activity_at=NOW)
            elif change == "stage":
                row.update(stage=rng.choice(OPEN_STAGES), stage_entered_at=NOW + HOUR)
            else:
                row.update(amount=Decimal(rng.randrange(2_000, 90_000, 500)))
            rows.append(row)
        for start in range(0, len(rows), BATCH):
            # An ORM bulk update by primary key, as bot/crm/sync.py writes a page.
            session.execute(update(Deal), rows[start : start + BATCH])
        session.commit()
    return len(chosen)


def worker(mode: str, url: str, as_of: str) -> None:
    """One measured run in this process; prints a JSON line (seconds, peak RSS, what it did)."""
    engine = make_engine(url)
    result: dict[str, object] = {}
    started = time.perf_counter()
    if mode == "floor":
        rows, amount = 0, Decimal(0)
        with engine.connect() as connection:
            # A server-side cursor on PostgreSQL: the pass streams, as the scan does.
            streamed = connection.execution_options(stream_results=True, yield_per=5_000).execute(
                select(*SCAN_COLUMNS).where(Deal.is_closed.is_(False), Deal.deleted_at.is_(None)).order_by(Deal.id)
            )
            for row in streamed:
                rows += 1
                amount += row.amount or 0
        result = {"rows": rows}
    elif mode == "change":
        result = {"changed": change_one_percent(engine)}
    elif mode == "scan":
        summary = scan_gaps(make_session_factory(engine), load_playbook(), dt.datetime.fromisoformat(as_of))
        result = dict(vars(summary))
        with engine.connect() as connection:
            result["open_gaps"] = connection.scalar(select(func.count()).where(ProcessGap.resolved_at.is_(None)))
    result["seconds"] = time.perf_counter() - started
    result["max_rss_kb"] = peak_rss_kb()
    engine.dispose()
    print(json.dumps(result))


def measure(mode: str, url: str, as_of: dt.datetime = NOW) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.gap_scan", "--worker", mode, url, as_of.isoformat()],
        capture_output=True,
        text=True,
        timeout=7200,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_size(kind: str, scratch: str, reps: int, deals: int, console: Console) -> dict:
    with fresh_database(kind, scratch) as url:
        engine = make_engine(url)
        started = time.perf_counter()
        populate(engine, reps, deals)
        engine.dispose()
        console.print(f"{kind}: {deals:,} open deals for {reps} reps stored in {time.perf_counter() - started:.0f} s")
        figures: dict[str, object] = {"deals": deals, "floor": measure("floor", url)}
        for run, (mode, as_of) in RUNS.items():
            if run == "rescan_after_1pct_changed":
                figures["change"] = measure("change", url)
            figures[run] = measure(mode, url, as_of)
            console.print(f"  {run}: {figures[run]['seconds']:.1f} s")  # type: ignore[index]
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--database", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--out", type=Path, default=Path("bench/results/gap_scan.json"))
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "URL", "AS_OF"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    console = Console(width=max(Console().width, 140))
    idle = measure("idle", "sqlite://")
    report: dict[str, object] = {
        "deals": args.deals,
        "reps": args.reps,
        "idle_rss_mb": round(idle["max_rss_kb"] / 1024, 1),
        "databases": {},
    }
    table = Table(title=f"Gap scan: {args.deals:,} open deals, {args.reps} reps (idle process {report['idle_rss_mb']} MB)")
    for column in (
        "database",
        "deals",
        "run",
        "seconds",
        "× floor",
        "peak RSS MB",
        "deals judged",
        "opened / resolved / kept / updated",
    ):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory(prefix="coachbot-bench-gaps-") as scratch:
        for kind in args.database:
            try:
                sizes = [run_size(kind, scratch, args.reps, size, console) for size in (args.deals // 10, args.deals)]
            except Exception as exc:  # noqa: BLE001 - an unreachable PostgreSQL skips its half
                console.print(f"[yellow]{kind} skipped: {type(exc).__name__}: {str(exc)[:200]}[/yellow]")
                continue
            report["databases"][kind] = sizes  # type: ignore[index]
            for size in sizes:
                floor = size["floor"]["seconds"]
                for run in ("floor", *RUNS):
                    figures = size[run]
                    changes = "" if run == "floor" else (
                        f"{figures['opened']:,} / {figures['resolved']:,} / {figures['still_open']:,} / {figures['updated']:,}"
                    )  # fmt: skip
                    judged = (
                        "" if run == "floor" else f"{figures['deals_judged']:,}" + (" (full)" if figures["full_scan"] else "")
                    )
                    table.add_row(
                        kind, f"{size['deals']:,}", run.replace("_", " ").replace("1pct", "1%"), f"{figures['seconds']:.2f}",
                        f"{figures['seconds'] / floor:.2f}×", f"{figures['max_rss_kb'] / 1024:.0f}", judged, changes,
                    )  # fmt: skip
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    console.print(f"Figures written to {args.out}")


if __name__ == "__main__":
    main()
