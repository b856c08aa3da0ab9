"""CPU that ``keyserver serve`` spends before it answers /healthz (PostgreSQL, N workers).

Start-up is CPU-bound (imports, the start-up check, building the app), so on a loaded
machine its wall time is this CPU stretched by the load: the figure to compare is CPU, read
per process from /proc when /healthz first answers (the supervisor; each worker since it
was forked or spawned). Run: ``.venv/bin/python bench/serve_startup.py [WORKERS ...]``
with PostgreSQL at ``RWC_TEST_POSTGRES_URL`` (default as in DEVELOPERS.md).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import requests

BIN = Path(sys.executable).parent
ADMIN = os.environ.get("RWC_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test"
TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid: int) -> float:
    """User + system CPU seconds of one process (its children not included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def measure(workers: int, database_url: str, tmp: Path) -> tuple[float, float, list[float]]:
    key = tmp / f"master-{workers}.key"
    location = ["--database-url", database_url, "--master-key-file", str(key)]
    subprocess.run([BIN / "keyserver", "init", *location], check=True, capture_output=True)
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen(
        [BIN / "keyserver", "serve", *location, "--workers", str(workers), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.05)
        wall = time.monotonic() - started
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        return wall, cpu(proc.pid), [cpu(int(pid)) for pid in children]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()


def free_port() -> int:
    """A loopback port that was free a moment ago (the server binds it next)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    counts = [int(a) for a in sys.argv[1:]] or [1, 2]
    for workers in counts:
        name = f"ks_bench_{secrets.token_hex(4)}"
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            url = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
            with tempfile.TemporaryDirectory() as tmp:
                wall, own, children = measure(workers, f"{url}/{name}", Path(tmp))
        finally:
            with psycopg.connect(ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        load = os.getloadavg()[0]
        print(
            f"workers={workers}: CPU {own + sum(children):.2f} s (supervisor {own:.2f} s,"
            f" children {', '.join(f'{c:.2f}' for c in children)} s);"
            f" wall {wall:.1f} s at load {load:.1f}"
        )


if __name__ == "__main__":
    main()
