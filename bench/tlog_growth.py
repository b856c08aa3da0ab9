"""What a key release and its transparency-log append cost at two tree sizes (issue 15).

The nineteenth session's bench saw the CPU per release WITH the log grow with the tree
(0.600 -> 0.645 ms over 65k -> 307k leaves) while the server without it stayed flat. This
runs the same work in ONE process at each size, on a fresh database each time:

1. a log of ``size`` entries (direct inserts with a valid keyed chain:
   ``audit_verify.build_log``), hashed into the tree by one follower run (not measured);
2. ``--releases`` key releases through ``KeyService.evaluate_bearer`` (what the HTTP
   endpoint calls, 16 tasks), then one follower run (``KeyService.checkpoint``) hashing
   them into the tree and signing; twice (a warm-up, then the measured one).

Per phase it prints the process's CPU time, the SQL statements the database ran (SQLite:
the driver's trace callback, so the release path's raw DBAPI statements count too;
PostgreSQL: SQLAlchemy's cursor events) and, with ``--explain``, the query plan of each
distinct statement the follower ran. Statement counts do not depend on the machine's
load; CPU time does, a little.

    .venv/bin/python bench/tlog_growth.py --sizes 10000 300000 [--db postgres] [--explain]
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import dataclasses
import io
import json
import os
import pstats
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import keyserver_bench as ksb
from audit_verify import build_log
from tlog_overhead import _measure, release_many


class Statements:
    """Counts the SQL the engine's connections run, by statement text."""

    def __init__(self) -> None:
        self.seen: collections.Counter[str] = collections.Counter()
        self.params: dict[str, Any] = {}
        self.on = False

    def __call__(self, sql: str, params: Any = None) -> None:
        if self.on:
            self.seen[sql] += 1
            self.params[sql] = params

    def attach(self, engine: Any) -> None:
        from sqlalchemy import event  # noqa: PLC0415

        if engine.dialect.name == "sqlite":

            def connect(dbapi: sqlite3.Connection, _record: Any) -> None:
                dbapi.set_trace_callback(self)

            event.listen(engine, "connect", connect)
        else:

            def before(_c: Any, _cur: Any, sql: str, params: Any, _x: Any, many: bool) -> None:
                self(sql, None if many else params)

            event.listen(engine, "before_cursor_execute", before)
        engine.dispose()  # connections made from now on carry the counter

    def take(self) -> collections.Counter[str]:
        seen, self.seen = self.seen, collections.Counter()
        return seen


def _service(prep: ksb.Prepared, key_file: Path) -> Any:
    from keyserver._domain.settings import Settings  # noqa: PLC0415
    from keyserver._service import KeyService  # noqa: PLC0415

    overrides = {
        "database_url": prep.database_url,
        "master_key_b64": prep.master_key_b64,
        "sweep_interval": 0,
        "checkpoint_interval": 0,
        "log_key_file": str(key_file),
        **ksb.BENCH_CAPS,
    }
    return KeyService(Settings.load(overrides=overrides, env={}))


def measure(size: int, releases: int, db: str, *, explain: bool, profile: bool) -> dict[str, Any]:
    """One fresh database with a tree of ``size`` leaves; the two phases measured."""
    from keyserver._cli.tlog import create_log_key  # noqa: PLC0415

    database = ksb.sqlite_database if db == "sqlite" else ksb.postgres_database
    with database() as url, tempfile.TemporaryDirectory() as tmp:
        prep = ksb.prepare(url, 50)
        built = build_log(ksb._settings(url, prep.master_key_b64), size)
        key_file = Path(tmp) / "log.key"
        create_log_key(key_file, "bench.example/rwc")
        service = _service(prep, key_file)
        t0 = time.perf_counter()
        try:
            service.checkpoint()
        finally:
            service.close()
        print(
            f"  tree of {size:,}: log built in {built:.1f} s, hashed in "
            f"{time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        if callgrind_available() and not profile and not explain:
            return _in_callgrind(prep, key_file, size, releases)
        return phases(prep, key_file, size, releases, explain=explain, profile=profile)


def phases(
    prep: ksb.Prepared,
    key_file: Path,
    size: int,
    releases: int,
    *,
    explain: bool = False,
    profile: bool = False,
    callgrind: bool = False,
) -> dict[str, Any]:
    """Releases then one follower run, twice; the second measured."""
    service = _service(prep, key_file)
    counter = Statements()
    counter.attach(service.engine)
    try:
        out: dict[str, Any] = {"size": size}
        for rnd in ("warm-up", "measured"):
            grind = callgrind and rnd == "measured"
            counter.on = True
            _callgrind(grind, "-i", "on")
            cpu0 = time.process_time()
            release_many(service, prep, releases)
            cpu1 = time.process_time()
            _callgrind(grind, "-d", "releases")  # dump: the releases' instructions
            released = counter.take()
            prof = cProfile.Profile() if profile and rnd == "measured" else None
            if prof:
                prof.enable()
            service.checkpoint()
            if prof:
                prof.disable()
            cpu2 = time.process_time()
            _callgrind(grind, "-d", "follower")
            _callgrind(grind, "-i", "off")
            followed = counter.take()
            counter.on = False
            out = {
                "size": size,
                "release_cpu_ms": 1000 * (cpu1 - cpu0) / releases,
                "follower_cpu_ms_per_entry": 1000 * (cpu2 - cpu1) / releases,
                "release_statements": sum(released.values()) / releases,
                "follower_statements": sum(followed.values()),
            }
            print(
                f"  {rnd}: release {out['release_cpu_ms']:.3f} CPU ms, "
                f"{out['release_statements']:.2f} statements; follower "
                f"{out['follower_cpu_ms_per_entry']:.4f} CPU ms per entry, "
                f"{out['follower_statements']} statements",
                flush=True,
            )
        for sql, n in followed.most_common():
            print(f"    {n:5d} x {' '.join(sql.split())[:150]}")
        if explain:
            _explain(service, followed, counter.params)
        if prof:
            text = io.StringIO()
            pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(25)
            print(text.getvalue())
    finally:
        service.close()
    return out


def callgrind_available() -> bool:
    """Whether instructions can be counted (valgrind's callgrind and its control tool)."""
    return all(shutil.which(tool) for tool in ("valgrind", "callgrind_control"))


def _callgrind(enabled: bool, *args: str) -> None:
    if enabled:
        subprocess.run(
            ["callgrind_control", *args, str(os.getpid())], check=True, capture_output=True
        )


def _in_callgrind(prep: ksb.Prepared, key_file: Path, size: int, releases: int) -> dict[str, Any]:
    """:func:`phases` in a child process under callgrind: instructions per phase."""
    with tempfile.TemporaryDirectory(prefix="rwc-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        job = Path(tmp) / "job.json"
        job.write_text(
            json.dumps({"prep": dataclasses.asdict(prep), "key": str(key_file), "size": size})
        )
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
        argv += [f"--callgrind-out-file={out}", sys.executable, __file__]
        argv += ["--child", str(job), "--releases", str(releases)]
        done = subprocess.run(argv, check=True, capture_output=True, text=True)
        print(done.stdout, end="")
        figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        for dump in sorted(Path(tmp).glob("callgrind.out*")):
            text = dump.read_text()
            trigger = re.search(r"^desc: Trigger: dump (\w+)", text, re.MULTILINE)
            totals = re.search(r"^(?:totals|summary): (\d+)", text, re.MULTILINE)
            if trigger and totals:
                figures[f"{trigger.group(1)}_instructions"] = int(totals.group(1))
    phase_count = {"releases": releases, "follower": releases}
    for phase, count in phase_count.items():
        n = figures.get(f"{phase}_instructions")
        if n is not None:
            print(f"  {phase}: {n / count / 1e3:,.1f} k instructions per release")
    return figures


def _explain(service: Any, seen: collections.Counter[str], params: dict[str, Any]) -> None:
    """The plan of each distinct SELECT/UPDATE the follower ran, with its last parameters.

    SQLite: EXPLAIN QUERY PLAN of the traced (expanded) text. PostgreSQL: EXPLAIN ANALYZE
    with the rows each node returned, in a transaction rolled back afterwards.
    """
    sqlite = service.engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) "
    with service.engine.connect() as conn:
        for sql in seen:
            if not sql.lstrip().upper().startswith(("SELECT", "UPDATE")):
                continue
            plan = conn.exec_driver_sql(prefix + sql, params.get(sql) or ()).all()
            print(f"    {' '.join(sql.split())[:110]}")
            for row in plan:
                print(f"      {row[-1]}")
        conn.rollback()


def served(sizes: list[int], rounds: int, duration: int) -> dict[str, list[float]]:
    """``keyserver serve`` on one database per tree size, with and without the log, A B A B.

    The question the in-process figures cannot answer alone: does a served server's CPU
    per release WITH the log depend on the tree's size? Each database is prepared once
    (its log built and hashed); the windows alternate over the databases and the two
    modes, so that the machine's drift falls on every series alike
    (``tlog_overhead._measure``: the backlog caught up before a window, the rest inside).
    """
    import contextlib  # noqa: PLC0415
    import statistics  # noqa: PLC0415

    cpu: dict[str, list[float]] = {}
    with contextlib.ExitStack() as stack:
        preps = []
        for size in sizes:
            url = stack.enter_context(ksb.sqlite_database())
            # Attempt budgets: every release here counts toward its container's (1000).
            prep = ksb.prepare(url, max(50, -(-rounds * 2 * duration * 4000 // 900)))
            build_log(ksb._settings(url, prep.master_key_b64), size)
            preps.append((size, prep))
        for _ in range(rounds):
            for size, prep in preps:
                for interval in (None, 10.0):
                    rps, cpu_ms, errors, tree = _measure(prep, 1, interval, duration)
                    name = f"{size:,} entries, " + ("with log" if interval else "no log")
                    cpu.setdefault(name, []).append(cpu_ms)
                    print(
                        f"  {name}: {rps:,.0f} req/s, {cpu_ms:.3f} CPU ms/release "
                        f"({errors} errors, tree {tree:,})",
                        flush=True,
                    )
    for name, values in cpu.items():
        print(f"{name}: median {statistics.median(values):.3f} CPU ms/release {values}")
    return cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 300_000])
    ap.add_argument("--releases", type=int, default=5000)
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--explain", action="store_true")
    ap.add_argument("--profile", action="store_true", help="cProfile of the follower run")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--served", type=int, metavar="ROUNDS", help="served A/B (see served())")
    ap.add_argument("--duration", type=int, default=10, help="seconds per served window")
    args = ap.parse_args()
    if args.served:
        served(args.sizes, args.served, args.duration)
        return 0
    if args.child:
        job = json.loads(Path(args.child).read_text())
        prep = ksb.Prepared(**job["prep"])
        out = phases(prep, Path(job["key"]), job["size"], args.releases, callgrind=True)
        print(json.dumps(out))
        return 0
    for size in args.sizes:
        measure(size, args.releases, args.db, explain=args.explain, profile=args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
