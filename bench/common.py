"""Set-up and measuring helpers shared by the benchmarks in bench/.

Databases: the PostgreSQL URL (COACHBOT_TEST_POSTGRES_URL or the local `test` database), a
private schema per run reached through a `search_path` option in the URL and dropped afterwards,
SQLite files in a scratch directory, and migrating a fresh database. Measuring: timing loops with
a warm-up, median and p95 of a list of samples, a process's own peak RSS, and ANALYZE.

It imports what every benchmark importing it already did (SQLAlchemy, bot.database, bot.migrate),
so the measured worker processes (and their idle floor) carry the same modules as before.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, text

from bot.database import make_engine
from bot.migrate import upgrade

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_URL = os.environ.get("COACHBOT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def sqlite_url(directory: str, name: str | None = None) -> str:
    """A SQLite file in `directory`: `name`, or a fresh random name."""
    return f"sqlite:///{directory}/{name or uuid.uuid4().hex[:8] + '.db'}"


def new_schema_name() -> str:
    """A fresh private schema name for one benchmark database."""
    return f"coachbot_bench_{uuid.uuid4().hex[:8]}"


def schema_url(postgres_url: str, schema: str) -> str:
    """`postgres_url` with every connection's search_path set to `schema`."""
    return f"{postgres_url}?options=-csearch_path%3D{schema}"


def admin_engine(postgres_url: str = POSTGRES_URL) -> Engine:
    """An engine on the PostgreSQL database itself, giving up after 3 s if it is not reachable."""
    return make_engine(postgres_url, connect_args={"connect_timeout": 3})


def create_schema(admin: Engine, schema: str) -> None:
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))


def drop_schema(admin: Engine, schema: str) -> None:
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def postgres_reachable(postgres_url: str = POSTGRES_URL) -> bool:
    """Whether a connection to `postgres_url` opens within 3 s."""
    try:
        engine = admin_engine(postgres_url)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        return False


def migrate(url: str) -> None:
    """Bring the database at `url` to the latest migration."""
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


@contextmanager
def fresh_database(kind: str, scratch: str, postgres_url: str = POSTGRES_URL) -> Iterator[str]:
    """A migrated, empty database: a SQLite file in `scratch` ("sqlite"), or a private PostgreSQL
    schema dropped afterwards (anything else). Yields its URL."""
    if kind == "sqlite":
        url, admin, schema = sqlite_url(scratch), None, ""
    else:
        schema = new_schema_name()
        admin = admin_engine(postgres_url)
        create_schema(admin, schema)
        url = schema_url(postgres_url, schema)
    try:
        migrate(url)
        yield url
    finally:
        if admin is not None:
            drop_schema(admin, schema)
            admin.dispose()


def sqlite_and_postgres(postgres_url: str, console: Any) -> Iterator[tuple[str, str, Callable[[], None]]]:
    """(name, URL, cleanup) for an empty SQLite file, then for a private PostgreSQL schema; the
    PostgreSQL one is skipped, with a note on `console`, when the server cannot be reached.
    Neither is migrated; call each cleanup when done with that database."""
    import tempfile

    scratch = tempfile.TemporaryDirectory(prefix="coachbot-bench-")
    yield "sqlite", sqlite_url(scratch.name, "bench.db"), scratch.cleanup
    schema = new_schema_name()
    try:
        admin = admin_engine(postgres_url)
        create_schema(admin, schema)
    except Exception as exc:  # noqa: BLE001
        console.print(f"[yellow]PostgreSQL skipped: {postgres_url} not reachable ({type(exc).__name__})[/yellow]")
        return

    def drop() -> None:
        drop_schema(admin, schema)
        admin.dispose()

    yield "postgresql", schema_url(postgres_url, schema), drop


def analyze(engine: Engine, vacuum: bool = False) -> None:
    """Refresh the planner's statistics (ANALYZE; VACUUM ANALYZE on PostgreSQL when `vacuum`)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE" if vacuum else "ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))


def timed(action: Callable[[], object], runs: int, warmup: int = 5) -> list[float]:
    """Milliseconds for each of `runs` calls of `action`, after `warmup` unmeasured calls."""
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def median_p95(samples: list[float]) -> tuple[float, float]:
    """The median and the 95th percentile of `samples` (at least two)."""
    return statistics.median(samples), statistics.quantiles(samples, n=20)[-1]


def peak_rss_kb() -> int:
    """This process's own peak RSS in KiB (VmHWM). Not getrusage's ru_maxrss, except where there
    is no /proc: Linux carries that across exec from the forking parent, so a worker started by a
    big parent would report the parent's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def growth(medians: dict[tuple[str, int, str], float], sizes: list[int], measures: tuple[str, ...]) -> list[str]:
    """How the median grew from the first size to the last, per database and measure."""
    lines = []
    for name in sorted({key[0] for key in medians}):
        for measure_name in measures:
            first, last = medians.get((name, sizes[0], measure_name)), medians.get((name, sizes[-1], measure_name))
            if first and last and len(sizes) > 1:
                lines.append(
                    f"{name} {measure_name}: {last:.1f} ms at {sizes[-1]:,} deals = {last / first:.2f}× its {first:.1f} ms at {sizes[0]:,}"
                )
    return lines
