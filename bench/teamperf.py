"""`/teamperf` for a manager of 200 reps, over 1,000,000 deals, on SQLite and PostgreSQL.

The org is bench/myperf.py's (1,000 reps, a manager per 10 reps, deals spread evenly, a quarterly
quota each), plus a director over the first 20 managers: 200 reps, all indirect, own a fifth of
the deals; the other 800 reps own the rest. Each of the director's reps has two open actions (one
overdue) and every tenth an open recovery plan; the gap scan has run over every open deal.

Measured in the same run, per database:
- baseline: the one SQL query that sums the team's closed-won amount for the quarter;
- team_view: what the handler does with the database (link lookup, the team's aggregate queries,
  the audit rows, commit) and building the blocks;
- handler: a signed `/teamperf` dispatched through the Bolt app until the stand-in Slack has
  received the team view on the response_url;
- ack: the same request until Bolt returned the HTTP 200.

Each size is a fresh database in bench/myperf.py's layout: at 200,000 deals every rep's 200 deals
are their past year (the team: 40,000 deals, ~16,000 open); 1,000,000 deals add 800 closed deals per
rep from the 1 to 5 years before. So from the first size to the last the table and the team's own
deals grow 5×, while what the team view needs (open deals, deals closed this quarter, open gaps)
stays the same: the growth line says whether the cost followed the team or the table.

Run: `python -m bench.teamperf` (`--sizes 20000,100000` for a quick look; 1,000,000 takes a few minutes a database).
Goals (issue 8): team_view and handler medians at most 50 ms at 1,000,000 deals, and within 1.5× of
the same at 200,000 deals.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table
from slack_bolt import BoltRequest
from sqlalchemy import Engine, func, insert, select, update

from bench.common import analyze, growth, median_p95, migrate, sqlite_and_postgres, timed
from bench.myperf import NOW, POSTGRES_URL, populate
from bot.app import create_app
from bot.blocks import to_dicts
from bot.blocks.team import team_blocks
from bot.coaching.gaps import scan_gaps
from bot.coaching.playbook import load_playbook
from bot.coaching.team import team_performance
from bot.database import make_engine, make_session_factory, session_scope
from bot.identity import identify
from bot.models import Action, Deal, Person, RecoveryPlan
from bot.periods import period_containing
from bot.settings import Settings
from tests.support.signing import SIGNING_SECRET, sign, slash_command_body
from tests.support.slack_standin import SlackStandIn

DIRECTOR = "UDIRECTOR"
TIMEZONE = "America/New_York"


def add_director(engine: Engine, team_reps: int) -> list[int]:
    """A director over the first team_reps / 10 managers; their reps' actions and plans. The team's rep ids."""
    with engine.begin() as connection:
        director_id = connection.execute(
            insert(Person).returning(Person.id),
            [{"email": "director@bench.example", "name": "Dee Director", "is_manager": True, "slack_user_id": DIRECTOR,
              "timezone": TIMEZONE, "is_rep": False, "is_coach": False, "is_admin": False, "active": True,
              "created_at": NOW, "updated_at": NOW}],
        ).scalar_one()  # fmt: skip
        managers = connection.scalars(
            select(Person.id).where(Person.is_manager, Person.id != director_id).order_by(Person.id).limit(team_reps // 10)
        ).all()
        connection.execute(update(Person).where(Person.id.in_(managers)).values(manager_id=director_id))
        team = connection.scalars(select(Person.id).where(Person.manager_id.in_(managers)).order_by(Person.id)).all()
        today = NOW.date()
        connection.execute(
            insert(Action),
            [{"person_id": rep_id, "text": text, "due_date": today + dt.timedelta(days=days), "status": "open", "created_at": NOW}
             for rep_id in team for text, days in (("Overdue follow-up", -3), ("Next week's review", 7))],
        )  # fmt: skip
        connection.execute(
            insert(RecoveryPlan),
            [{"person_id": rep_id, "manager_id": director_id, "period_start": dt.date(2026, 10, 1), "period_end": dt.date(2027, 1, 1),
              "gap_amount": Decimal(100000), "pipeline_to_add": Decimal(150000), "currency": "USD", "status": "open",
              "opened_at": NOW, "checkin_every_days": 7} for rep_id in team[::10]],
        )  # fmt: skip
        return list(team)


def measure(url: str, runs: int, team: list[int]) -> dict[str, list[float]]:
    engine = make_engine(url)
    session_factory = make_session_factory(engine)
    playbook = load_playbook()
    quarter = period_containing("quarter", NOW, TIMEZONE)

    def baseline() -> object:
        with engine.connect() as connection:
            return connection.execute(
                select(func.sum(Deal.amount)).where(
                    Deal.owner_id.in_(team),
                    Deal.is_closed.is_(True),
                    Deal.is_won.is_(True),
                    Deal.close_date.between(quarter.start, quarter.end - dt.timedelta(days=1)),
                )
            ).scalar()

    def team_view() -> object:
        caller = identify(session_factory, None, DIRECTOR)  # type: ignore[arg-type] # linked: no Slack call
        with session_scope(session_factory) as session:
            view = team_performance(
                session,
                session.get_one(Person, caller.person_id),
                "quarter",
                now=NOW,
                playbook=playbook,
                default_timezone="UTC",
                default_currency="USD",
            )  # type: ignore[arg-type]
        return to_dicts(team_blocks(view))

    slack = SlackStandIn().start()
    settings = Settings(
        slack_bot_token="xoxb-bench", slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url, database_url=url
    )
    app = create_app(settings, session_factory=session_factory, playbook=playbook, clock=lambda: NOW)
    body = slash_command_body("/teamperf", "", DIRECTOR, slack.response_url("bench"))
    pool = ThreadPoolExecutor(max_workers=1)
    acks: list[float] = []

    def handler() -> float:
        """Milliseconds from the signed request until the team view reached the response_url (see bench/myperf.py)."""
        expected = len(slack.calls_to("response")) + 1
        started = time.perf_counter()
        dispatched = pool.submit(app.dispatch, BoltRequest(body=body, headers=sign(body)))
        delivered = slack.wait_for("response", expected, timeout=30)[-1]
        response = dispatched.result()
        acks.append((time.perf_counter() - started) * 1000)
        assert response.status == 200
        return (delivered.received_at - started) * 1000

    try:
        results = {"baseline": timed(baseline, runs), "team_view": timed(team_view, runs)}
        for _ in range(5):
            handler()
        acks.clear()
        results["handler"] = [handler() for _ in range(runs)]
        results["ack"] = list(acks)
        last = slack.calls_to("response")[-1].body
        assert last["blocks"][0]["text"]["text"] == "Q4 2026 team · Dee Director", last["blocks"][0]
        assert last["text"].startswith(f"Q4 2026, your team: {len(team)} reps"), last["text"]
        return results
    finally:
        pool.shutdown()
        slack.stop()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--team", type=int, default=200, help="reps under the director (a multiple of 10)")
    parser.add_argument(
        "--sizes", default="200000,1000000", help="deal counts, each in a fresh database; the last is compared with the first"
    )
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--out", type=Path, default=Path("bench/results/teamperf.json"))
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    console = Console()
    report: dict[str, object] = {"reps": args.reps, "team": args.team, "sizes": sizes, "runs": args.runs, "databases": {}}
    table = Table(title=f"/teamperf: {args.team} of {args.reps:,} reps, {args.runs} runs (ms)")
    for column in ("database", "deals", "measure", "median", "p95", "× baseline median"):
        table.add_column(column, justify="right")
    medians: dict[tuple[str, int, str], float] = {}

    for deals in sizes:
        for name, url, cleanup in sqlite_and_postgres(args.postgres_url, console):
            try:
                migrate(url)
                engine = make_engine(url)
                started = time.perf_counter()
                populate(engine, args.reps, deals)
                team = add_director(engine, args.team)
                populated = time.perf_counter() - started
                started = time.perf_counter()
                scan = scan_gaps(make_session_factory(engine), load_playbook(), NOW, default_timezone=TIMEZONE)
                scanned = time.perf_counter() - started
                # The gap scan filled process_gaps after populate's ANALYZE: the planner must know it. On
                # PostgreSQL, VACUUM too: autovacuum does it within minutes of a bulk load, and without the
                # visibility map it sets, every index-only probe of process_gaps also reads the table.
                analyze(engine, vacuum=True)
                sizes_seen = team_sizes(engine, team, scan.opened)
                engine.dispose()
                console.print(f"{name}, {deals:,} deals: populated in {populated:.1f} s, gap scan {scanned:.1f} s; {sizes_seen}")
                results = measure(url, args.runs, team)
            finally:
                cleanup()
            base = median_p95(results["baseline"])[0]
            summary: dict[str, object] = dict(sizes_seen)
            for measure_name, samples in results.items():
                median, p95 = median_p95(samples)
                medians[(name, deals, measure_name)] = median
                summary[measure_name] = {"median_ms": round(median, 3), "p95_ms": round(p95, 3), "ratio": round(median / base, 2)}
                table.add_row(name, f"{deals:,}", measure_name, f"{median:.2f}", f"{p95:.2f}", f"{median / base:.1f}×")
            report["databases"].setdefault(name, {})[deals] = summary  # type: ignore[attr-defined,index]
    console.print(table)
    report["growth"] = growth(medians, sizes, ("team_view", "handler"))
    for line in report["growth"]:  # type: ignore[attr-defined]
        console.print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    console.print(f"Figures written to {args.out}")


def team_sizes(engine: Engine, team: list[int], open_gaps: int) -> dict[str, int]:
    """What the team's view reads from, and what it must not follow: the team's deals and how many are live."""
    quarter = period_containing("quarter", NOW, TIMEZONE)
    with engine.connect() as connection:

        def count(*criteria: object) -> int:
            return connection.scalar(select(func.count()).select_from(Deal).where(Deal.owner_id.in_(team), *criteria)) or 0  # type: ignore[arg-type]

        return {
            "table_deals": connection.scalar(select(func.count()).select_from(Deal)) or 0,
            "team_deals": count(),
            "team_open_deals": count(Deal.is_closed.is_(False)),
            "team_closed_this_quarter": count(Deal.is_closed.is_(True), Deal.close_date >= quarter.start),
            "org_open_gaps": open_gaps,
        }


if __name__ == "__main__":
    main()
