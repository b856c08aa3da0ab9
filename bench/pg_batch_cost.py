"""A PostgreSQL release batch's fixed cost: CPU per batch of fixed sizes, round trips (issue 15).

Why: with two processes the batches halve, so whatever a batch costs whatever its size is
paid twice as often per release (bench/README.md, "Session 19: scaling on PostgreSQL").
This runs the release path in process, below the group commit: batches of exactly B
jobs (one reader, ``--containers`` containers round-robin) through
``Releaser._evaluate_batch``, as the committer thread runs them, and prints per batch
the CPU of the database's backends (from /proc, 10 ms ticks: use a few hundred batches)
and of this process (the committer's Python, the VOPRF evaluations included), then a
straight-line fit ``per batch = fixed + B x per release`` between the smallest and the
largest size, and the round trips of one batch of the largest size (libpq's own trace
of the committer's connection: a round trip is what the client sends until the server's
first answer to it). CPU time, not a rate: on a shared machine compare arms run in
alternation; the round trips are a count.

    .venv/bin/python bench/pg_batch_cost.py --batches 200 --sizes 4,8,16
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import keyserver_bench as kb
import procs


def _round_trips(trace: str) -> int:
    """What the client sent, each time until the server's first answer (libpq trace).

    From the batch's BEGIN: once a second the restore gate's marker read comes before it,
    outside the transaction (keyserver/_store/restore_state.py), not the batch's own.
    """
    lines = trace.splitlines()
    begin = [i for i, line in enumerate(lines) if "BEGIN" in line]
    trips, answered = 0, True
    for line in lines[begin[0] if begin else 0 :]:
        direction = line.split("\t", 1)[0]
        if direction == "F" and answered:
            trips, answered = trips + 1, False
        elif direction == "B":
            answered = True
    return trips


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=200, help="per size")
    ap.add_argument("--sizes", default="4,8,16", help="jobs per batch, comma-separated")
    ap.add_argument("--containers", type=int, default=100)
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    from psycopg import pq  # noqa: PLC0415
    from voprf import ristretto  # noqa: PLC0415

    from keyserver._domain.context import RequestContext  # noqa: PLC0415
    from keyserver._release.jobs import bearer_job  # noqa: PLC0415
    from keyserver._service import KeyService  # noqa: PLC0415

    with kb.postgres_database() as url:
        prep = kb.prepare(url, args.containers)
        service = KeyService(kb._settings(url, prep.master_key_b64))
        releaser = service.releases
        body = bytes(ristretto.Client.blind(b"rwc bench reader input")[1].serialize())
        header, ctx = "Bearer " + prep.reader_token, RequestContext(remote="127.0.0.1")
        count = 0

        def jobs(n: int) -> list[Any]:
            nonlocal count
            ids = [prep.container_ids[(count + i) % len(prep.container_ids)] for i in range(n)]
            count += n
            return [bearer_job(header, cid, body, ctx) for cid in ids]

        def run(batch: list[Any]) -> list[Any]:
            return releaser._evaluate_batch(lambda: batch)

        for _ in range(20):  # register entries read, statements prepared, connection kept
            run(jobs(8))
        backends = kb.postgres_backends(url)
        print(f"load average {os.getloadavg()}; backends {len(backends)}", flush=True)
        cost: dict[int, tuple[float, float]] = {}
        for size in sizes:
            batches = [jobs(size) for _ in range(args.batches)]
            errors = 0
            b0, c0, w0 = procs.pids_cpu_seconds(backends), time.process_time(), time.perf_counter()
            for batch in batches:
                out = run(batch)
                errors += sum(isinstance(o, BaseException) for o in out)
            b1, c1, w1 = procs.pids_cpu_seconds(backends), time.process_time(), time.perf_counter()
            n = args.batches
            cost[size] = ((b1 - b0) * 1000 / n, (c1 - c0) * 1000 / n)
            print(
                f"B={size:3d}: CPU ms per batch: backends {cost[size][0]:.3f}, this process "
                f"{cost[size][1]:.3f}; wall {(w1 - w0) * 1000 / n:.1f} ms; errors {errors}",
                flush=True,
            )
        lo, hi = sizes[0], sizes[-1]
        if hi > lo:
            for i, name in ((0, "backends"), (1, "this process")):
                slope = (cost[hi][i] - cost[lo][i]) / (hi - lo)
                print(
                    f"{name}: fixed {cost[lo][i] - slope * lo:.3f} ms per batch, "
                    f"{slope:.3f} ms per release"
                )
        held = releaser._held._conn
        assert held is not None
        raw: Any = held.connection.dbapi_connection
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "trace"
            with path.open("w") as out:
                raw.pgconn.trace(out.fileno())
                raw.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
                try:
                    run(jobs(hi))
                finally:
                    raw.pgconn.untrace()
            print(f"round trips of one batch of {hi}: {_round_trips(path.read_text())}")
        service.close()


if __name__ == "__main__":
    main()
