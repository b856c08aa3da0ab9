"""The key-server bench's scaling figures: 2 processes against 1, at 16 connections and at
saturation (issue 15).

A row is one configuration measured by keyserver_bench (``series``, ``processes``, its rate
at wrk's 16 connections, CPU parts, chain head) and, in a full run, its ``sweep``: the same
server at more connections (:data:`SATURATION_CONNECTIONS`). The target's verdict is taken
at saturation, each configuration at the connection count where its rate peaks; the ratio
at 16 connections is printed beside it, so the figures compare with the runs before.

Why saturation (bench/README.md, "Session 20: scaling at saturation"): wrk's connections
are closed (each waits for its answer), so with 2 workers each serves half of them and
batches at most half as many releases; the ratio at one fixed load then measures how the
load is split as much as what the server can do. A scaling figure is each configuration's
most, with the latency it was reached at.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from stats import table, verdict

# Issue 15: 2 workers, and 2 instances on one PostgreSQL, >= 1.6x one worker. (The old
# ">= 1.5x Tang" target measured how fast the machine forks tangd; it is retired, the ratio
# is still printed.)
TARGET_SCALING = 1.6
# The sweep a full run adds to each scaling row's 16 connections (the row itself): from
# 32, doubling, until the configuration's saturation is behind it (next_connections). A
# fixed list ended at 64, then at 128, and every 2-process configuration peaked at its last
# count in the twentieth to twenty-second runs (bench/profiles/keyserver.md, "Session 22"
# and "Session 23"): a peak at the sweep's last point is not a peak, it is where the
# sweep stopped looking.
SWEEP_FIRST = 32
# p99 latency (ms) past which a rate no longer counts: a clerk opening a container waits for
# its key release, and a quarter of a second on top of the command's own ~0.2 s is what
# issue 15's small-open target allows the whole open; past it a higher rate is bought with
# a wait people notice. A point over the bound ends the sweep and is not a peak.
LATENCY_BOUND_MS = 250.0
# The rate has stopped rising when PATIENCE points in a row are not RATE_RISE above the
# best before them: a point's rate moves by a percent or two between rounds on a quiet
# machine, so a rise within that is noise, and one point that falls may be a dip (at load
# 6-10, measured: a second instance sweep ended at 32 connections on one such dip); two
# in a row put the peak (known to within RATE_RISE) behind the sweep. Past saturation
# each doubling also doubles the wait (Little's law), so the latency bound comes soon.
RATE_RISE = 0.02
PATIENCE = 2
# The most connections a sweep goes to, whatever the above (a run must end; ~1,000
# releases/s at 1,024 closed connections is a p50 of 1 s, far past the bound anyway).
SWEEP_MAX = 1024

T = TypeVar("T")


def _rose(points: list[dict[str, Any]], last: int = 1) -> bool:
    """Whether one of the ``last`` points rose RATE_RISE above every point before them."""
    best = max((p["rps"] for p in points[:-last]), default=0.0)
    return any(p["rps"] > (1 + RATE_RISE) * best for p in points[-last:])


def next_connections(
    points: list[dict[str, Any]], first: int = SWEEP_FIRST, bound_ms: float = LATENCY_BOUND_MS
) -> int | None:
    """The next connection count of a sweep measured so far in order, None when done.

    The sweep doubles the last count until one of: the last point's p99 passed
    ``bound_ms`` (LATENCY_BOUND_MS: the bench's); the last PATIENCE points did not rise
    RATE_RISE above the best before them (they fell, or stayed level within the noise:
    the peak is behind); the next count would pass SWEEP_MAX (then the peak may be
    censored, and :func:`peak` says so). An empty sweep starts at ``first``.
    """
    if not points:
        return first
    last = points[-1]
    if last["p99_ms"] > bound_ms:
        return None
    if len(points) > PATIENCE and not _rose(points, PATIENCE):
        return None
    nxt = 2 * int(last["connections"])
    return nxt if nxt <= SWEEP_MAX else None


def sweeps(
    up: Sequence[T],
    rounds: int,
    fixed: list[int] | None,
    measure: Callable[[T, int], dict[str, Any]],
    bound_ms: float = LATENCY_BOUND_MS,
    start: Sequence[list[dict[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    """Every configuration's sweep, in step, ``rounds`` times; the points in the order measured.

    At each step the configurations still sweeping run one after the other at their next
    count (in ``up``'s order: 1 process right before 2, so the points a ratio divides are
    taken a minute apart at most, not a whole sweep apart: this VM's speed drifts by tens
    of percent within minutes, bench/README.md "Session 24"). Without ``fixed`` counts a
    configuration's first round doubles until next_connections ends it (its rate stopped
    rising, or its p99 passed ``bound_ms``), each configuration on its own, from its
    ``start`` points (measured before, e.g. the bench's row at 16 connections: read by the
    stop rule, not returned) or else from 16 connections; the later rounds repeat each
    one's counts, so every count of a configuration has as many rounds as the others (the
    peak is a median per count). ``measure(target, connections)`` returns one point; each
    returned point also holds ``target``, its configuration's index in ``up``.
    """
    points: list[dict[str, Any]] = []
    counts: list[list[int]] = [[] for _ in up]
    before = list(start) if start is not None else [[] for _ in up]
    for rnd in range(rounds):
        step = 0
        while True:
            todo = []
            for i, target in enumerate(up):
                if rnd:
                    c = counts[i][step] if step < len(counts[i]) else None
                elif fixed is not None:
                    c = fixed[step] if step < len(fixed) else None
                else:
                    mine = [*before[i], *(p for p in points if p["target"] == i)]
                    c = next_connections(mine, first=16, bound_ms=bound_ms)
                if c is not None:
                    todo.append((i, target, c))
            if not todo:
                break
            for i, target, c in todo:
                points.append({**measure(target, c), "target": i})
                if not rnd:
                    counts[i].append(c)
            step += 1
    return points


def point(
    connections: int,
    rps: float,
    p50_ms: float,
    p99_ms: float,
    parts: dict[str, float] | None,
    jobs_per_batch: float | None = None,
) -> dict[str, Any]:
    """One measured load: its connections, rate, latency, CPU per release of every process."""
    return {
        "connections": connections,
        "load": os.getloadavg()[0],
        "rps": rps,
        "p50_ms": p50_ms,
        "p99_ms": p99_ms,
        "all_ms": (parts or {}).get("all"),
        "busy": (parts or {}).get("busy"),
        "jobs_per_batch": jobs_per_batch,
    }


def row_points(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A bench row's own point (16 connections) and its sweep's."""
    own = point(
        row.get("connections", 16),
        row["rps"],
        row["p50_ms"],
        row["p99_ms"],
        row.get("cpu_parts"),
        (row.get("chain_head") or {}).get("jobs_per_batch"),
    )
    return [own, *row.get("sweep", [])]


#: What a peak's ``edge`` (:func:`peak`) means, as the tables print it.
EDGES = {
    "last point": "NOT A PEAK: the sweep's last point",
    "over the bound": f"every point's p99 over {LATENCY_BOUND_MS:.0f} ms",
}


def peak(points: list[dict[str, Any]], bound_ms: float = LATENCY_BOUND_MS) -> dict[str, Any]:
    """The connection count whose rate (the median of its points) is highest, its figures.

    A configuration's saturation on a closed load: past it more connections only queue
    (the latency grows, the rate does not). Several points at one count (rounds) are
    taken at their median, so one lucky second does not make the peak. Only counts whose
    p99 stays within ``bound_ms`` are candidates (a rate bought with a wait a clerk
    notices is not the server's capacity); if none does, all are, and ``edge`` says so.
    ``edge``: None for a peak inside the sweep (a count after it measured lower, or over
    the bound, or it is the last count and rose less than RATE_RISE: level within the
    noise); "last point" when nothing was measured after it while the rate was still
    rising there (censored); "over the bound" when no count kept the bound.
    """
    by_conns: dict[int, list[dict[str, Any]]] = {}
    for p in points:
        by_conns.setdefault(p["connections"], []).append(p)

    def median(rows: list[dict[str, Any]], key: str) -> float | None:
        values = [r[key] for r in rows if r.get(key) is not None]
        return statistics.median(values) if values else None

    keys = ("rps", "p50_ms", "p99_ms", "all_ms", "busy", "load", "jobs_per_batch")
    summary = [
        {"connections": conns, **{k: median(rows, k) for k in keys}}
        for conns, rows in sorted(by_conns.items())
    ]
    kept = [s for s in summary if (s["p99_ms"] or 0.0) <= bound_ms]
    best = max(kept or summary, key=lambda s: s["rps"] or 0.0)
    edge = (
        "over the bound"
        if not kept
        else "last point"
        if best is summary[-1] and _rose(summary)
        else None
    )
    return {**best, "edge": edge}


def _one_series(series: str) -> str:
    """The series whose 1-process row a 2-process row is compared with."""
    return series.replace(" instances", " workers").replace(" committer", " workers")


def scaling(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rate with 2 processes / rate with 1, per series (keep-alive rows), at 16
    connections (``ratio``) and at each one's peak (``peak_ratio``: the target's)."""
    singles = {
        _one_series(r["series"]): r
        for r in rows
        if r["series"] and r["processes"] == 1 and r["keepalive"]
    }
    ones = {series: r["rps"] for series, r in singles.items()}
    out = []
    for r in rows:
        if not r["series"] or r["processes"] == 1 or not r["keepalive"]:
            continue
        single = singles.get(_one_series(r["series"]))
        one = ones.get(_one_series(r["series"]))
        if not one or single is None:
            continue
        ratio = r["rps"] / one
        # Each peak over its own sweep: the sweeps end where each configuration's rate
        # falls or its latency passes the bound, so they need not reach the same counts
        # (cutting one to the other's would censor it again). A row without a sweep (the
        # host committer's) is compared at the connections it was measured at, as before.
        mine = row_points(r)
        theirs = row_points(single)
        if not r.get("sweep"):
            counts = {p["connections"] for p in mine}
            theirs = [p for p in theirs if p["connections"] in counts]
        peak_one, peak_two = peak(theirs), peak(mine)
        peak_ratio = peak_two["rps"] / peak_one["rps"]
        # The bare endpoint is the reference (what the machine gives a second process).
        ok = None if r["series"] == "bare" else peak_ratio >= TARGET_SCALING
        shown = verdict(ok)
        if ok is False and "SQLite" in r["name"]:
            # Every release writes its audit entry, and SQLite has one writer for all
            # processes: what that costs, measured, is in bench/profiles/keyserver.md.
            shown += " (SQLite: one writer, bench/profiles/keyserver.md)"
        # What the machine's CPUs allow at this CPU per release (every process, wrk
        # included), as a ratio to the 1-process rate: the best the scaling could show.
        parts = r.get("cpu_parts") or {}
        allowed = (os.cpu_count() or 1) * 1000 / parts["all"] if parts.get("all") else None
        out.append(
            {
                "name": r["name"],
                "ratio": ratio,
                "peak_ratio": peak_ratio,
                "peak_one": peak_one,
                "peak_two": peak_two,
                "verdict": shown,
                "ceiling_ratio": allowed / one if allowed else None,
                "serial_ratio": serial / one if (serial := _serial_bound(r)) else None,
                **_by_cpu(r, single, (peak_one, peak_two), peak_ratio),
            }
        )
    return out


def _by_cpu(
    row: dict[str, Any],
    single: dict[str, Any] | None,
    peaks: tuple[dict[str, Any], dict[str, Any]],
    peak_ratio: float,
) -> dict[str, Any]:
    """The scaling that the CPU per release allows, and whether the code or the machine moved.

    Issue 15: the measured ratio moves by +-0.25 between runs of the same code (other
    work, the VM), the CPU per release much less. If a release costs ``c1`` CPU ms in
    every process it needs (server, backends, PostgreSQL's shared processes, wrk) with
    one process and ``cn`` with ``n``, then ``n`` processes given ``n`` times the CPUs
    of the one reach ``n * c1 / cn`` of its rate: the ratio the code allows, whatever
    the speed of the CPUs (both costs scale with it) and whoever else uses them. The
    verdict on it is the code's; where it is MET and the measured ratio is not, the
    processes did not get the CPUs (``busy``: the CPUs they kept busy), the machine's.

    Both at 16 connections (``cpu_ratio``, the runs before) and at each configuration's
    peak (``peak_cpu_ratio``), where the verdict and what moved are taken since the
    target is judged at saturation (session 21): at 16 connections 2 workers batch half
    what one does and pay the batch's fixed cost twice as often per release, which is
    the load's split, not the code's cost (bench/README.md, "Session 20: scaling at
    saturation"). A row without a sweep peaks at its own 16 connections: both agree.
    """
    mine = row.get("cpu_parts") or {}
    theirs = (single or {}).get("cpu_parts") or {}
    cpu_ratio = (
        row["processes"] * theirs["all"] / mine["all"]
        if mine.get("all") and theirs.get("all")
        else None
    )
    peak_one, peak_two = peaks
    c1, cn = peak_one.get("all_ms"), peak_two.get("all_ms")
    peak_cpu_ratio = row["processes"] * c1 / cn if c1 and cn else None
    out: dict[str, Any] = {"cpu_ratio": cpu_ratio, "peak_cpu_ratio": peak_cpu_ratio}
    if peak_cpu_ratio is None:
        return out
    if row["series"] == "bare":
        return {**out, "cpu_verdict": "n/a", "moved": "(reference)"}
    ok = peak_cpu_ratio >= TARGET_SCALING
    if not ok:
        moved = f"the code: +{100 * (cn / c1 - 1):.0f}% CPU per release"
    elif peak_ratio < TARGET_SCALING:
        busy = peak_two.get("busy") or 0.0
        moved = f"the machine: {busy:.2f} CPUs busy of {os.cpu_count()}"
    else:
        moved = "neither"
    return {**out, "cpu_verdict": verdict(ok), "moved": moved}


def _serial_bound(row: dict[str, Any]) -> float | None:
    """The rate the chain head allows if holding it cost only its holder's CPU (req/s).

    Issue 15: every release of every process passes through the one head in turn, so
    1 / (the committer's CPU while it holds the head, per release) bounds the rate of
    any number of processes, whatever the machine lends them: unlike the ratio and the
    CPU ceiling, it does not move with the CPUs or with what else runs on them (the
    head's waits for a CPU, the database and the disk are left out on purpose; they are
    the machine's, columns "CPU wait" and "COMMIT" of the head table). None for a row
    without head figures (the host committer's workers export none).
    """
    head = row.get("chain_head") or {}
    cpu_ms = head.get("cpu")
    return 1000 / cpu_ms if cpu_ms else None


def print_scaling(scaled: list[dict[str, Any]]) -> None:
    """The scaling tables: the ratios and bounds, the peaks, and the verdict by CPU."""
    if not scaled:
        return
    print(
        f"\n-- Scaling out: 2 processes vs 1 (target >= {TARGET_SCALING}x, judged at saturation:"
        " each configuration at the wrk connections where its rate peaks; at 16 connections as"
        " the runs before; bare = reference; serial bound = 1 / the head holder's CPU per"
        " release: the rate the one chain head leaves room for, whatever the number of CPUs)"
    )
    print(
        table(
            [
                "server",
                "vs 1 worker at 16 conns",
                "at saturation",
                "CPU ceiling vs 1 worker",
                "serial bound vs 1 worker",
                "target",
            ],
            [
                [
                    s["name"],
                    f"{s['ratio']:.2f}x",
                    f"{s['peak_ratio']:.2f}x",
                    f"{s['ceiling_ratio']:.2f}x" if s.get("ceiling_ratio") else "n/a",
                    f"{s['serial_ratio']:.2f}x" if s.get("serial_ratio") else "n/a",
                    s["verdict"],
                ]
                for s in scaled
            ],
        )
    )
    _print_peaks(scaled)
    _print_by_cpu(scaled)


def _print_peaks(scaled: list[dict[str, Any]]) -> None:
    """Where each configuration peaked, at what latency and CPU per release."""

    def at(p: dict[str, Any]) -> list[str]:
        edge = f" ({EDGES[p['edge']]})" if p.get("edge") else ""
        return [
            f"{p['rps']:,.0f} at {p['connections']}{edge}",
            f"{p['p50_ms']:.1f} / {p['p99_ms']:.1f}",
            f"{p['all_ms']:.3f}" if p.get("all_ms") else "n/a",
        ]

    print(
        "\n-- Saturation: each configuration's highest rate over wrk's connections (req/s at"
        " conns), the latency there (p50 / p99 ms) and the CPU ms per release of every process;"
        f" each sweep doubles the connections until the rate stops rising ({PATIENCE} points"
        f" in a row less than {100 * RATE_RISE:.0f}% above the best before them) or p99 passes"
        f" {LATENCY_BOUND_MS:.0f} ms, and only points within that bound are peaks"
    )
    print(
        table(
            [
                "server",
                "1 process",
                "p50 / p99",
                "CPU ms",
                "2 processes",
                "p50 / p99",
                "CPU ms",
                "2 / 1",
            ],
            [
                [s["name"], *at(s["peak_one"]), *at(s["peak_two"]), f"{s['peak_ratio']:.2f}x"]
                for s in scaled
            ],
        )
    )


def _print_by_cpu(scaled: list[dict[str, Any]]) -> None:
    """The verdict row on CPU per release beside the measured ratio (see _by_cpu): at 16
    connections and at each configuration's peak, the verdict and what moved at the peak."""

    def shown_ratio(value: float | None) -> str:
        return f"{value:.2f}x" if value else "n/a"

    shown = [s for s in scaled if s.get("cpu_ratio") or s.get("peak_cpu_ratio")]
    if not shown:
        return
    print(
        f"\n-- Scaling judged by CPU per release (target >= {TARGET_SCALING}x, judged at"
        " saturation: the CPU ms per release where each configuration's rate peaks; at 16"
        " connections beside it): n processes on n times the CPUs reach n x (CPU ms per"
        " release, 1 process) / (CPU ms per release, n processes) of one's rate, every"
        " process a release needs counted; the measured ratio at saturation beside it says"
        " whether the code or the machine moved"
    )
    print(
        table(
            [
                "server",
                "by CPU per release at 16 conns",
                "at saturation",
                "verdict (code)",
                "measured at saturation",
                "what moved",
            ],
            [
                [
                    s["name"],
                    shown_ratio(s.get("cpu_ratio")),
                    shown_ratio(s.get("peak_cpu_ratio")),
                    s.get("cpu_verdict", "n/a"),
                    f"{s['peak_ratio']:.2f}x",
                    s.get("moved", "n/a"),
                ]
                for s in shown
            ],
        )
    )
