"""The key-server bench's scaling rows alone, SQLite, 1 and 2 workers (issue 15).

The same server, load and readings as ``bench/run.py --only keyserver`` (keyserver_bench:
``keyserver serve --workers N``, wrk 2 threads x 16 connections round-robin over 100
containers, CPU of the server's process group from /proc, the chain head's figures from
the workers' own /metrics), without Tang, the host committer, PostgreSQL and the bulk
suspend, so that 1 and 2 workers can be run in rounds, alternating, in a few minutes. Per
row: releases/s, CPU ms per release (server; wrk), the CPUs kept busy, the write lock's
wait / hold / committer CPU under it / COMMIT / flush per release, jobs per batch, and
batches per second, i.e. fsyncs per second (one ``fdatasync`` of the -wal per batch,
keyserver/_store/durability.py). Load average printed before each row.

Each round also runs 1 worker at half the connections: each of 2 workers serves half
of them, and its batches are bounded by what it serves (a batch is the requests queued
in one process; the load is closed, wrk's connections each wait for their answer). So
that row has the 2-worker rows' batch size in one process, and splits 2 workers' extra
CPU per release in two (issue 15, bench/README.md, "Session 19: scaling on SQLite"):
the batch halving (1 worker at half the connections against 1 worker at all of them)
and the second process itself (2 workers against 1 worker at half the connections:
what the page cache re-read after the other's commit and the lock's hand-over cost).

    .venv/bin/python bench/sqlite_scaling.py --rounds 2 --duration 10
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from typing import Any

import keyserver_bench as kb
from stats import table


def _row(
    prep: kb.Prepared, url: str, workers: int, seconds: int, connections: int = 16
) -> dict[str, Any]:
    load = os.getloadavg()[0]
    with kb.running_keyserver(prep, workers) as (base, pgid):
        parts: dict[str, float] = {}
        run = functools.partial(kb.load_test, prep, base, seconds, connections=connections)
        measure = functools.partial(kb.with_cpu, [pgid], run, url, parts)
        (result, cpu_ms, _), head = kb.with_head([base], measure, workers)
    head = head or {}
    jobs_per_batch = head.get("jobs_per_batch") or 0.0
    return {
        "workers": workers,
        "connections": connections,
        "load": load,
        "rps": result.rps,
        "errors": result.errors,
        "cpu_ms": cpu_ms,
        "wrk_ms": parts.get("wrk", 0.0),
        "busy": parts.get("busy", 0.0),
        "head": head,
        "fsyncs_per_s": result.rps / jobs_per_batch if jobs_per_batch else 0.0,
    }


def _split(n: int, one: dict[str, Any], half: dict[str, Any], two: dict[str, Any]) -> str:
    """One round's ratio, and 2 workers' CPU per release against 1 worker's, in two factors."""

    def per(a: dict[str, Any], b: dict[str, Any]) -> str:
        return f"{a['cpu_ms'] / b['cpu_ms']:.2f}x" if b["cpu_ms"] else "-"

    ratio = f"{two['rps'] / one['rps']:.2f}x" if one["rps"] else "-"
    return (
        f"round {n}: 2 workers / 1 = {ratio}; CPU per release 2 workers / 1 = {per(two, one)}"
        f" = batch halving {per(half, one)} (1 worker at {half['connections']} connections,"
        f" {half['head'].get('jobs_per_batch', 0.0):.1f} per batch)"
        f" x second process {per(two, half)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2, help="rounds of 1 then 2 workers")
    ap.add_argument("--duration", type=int, default=10, help="wrk seconds per row")
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--connections", type=int, default=16, help="wrk connections (the bench's: 16)")
    ap.add_argument("--json", help="write the rows to this file")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    full, half = args.connections, max(1, args.connections // 2)
    with kb.sqlite_database() as url:
        prep = kb.prepare(url, args.containers)
        for _ in range(args.rounds):
            for workers, connections in ((1, full), (1, half), (2, full)):
                rows.append(_row(prep, url, workers, args.duration, connections))
                print(json.dumps(rows[-1]), flush=True)
    header = [
        "workers", "conns", "load", "rel/s", "err", "CPU ms/rel", "wrk ms", "busy CPUs", "wait ms",
        "hold ms", "CPU held ms", "runq ms", "COMMIT ms", "flush ms", "jobs/batch", "fsync/s",
    ]  # fmt: skip
    body = [
        [
            str(r["workers"]),
            str(r["connections"]),
            f"{r['load']:.2f}",
            f"{r['rps']:,.0f}",
            str(r["errors"]),
            f"{r['cpu_ms']:.3f}",
            f"{r['wrk_ms']:.3f}",
            f"{r['busy']:.2f}",
            *(f"{r['head'].get(k, 0.0):.3f}" for k in ("wait", "hold", "cpu", "runq", "commit")),
            f"{r['head'].get('flush', 0.0):.3f}",
            f"{r['head'].get('jobs_per_batch', 0.0):.1f}",
            f"{r['fsyncs_per_s']:,.0f}",
        ]
        for r in rows
    ]
    print(table(header, body))
    for i in range(0, len(rows) - 2, 3):
        print(_split(i // 3 + 1, *rows[i : i + 3]))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
