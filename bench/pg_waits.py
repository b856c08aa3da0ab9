"""Where a PostgreSQL backend's time goes during a load test: CPU, lock wait, WAL fsync.

A sampler thread reads ``pg_stat_activity`` for the bench database every ``interval``
seconds while the load runs and classifies each backend's state:

- ``cpu``: active, not waiting (executing SQL, or waiting for CPU on a busy machine);
- ``lock``: a heavyweight lock (``wait_event_type = 'Lock'``: the chain head's row lock,
  ``FOR UPDATE`` of a container, a transaction id);
- ``wal``: writing or fsyncing the WAL at commit (``IO``/``LWLock`` events named WAL*);
- ``io``: other I/O or lightweight locks;
- ``client``: idle in a transaction, waiting for the key server (Python work between
  statements, e.g. the VOPRF or the next statement of the batch);
- ``idle``: no transaction open (waiting for the next batch).

Also ``xact_commit`` of the database before and after: releases per transaction is the
group commit's batch size. The samples are counts, so the figures are shares of backend
time, not absolute times; the sampler's own connection is excluded.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_QUERY = """
SELECT state, wait_event_type, wait_event FROM pg_stat_activity
WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""


@dataclass
class Waits:
    """Shares of backend samples per class, and transactions committed."""

    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    commits: int = 0

    def shares(self) -> dict[str, float]:
        """Busy classes as shares of all samples where a transaction was open."""
        busy = {k: v for k, v in self.counts.items() if k != "idle"}
        total = sum(busy.values()) or 1
        return {k: v / total for k, v in sorted(busy.items())}


def _classify(state: str | None, kind: str | None, event: str | None) -> str:
    if state == "idle":
        return "idle"
    if state == "idle in transaction":
        return "client"
    if kind is None:
        return "cpu"
    if kind == "Lock":
        return "lock"
    if kind in ("IO", "LWLock") and event and event.startswith("WAL"):
        return "wal"
    if kind == "Client":
        return "client"
    return "io"


def _commits(conn: object, database: str) -> int:
    row = conn.execute(  # type: ignore[attr-defined]
        "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (database,)
    ).fetchone()
    return int(row[0]) if row else 0


@contextmanager
def sampling(admin_dsn: str, database: str, interval: float = 0.01) -> Iterator[Waits]:
    """Sample the backends of ``database`` while the body runs."""
    import psycopg  # noqa: PLC0415 - only for PostgreSQL figures

    waits = Waits()
    stop = threading.Event()
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3) as conn:
        before = _commits(conn, database)

        def run() -> None:
            while not stop.is_set():
                for state, kind, event in conn.execute(_QUERY, (database,)).fetchall():
                    waits.counts[_classify(state, kind, event)] += 1
                time.sleep(interval)

        thread = threading.Thread(target=run, name="pg-wait-sampler", daemon=True)
        thread.start()
        try:
            yield waits
        finally:
            stop.set()
            thread.join()
            # Statistics are sent at transaction end; give the collector a moment.
            time.sleep(0.6)
            conn.execute("SELECT pg_stat_clear_snapshot()")
            waits.commits = _commits(conn, database) - before
