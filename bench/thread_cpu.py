"""Where a second server process's extra CPU per release goes, thread by thread (issue 15).

The scaling rows read the CPU of a server's whole process group. With 2 workers a release
costs more than with 1 (twenty-first session, at the peaks: SQLite 0.64 -> 0.79 ms), and
the group's total does not say where: the event loop (HTTP, JSON, uvicorn and asyncio,
once per request), the committer (the batch: reads, the chain head, COMMIT, the VOPRF),
the short-lived threads (the SQLite writer lock's waiting helper, writelock.py), or the
supervisor that hands connections to the workers (serve_handoff.py). This reads each
thread of every server process from ``/proc/PID/task/TID/schedstat`` (nanoseconds on the
CPU and waiting for one, and the number of times it was put on a CPU) before and after
each wrk run, and prints per release:

* ``loop``: each worker's main thread (the event loop);
* ``committer``: each worker's busiest other thread over the run (the group commit's);
* ``threads``: every other live thread, and ``exited``: threads that ended during the
  run (the process's own clock-tick total less its live threads', 10 ms ticks);
* ``supervisor``: every thread of the group's leader (``serve --workers N``'s parent);
* the PostgreSQL backends of the bench database and wrk (keyserver_bench.with_cpu), and
  the releases per batch (the workers' /metrics, keyserver_bench.with_head).

CPU time and slices per release move much less with a loaded machine than rates do. One
server per configuration on its own database; 1 worker right before 2 at each load.
``--db postgres --configs 1w,2w,2i`` adds 2 instances (two ``serve --workers 1`` on one
database, one wrk each, as the bench's row; scale18): their roles summed over both, and
beside every configuration PostgreSQL's shared processes, wrk and their sum ``all``.

    .venv/bin/python bench/thread_cpu.py --rounds 2 --duration 5 --connections 32,64,128
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import keyserver_bench as kb
from stats import table

ROLES = ("loop", "committer", "threads", "exited", "supervisor")


def _fields(path: str) -> list[bytes] | None:
    """Fields 3.. of a /proc ``stat`` file (None if the process or thread is gone)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(b")") + 2 :].split()


def _ticks(fields: list[bytes]) -> int:
    # utime + stime (fields 14 and 15): of a process, its exited threads' included.
    return int(fields[11]) + int(fields[12])


def _group_pids(pgid: int) -> list[int]:
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _fields(f"/proc/{entry.name}/stat")
            if fields is not None and int(fields[2]) == pgid:  # field 5: pgrp
                out.append(int(entry.name))
    return sorted(out)


def _schedstat(pid: int, tid: int) -> tuple[int, int, int] | None:
    """(ns on a CPU, ns runnable waiting for one, times put on a CPU), None if gone."""
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            on_cpu, waited, slices = f.read().split()
    except OSError:
        return None
    return int(on_cpu), int(waited), int(slices)


def snapshot(pgid: int) -> dict[int, dict[str, Any]]:
    """Every process of the group: its threads' schedstat, its and their tick totals."""
    out: dict[int, dict[str, Any]] = {}
    for pid in _group_pids(pgid):
        threads, live_ticks = {}, 0
        with contextlib.suppress(OSError):
            for entry in os.scandir(f"/proc/{pid}/task"):
                stat = _schedstat(pid, int(entry.name))
                task = _fields(f"/proc/{pid}/task/{entry.name}/stat")
                if stat is not None and task is not None:
                    threads[int(entry.name)] = stat
                    live_ticks += _ticks(task)
        fields = _fields(f"/proc/{pid}/stat")
        if fields is not None:
            out[pid] = {"threads": threads, "ticks": _ticks(fields), "live_ticks": live_ticks}
    return out


def split(
    before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]], leader: int
) -> dict[str, list[float]]:
    """Per role: [CPU s, runnable-waiting s, slices] over the run, summed over processes."""
    roles: dict[str, list[float]] = {r: [0.0, 0.0, 0.0] for r in ROLES}
    hz = os.sysconf("SC_CLK_TCK")
    for pid, now in after.items():
        then = before.get(pid, {"threads": {}, "ticks": 0, "live_ticks": 0})
        deltas = {}
        for tid, (cpu, wait, slices) in now["threads"].items():
            c0, w0, s0 = then["threads"].get(tid, (0, 0, 0))
            deltas[tid] = ((cpu - c0) / 1e9, (wait - w0) / 1e9, float(slices - s0))
        if pid == leader and len(after) > 1:  # serve --workers 1 serves in the leader
            for d in deltas.values():
                roles["supervisor"] = [a + b for a, b in zip(roles["supervisor"], d, strict=True)]
            continue
        others = sorted((t for t in deltas if t != pid), key=lambda t: deltas[t][0], reverse=True)
        for tid, d in deltas.items():
            role = (
                "loop" if tid == pid else "committer" if others and tid == others[0] else "threads"
            )
            roles[role] = [a + b for a, b in zip(roles[role], d, strict=True)]
        dead = (now["ticks"] - now["live_ticks"]) - (then["ticks"] - then["live_ticks"])
        roles["exited"][0] += max(dead, 0) / hz
    return roles


def point(up: Up, conns: int, seconds: int) -> dict[str, Any]:
    load = os.getloadavg()[0]
    parts: dict[str, float] = {}
    marks: dict[str, Any] = {}
    prep, bases, pgids = up.prep, up.bases, up.pgids

    def measured() -> kb.Measured:
        def run() -> kb.WrkResult:
            marks["before"] = [snapshot(g) for g in pgids]
            if len(bases) == 1:
                result = kb.load_test(prep, bases[0], seconds, connections=conns)
            else:
                result = kb.load_test_instances(prep, bases, seconds, connections=conns)
            marks["after"] = [snapshot(g) for g in pgids]
            return result

        return kb.with_cpu(pgids, run, prep.database_url, parts)

    (result, _, _), head = kb.with_head(bases, measured, up.workers)
    per = 1000 / max(result.requests, 1)
    roles: dict[str, list[float]] = {r: [0.0, 0.0, 0.0] for r in ROLES}
    for before, after, pgid in zip(marks["before"], marks["after"], pgids, strict=True):
        for role, figures in split(before, after, pgid).items():
            roles[role] = [a + b for a, b in zip(roles[role], figures, strict=True)]
    row: dict[str, Any] = {
        "config": up.label,
        "workers": up.workers * len(bases),
        "connections": conns,
        "load": load,
        "rps": result.rps,
        "errors": result.errors,
        "server_ms": parts["server"],
        "backends_ms": parts["backends"],
        "wrk_ms": parts["wrk"],
        "pg_shared_ms": parts["pg_shared"],
        "all_ms": parts["all"],
        "busy": parts["busy"],
        "jobs_per_batch": (head or {}).get("jobs_per_batch"),
        "head_hold_ms": (head or {}).get("hold"),
        "head_wait_ms": (head or {}).get("wait"),
    }
    for role, (cpu, wait, slices) in roles.items():
        row[f"{role}_ms"] = cpu * per
        row[f"{role}_runq_ms"] = wait * per
        row[f"{role}_slices"] = slices / max(result.requests, 1)
    return row


@dataclass(frozen=True)
class Up:
    """One configuration, up: ``1w``/``2w`` (one serve, 1 or 2 workers) or ``2i`` (two
    ``serve --workers 1`` on one database, one wrk each: keyserver_bench's instances)."""

    label: str
    prep: kb.Prepared
    bases: list[str]
    pgids: list[int]
    workers: int  # per serve (with_head scrapes each serve this many times)


@contextlib.contextmanager
def servers(
    db: str, containers: int, log: bool = True, configs: tuple[str, ...] = ("1w", "2w")
) -> Iterator[list[Up]]:
    make = kb.postgres_database if db == "postgres" else kb.sqlite_database
    # Without the transparency log no follower runs: its thread, every 10 s, is most of
    # "threads" otherwise, and falls into a short window 0 or 1 times.
    interval = 10.0 if log else None
    with contextlib.ExitStack() as stack:
        out = []
        for label in configs:
            # Each configuration on its own fresh database.
            prep = kb.prepare(stack.enter_context(make()), containers)
            count, workers = (2, 1) if label == "2i" else (1, int(label[0]))
            up = [
                stack.enter_context(kb.running_keyserver(prep, workers, interval))
                for _ in range(count)
            ]
            out.append(Up(label, prep, [b for b, _ in up], [g for _, g in up], workers))
        yield out


def medians(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for key in dict.fromkeys((p["config"], p["connections"]) for p in points):
        mine = [p for p in points if (p["config"], p["connections"]) == key]
        row = {
            k: statistics.median(p[k] for p in mine)
            for k in mine[0]
            if mine[0][k] is not None and k != "config"
        }
        row["config"] = key[0]
        row["rounds"] = len(mine)
        out.append(row)
    return out


def _print(rows: list[dict[str, Any]]) -> None:
    cols = [
        "config",
        "conns",
        "load",
        "rel/s",
        "jobs/batch",
        "server",
        *ROLES,
        "backends",
        "pg shared",
        "wrk",
        "all",
        "busy",
    ]
    print("CPU ms per release (medians), by thread")
    print(
        table(
            cols,
            [
                [
                    r["config"],
                    str(int(r["connections"])),
                    f"{r['load']:.1f}",
                    f"{r['rps']:,.0f}",
                    f"{r.get('jobs_per_batch', 0):.1f}",
                    f"{r['server_ms']:.3f}",
                    *(f"{r[f'{role}_ms']:.3f}" for role in ROLES),
                    f"{r['backends_ms']:.3f}",
                    f"{r['pg_shared_ms']:.3f}",
                    f"{r['wrk_ms']:.3f}",
                    f"{r['all_ms']:.3f}",
                    f"{r['busy']:.2f}",
                ]
                for r in rows
            ],
        )
    )
    print("Runnable but waiting for a CPU, ms per release / times put on a CPU per release")
    print(
        table(
            ["config", "conns", *(r for r in ROLES if r != "exited")],
            [
                [
                    r["config"],
                    str(int(r["connections"])),
                    *(
                        f"{r[f'{role}_runq_ms']:.3f} / {r[f'{role}_slices']:.2f}"
                        for role in ROLES
                        if role != "exited"
                    ),
                ]
                for r in rows
            ],
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=5, help="wrk seconds per point")
    ap.add_argument("--connections", default="32,64", help="the sweep, comma-separated")
    ap.add_argument("--containers", type=int, default=200, help="per database (budget 1000)")
    ap.add_argument(
        "--no-log", action="store_true", help="no transparency log (no follower thread)"
    )
    ap.add_argument(
        "--configs",
        default="1w,2w",
        help="comma-separated: 1w, 2w (one serve), 2i (2 instances on one PostgreSQL)",
    )
    ap.add_argument("--json", help="write the points and medians to this file")
    args = ap.parse_args()
    sweep = [int(c) for c in args.connections.split(",")]
    points = []
    configs = tuple(args.configs.split(","))
    with servers(args.db, args.containers, not args.no_log, configs) as up:
        print(f"uptime load {os.getloadavg()}", flush=True)
        for _ in range(args.rounds):
            for conns in sweep:
                for one in up:
                    points.append(point(one, conns, args.duration))
                    print(json.dumps(points[-1]), flush=True)
    rows = medians(points)
    _print(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"points": points, "medians": rows}, f, indent=1)


if __name__ == "__main__":
    main()
