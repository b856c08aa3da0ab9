"""Read a test run's timeline (``RWC_TEST_TIMELINE=DIR``, tests/conftest.py) and say where
the wall time of ``make test`` went: per xdist worker, when it started testing, how long it
was busy, what it ran last (the run ends with the last worker), and the files by wall time.

Usage::

    RWC_TEST_TIMELINE=/tmp/tl .venv/bin/python -m pytest -q -n 2
    python bench/suite_timeline.py /tmp/tl

Wall time under load follows the machine, not the suite: read it beside the CPU seconds.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any


def _read(directory: Path) -> dict[str, tuple[float | None, list[dict[str, Any]]]]:
    workers: dict[str, tuple[float | None, list[dict[str, Any]]]] = {}
    for path in sorted(directory.glob("*.jsonl")):
        start: float | None = None
        tests: list[dict[str, Any]] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if "session_start" in record:
                start = record["session_start"]
            else:
                tests.append(record)
        tests.sort(key=lambda t: t["start"])
        workers[path.stem] = (start, tests)
    return workers


def _files(tests: list[dict[str, Any]]) -> list[list[Any]]:
    """Runs of consecutive tests of one file: [file, start, end, tests, cpu_s]."""
    runs: list[list[Any]] = []
    for t in tests:
        name = t["test"].split("::")[0]
        if runs and runs[-1][0] == name:
            runs[-1][2] = t["end"]
            runs[-1][3] += 1
            runs[-1][4] += t["cpu_s"]
        else:
            runs.append([name, t["start"], t["end"], 1, t["cpu_s"]])
    return runs


def report(directory: Path, last: int = 6, top: int = 15) -> None:
    workers = _read(directory)
    tests = [t for _, ts in workers.values() for t in ts]
    if not tests:
        raise SystemExit(f"no timeline in {directory}: run pytest with RWC_TEST_TIMELINE=DIR")
    starts = [s for s, _ in workers.values() if s is not None]
    zero = min(starts or [min(t["start"] for t in tests)])
    end = max(t["end"] for t in tests)
    print(f"{len(tests)} tests, {end - zero:.1f} s from the first process's start")
    for name, (start, ts) in workers.items():
        if not ts:
            continue
        busy = sum(t["end"] - t["start"] for t in ts)
        gaps = sum(max(0.0, b["start"] - a["end"]) for a, b in itertools.pairwise(ts))
        began = (start or ts[0]["start"]) - zero
        # The session fixtures' teardown (browsers reaped, servers stopped), apart from the
        # last test's own CPU (tests/conftest.py).
        end_cpu = sum(t.get("session_end_cpu_s", 0.0) for t in ts)
        print(
            f"{name}: started {began:.1f}, first test {ts[0]['start'] - zero:.1f}, last ended"
            f" {ts[-1]['end'] - zero:.1f}; {len(ts)} tests, busy {busy:.1f} s, between tests"
            f" {gaps:.1f} s, CPU {sum(t['cpu_s'] for t in ts):.1f} s, then {end_cpu:.1f} s at"
            " its end (session fixtures); last files:"
        )
        for file, t0, t1, n, cpu in _files(ts)[-last:]:
            print(f"   {t0 - zero:7.1f}-{t1 - zero:7.1f} s  {n:4d} tests  CPU {cpu:5.1f} s  {file}")
    by_file: defaultdict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for t in tests:
        by_file[t["test"].split("::")[0]][0] += t["end"] - t["start"]
        by_file[t["test"].split("::")[0]][1] += t["cpu_s"]
    print("files by wall time (s, and CPU s):")
    for file, (wall, cpu) in sorted(by_file.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"  {wall:7.1f}  {cpu:6.1f}  {file}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("directory", type=Path, help="the RWC_TEST_TIMELINE directory of a run")
    ap.add_argument("--last", type=int, default=6, help="files shown at each worker's end")
    ap.add_argument("--top", type=int, default=15, help="files shown by wall time")
    args = ap.parse_args()
    report(args.directory, args.last, args.top)


if __name__ == "__main__":
    main()
