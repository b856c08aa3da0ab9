"""The PostgreSQL scaling rows alone, in rounds: 1 worker, 2 workers, 2 instances (issue 15).

The same servers, load and figures as the key-server bench's scaling rows
(keyserver_bench.py: ``keyserver serve`` on loopback, wrk 16 connections round-robin over
100 containers, CPU from /proc, the chain head from the servers' own /metrics, the
backends sampled by pg_waits), without Tang, the bare endpoint, SQLite or the bulk
suspend, so the three rows can be run in alternating rounds on one database. Per row:
the rate, CPU ms per release of the servers and of their PostgreSQL backends, the
backends' sampled states, releases per COMMIT, the cluster's WAL syncs (pg_stat_wal:
every database of the server, so read them on a quiet machine), and the head's figures
per release. The load average is printed with every round: on a shared 2-CPU machine
compare CPU per release and waits, which load moves less than the rate.

    .venv/bin/python bench/pg_scaling.py --rounds 2 --duration 8
"""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import keyserver_bench as kb


@contextmanager
def _wal_syncs(rows: dict[str, float]) -> Iterator[None]:
    """pg_stat_wal's syncs and bytes over the body (cluster-wide: every database)."""
    import psycopg  # noqa: PLC0415

    query = "SELECT wal_sync, wal_bytes FROM pg_stat_wal"
    with psycopg.connect(kb.PG_ADMIN, autocommit=True) as conn:
        syncs0, bytes0 = conn.execute(query).fetchone()  # type: ignore[misc]
        yield
        syncs1, bytes1 = conn.execute(query).fetchone()  # type: ignore[misc]
    rows["wal_syncs"] = float(syncs1 - syncs0)
    rows["wal_bytes"] = float(bytes1 - bytes0)


def _row(
    name: str,
    prep: kb.Prepared,
    bases: list[str],
    pgids: list[int],
    load: Callable[[], kb.WrkResult],
    workers: int,
) -> dict[str, Any]:
    parts: dict[str, float] = {}
    wal: dict[str, float] = {}
    with _wal_syncs(wal):
        measured, head = kb.with_head(
            bases,
            functools.partial(kb.with_cpu, pgids, load, prep.database_url, parts),
            workers,
        )
    result, cpu_ms, waits = measured
    return {
        "name": name,
        "load": os.getloadavg()[0],
        "rps": result.rps,
        "requests": result.requests,
        "errors": result.errors,
        "cpu_ms": cpu_ms,
        "parts": parts,
        "waits": waits.shares() if waits else {},
        "per_commit": result.requests / waits.commits if waits and waits.commits else None,
        "wal_syncs_per_s": wal["wal_syncs"] * result.rps / max(result.requests, 1),
        "wal_bytes_per_release": wal["wal_bytes"] / max(result.requests, 1),
        "head": head or {},
    }


def _print(row: dict[str, Any], one: float | None) -> None:
    head, parts, waits = row["head"], row["parts"], row["waits"]
    ratio = f" {row['rps'] / one:.2f}x" if one else ""
    print(
        f"  {row['name']:<24} {row['rps']:7.0f} req/s{ratio} (err {row['errors']}), load "
        f"{row['load']:.2f}; CPU ms/release server {parts.get('server', 0):.3f} backends "
        f"{parts.get('backends', 0):.3f} all {parts.get('all', 0):.3f} busy "
        f"{parts.get('busy', 0):.2f}",
        flush=True,
    )
    print(
        "    backends: "
        + ", ".join(f"{k} {v:.0%}" for k, v in waits.items())
        + f"; releases/COMMIT {row['per_commit'] or 0:.1f}; WAL syncs/s "
        f"{row['wal_syncs_per_s']:.0f}, WAL bytes/release {row['wal_bytes_per_release']:.0f}",
        flush=True,
    )
    if head:
        print(
            "    head ms/release: wait {wait:.3f} hold {hold:.3f} cpu {cpu:.3f} runq "
            "{runq:.3f} commit {commit:.3f} flush {flush:.3f}; jobs/batch "
            "{jobs_per_batch:.1f}".format(**head),
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=8, help="wrk seconds per row")
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--rows", default="1w,2w,2i", help="comma-separated: 1w, 2w, 2i")
    args = ap.parse_args()
    wanted = args.rows.split(",")
    for rnd in range(1, args.rounds + 1):
        # A fresh database each round: the budgets (1000 per container) and the tables'
        # sizes start where the bench's own rows start.
        with kb.postgres_database() as url:
            prep = kb.prepare(url, args.containers)
            print(f"round {rnd}: uptime load {os.getloadavg()}", flush=True)
            one: float | None = None
            for workers in (1, 2):
                if f"{workers}w" not in wanted:
                    continue
                with kb.running_keyserver(prep, workers) as (base, pgid):
                    load = functools.partial(kb.load_test, prep, base, args.duration)
                    row = _row(f"{workers} worker(s)", prep, [base], [pgid], load, workers)
                _print(row, one)
                one = row["rps"] if workers == 1 else one
            if "2i" in wanted:
                with (
                    kb.running_keyserver(prep, 1) as (base1, pgid1),
                    kb.running_keyserver(prep, 1) as (base2, pgid2),
                ):
                    load = functools.partial(
                        kb.load_test_instances, prep, [base1, base2], args.duration
                    )
                    row = _row("2 instances", prep, [base1, base2], [pgid1, pgid2], load, 1)
                _print(row, one)


if __name__ == "__main__":
    main()
