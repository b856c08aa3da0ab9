"""Key releases per second with and without the transparency log (issue 13's 10% budget).

One prepared SQLite database; the same server command alternately without a log key
(no follower) and with one (the follower hashing new audit entries and signing a
checkpoint every second: ten times the default 10 s, so the figure is an upper bound).
``rounds`` alternations of ``duration`` seconds each; medians printed.

    python bench/tlog_overhead.py [--rounds 3] [--duration 10] [--workers 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from keyserver_bench import load_test, prepare, running_keyserver, sqlite_database


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--containers", type=int, default=50)
    args = ap.parse_args()
    rates: dict[str, list[float]] = {"without log": [], "with log (1 s checkpoints)": []}
    with sqlite_database() as url:
        prep = prepare(url, args.containers)
        for _ in range(args.rounds):
            for name, interval in (("without log", None), ("with log (1 s checkpoints)", 1.0)):
                with running_keyserver(prep, args.workers, checkpoint_interval=interval) as (
                    base,
                    _pgid,
                ):
                    result = load_test(prep, base, args.duration)
                rates[name].append(result.rps)
                print(f"  {name}: {result.rps:,.0f} req/s ({result.errors} errors)", flush=True)
    base_rate = statistics.median(rates["without log"])
    with_rate = statistics.median(rates["with log (1 s checkpoints)"])
    print(f"median without log: {base_rate:,.0f} req/s; with log: {with_rate:,.0f} req/s")
    print(f"change: {100 * (with_rate - base_rate) / base_rate:+.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
