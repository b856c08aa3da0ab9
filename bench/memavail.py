"""How much memory the kernel had available as each command started.

The tmpfs seal row depends on it (issue 15, bench/profiles/seal.md, fifteenth session). A
seal with ``--force`` over an existing container holds the old and the new container until
it publishes the new one (the atomic replace: a reader sees the old file or the new one,
never a mix), so on /dev/shm it needs 1 GiB of pages beyond those of the old container.
``age -o OUT`` truncates OUT first: it needs no more pages than it has just freed. Measured on
the bench VM with 6 GiB of other files in tmpfs (``MemAvailable`` 6.1-7.6 GB of 24): ``rwc
seal`` 1.09 / 1.92 / 2.88 s instead of 0.98-1.08 s just before, and perf put 1.9 s of CPU in
its copy into the new file's pages instead of ~0.2 s (what a first touch of memory the host
has to back again costs here: bench/profiles/seal.md on free page reporting), while ``age
-r`` took 1.84-1.92 s either way.

So the whole-command bench records ``MemAvailable`` before every command and prints the
lowest beside its CPU figures: a tmpfs seal that missed with little memory available says
the machine's state, not a change in rwc (its CPU s/GiB, 1.3-1.4 otherwise, says so too).
"""

from __future__ import annotations

from pathlib import Path

MEMINFO = Path("/proc/meminfo")


def available_gib() -> float | None:
    """``MemAvailable`` in GiB (Linux), or None where /proc/meminfo does not say."""
    try:
        with MEMINFO.open(encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / (1024 * 1024)  # the file counts kB
    except (OSError, ValueError, IndexError):
        return None
    return None
