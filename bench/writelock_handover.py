"""How long the SQLite writer lock stays unused when it passes between processes (issue 15).

Two (or more) processes take the key server's writer lock (keyserver/_store/writelock.py)
in turn on one lock file, as two ``serve --workers 2`` workers' batches do: each holds it
for ``--hold`` ms (sleeping, as a batch waits for its COMMIT's fsync), lets go, works
unlocked for ``--work`` ms (answers, the VOPRFs), and asks again. Printed: the handover
gap (from one process's release to the acquisition by a process that was already
waiting), median and p90, and the share of the time the lock was held: with two
workers on one SQLite file, the gap is time in which no release can commit at all.

The gap is wall time, so it grows with the load of the machine; compare two versions
in alternating runs of the same minute (a ``git archive`` of the other version first
on ``PYTHONPATH``).

    .venv/bin/python bench/writelock_handover.py --processes 2 --rounds 300
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _child(db: str, rounds: int, hold: float, work: float) -> None:
    from keyserver._store.writelock import write_lock_for  # noqa: PLC0415

    lock = write_lock_for(db)
    times = []
    for _ in range(rounds):
        asked = time.monotonic()
        with lock:
            got = time.monotonic()
            time.sleep(hold)
            released = time.monotonic()  # read before the release: a lower bound
        times.append((asked, got, released))
        time.sleep(work)
    print(json.dumps(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=300, help="acquisitions per process")
    parser.add_argument("--hold", type=float, default=2.0, help="ms held per acquisition")
    parser.add_argument("--work", type=float, default=1.0, help="ms unlocked in between")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.rounds, args.hold / 1000, args.work / 1000)
        return
    with tempfile.TemporaryDirectory(prefix="rwc-bench-lock-") as tmp:
        db = str(Path(tmp) / "keyserver.db")
        argv = [sys.executable, __file__, "--child", db, "--rounds", str(args.rounds)]
        argv += ["--hold", str(args.hold), "--work", str(args.work)]
        procs = [
            subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(args.processes)
        ]
        runs = []
        for p in procs:
            out, _ = p.communicate()
            runs.append(json.loads(out))
    spans = sorted(
        (got, released, asked, n) for n, run in enumerate(runs) for asked, got, released in run
    )
    gaps = [
        1000 * (got - prev_released)
        for (_, prev_released, _, prev_n), (got, _, asked, n) in itertools.pairwise(spans)
        if n != prev_n and asked < prev_released  # a handover to a process already waiting
    ]
    wall = spans[-1][1] - spans[0][0]
    held = sum(released - got for got, released, _, _ in spans)
    print(
        json.dumps(
            {
                "processes": args.processes,
                "handovers": len(gaps),
                "gap_ms_median": round(statistics.median(gaps), 3) if gaps else None,
                "gap_ms_p90": round(statistics.quantiles(gaps, n=10)[-1], 3)
                if len(gaps) > 1
                else None,
                "held_share": round(held / wall, 3),
                "loadavg": os.getloadavg()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
