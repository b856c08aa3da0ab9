"""Wait for the page cache's writeback before a part is measured (bench/run.py).

A part that writes to the disk leaves its writes behind it: the command bench's age rows do
not fsync, and 10 GiB of their output is still being written back minutes after the part
printed its table. In session 21 the key-server part measured right after the 10 GiB rows
ran beside ~40 GiB of writeback (load 2.28; its scaling figures fell, bench/README.md).
So before each part run.py calls :func:`settle`: one ``sync`` (in a thread, so that a device
that never finishes cannot hang the run), then a wait until the machine's dirty and
writeback pages (``Dirty`` + ``Writeback`` of /proc/meminfo; the kernel does not say which
device they belong to) are under a small threshold. The wait is printed, and so is a
timeout: the part then runs with the writeback in flight and its figures say so.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from stats import MIB

MEMINFO = Path("/proc/meminfo")
# Below this the kernel's own background writeback is a trickle beside any part's I/O.
THRESHOLD_MIB = 64.0
# 10 GiB of age output written back at the slowest disk seen (~100 MiB/s) takes ~2 min;
# five minutes is a device that is not keeping up, reported rather than waited out.
TIMEOUT_S = 300.0
# --quick and --smoke (the test suite's runs): the suite writes beside them and never
# measures what the wait protects, so they do not wait long for it.
QUICK_TIMEOUT_S = 10.0
_POLL_S = 0.2


@dataclass(frozen=True)
class Settled:
    """What one wait found: seconds waited, what was still pending, whether it timed out."""

    waited_s: float
    pending_mib: float | None  # None: no /proc/meminfo (not Linux)
    threshold_mib: float
    timed_out: bool

    def line(self) -> str:
        """The line run.py prints before the part."""
        if self.pending_mib is None:
            return f"  synced in {self.waited_s:.1f} s (no /proc/meminfo: writeback not measured)"
        if self.timed_out:
            return (
                f"  writeback WAIT TIMED OUT after {self.waited_s:.0f} s: "
                f"{self.pending_mib:,.0f} MiB still dirty or in writeback (threshold "
                f"{self.threshold_mib:,.0f} MiB); the next part runs with it in flight"
            )
        return (
            f"  waited {self.waited_s:.1f} s for writeback "
            f"(dirty + writeback {self.pending_mib:,.0f} MiB < {self.threshold_mib:,.0f} MiB)"
        )

    def as_dict(self) -> dict[str, float | bool | None]:
        return {
            "waited_s": self.waited_s,
            "pending_mib": self.pending_mib,
            "threshold_mib": self.threshold_mib,
            "timed_out": self.timed_out,
        }


def pending_mib(meminfo: Path = MEMINFO) -> float | None:
    """Dirty + Writeback of /proc/meminfo in MiB; None where there is no such file."""
    try:
        text = meminfo.read_text()
    except OSError:
        return None
    kib = 0
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in ("Dirty", "Writeback"):
            kib += int(rest.split()[0])
    return kib * 1024 / MIB


def settle(threshold_mib: float = THRESHOLD_MIB, timeout_s: float = TIMEOUT_S) -> Settled:
    """``sync``, then wait until dirty + writeback < ``threshold_mib``, at most ``timeout_s``.

    The sync runs in a daemon thread: sync(2) waits for every device, and one that never
    finishes must end in a reported timeout, not a hung bench.
    """
    start = time.monotonic()
    synced = threading.Event()

    def sync() -> None:
        os.sync()
        synced.set()

    threading.Thread(target=sync, name="bench-sync", daemon=True).start()
    while True:
        pending = pending_mib()
        waited = time.monotonic() - start
        done = synced.is_set() and (pending is None or pending < threshold_mib)
        if done or waited >= timeout_s:
            return Settled(waited, pending, threshold_mib, timed_out=not done)
        time.sleep(_POLL_S)
