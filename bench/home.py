"""The App Home build for a rep and for a manager of 200 reps, with 1,000 reps and 200,000 or 1,000,000 deals.

Same database as bench/myperf.py (its `populate`), plus the stored process gaps of every open
deal (one gap scan), a few actions and goals and an open recovery plan for the rep, and a
director above 20 of the managers (200 reps under them). Measured in the same run, per database:
- baseline_rep: the one SQL query that sums the rep's closed-won amount for the quarter (with
  `is_closed` in it, so the (owner, closed, close date) index serves the date range);
- home_rep: `home_for` + `home_view` for the rep (scorecard, actions, goals, gaps, plan);
- handler_rep: a signed `app_home_opened` event dispatched through the Bolt app until the
  stand-in Slack has received the views.publish (listener thread and HTTP post included);
- baseline_team: the one SQL query that sums the 200 reps' closed-won amount for the quarter;
- home_manager, handler_manager: the same for the director (team summary of 200 reps, audited).

Each size is a fresh database in bench/myperf.py's layout (see bench/teamperf.py: from 200,000 to
1,000,000 deals only closed history of past years is added). Goals (issue 8): home_manager and
handler_manager at most 50 ms at 1,000,000 deals and within 1.5× of the same at 200,000.

Run: `python -m bench.home` (`--sizes 20000,100000` for a quick look). Writes bench/results/home.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Callable
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
from bot.blocks.home import home_view
from bot.coaching.gaps import scan_gaps
from bot.coaching.home import home_for
from bot.coaching.playbook import Playbook, load_playbook
from bot.database import make_engine, make_session_factory
from bot.models import Action, Deal, Goal, Person, RecoveryPlan
from bot.periods import period_containing
from bot.settings import Settings
from tests.support.signing import SIGNING_SECRET, sign
from tests.support.slack_standin import SlackStandIn

REP = "UREP500"
DIRECTOR = "UDIRECTOR"
TEAM_MANAGERS = 20  # of 10 reps each: 200 reps under the director


def add_home_data(engine: Engine, playbook: Playbook) -> None:
    """Stored gaps for every open deal, the rep's actions, goals and plan, and the director."""
    started = time.perf_counter()
    scan_gaps(make_session_factory(engine), playbook, NOW, default_timezone="America/New_York")
    scanned = time.perf_counter() - started
    with engine.begin() as connection:
        rep_id, manager_id = connection.execute(select(Person.id, Person.manager_id).where(Person.slack_user_id == REP)).one()
        connection.execute(
            insert(Action),
            [{"person_id": rep_id, "assigned_by_id": manager_id, "text": f"Action {n}: book the follow-up call", "status": "open",
              "due_date": NOW.date() + dt.timedelta(days=n - 6), "created_at": NOW} for n in range(12)],
        )  # fmt: skip
        connection.execute(
            insert(Goal),
            [{"person_id": rep_id, "set_by_id": manager_id, "competency": f"Competency {n}", "description": "Ask better questions",
              "progress": n / 4, "status": "open", "due_date": NOW.date() + dt.timedelta(days=20), "created_at": NOW} for n in range(3)],
        )  # fmt: skip
        connection.execute(
            insert(RecoveryPlan).values(
                person_id=rep_id, manager_id=manager_id, period_start=dt.date(2026, 10, 1), period_end=dt.date(2026, 12, 31),
                gap_amount=Decimal(90000), pipeline_to_add=Decimal(200000), currency="USD", status="open", opened_at=NOW,
            )
        )  # fmt: skip
        connection.execute(
            insert(Person).values(
                email="director@bench.example",
                name="Director",
                is_manager=True,
                slack_user_id=DIRECTOR,
                timezone="America/New_York",
                is_rep=False,
                is_coach=False,
                is_admin=False,
                active=True,
                created_at=NOW,
                updated_at=NOW,
            )  # fmt: skip
        )
        director_id = connection.scalar(select(Person.id).where(Person.slack_user_id == DIRECTOR))
        managers = connection.scalars(
            select(Person.id).where(Person.is_manager, Person.id != director_id).order_by(Person.id).limit(TEAM_MANAGERS)
        ).all()
        connection.execute(update(Person).where(Person.id.in_(managers)).values(manager_id=director_id))
    # Fresh statistics for the gaps just stored, as autovacuum (PostgreSQL) or a periodic
    # ANALYZE would have them; without them PostgreSQL scans every gap to find one rep's.
    analyze(engine)
    Console().print(f"  gap scan of the open deals: {scanned:.1f} s")


def event_body(user_id: str) -> str:
    event = {"type": "app_home_opened", "user": user_id, "channel": "D0001", "tab": "home", "event_ts": "1764082800.000100"}
    return json.dumps({"token": "x", "team_id": "T0001", "api_app_id": "A0001", "type": "event_callback", "event_id": "Ev1",
                       "event_time": 1764082800, "event": event})  # fmt: skip


def measure(url: str, runs: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    engine = make_engine(url)
    session_factory = make_session_factory(engine)
    playbook = load_playbook()
    quarter = period_containing("quarter", NOW, "America/New_York")
    in_quarter = Deal.close_date.between(quarter.start, quarter.end - dt.timedelta(days=1))
    with session_factory() as session:
        rep = session.scalar(select(Person).where(Person.slack_user_id == REP))
        director = session.scalar(select(Person).where(Person.slack_user_id == DIRECTOR))
        assert rep is not None and director is not None
        managers = select(Person.id).where(Person.manager_id == director.id)
        team_ids = session.scalars(select(Person.id).where(Person.manager_id.in_(managers), Person.is_rep)).all()
    assert len(team_ids) == 200, len(team_ids)

    def baseline(owner_ids: list[int]) -> Callable[[], object]:
        def run() -> object:
            with engine.connect() as connection:
                # is_closed too: the (owner, closed, close date) index then serves the date range.
                won = (Deal.is_closed.is_(True), Deal.is_won.is_(True), in_quarter)
                return connection.execute(select(func.sum(Deal.amount)).where(Deal.owner_id.in_(owner_ids), *won)).scalar()

        return run

    sizes: dict[str, int] = {}

    def build(person: Person, label: str) -> Callable[[], object]:
        def run() -> object:
            with session_factory() as session:
                data = home_for(session, person, NOW, playbook, default_timezone="America/New_York", default_currency="USD")
                view = home_view(data)
            sizes[f"{label}_blocks"] = len(view["blocks"])
            sizes[f"{label}_gaps"] = len(data.gaps)
            sizes[f"{label}_team_rows"] = len(data.team.rows) if data.team else 0
            return view

        return run

    slack = SlackStandIn().start()
    settings = Settings(slack_bot_token="xoxb-bench", slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.api_url,
                        database_url=url, timezone="America/New_York")  # type: ignore[call-arg]  # fmt: skip
    app = create_app(settings, session_factory=session_factory, playbook=playbook, clock=lambda: NOW)
    pool = ThreadPoolExecutor(max_workers=1)

    def handler(user_id: str) -> Callable[[], float]:
        body = event_body(user_id)

        def run() -> float:
            """Milliseconds from the signed event until the stand-in received the views.publish."""
            expected = len(slack.calls_to("views.publish")) + 1
            headers = sign(body) | {"content-type": "application/json"}
            started = time.perf_counter()
            dispatched = pool.submit(app.dispatch, BoltRequest(body=body, headers=headers))
            delivered = slack.wait_for("views.publish", expected, timeout=30)[-1]
            assert dispatched.result().status == 200
            assert delivered.body["user_id"] == user_id
            return (delivered.received_at - started) * 1000

        return run

    def samples(run: Callable[[], float]) -> list[float]:
        for _ in range(3):
            run()
        return [run() for _ in range(runs)]

    try:
        results = {
            "baseline_rep": timed(baseline([rep.id]), runs),
            "home_rep": timed(build(rep, "rep"), runs),
            "handler_rep": samples(handler(REP)),
            "baseline_team": timed(baseline(list(team_ids)), runs),
            "home_manager": timed(build(director, "manager"), runs, warmup=2),
            "handler_manager": samples(handler(DIRECTOR)),
        }
        return results, sizes
    finally:
        pool.shutdown()
        slack.stop()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument(
        "--sizes", default="200000,1000000", help="deal counts, each in a fresh database; the last is compared with the first"
    )
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--out", type=Path, default=Path("bench/results/home.json"))
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    console = Console()
    report: dict[str, object] = {
        "reps": args.reps,
        "sizes": sizes,
        "team_reps": TEAM_MANAGERS * 10,
        "runs": args.runs,
        "databases": {},
    }
    table = Table(title=f"App Home: {args.reps:,} reps, {args.runs} runs (ms)")
    for column in ("database", "deals", "measure", "median", "p95", "× its baseline"):
        table.add_column(column, justify="right")
    medians: dict[tuple[str, int, str], float] = {}

    for deals in sizes:
        for name, url, cleanup in sqlite_and_postgres(args.postgres_url, console):
            try:
                migrate(url)
                engine = make_engine(url)
                started = time.perf_counter()
                populate(engine, args.reps, deals)
                add_home_data(engine, load_playbook())
                engine.dispose()
                console.print(f"{name}, {deals:,} deals: populated in {time.perf_counter() - started:.1f} s")
                results, sizes_seen = measure(url, args.runs)
            finally:
                cleanup()
            summary: dict[str, object] = {"sizes": sizes_seen}
            for measure_name, values in results.items():
                base = median_p95(results["baseline_team" if measure_name.endswith(("manager", "team")) else "baseline_rep"])[0]
                median, p95 = median_p95(values)
                medians[(name, deals, measure_name)] = median
                summary[measure_name] = {"median_ms": round(median, 3), "p95_ms": round(p95, 3), "ratio": round(median / base, 2)}
                table.add_row(name, f"{deals:,}", measure_name, f"{median:.2f}", f"{p95:.2f}", f"{median / base:.1f}×")
            report["databases"].setdefault(name, {})[deals] = summary  # type: ignore[attr-defined,index]
            console.print(f"{name}: {sizes_seen}")
    console.print(table)
    report["growth"] = growth(medians, sizes, ("home_rep", "home_manager", "handler_manager"))
    for line in report["growth"]:  # type: ignore[attr-defined]
        console.print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    console.print(f"Figures written to {args.out}")


if __name__ == "__main__":
    main()
