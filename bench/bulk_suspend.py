"""The bench's bulk suspend alone, A/B between code versions, in CPU time (issue 15).

What ``keyserver_bench`` times at the end of each database's run: ``--count`` active
containers of one medium inserted straight into the tables (``keyserver_bench.
bulk_insert``), then ONE suspend of that medium. Here each run is a child process with its
own fresh database, so versions can alternate in one sitting:

    .venv/bin/python bench/bulk_suspend.py --db sqlite --rounds 3 \
        --version before=/tmp/rwc-main --version after=.

``--version NAME=DIR``: the keyserver package is imported from ``DIR`` (a checkout or a
``git archive`` of another commit, put first on ``PYTHONPATH``; its own migrations make
the database). Per run it prints the load average, the suspend's wall time, the CPU of
the process that ran it and, on PostgreSQL, of the database's backend(s) (from /proc).

``--http`` (default): ``keyserver serve --workers 1`` is started and the suspend is
``POST /v1/media/bench-bulk/suspend``, as in the bench; its server CPU is the server's
process group. ``--in-process``: ``KeyService.change_state`` in the child itself (no
HTTP); with ``--profile FILE`` it writes a cProfile of that call (cProfile inflates
per-call costs: read shares, not seconds). ``--fillfactor N`` (PostgreSQL): the
containers table's fillfactor before the insert (room for HOT updates; an experiment,
bench/profiles/keyserver.md); ``--work-mem MB`` (PostgreSQL) likewise the database's
work_mem for the suspend's connections. ``--op restore`` (with ``--in-process``): the
medium is suspended first (not measured), then the restore that lifts it (cause ``any``)
is.
``--history N``: before the insert, N key releases through ``keyserver serve --workers 1``
(wrk, round-robin over 100 containers, more if their budgets need it, as the bench's load
rows leave the database before its bulk suspend: an audit log and challenges table of that
many rows).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import keyserver_bench as kb
from procs import group_cpu_seconds, pids_cpu_seconds
from wrk import Requests

_MEDIUM = "bench-bulk"


def _suspend_in_process(
    prep: kb.Prepared, count: int, profile: str | None, op: str = "suspend"
) -> dict[str, Any]:
    import cProfile  # noqa: PLC0415
    import operator  # noqa: PLC0415

    from keyserver._domain.lifecycle import Op  # noqa: PLC0415
    from keyserver._service import KeyService  # noqa: PLC0415

    service = KeyService(kb._settings(prep.database_url, prep.master_key_b64))
    try:
        official = service.authenticate(prep.official_token)
        if op == "restore":
            # The medium suspended first (not measured), then found: the restore is timed.
            service.change_state(official, Op.SUSPEND, "medium", _MEDIUM, "bench: lost", "lost")
        backends_of = _backends_reader(prep.database_url)
        backends0 = backends_of()
        profiler = cProfile.Profile() if profile else None
        sched0, written0 = _sched(), _written()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        # Through operator.call: callgrind's --toggle-collect=_operator_call counts this
        # call alone (bench/profiles/keyserver.md).
        if op == "restore":
            # cause "any": both of the restore's groups and the loss deadlines' clearing.
            out = operator.call(
                service.change_state,
                official,
                Op.RESTORE,
                "medium",
                _MEDIUM,
                "bench: found",
                None,
                cause="any",
            )
        else:
            out = operator.call(
                service.change_state,
                official,
                Op.SUSPEND,
                "medium",
                _MEDIUM,
                "bench: lost medium",
                "lost",
            )
        if profiler is not None:
            profiler.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        sched = [b - a for a, b in zip(sched0, _sched(), strict=True)]
        written = _written() - written0
        backend = backends_of() - backends0
    finally:
        service.close()
    if profiler is not None and profile:
        profiler.dump_stats(profile)
    if out["affected"] != count:
        raise RuntimeError(f"{op} changed {out['affected']} of {count}")
    # The calling thread's wall split (it did the work): on a CPU, runnable but waiting for
    # one (the machine's load), and the rest: blocked (disk, locks, the database server).
    return {
        "wall": wall,
        "cpu": cpu,
        "backend_cpu": backend,
        "runq": sched[1],
        "blocked": wall - sched[0] - sched[1],
        "written_mb": written / 1e6,
    }


def _sched() -> tuple[float, float]:
    """This thread's seconds on a CPU and waiting for one (/proc/.../schedstat)."""
    with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
        run, wait, _ = f.read().split()
    return int(run) / 1e9, int(wait) / 1e9


def _written() -> int:
    """Bytes this process sent to the block device so far (/proc/self/io write_bytes)."""
    with open("/proc/self/io") as f:
        return next(int(v) for k, v in (line.split(":") for line in f) if k == "write_bytes")


def _backends_reader(database_url: str) -> Any:
    """A function returning the CPU seconds of the database's backends (0 on SQLite)."""
    if not database_url.startswith("postgresql"):
        return lambda: 0.0
    return lambda: pids_cpu_seconds(kb.postgres_backends(database_url))


def _suspend_http(prep: kb.Prepared, count: int) -> dict[str, Any]:
    backends_of = _backends_reader(prep.database_url)
    with kb.running_keyserver(prep, 1) as (base, pgid):
        cpu0, backends0 = group_cpu_seconds(pgid), backends_of()
        wall = kb.time_suspend(prep, base, _MEDIUM, count)
        cpu, backend = group_cpu_seconds(pgid) - cpu0, backends_of() - backends0
    return {"wall": wall, "cpu": cpu, "backend_cpu": backend}


def _fillfactor(url: str, percent: int) -> None:
    """PostgreSQL: leave free space in the containers table's pages (an experiment)."""
    import psycopg  # noqa: PLC0415

    with psycopg.connect(kb.PG_ADMIN, dbname=url.rsplit("/", 1)[1]) as conn:
        conn.execute(f"ALTER TABLE containers SET (fillfactor = {int(percent)})")


def _work_mem(url: str, megabytes: int) -> None:
    """PostgreSQL: the database's work_mem for the suspend's connections (an experiment).

    The suspend's UPDATE joins the 100,000 rows to ``unnest(ids, macs)`` by a hash join
    whose hash spills to temporary files at the default 4 MB (EXPLAIN (ANALYZE,
    BUFFERS): ~2,190 temp blocks written and read, bench/README.md, session 21).
    """
    import psycopg  # noqa: PLC0415

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(kb.PG_ADMIN, dbname=name, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE \"{name}\" SET work_mem = '{int(megabytes)}MB'")


def _containers_for(history: int) -> int:
    """Containers enough for ``history`` releases within their budgets (100 at least).

    The bench's database sees ~190,000 releases before its bulk suspend since the
    twentieth session's sweeps (~90,000 before), more than 100 budgets of kb.BUDGET; a
    quarter to spare, since wrk's round-robin does not spread them exactly.
    """
    if not history:
        return 2
    return max(100, -(-history * 5 // (4 * kb.BUDGET)))


def _child(args: argparse.Namespace) -> None:
    """One run: fresh database, insert, suspend; one JSON line on stdout."""
    make_db = kb.postgres_database if args.db == "postgres" else kb.sqlite_database
    with make_db() as url:
        prep = kb.prepare(url, _containers_for(args.history))
        if args.history:
            # What the bench's load rows leave behind before its suspend (issue 15: the
            # suspend alone took 1.2-1.4 s here, 3.4-7 s at the end of the bench).
            with kb.running_keyserver(prep, 1) as (base, _pgid):
                kb.load_test(prep, base, Requests(args.history))
        if args.fillfactor:
            _fillfactor(url, args.fillfactor)
        if args.work_mem:
            _work_mem(url, args.work_mem)
        insert_s = kb.bulk_insert(prep, _MEDIUM, args.count)
        load = os.getloadavg()[0]
        if args.in_process:
            figures = _suspend_in_process(prep, args.count, args.profile, args.op)
        else:
            figures = _suspend_http(prep, args.count)
    print(json.dumps({**figures, "insert_s": insert_s, "load": load}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--version", action="append", default=[], help="NAME=DIR (repeatable)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--http", dest="in_process", action="store_false")
    mode.add_argument("--in-process", dest="in_process", action="store_true")
    ap.add_argument("--profile", help="cProfile output of the suspend (--in-process)")
    ap.add_argument(
        "--op", choices=("suspend", "restore"), default="suspend", help="restore: --in-process"
    )
    ap.add_argument(
        "--fillfactor", type=int, default=0, help="PostgreSQL: the containers table's fillfactor"
    )
    ap.add_argument("--history", type=int, default=0, help="key releases before the insert (wrk)")
    ap.add_argument(
        "--work-mem", type=int, default=0, help="PostgreSQL: the database's work_mem in MB"
    )
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.op == "restore" and not args.in_process:
        ap.error("--op restore is measured --in-process only")
    if args.child:
        _child(args)
        return
    versions = [v.split("=", 1) for v in args.version] or [["this", "."]]
    here = Path(__file__).resolve().parent
    results: dict[str, list[dict[str, Any]]] = {}
    for r in range(args.rounds):
        # Alternating, and the order flipped every round: neither version always goes
        # first into a machine whose load drifts.
        for name, src in versions if r % 2 == 0 else versions[::-1]:
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join([str(Path(src).resolve()), str(here)]),
            }
            argv = [sys.executable, str(here / "bulk_suspend.py"), "--child", "--db", args.db]
            argv += ["--count", str(args.count), "--in-process" if args.in_process else "--http"]
            argv += ["--op", args.op, "--history", str(args.history)]
            if args.fillfactor:
                argv += ["--fillfactor", str(args.fillfactor)]
            if args.work_mem:
                argv += ["--work-mem", str(args.work_mem)]
            if args.profile:
                argv += ["--profile", f"{args.profile}.{name}.{r}"]
            out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
            fig = json.loads(out.stdout.strip().splitlines()[-1])
            results.setdefault(name, []).append(fig)
            print(
                f"round {r} {name:>8}: load {fig['load']:5.2f}  wall {fig['wall']:6.2f} s  "
                f"CPU {fig['cpu']:5.2f} s  backend CPU {fig['backend_cpu']:5.2f} s  "
                f"(insert {fig['insert_s']:.1f} s)"
                + (
                    f"  runq {fig['runq']:.2f} s  blocked {fig['blocked']:.2f} s  "
                    f"written {fig['written_mb']:.0f} MB"
                    if "runq" in fig
                    else ""
                ),
                flush=True,
            )
    for name, figs in results.items():
        series = {k: ", ".join(f"{f[k]:.2f}" for f in figs) for k in ("wall", "cpu", "backend_cpu")}
        print(
            f"{name:>8}: wall {series['wall']} s; CPU {series['cpu']} s; "
            f"backend CPU {series['backend_cpu']} s"
        )


if __name__ == "__main__":
    main()
