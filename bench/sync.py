"""CRM sync ingest: `coachbot sync` from a loopback stand-in serving N deals, against two floors
measured in the same run: fetching and parsing every page, and raw Core inserts of the rows stored.

For each CRM stand-in and each database (SQLite; PostgreSQL when reachable) it measures:
- the first (full) sync of N deals: its time, and the sync process's peak RSS at N and at N/10
  deals (memory must not grow with the number of deals);
- the fetch floor: every request that sync sent (the stand-in records them), sent again in order
  to the same stand-in process through coachbot's own HTTP client (CrmHttpClient), each answer
  parsed as JSON and dropped;
- the insert floor: every row the sync stored (deals and their stage history) inserted again with
  Core executemany into an empty copy of the schema, 1,000 rows a statement, one transaction;
- ratio = sync ÷ (fetch floor + insert floor); the goal is at most 2;
- a second sync with nothing changed (it must fetch only the overlap and write nothing);
- a sync after 1,000 deals changed (it must fetch about that many and update them).
Each sync and the fetch floor run in their own process (`python -m bench.sync_worker`) against a
stand-in served from another process, so neither the server nor the floors share the sync's
interpreter.

Run: `python -m bench.sync --deals 100000` (`--crm pipedrive hubspot salesforce`, `--database sqlite postgresql`).
"""

from __future__ import annotations

import argparse
import base64
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
from bot.models import Deal, DealStageHistory

CHANGED = 1_000
# Request headers the replay sends again: the rest (Host, Content-Length, ...) httpx sets itself.
_HOP_HEADERS = frozenset({"host", "content-length", "connection", "accept-encoding", "user-agent"})


def _serve(crm: str, deals: int, port_pipe) -> None:  # type: ignore[no-untyped-def]
    """The stand-in process: builds the CRM's stand-in and serves it, plus a bench control path."""
    import httpx

    from bench.sync_worker import STANDINS
    from tests.support.loopback import LoopbackServer

    build, change, _ = STANDINS[crm]
    standin = build(deals)
    recorded: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/__bench/change":
            change(standin, int(request.url.params["count"]))
            return httpx.Response(200, json={"ok": True})
        if request.url.path == "/__bench/requests":
            # What was asked since the last look, for the fetch floor to send again.
            answer = httpx.Response(200, json=recorded[:])
            recorded.clear()
            return answer
        recorded.append(
            {
                "method": request.method,
                "url": request.url.raw_path.decode(),
                "headers": {name: value for name, value in request.headers.items() if name.lower() not in _HOP_HEADERS},
                "content": base64.b64encode(request.content).decode(),
            }
        )
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

    def requests(self) -> list[dict[str, object]]:
        """The requests served since the last call (the recording starts empty)."""
        import httpx

        response = httpx.get(f"{self.url}/__bench/requests", timeout=60)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        self.process.kill()
        self.process.join()


def worker(*arguments: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.sync_worker", *arguments], capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def fetch_floor(standin: StandInProcess, scratch: str) -> dict:
    """Seconds to send again every request the last sync sent, parsing each answer, in a fresh process."""
    requests = standin.requests()
    requests_file = Path(scratch) / "requests.json"
    requests_file.write_text(json.dumps(requests))
    floor = worker("--replay", standin.url, str(requests_file))
    standin.requests()  # the replay's own requests are no sync's
    return floor


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


def insert_floor(source_url: str, target_url: str) -> dict:
    """Seconds for Core executemany of every row the sync stored (deals, stage history) into an empty schema."""
    source, target = make_engine(source_url), make_engine(target_url)
    tables = (Deal.__table__, DealStageHistory.__table__)
    with source.connect() as connection:
        rows = {table.name: [dict(row._mapping) for row in connection.execute(select(table))] for table in tables}
    for row in rows["deals"]:
        row["owner_id"] = None  # the target has no people
    started = time.perf_counter()
    with target.begin() as connection:
        for table in tables:
            for start in range(0, len(rows[table.name]), 1000):
                connection.execute(insert(table), rows[table.name][start : start + 1000])
    seconds = time.perf_counter() - started
    source.dispose()
    target.dispose()
    return {"seconds": seconds, "deals": len(rows["deals"]), "history": len(rows["deal_stage_history"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--crm", nargs="+", default=["pipedrive", "hubspot", "salesforce"])
    parser.add_argument("--database", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--out", type=Path, default=Path("bench/results/sync.json"))
    args = parser.parse_args()
    console = Console(width=200)
    results = []
    table = Table(title=f"coachbot sync from a loopback stand-in, {args.deals:,} deals")
    for column in ("crm", "db", "sync s", "deals/s", "fetch floor s", "insert floor s", "sync ÷ (fetch + insert)",
                   f"peak RSS {args.deals // 10:,} → {args.deals:,}", "2nd sync fetched/written",
                   f"after {CHANGED:,} changed: fetched/updated"):  # fmt: skip
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
                    fetch = fetch_floor(standin, databases.scratch.name)
                    inserts = insert_floor(url, databases.fresh())
                    second = worker(crm, standin.url, url)
                    standin.change(CHANGED)
                    third = worker(crm, standin.url, url)
                finally:
                    standin.stop()
                floor = fetch["seconds"] + inserts["seconds"]
                result = {
                    "crm": crm, "database": kind, "deals": args.deals, "stored": first["created"],
                    "sync_seconds": round(first["seconds"], 2), "sync_deals_per_s": round(first["created"] / first["seconds"]),
                    "fetch_floor_seconds": round(fetch["seconds"], 2), "fetch_floor_requests": fetch["requests"],
                    "insert_floor_seconds": round(inserts["seconds"], 2), "insert_floor_rows": {"deals": inserts["deals"], "stage_history": inserts["history"]},
                    "ratio": round(first["seconds"] / floor, 2),
                    "peak_rss_mb_small": round(small_run["max_rss_kb"] / 1024, 1),
                    "peak_rss_mb": round(first["max_rss_kb"] / 1024, 1),
                    "second": second, "after_change": third,
                }  # fmt: skip
                results.append(result)
                table.add_row(
                    crm, kind, f"{first['seconds']:.1f}", f"{result['sync_deals_per_s']:,}", f"{fetch['seconds']:.1f}",
                    f"{inserts['seconds']:.1f}", f"{result['ratio']:.2f}",
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
