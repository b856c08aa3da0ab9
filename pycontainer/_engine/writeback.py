"""Start writing freshly written ranges to the disk early; skip it where there is no disk.

Sealing and extraction write large files and fsync them before publishing. Left alone,
Linux keeps the dirty pages in memory until the fsync, which then waits for the whole file;
``POSIX_FADV_DONTNEED`` on a range just written starts its writeback at once (and lets the
kernel reuse the pages once written), so the disk works while the next chunks are
encrypted and the fsync waits for the tail only. Measured on the bench VM (1 GiB to
/var/tmp, pwrite + fsync): 1.4-2.7 s instead of 2.0-7.2 s.

On a memory file system (tmpfs, ramfs: /dev/shm, often /tmp) there is nothing to write
back, and the advice only walks the range's pages: ~0.11 s of system time per GiB in an
``rwc seal`` on /dev/shm (strace -c, 2026-12-04), for nothing. The file system is read
from /proc/self/mountinfo (Linux) by the file's device number, once per device.

Advice only: a platform or file system without it changes nothing.
"""

from __future__ import annotations

import contextlib
import os

# File systems whose pages have no backing device (nothing to write back).
_MEMORY_FS = frozenset({"tmpfs", "ramfs", "devtmpfs", "hugetlbfs"})
_by_device: dict[int, bool] = {}


def _memory_fs(device: int) -> bool:
    """True if ``device`` is a memory file system mounted here (Linux), else False."""
    found = _by_device.get(device)
    if found is not None:
        return found
    wanted = f"{os.major(device)}:{os.minor(device)}"
    found = False
    # proc(5): "36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/root rw", the third
    # field is the device, the first after " - " the file system type.
    with (
        contextlib.suppress(OSError, ValueError, IndexError),
        open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f,  # noqa: PTH123
    ):
        for line in f:
            fields, _, fs = line.partition(" - ")
            if fields.split(" ")[2] == wanted:
                found = fs.split(" ", 1)[0] in _MEMORY_FS
                break
    _by_device[device] = found
    return found


class Writeback:
    """Starts the writeback of ranges of one file as they are written (thread-safe)."""

    def __init__(self, fd: int) -> None:
        """Look up once whether the file's pages can be written back at all."""
        self._fd = fd
        self._on = hasattr(os, "posix_fadvise")
        if self._on:
            with contextlib.suppress(OSError):
                self._on = not _memory_fs(os.fstat(fd).st_dev)

    def start(self, offset: int, length: int) -> None:
        """Begin writing ``[offset, offset + length)`` to the disk now (advice only)."""
        if self._on:
            with contextlib.suppress(OSError):
                os.posix_fadvise(self._fd, offset, length, os.POSIX_FADV_DONTNEED)
