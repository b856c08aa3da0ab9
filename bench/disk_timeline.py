"""The device's work every 50 ms while one command runs, with the command's own milestones.

Usage: ``.venv/bin/python bench/disk_timeline.py [--dir /var/tmp] [--every 0.05] [--keep-page-cache]
-- COMMAND ARGS...`` (as root the page cache is dropped first, as the disk rows do).

Prints, per interval, the MiB/s the device read and wrote and its busy share
(``/proc/diskstats`` of the device holding ``--dir``, diskdevice.Device: the whole
device's, other processes' I/O included), and beside the interval in which it happened
each of the command's milestones that strace sees: its ``execve``, a file opened with
``O_DIRECT`` or ``O_TMPFILE`` (rwc's payload starts), ``connect`` (the key server),
``fsync``, ``linkat``, ``rename`` and ``exit_group``. strace traces only those calls
(``--seccomp-bpf``), so the payload's reads and writes run untraced. What it answered in
bench/profiles/disk.md: whether rwc's payload keeps the device busy, and what the device
does during rwc's start-up.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import diskdevice
from commands import drop_page_cache
from stats import MIB
from tools import require

_CALLS = "execve,connect,openat,fsync,fdatasync,linkat,rename,renameat2,exit_group"
_SHOWN = ("execve(", "connect(", "fsync(", "fdatasync(", "linkat(", "rename", "exit_group(")


def _milestones(trace: str, start: float) -> list[tuple[float, str]]:
    """(seconds since ``start``, the call) for each milestone in strace -ttt output."""
    out = []
    for line in trace.splitlines():
        parts = line.split(None, 2)
        if len(parts) < 3:
            continue
        call = parts[2]
        # O_DIRECTORY also contains "O_DIRECT": only the flag between separators counts.
        opened = "|O_DIRECT|" in call or "O_TMPFILE" in call
        if (call.startswith(_SHOWN) or opened) and "ENOENT" not in call:
            out.append((float(parts[1]) - start, call.strip()[:100]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--dir", type=Path, default=Path("/var/tmp"), help="on the device watched")
    ap.add_argument("--every", type=float, default=0.05, help="seconds between readings")
    ap.add_argument("--keep-page-cache", action="store_true", help="do not drop it first")
    ap.add_argument("command", nargs="+", help="the command (after --)")
    args = ap.parse_args(argv)
    device = diskdevice.Device(args.dir)
    if device.name is None:
        print(f"{args.dir} has no block device in /proc/diskstats", file=sys.stderr)
        return 1
    if not args.keep_page_cache and not drop_page_cache():
        print("(page cache not dropped: not root)")
    readings: list[tuple[float, diskdevice.Counters | None]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            readings.append((time.time(), device.read()))
            time.sleep(args.every)

    with tempfile.NamedTemporaryFile("r", suffix=".strace") as trace:
        strace = [require("strace", "strace"), "-f", "-ttt", "--seccomp-bpf", "-e"]
        sampler = threading.Thread(target=sample)
        sampler.start()
        start = time.time()
        argv = [*strace, f"trace={_CALLS}", "-o", trace.name, *args.command]
        proc = subprocess.run(argv, check=False)
        wall = time.time() - start
        done.set()
        sampler.join()
        readings.append((time.time(), device.read()))
        marks = _milestones(trace.read(), start)
    print(
        f"{' '.join(args.command)[:100]}\n  exit {proc.returncode}, wall {wall:.2f} s, "
        f"device {device.name}, load average {os.getloadavg()[0]:.2f}"
    )
    for (t0, a), (t1, b) in itertools.pairwise(readings):
        if a is None or b is None or t1 <= t0:
            continue
        work, dt = b.since(a), t1 - t0
        print(
            f"  {t1 - start:6.2f} s  read {work['read_bytes'] / MIB / dt:6.0f} MiB/s"
            f"  written {work['written_bytes'] / MIB / dt:6.0f} MiB/s"
            f"  busy {100 * work['busy_s'] / dt:4.0f}%"
        )
        while marks and marks[0][0] < t1 - start:  # the milestones of this interval
            at, call = marks.pop(0)
            print(f"      {at:6.3f} s  {call}")
    for at, call in marks:  # after the last reading
        print(f"      {at:6.3f} s  {call}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
