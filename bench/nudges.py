"""Composing the morning nudges for N reps (default 10,000, 20 open deals each), on SQLite and PostgreSQL.

Set up per database: a head of sales, a manager per 10 reps (two teams with playbook overrides),
reps with Slack ids in four time zones, their open deals, the real gap scan (so reps have open
process gaps), then some gaps snoozed or nudged lately, and some actions and goals due.

Measured in the same run, per database, each in its own process (so peak memory is that run's):
- baseline: one plain SQL query that reads every open gap with its deal, for all reps at once;
- per-rep queries: for each rep, the plain reads a nudge needs (open gaps with deals, actions
  due, goals due) and nothing else: the floor under any rep-at-a-time loop;
- decide all: today's nudge for every rep at once, `morning_nudges(session, reps, ...)`: the
  reads and the choosing, nothing written (rolled back);
- nudges all: what `coachbot jobs run morning_nudge` does for every rep, `queue_morning_nudges(
  session, reps, ...)`: decide, render, enqueue, mark the gaps nudged, in one transaction; the
  goal is at most 3x the baseline. Its nudges are then taken back (outbox rows deleted, the
  gaps' nudge times set as before) for the next run;
- nudges one at a time: what the schedule does for each rep at their nudge time,
  `queue_morning_nudge(session, person, ...)`, committed every `--commit-every` reps (the
  schedule commits each rep with its claim; 1 gives that);
- idle: a process that imports the same modules and does nothing, the floor under every peak.

Run: `python -m bench.nudges --reps 1000` first; `python -m bench.nudges` for the 10,000.
PostgreSQL: COACHBOT_TEST_POSTGRES_URL or the local `test` database, in a private schema dropped
afterwards. Figures go to bench/results/nudges.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from bench.common import analyze, fresh_database, peak_rss_kb
from bot.coaching.gaps import scan_gaps
from bot.coaching.nudges import morning_nudges
from bot.coaching.playbook import Playbook, parse_playbook
from bot.database import make_engine, make_session_factory, session_scope
from bot.delivery.nudges import queue_morning_nudge, queue_morning_nudges
from bot.models import Action, Deal, Goal, OutboxMessage, Person, ProcessGap, ProductLine

# A Wednesday: 10:00 in New York, 07:00 in Los Angeles, 15:00 in London, Thursday 00:00 in Tokyo.
NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
DEFAULT_TIMEZONE = "UTC"
OPEN_STAGES = ("Prospecting", "Qualification", "Discovery", "Demo", "Proposal", "Negotiation")
LINES = ("Core Platform", "Analytics", "Services")
ZONES = ("America/New_York", "America/Los_Angeles", "Europe/London", "Asia/Tokyo")
HEAD = "head@bench.example"
BATCH = 10_000
RUN_NAMES = {"baseline": "baseline", "per_rep_queries": "per-rep queries", "decide_all": "decide all",
             "nudges_all": "nudges all", "nudges": "nudges one at a time"}  # fmt: skip
# Two teams change rules, so some reps get a team playbook (the head's applies to everyone).
TEAMS = f"""teams:
  {HEAD}:
    rules:
      no_activity: {{days: 10}}
  manager0@bench.example:
    rules:
      no_activity: {{days: 7, severity: high}}
    stages:
      Negotiation: {{max_days: 10}}
"""


def bench_playbook() -> Playbook:
    from importlib import resources

    default = resources.files("bot.coaching").joinpath("default_playbook.yml").read_text("utf-8")
    assert "teams: {}\n" in default
    return parse_playbook(default.replace("teams: {}\n", TEAMS), "bench playbook")


def populate(engine: Engine, reps: int, deals_per_rep: int, seed: int = 13) -> None:
    """People, open deals, actions and goals; the gap scan is run separately, as in production."""
    rng = random.Random(seed)
    person = {"created_at": NOW, "updated_at": NOW, "is_coach": False, "is_admin": False, "active": True}
    with engine.begin() as connection:
        connection.execute(insert(ProductLine), [{"name": line} for line in LINES])
        connection.execute(
            insert(Person), [{**person, "email": HEAD, "name": "Head of Sales", "is_manager": True, "is_rep": False}]
        )
        head_id = connection.scalar(select(Person.id).where(Person.email == HEAD))
        connection.execute(
            insert(Person),
            [{**person, "email": f"manager{m}@bench.example", "name": f"Manager {m}", "is_manager": True, "is_rep": False,
              "manager_id": head_id, "slack_user_id": f"UMGR{m}", "timezone": ZONES[m % len(ZONES)]}
             for m in range(reps // 10 + 1)],
        )  # fmt: skip
        manager_ids = connection.scalars(select(Person.id).where(Person.manager_id == head_id).order_by(Person.id)).all()
        connection.execute(
            insert(Person),
            [{**person, "email": f"rep{r}@bench.example", "name": f"Rep {r}", "is_rep": True, "is_manager": False,
              "manager_id": manager_ids[r // 10], "slack_user_id": f"UREP{r}", "timezone": ZONES[r % len(ZONES)]}
             for r in range(reps)],
        )  # fmt: skip
        rep_ids = connection.scalars(select(Person.id).where(Person.is_rep).order_by(Person.id)).all()
        batch: list[dict[str, object]] = []
        for number in range(reps * deals_per_rep):
            owner_index = number % len(rep_ids)
            line = rng.choice(LINES)
            entered = NOW - dt.timedelta(days=rng.randint(1, 40), hours=rng.randint(0, 23))
            batch.append(
                {"crm_source": "bench", "crm_id": f"N{number}", "owner_id": rep_ids[owner_index],
                 "crm_owner_key": f"rep{owner_index}", "name": f"Bench deal {number}",
                 "amount": Decimal(rng.randrange(2_000, 90_000, 500)) if rng.random() < 0.97 else None,
                 "currency": "USD", "stage": rng.choice(OPEN_STAGES), "is_closed": False, "is_won": False,
                 "created_at": entered - dt.timedelta(days=rng.randint(0, 60)), "stage_entered_at": entered,
                 "close_date": NOW.date() + dt.timedelta(days=rng.randint(-15, 90)) if rng.random() < 0.95 else None,
                 "next_step": "Call the buyer" if rng.random() < 0.75 else None,
                 "next_step_date": NOW.date() + dt.timedelta(days=rng.randint(-10, 14)),
                 "last_activity_at": NOW - dt.timedelta(days=rng.randint(0, 30)), "product_line": line,
                 "product_name": line, "account_name": f"Account {number % 5000}",
                 "crm_url": f"https://crm.example/deals/N{number}", "synced_at": NOW}
            )  # fmt: skip
            if len(batch) == BATCH:
                connection.execute(insert(Deal), batch)
                batch = []
        if batch:
            connection.execute(insert(Deal), batch)
        today = NOW.date()
        actions, goals = [], []
        for index, rep_id in enumerate(rep_ids):
            action = {"person_id": rep_id, "assigned_by_id": manager_ids[index // 10], "status": "open", "created_at": NOW}
            if index % 3 == 0:
                actions.append({**action, "text": "Send the mutual close plan", "due_date": today - dt.timedelta(days=2)})
            if index % 4 == 0:
                actions.append({**action, "text": "Book the pricing call", "due_date": today + dt.timedelta(days=1)})
            # Not due yet, and done: both left out of the nudge.
            actions.append({**action, "text": "Review the account plan", "due_date": today + dt.timedelta(days=10)})
            actions.append({**action, "text": "Update the forecast", "due_date": today - dt.timedelta(days=1), "status": "done"})
            goal = {"person_id": rep_id, "set_by_id": manager_ids[index // 10], "competency": "Discovery",
                    "description": "Run a full discovery call on every new deal.", "status": "open", "created_at": NOW}  # fmt: skip
            if index % 5 == 0:
                goals.append({**goal, "due_date": today + dt.timedelta(days=5), "progress": 0.4})
            goals.append({**goal, "competency": "Negotiation", "due_date": today + dt.timedelta(days=60), "progress": 0.1})
        connection.execute(insert(Action), actions)
        connection.execute(insert(Goal), goals)
    analyze(engine)


def age_gaps(engine: Engine) -> None:
    """After the scan: some gaps snoozed past today, some nudged lately (left out), some long ago (due again)."""
    with engine.begin() as connection:
        connection.execute(update(ProcessGap).where(ProcessGap.id % 19 == 0).values(snoozed_until=NOW.date() + dt.timedelta(days=5), snooze_reason="Buyer on holiday"))  # fmt: skip
        _nudged_before(connection)
    analyze(engine)


def _nudged_before(connection: Connection) -> None:
    connection.execute(update(ProcessGap).values(last_nudged_at=None))
    connection.execute(update(ProcessGap).where(ProcessGap.id % 7 == 1).values(last_nudged_at=NOW - dt.timedelta(days=1)))
    connection.execute(update(ProcessGap).where(ProcessGap.id % 7 == 2).values(last_nudged_at=NOW - dt.timedelta(days=6)))


def take_back_nudges(engine: Engine) -> None:
    """Undo a nudge run: its outbox rows gone, every gap's nudge time as age_gaps left it."""
    with engine.begin() as connection:
        connection.execute(delete(OutboxMessage).where(OutboxMessage.kind == "nudge"))
        _nudged_before(connection)
    analyze(engine)


def _open_gaps_with_deals():  # type: ignore[no-untyped-def]
    return (
        select(ProcessGap.id, ProcessGap.rule, ProcessGap.severity, ProcessGap.detail, ProcessGap.snoozed_until,
               ProcessGap.last_nudged_at, Deal.owner_id, Deal.name, Deal.crm_url, Deal.amount, Deal.stage, Deal.crm_probability)
        .join(Deal, Deal.id == ProcessGap.deal_id)
        .where(ProcessGap.resolved_at.is_(None), Deal.is_closed.is_(False), Deal.deleted_at.is_(None))
    )  # fmt: skip


def worker(mode: str, url: str, commit_every: int) -> None:
    """One measured run in this process; prints a JSON line (seconds, per-rep ms, peak memory, counts)."""
    engine = make_engine(url)
    session_factory = make_session_factory(engine)
    result: dict[str, object] = {}
    per_rep: list[float] = []
    started = time.perf_counter()
    if mode == "baseline":
        rows, stake = 0, 0.0
        with engine.connect() as connection:
            # A server-side cursor on PostgreSQL: streamed, not held whole in memory.
            for row in connection.execution_options(stream_results=True, yield_per=5_000).execute(_open_gaps_with_deals()):
                rows += 1
                stake += float(row.amount or 0)
        result = {"rows": rows}
    elif mode == "per_rep_queries":
        today = NOW.date()
        rows = 0
        with engine.connect() as connection:
            rep_ids = connection.scalars(
                select(Person.id)
                .where(Person.active.is_(True), Person.slack_user_id.is_not(None), Person.is_rep)
                .order_by(Person.name)
            ).all()
            for rep_id in rep_ids:
                rep_started = time.perf_counter()
                rows += len(connection.execute(_open_gaps_with_deals().where(Deal.owner_id == rep_id)).all())
                rows += len(connection.execute(select(Action.id, Action.text, Action.due_date).where(
                    Action.person_id == rep_id, Action.status == "open", Action.due_date <= today + dt.timedelta(days=1))).all())  # fmt: skip
                rows += len(connection.execute(select(Goal.id, Goal.competency, Goal.due_date, Goal.progress).where(
                    Goal.person_id == rep_id, Goal.status == "open", Goal.due_date <= today + dt.timedelta(days=7))).all())  # fmt: skip
                per_rep.append((time.perf_counter() - rep_started) * 1000)
        result = {"rows": rows}
    elif mode in ("decide_all", "nudges_all"):
        playbook = bench_playbook()
        with session_factory() as session:
            reps = session.scalars(
                select(Person)
                .where(Person.active.is_(True), Person.slack_user_id.is_not(None), Person.is_rep)
                .order_by(Person.name)
            ).all()
            if mode == "decide_all":
                result = {"queued": len(morning_nudges(session, reps, playbook, NOW, DEFAULT_TIMEZONE))}
                session.rollback()
            else:
                result = {"queued": queue_morning_nudges(session, reps, playbook, NOW, DEFAULT_TIMEZONE)}
                session.commit()
    elif mode == "nudges":
        playbook = bench_playbook()
        # The schedule's read of who is due a nudge, then each rep in turn.
        with session_factory() as session:
            reps = session.scalars(
                select(Person)
                .where(Person.active.is_(True), Person.slack_user_id.is_not(None), Person.is_rep)
                .order_by(Person.name)
            ).all()
        queued = 0
        for start in range(0, len(reps), commit_every):
            with session_scope(session_factory) as session:
                for rep in reps[start : start + commit_every]:
                    rep_started = time.perf_counter()
                    queued += queue_morning_nudge(session, rep, playbook, NOW, DEFAULT_TIMEZONE)
                    per_rep.append((time.perf_counter() - rep_started) * 1000)
        result = {"queued": queued}
    result["seconds"] = time.perf_counter() - started
    if per_rep:
        result["reps"] = len(per_rep)
        result["per_rep_median_ms"] = statistics.median(per_rep)
        result["per_rep_p95_ms"] = statistics.quantiles(per_rep, n=20)[-1] if len(per_rep) > 1 else per_rep[0]
    result["peak_kb"] = peak_rss_kb()
    engine.dispose()
    print(json.dumps(result))


def measure(mode: str, url: str, commit_every: int = 1) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.nudges", "--worker", mode, url, str(commit_every)],
        capture_output=True,
        text=True,
        timeout=7200,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_database(kind: str, scratch: str, reps: int, deals_per_rep: int, commit_every: int, console: Console) -> dict:
    with fresh_database(kind, scratch) as url:
        engine = make_engine(url)
        started = time.perf_counter()
        populate(engine, reps, deals_per_rep)
        stored = time.perf_counter() - started
        started = time.perf_counter()
        scan = scan_gaps(make_session_factory(engine), bench_playbook(), NOW, default_timezone=DEFAULT_TIMEZONE)
        scanned = time.perf_counter() - started
        age_gaps(engine)
        with engine.connect() as connection:
            data = {
                "people": connection.scalar(select(func.count()).select_from(Person)),
                "open_deals": connection.scalar(select(func.count()).where(Deal.is_closed.is_(False))),
                "open_gaps": connection.scalar(select(func.count()).where(ProcessGap.resolved_at.is_(None))),
                "actions": connection.scalar(select(func.count()).select_from(Action)),
                "goals": connection.scalar(select(func.count()).select_from(Goal)),
            }
        engine.dispose()
        console.print(
            f"{kind}: {data['open_deals']:,} open deals for {reps:,} reps stored in {stored:.0f} s; "
            f"gap scan {scanned:.0f} s opened {scan.opened:,} gaps"
        )
        runs = {
            "baseline": measure("baseline", url),
            "per_rep_queries": measure("per_rep_queries", url),
            "decide_all": measure("decide_all", url),
            "nudges_all": measure("nudges_all", url),
        }
        engine = make_engine(url)
        queued_all = _queued(engine)
        take_back_nudges(engine)
        runs["nudges"] = measure("nudges", url, commit_every)
        # The same nudges, whichever way they were composed.
        assert queued_all == _queued(engine), "the two nudge runs queued or marked different things"
        counts = {runs[run]["queued"] for run in ("decide_all", "nudges_all", "nudges")}
        assert counts == {len(queued_all) - 1}, (counts, len(queued_all) - 1)
        engine.dispose()
        return {"data": data, "gap_scan_seconds": round(scanned, 1), **runs}


def _queued(engine: Engine) -> list[tuple[str, str]]:
    """Every nudge in the outbox (key and text), and every gap marked nudged now, to compare two runs by."""
    with engine.connect() as connection:
        outbox = connection.execute(
            select(OutboxMessage.dedupe_key, OutboxMessage.payload).where(OutboxMessage.kind == "nudge")
        ).all()
        marked = connection.scalars(select(ProcessGap.id).where(ProcessGap.last_nudged_at == NOW).order_by(ProcessGap.id)).all()
    return sorted((key, json.dumps(payload, sort_keys=True)) for key, payload in outbox) + [("marked", str(marked))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--deals-per-rep", type=int, default=20)
    parser.add_argument("--commit-every", type=int, default=100, help="reps per transaction in the nudge run")
    parser.add_argument("--database", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--out", type=Path, default=Path("bench/results/nudges.json"))
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "URL", "COMMIT_EVERY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        mode, url, commit_every = args.worker
        worker(mode, url, int(commit_every))
        return
    console = Console(width=max(Console().width, 150))
    idle = measure("idle", "sqlite://")
    report: dict[str, object] = {
        "reps": args.reps, "deals_per_rep": args.deals_per_rep, "commit_every": args.commit_every,
        "idle_peak_mb": round(idle["peak_kb"] / 1024, 1), "databases": {},
    }  # fmt: skip
    table = Table(
        title=f"Morning nudges: {args.reps:,} reps, {args.reps * args.deals_per_rep:,} open deals, "
        f"commit every {args.commit_every} reps (idle process {report['idle_peak_mb']} MB)"
    )
    for column in ("database", "open gaps", "run", "seconds", "× baseline", "per rep median ms", "p95 ms",
                   "× per-rep median", "rows / queued", "peak MB"):  # fmt: skip
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory(prefix="coachbot-bench-nudges-") as scratch:
        for kind in args.database:
            try:
                figures = run_database(kind, scratch, args.reps, args.deals_per_rep, args.commit_every, console)
            except Exception as exc:  # noqa: BLE001 - an unreachable PostgreSQL skips its half
                console.print(f"[yellow]{kind} skipped: {type(exc).__name__}: {str(exc)[:200]}[/yellow]")
                continue
            base = figures["baseline"]["seconds"]
            per_rep_base = figures["per_rep_queries"]["per_rep_median_ms"]
            for run in ("baseline", "per_rep_queries", "decide_all", "nudges_all", "nudges"):
                run_figures = figures[run]
                figures[run]["ratio_to_baseline"] = round(run_figures["seconds"] / base, 2)
                median = run_figures.get("per_rep_median_ms")
                if median is not None:
                    figures[run]["ratio_to_per_rep_queries"] = round(median / per_rep_base, 2)
                table.add_row(
                    kind, f"{figures['data']['open_gaps']:,}", RUN_NAMES[run], f"{run_figures['seconds']:.2f}",
                    f"{run_figures['seconds'] / base:.1f}×",
                    "" if median is None else f"{median:.2f}",
                    "" if median is None else f"{run_figures['per_rep_p95_ms']:.2f}",
                    "" if median is None else f"{median / per_rep_base:.1f}×",
                    f"{run_figures.get('queued', run_figures.get('rows')):,}", f"{run_figures['peak_kb'] / 1024:.0f}",
                )  # fmt: skip
            report["databases"][kind] = figures  # type: ignore[index]
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    console.print(f"Figures written to {args.out}")


if __name__ == "__main__":
    main()
