"""The weekly digest: one director's (200 reps) and every manager's of a 1,000-rep org, on SQLite and PostgreSQL.

The org and deals are bench/teamperf.py's (bench/myperf.py's layout: 1,000 reps, a manager per 10,
a director over the first 20 managers; by default 1,000,000 deals, of which each rep's 200 of the
past year and 800 closed ones of earlier years). The gap scan runs 8 days before NOW; then 5 % of the
open deals are won and the scan runs again at NOW, so the week has gaps fixed (by the deals won) and
gaps opened (rules that began to fire since), as a steady week has.

Measured in the same run, per database:
- org_rows: the floor. One team_rows call over all 1,000 active reps: the team read model's
  queries and figures for the whole org, read once (what every digest of the org reads, without
  the overlap of a director's team with their managers' teams);
- director_compose: build_digest for the director plus the delivery layer's text and blocks;
- director_chart: the same plus the chart (bot/delivery/digests.chart_attachment);
- all_digests: build_digest, text and blocks for every manager, in one session, as the weekly
  job composes them (without the charts or the outbox; the director's team is read twice, once
  in their digest and once across their managers').

Run: `python -m bench.digest` (`--deals 200000` for a quicker look).
Goals (issue 8): director_compose and director_chart at most 200 ms; all_digests at most 3× org_rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, func, select, update

from bench.common import analyze, median_p95, migrate, sqlite_and_postgres, timed
from bench.myperf import NOW, POSTGRES_URL, populate
from bench.teamperf import DIRECTOR, TIMEZONE, add_director
from bot.blocks import to_dicts
from bot.blocks.digest import digest_blocks, digest_text
from bot.coaching.digest import build_digest
from bot.coaching.gaps import scan_gaps
from bot.coaching.playbook import load_playbook
from bot.coaching.team import team_rows
from bot.database import make_engine, make_session_factory
from bot.delivery.digests import chart_attachment
from bot.models import Deal, Person, ProcessGap

SETTINGS = {"default_timezone": TIMEZONE, "default_currency": "USD"}


def a_week_of_gaps(engine: Engine) -> dict[str, int]:
    """Scan 8 days before NOW, win every 20th open deal, scan at NOW. The week's counts."""
    session_factory = make_session_factory(engine)
    playbook = load_playbook()
    scan_gaps(session_factory, playbook, NOW - dt.timedelta(days=8), default_timezone=TIMEZONE)
    with engine.begin() as connection:
        connection.execute(
            update(Deal)
            .where(Deal.is_closed.is_(False), Deal.id % 20 == 0)
            .values(is_closed=True, is_won=True, stage="Closed Won", close_date=NOW.date() - dt.timedelta(days=2))
        )
    scan = scan_gaps(session_factory, playbook, NOW, default_timezone=TIMEZONE)
    with engine.connect() as connection:
        gaps = connection.scalar(select(func.count()).select_from(ProcessGap)) or 0
    return {"gaps": gaps, "opened_at_now": scan.opened, "resolved_at_now": scan.resolved}


def measure(url: str, runs: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    engine = make_engine(url)
    session_factory = make_session_factory(engine)
    playbook = load_playbook()
    with session_factory() as session:
        director_id = session.scalars(select(Person.id).where(Person.slack_user_id == DIRECTOR)).one()
        manager_ids = session.scalars(
            select(Person.id).where(Person.is_manager, Person.active.is_(True)).order_by(Person.id)
        ).all()
    seen: dict[str, int] = {"managers": len(manager_ids)}

    def org_rows() -> object:
        with session_factory() as session:
            reps = session.scalars(select(Person).where(Person.is_rep, Person.active.is_(True))).all()
            rows = team_rows(session, reps, "quarter", now=NOW, playbook=playbook, **SETTINGS)  # type: ignore[arg-type]
        seen["org_rows"] = len(rows)
        return rows

    def director(chart: bool) -> object:
        def run() -> object:
            with session_factory() as session:
                digest = build_digest(session, session.get_one(Person, director_id), playbook, NOW, **SETTINGS)  # type: ignore[arg-type]
                composed = (digest_text(digest), to_dicts(digest_blocks(digest)), chart_attachment(digest) if chart else None)
            seen["director_rows"] = len(digest.rows)
            seen["director_fixed"], seen["director_opened"] = digest.changes.gaps_fixed, digest.changes.gaps_opened
            return composed

        return run

    def all_digests() -> object:
        composed = []
        with session_factory() as session:
            for manager_id in manager_ids:
                digest = build_digest(session, session.get_one(Person, manager_id), playbook, NOW, **SETTINGS)  # type: ignore[arg-type]
                if digest.team.rows:
                    composed.append((digest_text(digest), to_dicts(digest_blocks(digest))))
        seen["digests"] = len(composed)
        return composed

    try:
        return {
            "org_rows": timed(org_rows, runs, warmup=2),
            "director_compose": timed(director(False), runs, warmup=2),
            "director_chart": timed(director(True), runs, warmup=2),
            "all_digests": timed(all_digests, max(3, runs // 5), warmup=1),
        }, seen
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--out", type=Path, default=Path("bench/results/digest.json"))
    args = parser.parse_args()
    console = Console()
    report: dict[str, object] = {"reps": args.reps, "deals": args.deals, "runs": args.runs, "databases": {}}
    table = Table(title=f"Weekly digest: {args.reps:,} reps, {args.deals:,} deals (ms)")
    for column in ("database", "measure", "median", "p95", "× org_rows median"):
        table.add_column(column, justify="right")

    for name, url, cleanup in sqlite_and_postgres(args.postgres_url, console):
        try:
            migrate(url)
            engine = make_engine(url)
            started = time.perf_counter()
            populate(engine, args.reps, args.deals)
            add_director(engine, 200)
            week = a_week_of_gaps(engine)
            analyze(engine, vacuum=True)
            engine.dispose()
            console.print(f"{name}: populated and scanned twice in {time.perf_counter() - started:.1f} s; {week}")
            results, seen = measure(url, args.runs)
        finally:
            cleanup()
        floor = median_p95(results["org_rows"])[0]
        summary: dict[str, object] = {"data": {**week, **seen}}
        for measure_name, samples in results.items():
            median, p95 = median_p95(samples)
            summary[measure_name] = {"median_ms": round(median, 3), "p95_ms": round(p95, 3), "ratio": round(median / floor, 2)}
            table.add_row(name, measure_name, f"{median:.2f}", f"{p95:.2f}", f"{median / floor:.2f}×")
        report["databases"][name] = summary  # type: ignore[index]
        console.print(f"{name}: {seen}")
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    console.print(f"Figures written to {args.out}")


if __name__ == "__main__":
    main()
