"""Key releases per second with and without the transparency log (issue 13's 10% budget).

One prepared SQLite database; the same server command alternately without a log key
(no follower) and with one (the follower hashing new audit entries and signing a
checkpoint every second: ten times the default 10 s, so the figure is an upper bound).
``rounds`` alternations of ``duration`` seconds each; medians printed, with the server's
CPU time per release (less sensitive to other work on the machine than the rate).

Target (issue 13): the release rate with the log is at least 90% of the rate without it.

    python bench/tlog_overhead.py [--rounds 3] [--duration 10] [--workers 1]
    python bench/run.py --only tlog        # the same, as part of the bench run
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from keyserver_bench import load_test, prepare, running_keyserver, sqlite_database, with_cpu
from stats import table, verdict

WITHOUT = "without log"
WITH = "with log (1 s checkpoints)"
# Issue 13: keeping the tree may cost key releases at most 10% of their rate.
BUDGET = 0.10


def run(*, rounds: int, duration: int, workers: int = 1, containers: int = 200) -> dict[str, Any]:
    """Alternate the server without and with the log; return the medians and the verdict."""
    rates: dict[str, list[float]] = {WITHOUT: [], WITH: []}
    cpu: dict[str, list[float]] = {WITHOUT: [], WITH: []}
    print(f"\n-- Transparency log overhead ({rounds} x {duration} s, {workers} worker(s), SQLite)")
    with sqlite_database() as url:
        prep = prepare(url, containers)
        for _ in range(rounds):
            for name, interval in ((WITHOUT, None), (WITH, 1.0)):
                with running_keyserver(prep, workers, checkpoint_interval=interval) as (
                    base,
                    pgid,
                ):
                    result, cpu_ms, _waits = with_cpu(
                        [pgid], lambda b=base: load_test(prep, b, duration)
                    )
                rates[name].append(result.rps)
                cpu[name].append(cpu_ms)
                print(
                    f"  {name}: {result.rps:,.0f} req/s, {cpu_ms:.2f} CPU ms/release "
                    f"({result.errors} errors)",
                    flush=True,
                )
    base_rate = statistics.median(rates[WITHOUT])
    with_rate = statistics.median(rates[WITH])
    change = (with_rate - base_rate) / base_rate if base_rate else 0.0
    ok = with_rate >= (1 - BUDGET) * base_rate
    rows = [
        [name, f"{statistics.median(rates[name]):,.0f}", f"{statistics.median(cpu[name]):.2f}"]
        for name in (WITHOUT, WITH)
    ]
    print(table(["server", "median req/s", "CPU ms/release"], rows))
    print(
        f"release rate with the log: {100 * change:+.1f}% "
        f"(target: no worse than -{100 * BUDGET:.0f}%): {verdict(ok)}"
    )
    return {
        "rates": rates,
        "cpu_ms_per_release": cpu,
        "median_without": base_rate,
        "median_with": with_rate,
        "change": change,
        "verdict": verdict(ok),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--containers", type=int, default=200)
    args = ap.parse_args()
    result = run(
        rounds=args.rounds,
        duration=args.duration,
        workers=args.workers,
        containers=args.containers,
    )
    return 0 if result["verdict"] == "MET" else 1


if __name__ == "__main__":
    sys.exit(main())
