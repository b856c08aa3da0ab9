"""Benchmarks for rwc, printed side by side with the reference tools in one run.

Usage: ``.venv/bin/python bench/run.py [--quick | --smoke] [--size 1G] [--big]
[--only container|commands|keyserver|audit|tlog|container_big|commands_big]``
See bench/README.md for what each figure means and the targets.

The parts run in :data:`PARTS`' order, the 10 GiB ones (``--big``, `make bench`) last: their
~30-40 GiB of writes are still being written back minutes after they print, and in session
21 the key-server part measured after them fell with it. Before every part the run syncs
and waits for the writeback (bench/writeback.py, the wait printed, a timeout said), and it
ends with one table of every verdict (bench/summary.py).

``--smoke`` is what tests/bench/test_bench_smoke.py runs: every part and every row it
prints, at the smallest input that still takes each code path (:data:`SMOKE`); its
figures are noise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import summary
import writeback
from procs import ChildFailedError
from stats import MIB, human_size, parse_size
from tools import MissingToolError
from wrk import Length, Requests

# The smoke sizes, in one place (--smoke; an option given by name still wins). A smoke run
# checks that every part runs and prints every figure, never the figures (issue 15), so
# each size is the least that still makes its rows: 4 MiB files and AESGCM sweep points;
# one run of each small-container and start-up figure; 300 requests per wrk figure, a
# fixed count because a timed second costs whatever CPU the machine has free (both cores
# when idle), round-robin over every prepared container as a timed run; 10 containers in
# the bulk suspend (one statement whatever the number); 100 audit entries (the remote
# verify reads pages of 50,000, keyserver/_cli/audit.py: the steps of 1,000,000).
SMOKE: dict[str, Any] = {
    "size": 4 * MIB,
    "sweep_size": 4 * MIB,
    "small_runs": 1,
    "startup_runs": 1,
    "requests": 300,
    "bulk": 10,
    "audit_entries": 100,
}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="rwc benchmarks vs age, openssl, Tang")
    ap.add_argument("--quick", action="store_true", help="short run (< 2 minutes)")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="--quick at the smallest sizes that still run every row (the test suite's run)",
    )
    ap.add_argument("--size", type=parse_size, default=None, help="container file size (1G)")
    ap.add_argument(
        "--big",
        action="store_true",
        help="also the 10 GiB rows (whole commands; the API's peak RSS), last (make bench)",
    )
    ap.add_argument("--big-size", type=parse_size, default=parse_size("10G"))
    ap.add_argument("--runs", type=int, default=None, help="runs per figure (median)")
    ap.add_argument("--only", choices=list(PARTS), default=None)
    ap.add_argument(
        "--audit-entries",
        type=int,
        default=None,
        help="audit log size for the verify bench (1,000,000; --quick: 50,000)",
    )
    ap.add_argument("--chunk-log2", type=int, default=None, help="rwc chunk size (default: lib)")
    ap.add_argument(
        "--sweep-size", type=parse_size, default=None, help="bytes per AESGCM sweep point"
    )
    ap.add_argument(
        "--small-runs", type=int, default=None, help="runs of each small-container open (10)"
    )
    ap.add_argument(
        "--startup-runs", type=int, default=None, help="runs of each start-up figure (5)"
    )
    ap.add_argument("--bulk", type=int, default=None, help="containers in the bulk suspend")
    ap.add_argument("--duration", type=int, default=None, help="wrk seconds per figure")
    ap.add_argument(
        "--requests",
        type=int,
        default=None,
        help="a fixed number of wrk requests per figure instead of --duration seconds",
    )
    ap.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL figures")
    ap.add_argument(
        "--keep-page-cache",
        action="store_true",
        help="command bench: do not drop the page cache before each disk command (as root it"
        " slows every other process on the machine; the disk rows then read from memory)",
    )
    ap.add_argument(
        "--disk-only",
        action="store_true",
        help="command bench: only the rows on disk (seal, open -C, cat next to age, age &&"
        " sync, the disk alone and its halves, the device's busy time), no small-container"
        " or tmpfs rows: for A/B rounds of the disk rows",
    )
    ap.add_argument(
        "--writeback-threshold",
        type=float,
        default=writeback.THRESHOLD_MIB,
        help="before each part, wait until dirty + writeback pages are under this many MiB",
    )
    ap.add_argument(
        "--writeback-timeout",
        type=float,
        default=None,
        help=f"... for at most this many seconds ({writeback.TIMEOUT_S:.0f};"
        f" --quick: {writeback.QUICK_TIMEOUT_S:.0f})",
    )
    ap.add_argument("--verbose", action="store_true", help="show tracebacks on failure")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    return ap


def _failure(what: str, exc: Exception, *, verbose: bool) -> None:
    """One clear line instead of a traceback (``--verbose`` shows it)."""
    if verbose:
        traceback.print_exc()
    print(f"\n{what} bench FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
    if isinstance(exc, ChildFailedError):
        print("  (a measured child process failed; its stderr tail is above)", file=sys.stderr)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    """The parsed flags; --smoke is --quick with the SMOKE sizes where no flag gave one."""
    args = _parser().parse_args(argv)
    if args.smoke:
        args.quick = True
        for name, value in SMOKE.items():
            if getattr(args, name) is None:
                setattr(args, name, value)
    if args.writeback_timeout is None:
        args.writeback_timeout = writeback.QUICK_TIMEOUT_S if args.quick else writeback.TIMEOUT_S
    return args


def _wrk_length(args: argparse.Namespace, quick: int, full: int) -> Length:
    """Per wrk figure: --requests, else --duration, else ``quick`` or ``full`` seconds."""
    if args.requests is not None and args.duration is None:
        return Requests(args.requests)
    return args.duration or (quick if args.quick else full)


def _container(args: argparse.Namespace) -> Any:
    import container  # noqa: PLC0415 - --only keyserver must not need the library

    size = args.size or (32 * MIB if args.quick else 1024 * MIB)
    return container.run(
        container.Options(
            size=size,
            runs=args.runs or (1 if args.quick else 3),
            quick=args.quick,
            big_size=args.big_size,
            chunk_log2=args.chunk_log2,
            sweep_bytes=args.sweep_size or (32 if args.quick else 512) * MIB,
            openssl_seconds=1 if args.quick else 3,
            e2e_chunk_sweep=not args.quick,
        )
    )


def _container_big(args: argparse.Namespace) -> Any:
    import container  # noqa: PLC0415

    return container.run_big(
        container.Options(
            size=args.big_size,
            runs=1,
            quick=args.quick,
            big_size=args.big_size,
            chunk_log2=args.chunk_log2,
        )
    )


def _commands(args: argparse.Namespace, *, big: bool = False) -> Any:
    """The whole-command rows: 1 GiB with the small container's, or ``big``: 10 GiB alone."""
    import commands  # noqa: PLC0415

    size = args.size or (32 * MIB if args.quick else 1024 * MIB)
    return commands.run(
        commands.Options(
            sizes=(args.big_size if big else size,),
            runs=args.runs or (1 if args.quick else 3),
            small_runs=args.small_runs or (3 if args.quick else 10),
            startup_runs=args.startup_runs or 5,
            small=not big,
            drop_page_cache=not args.keep_page_cache,
            disk_only=args.disk_only,
        )
    )


def _commands_big(args: argparse.Namespace) -> Any:
    return _commands(args, big=True)


def _keyserver(args: argparse.Namespace) -> Any:
    import keyserver_bench  # noqa: PLC0415 - --only container must not need the server

    return keyserver_bench.run(
        quick=args.quick,
        duration=_wrk_length(args, 3, 10),
        postgres=not args.no_postgres,
        bulk=args.bulk or (10_000 if args.quick else 100_000),
    )


def _audit(args: argparse.Namespace) -> Any:
    import audit_verify  # noqa: PLC0415

    return audit_verify.run(
        args.audit_entries or (50_000 if args.quick else 1_000_000),
        postgres=not args.no_postgres,
    )


def _tlog(args: argparse.Namespace) -> Any:
    import tlog_overhead  # noqa: PLC0415 - needs the key server, like the rows above

    return tlog_overhead.run(
        # Five alternating rounds of 20 s, not three of 30 (issue 15): about the same
        # minutes, and a spread (min-max) of five figures per series to judge the effect by.
        rounds=args.runs or (1 if args.quick else 5),
        duration=_wrk_length(args, 3, 20),
        # --quick: only the containers the run's attempt budgets need (tlog_overhead.run
        # adds them), not 200 to prepare (~2 CPU-s).
        containers=1 if args.quick else 200,
    )


@dataclass(frozen=True)
class Part:
    """One part of the run: its name in messages, what runs it, the --only that names it."""

    what: str
    run: Callable[[argparse.Namespace], Any]
    group: str  # `--only GROUP` runs it too (with --big for a big part)
    big: bool = False  # the 10 GiB rows: with --big only (or --only naming it)


# The parts in the order they run: the key in the JSON and of --only. The 10 GiB parts come
# last, after the key server's, the audit's and the log's: their writeback outlives them
# (session 21), and the wait before each part (writeback.settle) is bounded by a timeout.
PARTS: dict[str, Part] = {
    "container": Part("container", _container, "container"),
    "commands": Part("command", _commands, "commands"),
    "keyserver": Part("key-server", _keyserver, "keyserver"),
    "audit": Part("audit verify", _audit, "audit"),
    "tlog": Part("transparency-log", _tlog, "tlog"),
    "container_big": Part("container at --big-size", _container_big, "container", big=True),
    "commands_big": Part("command at --big-size", _commands_big, "commands", big=True),
}


def schedule(args: argparse.Namespace) -> list[str]:
    """The keys of the parts this run runs, in order (--only, --big)."""
    return [
        key
        for key, part in PARTS.items()
        if args.only in (None, key, part.group) and (args.big or not part.big or args.only == key)
    ]


def _label(key: str, args: argparse.Namespace) -> str:
    """A part's name in messages and in the summary: a big part says its size."""
    what = PARTS[key].what
    return what.replace("--big-size", human_size(args.big_size)) if PARTS[key].big else what


def _big_room(args: argparse.Namespace, keys: list[str]) -> None:
    """Say at the start whether the big parts will have room (each checks again as it runs):
    a run that will skip them says so before it spends its minutes on the others."""
    size = human_size(args.big_size)
    if "commands_big" in keys:
        import commands  # noqa: PLC0415 - --only keyserver must not need the library

        for label, where, why in commands.storages(args.big_size):
            print(f"  {size} whole commands on {label}: " + (why or f"room in {where}"))
    if "container_big" in keys:
        import container  # noqa: PLC0415

        base, why = container.big_room(args.big_size)
        print(f"  {size} through the API: " + (why or f"room in {base}"))


def _incomplete(key: str, figures: Any) -> bool:
    """A part that ran but could not measure everything (a reference tool was missing)."""
    return key == "commands" and bool(figures.get("small", {}).get("missing"))


def run_part(what: str, part: Callable[[], Any], *, verbose: bool) -> tuple[Any, bool]:
    """One part's figures and whether it failed: a missing tool or an error is one line.

    Every part runs even when one before it failed, so a run reports all it could measure.
    """
    try:
        return part(), False
    except MissingToolError as exc:
        print(f"\n{what} bench SKIPPED: {exc}", file=sys.stderr)
    except Exception as exc:
        _failure(what, exc, verbose=verbose)
    return None, True


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    print(f"rwc bench {results['date']} on {results['cpus']} CPUs, Python {results['python']}")
    load = os.getloadavg()[0]
    results["load_average_1min"] = load
    if load > 0.5:
        print(
            f"WARNING: load average {load:.2f}: other work is running on this machine; "
            "the figures will be noisy (the tables still compare tools measured side by side)."
        )
    failed = False
    keys = schedule(args)
    print("parts, in order: " + ", ".join(_label(key, args) for key in keys))
    _big_room(args, keys)
    results["writeback"] = {}
    for key in keys:
        what = _label(key, args)
        print(f"\nbefore the {what} part: sync, and wait for the writeback ...", flush=True)
        settled = writeback.settle(args.writeback_threshold, args.writeback_timeout)
        print(settled.line(), flush=True)
        results["writeback"][key] = settled.as_dict()
        figures, part_failed = run_part(
            what, lambda key=key: PARTS[key].run(args), verbose=args.verbose
        )
        if not part_failed:
            results[key] = figures
        failed = failed or part_failed or _incomplete(key, figures)
    summary.show(results, [(key, _label(key, args)) for key in keys])
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
