"""Instructions per key-release batch: a fixed part per batch and a part per release (issue 15).

CPU time on a shared machine moves by 10-30% from run to run, more than most changes to
the release path; instruction counts under callgrind repeat to about 0.1%. This runs the
committer's own work (``Releaser._evaluate_batch``: reads, decisions, writes, COMMIT,
flush, then the VOPRFs) in ONE thread, in batches of exactly ``--small`` and ``--large``
jobs on distinct containers, and counts the user-space instructions of each series
(callgrind, switched on only around the series with ``callgrind_control``). The fit
``instructions(batch of n) = C + n * r`` says what a batch costs whatever its size (C)
and what each release adds (r): two workers halve the batch, so C per release doubles.

What it does not count: the kernel (the WAL's page writes and fdatasync; read a thread's
``stime`` in /proc), cache misses, and what a server's threads cost each other (the
committer's wake-up, the GIL handed to and from the event loop): ``release_cpu.py``
measures those as CPU time. Without valgrind it prints thread CPU time instead.

    .venv/bin/python bench/release_instructions.py --db sqlite --small 8 --large 16
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import keyserver_bench as kb

_WARM_BATCHES = 10  # statement shapes compiled, register entries cached, pool warm


def _child(args: argparse.Namespace) -> None:
    from voprf import ristretto  # noqa: PLC0415

    from keyserver._domain.context import RequestContext  # noqa: PLC0415
    from keyserver._release.jobs import EvalJob, bearer_job  # noqa: PLC0415
    from keyserver._service import KeyService  # noqa: PLC0415

    database = kb.sqlite_database if args.db == "sqlite" else kb.postgres_database
    with database() as url:
        # Twice the batch in containers: no container twice in a batch (that would write
        # the batch's rows early, hotpath.py), the same work in every batch.
        prep = kb.prepare(url, 2 * args.size)
        service = KeyService(kb._settings(url, prep.master_key_b64))
        releases = service.releases
        _, blinded = ristretto.Client.blind(b"rwc bench reader input")
        body = blinded.serialize()
        header = "Bearer " + prep.reader_token
        ctx = RequestContext(remote="127.0.0.1")
        ids = prep.container_ids
        k = 0

        def run(batches: int) -> None:
            nonlocal k
            for _ in range(batches):
                jobs: list[EvalJob] = [
                    bearer_job(header, ids[(k + j) % len(ids)], body, ctx) for j in range(args.size)
                ]
                k += args.size

                def take(jobs: list[EvalJob] = jobs) -> list[EvalJob]:
                    return jobs

                outcomes = releases._evaluate_batch(take)
                refused = [o for o in outcomes if isinstance(o, BaseException)]
                if refused:
                    raise RuntimeError(f"a release was refused: {refused[0]!r}")

        run(_WARM_BATCHES)
        _callgrind("on", args.callgrind)
        cpu0 = time.thread_time()
        run(args.batches)
        cpu = time.thread_time() - cpu0
        _callgrind("off", args.callgrind)
        service.close()
    print(json.dumps({"thread_cpu_s": cpu}))


def _callgrind(state: str, enabled: bool) -> None:
    if enabled:
        subprocess.run(
            ["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True
        )


def _series(args: argparse.Namespace, size: int, valgrind: bool) -> dict[str, float]:
    """One child process running ``args.batches`` batches of ``size``; its figures."""
    argv = [sys.executable, __file__, "--child", "--db", args.db]
    argv += ["--size", str(size), "--batches", str(args.batches)]
    with tempfile.TemporaryDirectory(prefix="rwc-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        if valgrind:
            argv = [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                *argv,
                "--callgrind",
            ]
        done = subprocess.run(argv, check=True, capture_output=True, text=True)
        figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
        if valgrind:
            found = re.search(r"^totals: (\d+)$", out.read_text(), re.MULTILINE)
            if found is None:
                raise RuntimeError("callgrind wrote no totals")
            figures["instructions"] = int(found.group(1))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--small", type=int, default=8, help="jobs per batch, first series")
    parser.add_argument("--large", type=int, default=16, help="jobs per batch, second series")
    parser.add_argument("--batches", type=int, default=20, help="batches per series")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=8, help=argparse.SUPPRESS)
    parser.add_argument("--callgrind", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    if args.large <= args.small:
        parser.error("--large must be more than --small")
    valgrind = all(shutil.which(tool) for tool in ("valgrind", "callgrind_control"))
    key = "instructions" if valgrind else "thread_cpu_s"
    per_batch: dict[int, float] = {}
    for size in (args.small, args.large):
        per_batch[size] = _series(args, size, valgrind)[key] / args.batches
    r = (per_batch[args.large] - per_batch[args.small]) / (args.large - args.small)
    fixed = per_batch[args.small] - args.small * r
    out: dict[str, Any] = {
        "db": args.db,
        "unit": "instructions (callgrind)" if valgrind else "thread CPU seconds",
        "per_batch": {str(n): round(v) if valgrind else v for n, v in per_batch.items()},
        "fixed_per_batch": round(fixed) if valgrind else fixed,
        "per_release": round(r) if valgrind else r,
        "loadavg": os.getloadavg(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
