"""Benchmarks for rwc, printed side by side with the reference tools in one run.

Usage: ``.venv/bin/python bench/run.py [--quick] [--size 1G] [--big]
[--only container|commands|keyserver|audit|tlog]``
See bench/README.md for what each figure means and the targets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from procs import ChildFailedError
from stats import MIB, parse_size
from tools import MissingToolError


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="rwc benchmarks vs age, openssl, Tang")
    ap.add_argument("--quick", action="store_true", help="smoke run (< 2 minutes)")
    ap.add_argument("--size", type=parse_size, default=None, help="container file size (1G)")
    ap.add_argument("--big", action="store_true", help="also 10 GiB on disk (peak RSS)")
    ap.add_argument("--big-size", type=parse_size, default=parse_size("10G"))
    ap.add_argument("--runs", type=int, default=None, help="runs per figure (median)")
    ap.add_argument(
        "--only", choices=["container", "commands", "keyserver", "audit", "tlog"], default=None
    )
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
    ap.add_argument("--bulk", type=int, default=None, help="containers in the bulk suspend")
    ap.add_argument("--duration", type=int, default=None, help="wrk seconds per figure")
    ap.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL figures")
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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
    if args.only in (None, "container"):
        import container  # noqa: PLC0415 - --only keyserver must not need the library

        size = args.size or (32 * MIB if args.quick else 1024 * MIB)
        opts = container.Options(
            size=size,
            runs=args.runs or (1 if args.quick else 3),
            quick=args.quick,
            big=args.big,
            big_size=args.big_size,
            chunk_log2=args.chunk_log2,
            sweep_bytes=args.sweep_size or (32 if args.quick else 512) * MIB,
            openssl_seconds=1 if args.quick else 3,
            e2e_chunk_sweep=not args.quick,
        )
        try:
            results["container"] = container.run(opts)
        except MissingToolError as exc:
            print(f"\ncontainer bench SKIPPED: {exc}", file=sys.stderr)
            failed = True
        except Exception as exc:
            _failure("container", exc, verbose=args.verbose)
            failed = True
    if args.only in (None, "commands"):
        import commands  # noqa: PLC0415

        try:
            results["commands"] = commands.run(
                commands.Options(
                    sizes=(args.size or (32 * MIB if args.quick else 1024 * MIB),),
                    runs=args.runs or (1 if args.quick else 3),
                    small_runs=args.small_runs or (3 if args.quick else 10),
                    big_size=args.big_size if args.big else None,
                )
            )
            if results["commands"]["small"]["missing"]:
                failed = True  # a reference tool was missing: the run is incomplete
        except MissingToolError as exc:
            print(f"\ncommand bench SKIPPED: {exc}", file=sys.stderr)
            failed = True
        except Exception as exc:
            _failure("command", exc, verbose=args.verbose)
            failed = True
    if args.only in (None, "keyserver"):
        import keyserver_bench  # noqa: PLC0415 - --only container must not need the server

        try:
            results["keyserver"] = keyserver_bench.run(
                quick=args.quick,
                duration=args.duration or (3 if args.quick else 10),
                postgres=not args.no_postgres,
                bulk=args.bulk or (10_000 if args.quick else 100_000),
            )
        except MissingToolError as exc:
            print(f"\nkey-server bench SKIPPED: {exc}", file=sys.stderr)
            failed = True
        except Exception as exc:
            _failure("key-server", exc, verbose=args.verbose)
            failed = True
    if args.only in (None, "audit"):
        import audit_verify  # noqa: PLC0415

        try:
            results["audit"] = audit_verify.run(
                args.audit_entries or (50_000 if args.quick else 1_000_000),
                postgres=not args.no_postgres,
            )
        except MissingToolError as exc:
            print(f"\naudit verify bench SKIPPED: {exc}", file=sys.stderr)
            failed = True
        except Exception as exc:
            _failure("audit verify", exc, verbose=args.verbose)
            failed = True
    if args.only in (None, "tlog"):
        import tlog_overhead  # noqa: PLC0415 - needs the key server, like the rows above

        try:
            results["tlog"] = tlog_overhead.run(
                rounds=args.runs or (1 if args.quick else 3),
                duration=args.duration or (3 if args.quick else 30),
            )
        except MissingToolError as exc:
            print(f"\ntransparency-log bench SKIPPED: {exc}", file=sys.stderr)
            failed = True
        except Exception as exc:
            _failure("transparency-log", exc, verbose=args.verbose)
            failed = True
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
