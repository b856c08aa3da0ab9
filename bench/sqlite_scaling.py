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


def _row(prep: kb.Prepared, url: str, workers: int, seconds: int) -> dict[str, Any]:
    load = os.getloadavg()[0]
    with kb.running_keyserver(prep, workers) as (base, pgid):
        parts: dict[str, float] = {}
        measure = functools.partial(
            kb.with_cpu, [pgid], functools.partial(kb.load_test, prep, base, seconds), url, parts
        )
        (result, cpu_ms, _), head = kb.with_head([base], measure, workers)
    head = head or {}
    jobs_per_batch = head.get("jobs_per_batch") or 0.0
    return {
        "workers": workers,
        "load": load,
        "rps": result.rps,
        "errors": result.errors,
        "cpu_ms": cpu_ms,
        "wrk_ms": parts.get("wrk", 0.0),
        "busy": parts.get("busy", 0.0),
        "head": head,
        "fsyncs_per_s": result.rps / jobs_per_batch if jobs_per_batch else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2, help="rounds of 1 then 2 workers")
    ap.add_argument("--duration", type=int, default=10, help="wrk seconds per row")
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--json", help="write the rows to this file")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    with kb.sqlite_database() as url:
        prep = kb.prepare(url, args.containers)
        for _ in range(args.rounds):
            for workers in (1, 2):
                rows.append(_row(prep, url, workers, args.duration))
                print(json.dumps(rows[-1]), flush=True)
    header = [
        "workers", "load", "rel/s", "err", "CPU ms/rel", "wrk ms", "busy CPUs", "wait ms",
        "hold ms", "CPU held ms", "runq ms", "COMMIT ms", "flush ms", "jobs/batch", "fsync/s",
    ]  # fmt: skip
    body = [
        [
            str(r["workers"]),
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
    ones = [r["rps"] for r in rows if r["workers"] == 1]
    twos = [r["rps"] for r in rows if r["workers"] == 2]
    for i, (one, two) in enumerate(zip(ones, twos, strict=False)):
        print(f"round {i + 1}: 2 workers / 1 = {two / one:.2f}x")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
