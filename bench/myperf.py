"""`/myperf` for one rep with 1,000 reps and 200,000 deals in the database, on SQLite and PostgreSQL.

Measured in the same run, per database:
- baseline: the one SQL query that sums the rep's closed-won amount for the quarter;
- scorecard: what the handler does with the database (link lookup, scorecard query, quotas,
  development items, domain maths) and building the blocks;
- handler: a signed `/myperf` dispatched through the Bolt app until the stand-in Slack has
  received the scorecard on the response_url (listener thread and HTTP post included);
- ack: the same request until Bolt returned the HTTP 200 (Bolt polls for the ack every 10 ms).

Each reps:deals size is a fresh database; by default 1,000 reps with 200,000 deals and 10,000 reps
with 2,000,000: each rep has the same 200 deals of the past year, the table 10× more rows.

Run: `make bench` (or `python -m bench.myperf --sizes 1000:200000`).
Goals: handler median under 50 ms and under 5x the baseline query (issue 2); the scorecard and
handler at 10,000 reps and 2,000,000 deals within 1.5× of the same at 1,000 and 200,000 (issue 8).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table
from slack_bolt import BoltRequest
from sqlalchemy import Engine, func, insert, select

from bench.common import DEFAULT_POSTGRES_URL, analyze, growth, median_p95, migrate, sqlite_and_postgres, timed
from bot.app import create_app
from bot.blocks import to_dicts
from bot.blocks.scorecard import scorecard_blocks
from bot.coaching.playbook import load_playbook
from bot.coaching.service import scorecard_for
from bot.database import make_engine, make_session_factory
from bot.identity import identify
from bot.models import Deal, Person, ProductLine, Quota
from bot.periods import period_containing
from bot.settings import Settings
from tests.support.signing import SIGNING_SECRET, sign, slash_command_body
from tests.support.slack_standin import SlackStandIn

POSTGRES_URL = DEFAULT_POSTGRES_URL  # not COACHBOT_TEST_POSTGRES_URL: --postgres-url sets another
NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
STAGES = ("Prospecting", "Qualification", "Discovery", "Demo", "Proposal", "Negotiation")
LINES = ("Core Platform", "Analytics", "Services")


LIVE_DEALS_PER_REP = 200  # a rep's deals of the past year: 1,000 reps × 200 = the 200,000-deal database


def populate(engine: Engine, reps: int, deals: int, seed: int = 7, live_per_rep: int = LIVE_DEALS_PER_REP) -> None:
    """1 manager per 10 reps, a quarterly quota each, and `deals` deals dealt round the reps.

    The layout, so that what grows with `deals` is plain: each rep's first `live_per_rep` deals
    are their past year (created in the last 365 days, 60 % closed, the rest open in a random
    stage), as a rep's book looks at any moment; every deal beyond that is closed history from
    the 1 to 5 years before (closed at least a year ago). At 1,000 reps, 200,000 deals are all
    past year; 1,000,000 add 800 old deals per rep and nothing open or closed this year. At
    10,000 reps and 2,000,000 deals each rep again has 200 deals of the past year.
    """
    rng = random.Random(seed)
    with engine.begin() as connection:
        connection.execute(insert(ProductLine), [{"name": line} for line in LINES])
        managers = [
            {"email": f"manager{m}@bench.example", "name": f"Manager {m}", "is_manager": True, "created_at": NOW, "updated_at": NOW,
             "is_rep": False, "is_coach": False, "is_admin": False, "active": True}
            for m in range(reps // 10 + 1)
        ]  # fmt: skip
        connection.execute(insert(Person), managers)
        manager_ids = connection.scalars(select(Person.id).order_by(Person.id)).all()
        connection.execute(
            insert(Person),
            [
                {"email": f"rep{r}@bench.example", "name": f"Rep {r}", "is_rep": True, "slack_user_id": f"UREP{r}",
                 "timezone": "America/New_York", "manager_id": manager_ids[r // 10], "created_at": NOW, "updated_at": NOW,
                 "is_manager": False, "is_coach": False, "is_admin": False, "active": True}
                for r in range(reps)
            ],
        )  # fmt: skip
        rep_ids = connection.scalars(select(Person.id).where(Person.is_rep).order_by(Person.id)).all()
        connection.execute(
            insert(Quota),
            [{"person_id": rep_id, "period_start": dt.date(2026, 10, 1), "period_end": dt.date(2027, 1, 1),
              "amount": Decimal(250000), "currency": "USD"} for rep_id in rep_ids],
        )  # fmt: skip
        live = live_per_rep * len(rep_ids)
        batch: list[dict[str, object]] = []
        for number in range(deals):
            owner = rep_ids[number % len(rep_ids)]
            if number < live:
                created = NOW - dt.timedelta(days=rng.randint(1, 365))
                closed = rng.random() < 0.6
                won = closed and rng.random() < 0.35
                stage = ("Closed Won" if won else "Closed Lost") if closed else rng.choice(STAGES)
                close = (created + dt.timedelta(days=rng.randint(10, 120))).date()
                if closed and close > NOW.date():
                    close = NOW.date() - dt.timedelta(days=rng.randint(1, 30))
            else:
                created = NOW - dt.timedelta(days=rng.randint(486, 5 * 365))
                closed, won = True, rng.random() < 0.35
                stage = "Closed Won" if won else "Closed Lost"
                close = (created + dt.timedelta(days=rng.randint(10, 120))).date()
            batch.append(
                {"crm_source": "bench", "crm_id": f"B{number}", "owner_id": owner, "crm_owner_key": f"rep{owner}",
                 "name": f"Bench deal {number}", "amount": Decimal(rng.randrange(2_000, 90_000, 500)), "currency": "USD",
                 "stage": stage, "is_closed": closed, "is_won": won, "created_at": created,
                 "stage_entered_at": created + dt.timedelta(days=rng.randint(0, 9)), "close_date": close,
                 "next_step": "Call" if rng.random() < 0.7 else None,
                 "next_step_date": NOW.date() + dt.timedelta(days=rng.randint(-10, 10)),
                 "product_line": rng.choice(LINES), "synced_at": NOW}
            )  # fmt: skip
            if len(batch) == 10_000:
                connection.execute(insert(Deal), batch)
                batch = []
        if batch:
            connection.execute(insert(Deal), batch)
    analyze(engine)


def measure(url: str, runs: int) -> dict[str, list[float]]:
    engine = make_engine(url)
    session_factory = make_session_factory(engine)
    playbook = load_playbook()
    quarter = period_containing("quarter", NOW, "America/New_York")
    with session_factory() as session:
        rep = session.scalar(select(Person).where(Person.slack_user_id == "UREP500"))
        assert rep is not None

    def baseline() -> object:
        with engine.connect() as connection:
            return connection.execute(
                select(func.sum(Deal.amount)).where(
                    Deal.owner_id == rep.id,
                    Deal.is_won.is_(True),
                    Deal.close_date.between(quarter.start, quarter.end - dt.timedelta(days=1)),
                )  # fmt: skip
            ).scalar()

    slack = SlackStandIn().start()

    def scorecard() -> object:
        with session_factory() as session:
            caller = identify(session_factory, None, "UREP500")  # type: ignore[arg-type] # linked: no Slack call
            card = scorecard_for(session, session.get_one(Person, caller.person_id), "quarter", now=NOW, playbook=playbook,
                                 default_timezone="UTC", default_currency="USD")  # fmt: skip
            return to_dicts(scorecard_blocks(card, NOW))

    settings = Settings(
        slack_bot_token="xoxb-bench", slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url, database_url=url
    )
    app = create_app(settings, session_factory=session_factory, playbook=playbook, clock=lambda: NOW)
    body = slash_command_body("/myperf", "", "UREP500", slack.response_url("bench"))

    pool = ThreadPoolExecutor(max_workers=1)
    acks: list[float] = []

    def handler() -> float:
        """Milliseconds from the signed request until the scorecard reached the response_url.

        Dispatch runs on its own thread because Bolt's request thread polls for the ack every
        10 ms; that poll delays the HTTP 200 (recorded separately as `ack`), not the scorecard.
        """
        expected = len(slack.calls_to("response")) + 1
        started = time.perf_counter()
        dispatched = pool.submit(app.dispatch, BoltRequest(body=body, headers=sign(body)))
        delivered = slack.wait_for("response", expected, timeout=10)[-1]
        response = dispatched.result()
        acks.append((time.perf_counter() - started) * 1000)
        assert response.status == 200
        return (delivered.received_at - started) * 1000

    try:
        results = {"baseline": timed(baseline, runs), "scorecard": timed(scorecard, runs)}
        for _ in range(5):
            handler()
        acks.clear()
        results["handler"] = [handler() for _ in range(runs)]
        results["ack"] = list(acks)
        last = slack.calls_to("response")[-1].body
        assert last["blocks"][0]["text"]["text"].endswith("scorecard · Rep 500"), last
        return results
    finally:
        pool.shutdown()
        slack.stop()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000:200000,10000:2000000", help="reps:deals pairs, each in a fresh database")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--out", type=Path, default=Path("bench/results/myperf.json"))
    args = parser.parse_args()
    sizes = [tuple(int(part) for part in size.split(":")) for size in args.sizes.split(",")]
    console = Console()
    report: dict[str, object] = {"sizes": sizes, "runs": args.runs, "databases": {}}
    table = Table(title=f"/myperf: {args.runs} runs (ms)")
    for column in ("database", "reps", "deals", "measure", "median", "p95", "× baseline median"):
        table.add_column(column, justify="right")
    medians: dict[tuple[str, int, str], float] = {}

    for reps, deals in sizes:
        for name, url, cleanup in sqlite_and_postgres(args.postgres_url, console):
            try:
                migrate(url)
                engine = make_engine(url)
                started = time.perf_counter()
                populate(engine, reps, deals)
                engine.dispose()
                console.print(f"{name}, {reps:,} reps, {deals:,} deals: populated in {time.perf_counter() - started:.1f} s")
                results = measure(url, args.runs)
            finally:
                cleanup()
            base = median_p95(results["baseline"])[0]
            summary = {}
            for measure_name, samples in results.items():
                median, p95 = median_p95(samples)
                medians[(name, deals, measure_name)] = median
                summary[measure_name] = {"median_ms": round(median, 3), "p95_ms": round(p95, 3), "ratio": round(median / base, 2)}
                table.add_row(
                    name, f"{reps:,}", f"{deals:,}", measure_name, f"{median:.2f}", f"{p95:.2f}", f"{median / base:.1f}×"
                )
            report["databases"].setdefault(name, {})[f"{reps}:{deals}"] = summary  # type: ignore[attr-defined,index]
    console.print(table)
    report["growth"] = growth(medians, [deals for _, deals in sizes], ("baseline", "scorecard", "handler"))
    for line in report["growth"]:  # type: ignore[attr-defined]
        console.print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    console.print(f"Figures written to {args.out}")


if __name__ == "__main__":
    main()
