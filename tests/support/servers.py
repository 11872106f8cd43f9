"""`coachbot run` as a real process on a free loopback port, healthy before the test goes on."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

COACHBOT = Path(sys.executable).with_name("coachbot")


def coachbot(*args: str) -> list[str]:
    command = [str(COACHBOT)] if COACHBOT.exists() else [sys.executable, "-m", "bot"]
    return [*command, *args]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(env: dict[str, str], cwd: Path, workers: int = 1, timeout: float = 30) -> Iterator[str]:
    """Start `coachbot run` and yield its base URL once /healthz answers; stop it afterwards."""
    port = free_port()
    # A log file, not a pipe: nobody reads a pipe while the server runs, and a full one stalls it.
    log_path = cwd / f"coachbot-run-{port}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        coachbot("run", "--port", str(port), "--host", "127.0.0.1", "--workers", str(workers)),
        env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("coachbot run did not become healthy:\n" + log_path.read_text(errors="replace"))
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()
