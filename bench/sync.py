"""CRM sync ingest: `coachbot sync` from a loopback stand-in serving N deals, against raw
SQLAlchemy Core `executemany` inserts of the same rows into the same database, in the same run.

For each CRM stand-in and each database (SQLite; PostgreSQL when reachable) it measures:
- the first (full) sync: deals a second, and the sync process's peak RSS at N and at N/10 deals
  (memory must not grow with the number of deals);
- the raw baseline: the stored deal rows inserted again with Core executemany into an empty copy
  of the schema, 1,000 rows a statement, one transaction;
- a second sync with nothing changed (it must fetch only the overlap and write nothing);
- a sync after 1,000 deals changed (it must fetch about that many and update them).
Each sync runs in its own process (`python -m bench.sync_worker`) against a stand-in served from
another process, so neither the server nor the baseline shares the sync's interpreter.

Run: `python -m bench.sync --deals 100000` (`--crm pipedrive hubspot salesforce`).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import insert, select

from bench.common import POSTGRES_URL, admin_engine, create_schema, drop_schema, migrate, new_schema_name, schema_url, sqlite_url

from bot.database import make_engine
from bot.models import Deal

CHANGED = 1_000


def _serve(crm: str, deals: int, port_pipe) -> None:  # type: ignore[no-untyped-def]
    """The stand-in process: builds the CRM's stand-in and serves it, plus a bench control path."""
    import httpx

    from bench.sync_worker import STANDINS
    from tests.support.loopback import LoopbackServer

    build, change, _ = STANDINS[crm]
    standin = build(deals)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/__bench/change":
            change(standin, int(request.url.params["count"]))
            return httpx.Response(200, json={"ok": True})
        return standin(request)

    server = LoopbackServer(handler).start()
    if hasattr(standin, "base_url"):
        standin.base_url = server.url  # Salesforce hands out absolute URLs on its instance
    port_pipe.send(server.url)
    while True:
        time.sleep(3600)


class StandInProcess:
    def __init__(self, crm: str, deals: int) -> None:
        receiver, sender = multiprocessing.Pipe(duplex=False)
        self.process = multiprocessing.get_context("fork").Process(target=_serve, args=(crm, deals, sender), daemon=True)
        self.process.start()
        self.url: str = receiver.recv()

    def change(self, count: int) -> None:
        import httpx

        httpx.get(f"{self.url}/__bench/change", params={"count": count}, timeout=60).raise_for_status()

    def stop(self) -> None:
        self.process.kill()
        self.process.join()


def worker(crm: str, crm_url: str, database_url: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.sync_worker", crm, crm_url, database_url], capture_output=True, text=True, timeout=1800
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


class Databases:
    """Fresh, migrated databases of one kind, dropped at the end."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.scratch = tempfile.TemporaryDirectory(prefix="coachbot-bench-sync-")
        self.schemas: list[str] = []
        self.admin = admin_engine() if kind == "postgresql" else None

    def fresh(self) -> str:
        if self.admin is None:
            url = sqlite_url(self.scratch.name)
        else:
            schema = new_schema_name()
            create_schema(self.admin, schema)
            self.schemas.append(schema)
            url = schema_url(POSTGRES_URL, schema)
        migrate(url)
        return url

    def close(self) -> None:
        if self.admin is not None:
            for schema in self.schemas:
                drop_schema(self.admin, schema)
            self.admin.dispose()
        self.scratch.cleanup()


def raw_insert_rate(source_url: str, target_url: str) -> tuple[int, float]:
    """Rows a second for Core executemany of the rows the sync stored, into an empty schema."""
    source, target = make_engine(source_url), make_engine(target_url)
    columns = [column for column in Deal.__table__.columns if column.name != "id"]
    with source.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(select(*columns))]
    for row in rows:
        row["owner_id"] = None  # the target has no people
    started = time.perf_counter()
    with target.begin() as connection:
        for start in range(0, len(rows), 1000):
            connection.execute(insert(Deal), rows[start : start + 1000])
    elapsed = time.perf_counter() - started
    source.dispose()
    target.dispose()
    return len(rows), len(rows) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--crm", nargs="+", default=["pipedrive", "hubspot", "salesforce"])
    parser.add_argument("--database", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--out", type=Path, default=Path("bench/results/sync.json"))
    args = parser.parse_args()
    console = Console()
    results = []
    table = Table(title=f"coachbot sync from a loopback stand-in, {args.deals:,} deals")
    for column in ("crm", "db", "sync deals/s", "raw rows/s", "sync ÷ raw", f"peak RSS {args.deals // 10:,} → {args.deals:,}",
                   "2nd sync fetched/written", f"after {CHANGED:,} changed: fetched/updated"):  # fmt: skip
        table.add_column(column, justify="right")
    for kind in args.database:
        try:
            databases = Databases(kind)
            databases.fresh()
        except Exception as exc:  # noqa: BLE001
            console.print(f"[yellow]{kind} skipped: {type(exc).__name__}[/yellow]")
            continue
        try:
            for crm in args.crm:
                small = StandInProcess(crm, args.deals // 10)
                try:
                    small_run = worker(crm, small.url, databases.fresh())
                finally:
                    small.stop()
                standin = StandInProcess(crm, args.deals)
                try:
                    url = databases.fresh()
                    first = worker(crm, standin.url, url)
                    rows, raw_rate = raw_insert_rate(url, databases.fresh())
                    second = worker(crm, standin.url, url)
                    standin.change(CHANGED)
                    third = worker(crm, standin.url, url)
                finally:
                    standin.stop()
                rate = first["created"] / first["seconds"]
                result = {
                    "crm": crm, "database": kind, "deals": args.deals, "stored": first["created"],
                    "sync_seconds": round(first["seconds"], 2), "sync_deals_per_s": round(rate),
                    "raw_rows": rows, "raw_rows_per_s": round(raw_rate), "ratio": round(rate / raw_rate, 3),
                    "peak_rss_mb_small": round(small_run["max_rss_kb"] / 1024, 1),
                    "peak_rss_mb": round(first["max_rss_kb"] / 1024, 1),
                    "second": second, "after_change": third,
                }  # fmt: skip
                results.append(result)
                table.add_row(
                    crm, kind, f"{rate:,.0f}", f"{raw_rate:,.0f}", f"{rate / raw_rate:.2f}",
                    f"{result['peak_rss_mb_small']} → {result['peak_rss_mb']} MB",
                    f"{second['fetched']:,} / {second['created'] + second['updated']:,}",
                    f"{third['fetched']:,} / {third['updated']:,}",
                )  # fmt: skip
                console.print(result)
        finally:
            databases.close()
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
