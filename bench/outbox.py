"""Outbox drain rate against a stand-in Slack that enforces chat.postMessage's limits.

Slack allows about 1 message a second per channel and "several hundred messages per minute"
for the workspace (docs.slack.dev/reference/methods/chat.postMessage; 300 a minute is the low
end we assume). The goal: no 429 in steady state, at least 90% of the allowed rate. Two
workloads per database (SQLite; PostgreSQL when reachable): many messages spread over many
channels (the workspace budget binds) and many to one channel (the channel's limit binds).

At Slack's own limits that takes over ten minutes, so by default every limit is scaled up 20×
(and the stand-in's answer time, about Slack's 200 ms, scaled down alike): the ratios are what
matter. `--per-channel-per-second 1 --global-per-minute 300 --slack-latency 0.2` runs it at
Slack's real pace.

Run: `python -m bench.outbox` (`--messages 2000 --channels 200 --one-channel 300`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from slack_sdk import WebClient
from sqlalchemy import func, select

from bench.common import POSTGRES_URL, fresh_database, postgres_reachable
from bot.database import make_engine, make_session_factory, session_scope
from bot.messaging.outbox import enqueue
from bot.messaging.sender import PostLimiter, drain
from bot.models import OutboxMessage
from tests.support.slack_standin import SlackLimits, SlackStandIn

RESULTS = Path(__file__).resolve().parent / "results" / "outbox.json"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Acme renewal* has no next step. Add one?"}}]


def run_workload(database: str, url: str, name: str, messages: int, channels: int, args: argparse.Namespace) -> dict:
    engine = make_engine(url)
    session_factory = make_session_factory(engine)
    now = dt.datetime.now(dt.UTC)
    recipients = [f"U{n:08d}" for n in range(channels)]
    with session_scope(session_factory) as session:
        for n in range(messages):
            enqueue(session, key=f"bench:{name}:{n}", recipient=recipients[n % channels], kind="nudge",
                    text=f"{name} message {n}", blocks=BLOCKS, now=now)  # fmt: skip
    limits = SlackLimits(
        per_channel_per_second=args.per_channel_per_second,
        per_channel_burst=args.per_channel_burst,
        global_per_minute=args.global_per_minute,
        global_burst=args.global_burst,
    )
    slack = SlackStandIn(limits=limits, latency=args.slack_latency).start()
    try:
        client = WebClient(token="xoxb-bench", base_url=slack.api_url, timeout=10, retry_handlers=[])
        limiter = PostLimiter(per_channel_per_second=args.per_channel_per_second, global_per_minute=args.global_per_minute)
        started = time.perf_counter()
        # A real clock: a 429 (if any) makes its row due again within the same drain.
        summary = drain(session_factory, client, lambda: dt.datetime.now(dt.UTC), instance="bench",
                        limiter=limiter, workers=args.workers)  # fmt: skip
        elapsed = time.perf_counter() - started
        posted = list(slack.messages)
        arrivals = sorted(call.received_at for call in slack.calls_to("chat.postMessage"))
    finally:
        slack.stop()
    with session_factory() as session:
        sent_rows = session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent"))
    engine.dispose()

    allowed = min(args.global_per_minute / 60, channels * args.per_channel_per_second)
    rate = len(posted) / elapsed
    # Steady state: the first messages ride the buckets' bursts, so the pace is measured from the
    # 10th arrival to the last.
    steady = (len(arrivals) - 10) / (arrivals[-1] - arrivals[9]) if len(arrivals) > 20 else rate
    return {
        "database": database, "workload": name, "messages": messages, "channels": channels,
        "allowed_per_second": round(allowed, 2), "measured_per_second": round(rate, 2),
        "steady_per_second": round(steady, 2), "percent_of_allowed": round(100 * rate / allowed, 1),
        "steady_percent_of_allowed": round(100 * steady / allowed, 1),
        "http_429": slack.rate_limited, "elapsed_seconds": round(elapsed, 2),
        "sent_rows": sent_rows, "posted": len(posted), "duplicates": len(posted) - len({m.text for m in posted}),
        "summary": {"sent": summary.sent, "retried": summary.retried, "parked": summary.parked, "uncertain": summary.uncertain},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000, help="messages spread over --channels")
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--one-channel", type=int, default=300, help="messages to a single channel")
    parser.add_argument("--per-channel-per-second", type=float, default=20.0, help="Slack: 1 (scaled 20x by default)")
    parser.add_argument("--global-per-minute", type=float, default=6000.0, help="Slack: several hundred; we assume 300")
    parser.add_argument("--per-channel-burst", type=int, default=3, help="the stand-in's tolerance for bursts")
    parser.add_argument("--global-burst", type=int, default=10)
    parser.add_argument("--slack-latency", type=float, default=0.01, help="seconds each stand-in answer takes")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--database", nargs="*", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    console = Console(width=None if sys.stdout.isatty() else 170)

    databases = [kind for kind in args.database if kind == "sqlite" or postgres_reachable()]
    for skipped in sorted(set(args.database) - set(databases)):
        console.print(f"[yellow]{skipped}: not reachable at {POSTGRES_URL}, skipped[/yellow]")
    workloads = [("spread", args.messages, args.channels), ("one channel", args.one_channel, 1)]
    results = []
    with tempfile.TemporaryDirectory(prefix="coachbot-bench-outbox-") as scratch:
        for database in databases:
            for name, messages, channels in workloads:
                with fresh_database(database, scratch) as url:
                    console.print(f"{database}: {name}, {messages:,} messages to {channels:,} channel(s)…")
                    results.append(run_workload(database, url, name, messages, channels, args))

    table = Table(title="Outbox drain against a rate-limited stand-in Slack")
    for column in ("database", "workload", "messages", "channels", "allowed/s", "measured/s", "of allowed",
                   "steady/s", "steady of allowed", "429s", "seconds", "duplicates"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("database", "workload") else "right")
    for r in results:
        table.add_row(
            r["database"], r["workload"], f"{r['messages']:,}", f"{r['channels']:,}", f"{r['allowed_per_second']:g}",
            f"{r['measured_per_second']:.1f}", f"{r['percent_of_allowed']:.1f}%", f"{r['steady_per_second']:.1f}",
            f"{r['steady_percent_of_allowed']:.1f}%", str(r["http_429"]), f"{r['elapsed_seconds']:.1f}", str(r["duplicates"]),
        )  # fmt: skip
    console.print(table)
    console.print(
        f"Limits: {args.per_channel_per_second:g}/s per channel (burst {args.per_channel_burst}), "
        f"{args.global_per_minute:g}/min for the workspace (burst {args.global_burst}); "
        f"stand-in answers in {args.slack_latency * 1000:g} ms; {args.workers} workers.",
        highlight=False,
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"parameters": vars(args), "results": results}, indent=2) + "\n")
    console.print(f"Wrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    main()
