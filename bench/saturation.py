"""Scaling at saturation: each configuration over a sweep of wrk connections (issue 15).

The key-server bench takes its scaling rows at one load, wrk's 16 closed connections. With
2 workers each serves ~8 of them, so each batches at most 8 releases where one worker
batches up to 16, and pays the batch's fixed cost twice as often per release (bench/
README.md, "Session 19: scaling on SQLite"): the ratio at 16 connections measures the
load as much as the server. A scaling figure is normally taken at saturation: each
configuration at the load where its rate peaks. This script measures that.

Every server is started once and stays up (the bare FastAPI + VOPRF endpoint, rwc on
SQLite and on PostgreSQL, 1 and 2 workers; 2 instances on one PostgreSQL; each rwc one on
its own database, so the budgets and the tables' sizes do not mix), then for each
connection count the configurations run one after the other, 1 process right before 2,
so a pair is taken at the same moment of a machine whose speed drifts. Per point:
releases/s, p50/p99 latency, CPU ms per release of the server and its PostgreSQL backends,
the CPUs every process of the release (wrk included) kept busy, releases per batch, and
the load average. Then per configuration the peak (the connection count with the highest
rate within the latency bound, the median over rounds) and the ratio 2 processes / 1 at
the 16 connections the bench uses and at each one's own peak. By default each
configuration's sweep goes from 16 connections, doubling, until its rate stops rising or
its p99 passes the bound (bench/scaling.py ``next_connections``), as the bench's does.

    .venv/bin/python bench/saturation.py --rounds 2 --duration 5
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import keyserver_bench as kb
from bare_voprf import running_bare
from scaling import EDGES, LATENCY_BOUND_MS, peak, sweeps
from stats import table
from tang import free_port
from wrk import WrkResult


@dataclass(frozen=True)
class Target:
    """One configuration, up: what to load and whose CPU to count."""

    series: str  # "bare", "SQLite", "PostgreSQL", "PostgreSQL instances"
    processes: int
    bases: list[str]
    pgids: list[int]
    database_url: str
    load: Callable[[int, int], WrkResult]  # (connections, seconds) -> result


def point(target: Target, connections: int, seconds: int) -> dict[str, Any]:
    """One measured point: the load, and the readings keyserver_bench takes for a row."""
    load = os.getloadavg()[0]
    parts: dict[str, float] = {}
    run = functools.partial(target.load, connections, seconds)
    measure = functools.partial(kb.with_cpu, target.pgids, run, target.database_url, parts)
    if target.series == "bare":
        (result, cpu_ms, _), head = measure(), None
    else:
        workers = target.processes if len(target.bases) == 1 else 1
        (result, cpu_ms, _), head = kb.with_head(target.bases, measure, workers)
    return {
        "series": target.series,
        "processes": target.processes,
        "connections": connections,
        "load": load,
        "rps": result.rps,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "errors": result.errors,
        "cpu_ms": cpu_ms,
        "all_ms": parts.get("all", 0.0),
        "busy": parts.get("busy", 0.0),
        "jobs_per_batch": (head or {}).get("jobs_per_batch"),
        # The chain head per release (ms): waited for it, held it, and of the hold the
        # holder waiting for a CPU (a loaded machine's cost to every worker).
        **{f"head_{k}_ms": (head or {}).get(k) for k in ("wait", "hold", "runq")},
    }


def _median(points: list[dict[str, Any]], key: str, connections: int) -> float:
    return statistics.median(p[key] for p in points if p["connections"] == connections)


def ratios(
    points: list[dict[str, Any]], at: int = 16, bound_ms: float = LATENCY_BOUND_MS
) -> list[dict[str, Any]]:
    """Per series: 2 processes / 1 at ``at`` connections and at each one's own peak."""
    out = []
    for series in dict.fromkeys(p["series"] for p in points):
        if series.endswith(" instances"):
            continue
        mine = [p for p in points if p["series"] == series]
        for other in (series, f"{series} instances"):
            two = [p for p in points if p["series"] == other and p["processes"] == 2]
            one = [p for p in mine if p["processes"] == 1]
            if not two or not one:
                continue
            fixed_one = [p["rps"] for p in one if p["connections"] == at]
            fixed_two = [p["rps"] for p in two if p["connections"] == at]
            p1, p2 = peak(one, bound_ms), peak(two, bound_ms)
            out.append(
                {
                    "series": other,
                    f"ratio_at_{at}": statistics.median(fixed_two) / statistics.median(fixed_one)
                    if fixed_one and fixed_two
                    else None,
                    "peak_one": p1,
                    "peak_two": p2,
                    "ratio_at_peak": p2["rps"] / p1["rps"] if p1["rps"] else None,
                    # 2 processes on twice the CPUs of 1 (keyserver_bench._by_cpu's measure,
                    # every process a release needs): what the load average leaves alone.
                    "cpu_ratio_at_peak": 2 * p1["all_ms"] / p2["all_ms"],
                    f"cpu_ratio_at_{at}": 2
                    * _median(one, "all_ms", at)
                    / _median(two, "all_ms", at)
                    if fixed_one and fixed_two
                    else None,
                }
            )
    return out


def _bare(base: str, connections: int, seconds: int) -> WrkResult:
    return kb.bare_load(base, seconds, connections)


def _rwc_load(prep: kb.Prepared, base: str) -> Callable[[int, int], WrkResult]:
    # Each point pays its own transparency follower's work (keyserver_bench.caught_up):
    # the configurations alternate, and would otherwise pay each other's.
    return kb.caught_up(
        prep, base, lambda conns, seconds: kb.load_test(prep, base, seconds, connections=conns)
    )


@contextlib.contextmanager
def targets(series: list[str], containers: int) -> Iterator[list[Target]]:
    """Every configuration asked for, started and ready, in the order they are measured."""
    with contextlib.ExitStack() as stack:
        out: list[Target] = []
        if "bare" in series:
            for workers in (1, 2):
                base, pgid = stack.enter_context(running_bare(free_port(), workers))
                load = functools.partial(_bare, base)
                out.append(Target("bare", workers, [base], [pgid], "", load))
        databases = [("SQLite", kb.sqlite_database)]
        if "PostgreSQL" in series and kb.postgres_available() is None:
            databases.append(("PostgreSQL", kb.postgres_database))
        for name, make_db in databases:
            if name not in series:
                continue
            for workers in (1, 2):
                url = stack.enter_context(make_db())
                prep = kb.prepare(url, containers)
                base, pgid = stack.enter_context(kb.running_keyserver(prep, workers))
                out.append(Target(name, workers, [base], [pgid], url, _rwc_load(prep, base)))
            if name == "PostgreSQL" and "instances" in series:
                url = stack.enter_context(make_db())
                prep = kb.prepare(url, containers)
                servers = [stack.enter_context(kb.running_keyserver(prep, 1)) for _ in (1, 2)]
                bases = [b for b, _ in servers]
                out.append(
                    Target(
                        "PostgreSQL instances",
                        2,
                        bases,
                        [g for _, g in servers],
                        url,
                        kb.caught_up(
                            prep,
                            bases[0],
                            lambda c, s, prep=prep, bases=bases: kb.load_test_instances(
                                prep, bases, s, connections=c
                            ),
                        ),
                    )
                )
        yield out


def _print(points: list[dict[str, Any]], scaled: list[dict[str, Any]], at: int) -> None:
    print(
        table(
            [
                "series",
                "procs",
                "conns",
                "load",
                "rel/s",
                "p50 ms",
                "p99 ms",
                "err",
                "CPU ms/rel",
                "all ms/rel",
                "busy CPUs",
                "jobs/batch",
            ],
            [
                [
                    p["series"],
                    str(p["processes"]),
                    str(p["connections"]),
                    f"{p['load']:.2f}",
                    f"{p['rps']:,.0f}",
                    f"{p['p50_ms']:.1f}",
                    f"{p['p99_ms']:.1f}",
                    str(p["errors"]),
                    f"{p['cpu_ms']:.3f}",
                    f"{p['all_ms']:.3f}",
                    f"{p['busy']:.2f}",
                    f"{p['jobs_per_batch']:.1f}" if p["jobs_per_batch"] else "-",
                ]
                for p in points
            ],
        )
    )

    def at_peak(s: dict[str, Any]) -> str:
        edge = f", {EDGES[s['edge']]}" if s.get("edge") else ""
        return (
            f"{s['rps']:,.0f} at {s['connections']} (p50 {s['p50_ms']:.1f} / p99 "
            f"{s['p99_ms']:.1f} ms, all {s['all_ms']:.3f} ms/rel{edge})"
        )

    print(
        table(
            [
                "series",
                f"2 / 1 at {at}",
                "2 / 1 at peaks",
                f"by CPU at {at}",
                "by CPU at peaks",
                "1 process peak",
                "2 processes peak",
            ],
            [
                [
                    s["series"],
                    f"{r:.2f}x" if (r := s[f"ratio_at_{at}"]) else "-",
                    f"{s['ratio_at_peak']:.2f}x" if s["ratio_at_peak"] else "-",
                    f"{r:.2f}x" if (r := s[f"cpu_ratio_at_{at}"]) else "-",
                    f"{s['cpu_ratio_at_peak']:.2f}x",
                    at_peak(s["peak_one"]),
                    at_peak(s["peak_two"]),
                ]
                for s in scaled
            ],
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=5, help="wrk seconds per point")
    ap.add_argument(
        "--connections",
        default="auto",
        help="the sweep, comma-separated; auto (the default): from 16, doubling, until each"
        f" configuration's rate falls or its p99 passes {LATENCY_BOUND_MS:.0f} ms",
    )
    ap.add_argument("--containers", type=int, default=200, help="per database (budget 1000)")
    ap.add_argument(
        "--series",
        default="bare,SQLite,PostgreSQL,instances",
        help="comma-separated: bare, SQLite, PostgreSQL, instances (2 on one PostgreSQL)",
    )
    ap.add_argument(
        "--latency-bound",
        type=float,
        default=LATENCY_BOUND_MS,
        help="p99 ms that ends a sweep and bounds its peak (the bench's: %(default)s); on a"
        " loaded machine every point passes it, so a comparison of CPU per release there"
        " needs a higher one",
    )
    ap.add_argument("--json", help="write the points and ratios to this file")
    args = ap.parse_args()
    fixed = None if args.connections == "auto" else [int(c) for c in args.connections.split(",")]
    at = 16 if fixed is None or 16 in fixed else fixed[0]
    with targets(args.series.split(","), args.containers) as up:
        print(f"{len(up)} configurations up; load average {os.getloadavg()}", flush=True)

        def said(target: Target, connections: int) -> dict[str, Any]:
            measured = point(target, connections, args.duration)
            print(json.dumps(measured), flush=True)
            return measured

        points = sweeps(up, args.rounds, fixed, said, args.latency_bound)
    scaled = ratios(points, at, args.latency_bound)
    _print(points, scaled, at)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"points": points, "ratios": scaled}, fh, indent=1)


if __name__ == "__main__":
    main()
