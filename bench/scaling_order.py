"""A/B of the scaling rows' order on PostgreSQL: one after the other, or in step (issue 15).

The key-server bench divides each 2-process configuration's peak by the 1-worker one's.
Until scale18 it measured them one after the other on one database (A, "sequential"): the
1 worker's row and sweep, then its row without keep-alive; 2 workers', then the host
committer's row; 2 instances' last, minutes after the 1 worker's, on the database the
others had filled. Since, each configuration has its own fresh database, all are up at
once, their sweeps go in step, and each point brings its transparency tree up to date
in its own window (B, "in step": keyserver_bench.sweep_in_step, caught_up). This runs
both, alternating in rounds (A first in odd rounds, B first in even ones), with the
bench's own readings and stop rule (every point from 16 connections, doubling until the
rate stops rising or p99 passes the bound), and prints per flow and round each
configuration's peak, its CPU ms per release of every process, and the ratios 2 / 1 at
the peaks by rate and by CPU per release; the load average with each.

    .venv/bin/python bench/scaling_order.py --rounds 2 --duration 5
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import statistics
from typing import Any

import keyserver_bench as kb
from scaling import LATENCY_BOUND_MS, peak, sweeps

CONFIGS = (("1 worker", 1, 1), ("2 workers", 2, 1), ("2 instances", 1, 2))


def _config(
    prep: kb.Prepared, servers: list[tuple[str, int]], workers: int, secs: int, step: bool
) -> Any:
    bases = [b for b, _ in servers]
    if len(bases) > 1:
        load = functools.partial(
            lambda c, bases: kb.load_test_instances(prep, bases, secs, c), bases=bases
        )
    else:
        load = functools.partial(
            lambda c, base: kb.load_test(prep, base, secs, connections=c), base=bases[0]
        )
    if step:  # B: each point's follower work in its own window (keyserver_bench.caught_up)
        load = kb.caught_up(prep, bases[0], load)
    return kb.Swept({}, load, [g for _, g in servers], prep.database_url, tuple(bases), workers)


def _peaks(points: list[dict[str, Any]], bound_ms: float) -> list[dict[str, Any]]:
    return [peak([p for p in points if p["target"] == i], bound_ms) for i in range(3)]


def sequential(args: argparse.Namespace) -> list[dict[str, Any]]:
    """A: one database; each configuration's whole sweep, then the next (the old order)."""
    points: list[dict[str, Any]] = []
    with kb.postgres_database() as url:
        prep = kb.prepare(url, args.containers)
        for i, (_, workers, count) in enumerate(CONFIGS):
            with contextlib.ExitStack() as up:
                servers = [
                    up.enter_context(kb.running_keyserver(prep, workers)) for _ in [0] * count
                ]
                config = _config(prep, servers, workers, args.duration, step=False)
                mine = sweeps([config], 1, None, kb.sweep_point, args.latency_bound)
                points += [{**p, "target": i} for p in mine]
                if i == 0:  # the bench's row without keep-alive came next
                    kb.load_test(prep, servers[0][0], args.duration, keepalive=False)
            if i == 1:  # ... and the host committer's row after the 2 workers'
                extra = {"KEYSERVER_HOST_COMMITTER": "true"}
                with kb.running_keyserver(prep, 2, env_extra=extra) as (base, _):
                    kb.load_test(prep, base, args.duration)
    return points


def in_step(args: argparse.Namespace) -> list[dict[str, Any]]:
    """B: each configuration on its own fresh database, all up, their sweeps in step."""
    with contextlib.ExitStack() as up:
        configs = []
        for _, workers, count in CONFIGS:
            prep = kb.prepare(up.enter_context(kb.postgres_database()), args.containers)
            servers = [up.enter_context(kb.running_keyserver(prep, workers)) for _ in [0] * count]
            configs.append(_config(prep, servers, workers, args.duration, step=True))
        return sweeps(configs, 1, None, kb.sweep_point, args.latency_bound)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=5, help="wrk seconds per point")
    ap.add_argument("--containers", type=int, default=300, help="per database (budget 1000)")
    ap.add_argument(
        "--latency-bound",
        type=float,
        default=LATENCY_BOUND_MS,
        help="p99 ms that ends a sweep and bounds its peak (the bench's: %(default)s)",
    )
    ap.add_argument("--json", help="write every round's points and peaks to this file")
    args = ap.parse_args()
    flows = {"A sequential": sequential, "B in step": in_step}
    results: list[dict[str, Any]] = []
    for rnd in range(1, args.rounds + 1):
        order = list(flows) if rnd % 2 else list(flows)[::-1]
        for flow in order:
            load0 = os.getloadavg()[0]
            points = flows[flow](args)
            p1, p2, p3 = _peaks(points, args.latency_bound)
            out = {
                "round": rnd,
                "flow": flow,
                "load": [load0, os.getloadavg()[0]],
                "peaks": [p1, p2, p3],
                "rate_2w": p2["rps"] / p1["rps"],
                "rate_2i": p3["rps"] / p1["rps"],
                "cpu_2w": 2 * p1["all_ms"] / p2["all_ms"],
                "cpu_2i": 2 * p1["all_ms"] / p3["all_ms"],
                "points": points,
            }
            results.append(out)
            print(
                f"round {rnd} {flow:<13} load {load0:.1f}-{out['load'][1]:.1f}: peaks "
                + ", ".join(
                    f"{name} {p['rps']:,.0f} at {p['connections']} ({p['all_ms']:.3f} ms)"
                    for (name, _, _), p in zip(CONFIGS, out["peaks"], strict=True)
                )
                + f"; 2 workers {out['rate_2w']:.2f}x (CPU {out['cpu_2w']:.2f}x), 2 instances"
                f" {out['rate_2i']:.2f}x (CPU {out['cpu_2i']:.2f}x)",
                flush=True,
            )
    for flow in flows:
        mine = [r for r in results if r["flow"] == flow]
        print(
            f"median {flow:<13}: "
            + ", ".join(
                f"{k} {statistics.median(r[k] for r in mine):.2f}x"
                for k in ("rate_2w", "cpu_2w", "rate_2i", "cpu_2i")
            )
        )
    print(f"uptime load {os.getloadavg()}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
