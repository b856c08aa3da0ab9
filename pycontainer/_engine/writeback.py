"""Start writing freshly written ranges to the disk early; skip it where there is no disk.

Sealing and extraction write large files and fsync them before publishing. Left alone,
Linux keeps the dirty pages in memory until the fsync, which then waits for the whole file;
``POSIX_FADV_DONTNEED`` on a range just written starts its writeback at once, so the disk
works while the next chunks are encrypted and the fsync waits for the tail only. It frees
nothing at that moment: Linux (mm/fadvise.c) starts the writeback of the range's dirty
pages without waiting for it, then drops only the pages that are clean; the pages just
written are still dirty or under writeback, so they stay in the page cache. Measured on the
bench VM (1 GiB to /var/tmp, pwrite + fsync): 1.4-2.7 s instead of 2.0-7.2 s.

Hence, for extraction and the seal (``drop_behind``), a second advice :data:`DROP_BEHIND`
bytes behind each write: by then that range has usually been written back, so the same
advice drops it, and the next chunks reuse its pages instead of taking fresh ones. A fresh
page is the dear kind on a VM whose free memory goes back to the host (virtio-balloon free
page reporting, as on the bench VM: ~6 us per 4 KiB page on its first touch,
``_engine/direct.py``): with every written page kept, a 10 GiB ``rwc open -C`` took 3.73
CPU s per GiB against 1.37 at 1 GiB, and at 8 GiB the kernel's copy into fresh page-cache
pages took 57% of the CPU samples (bench/profiles/disk.md, "Session 22"); a 10 GiB ``rwc
seal`` took 1.99-2.84 CPU s per GiB (32-44 s wall) where the same seal dropping behind took
0.91-1.01 (19-22 s), and where fresh pages were cheap about the same as with its pages kept
(0.96-0.99 against 0.87-1.22; "Session 23"). A range still under writeback when its turn
comes stays cached, as before (advice only); the file's last :data:`DROP_BEHIND` bytes
stay cached, and a file no larger than that entirely.

On a memory file system (tmpfs, ramfs: /dev/shm, often /tmp) there is nothing to write
back, and the advice only walks the range's pages: ~0.11 s of system time per GiB in an
``rwc seal`` on /dev/shm (strace -c, 2026-12-04), for nothing. The file system is read
from /proc/self/mountinfo (Linux) by the file's device number, once per device.

Advice only: a platform or file system without it changes nothing.

Where the advice is given, the writer also writes in pieces of at most :data:`WRITE_PIECE`
bytes (:attr:`Writeback.piece`): see there why, and why not on a memory file system.
"""

from __future__ import annotations

import contextlib
import os

# Bytes per pwrite into a file with a disk behind it (bench/profiles/disk.md). One
# page-aligned 1 MiB pwrite per chunk made the kernel's copy into the page cache the
# largest cost of a 1 GiB `rwc open -C` to disk (ext4, Linux 6.18, the bench VM, page cache
# dropped: a third of the CPU samples); in 64 KiB pieces, seven rounds each run next to the
# other: 0.65-1.00 s of system CPU instead of 1.42-2.58 s, 3.2-4.8 s wall instead of
# 6.1-9.0 s. On tmpfs the pieces cost 3-5% more CPU and more wall time in 7 of 10 rounds,
# hence whole chunks there. The seal too, since the fourteenth session: with whole-chunk
# writes (1 MiB + 16 at unaligned offsets) a 1 GiB `rwc seal` took 0.67-0.72 s of CPU in
# 5 of 28 A/B rounds and 1.04-1.84 s in the other 23, by what ran before it; in pieces
# 0.81-1.24 s every time: lower CPU and faster in 23 of 28 rounds (median wall 1.24
# against 1.61 s at load 3-4; 1.28 against 1.72 s with the command at autogroup -20, load
# 9-10); an `rwc open -C` right after either took the same (1.20 against 1.22 s). An
# earlier test of pieces in the seal, before its input was read around the page cache,
# had measured them slower.
WRITE_PIECE = 64 * 1024

# How far behind the newest write an extraction or a seal drops a range from the page cache
# (module docstring). So far that its writeback, started when it was written, has usually
# finished, also on a slow disk; and an extraction or seal of up to 1 GiB (the common size,
# and a file a reader may open next) is unchanged. Extraction, 8 GiB A/B
# (bench/profiles/disk.md, "Session 22"): where fresh pages were dear, dropping 32 MiB
# behind took 0.77-1.06 CPU s per GiB against 1.23-1.96 without; where they were cheap,
# freeing pages and taking them again costs a little (1 GiB behind 0.74-0.92 against
# 0.67-0.87; 32 MiB behind 0.80-0.97), and at 1 GiB 32 MiB behind cost more (median 1.20
# against 1.05) where the dear state is rare. The seal at 10 GiB, three rounds: 128 MiB
# behind 1.03-1.09 CPU s per GiB, 1 GiB behind 0.91-1.01 ("Session 23").
DROP_BEHIND = 1 << 30

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
    """Starts the writeback of ranges of one file as they are written (thread-safe).

    Attributes:
        piece: Bytes per pwrite for the writer (:data:`WRITE_PIECE`) where the advice is
            given, None (whole chunks) elsewhere.
    """

    def __init__(self, fd: int, *, drop_behind: int | None = None) -> None:
        """Look up once whether the file's pages can be written back at all.

        Args:
            fd: The file, open for writing.
            drop_behind: Also drop the range this many bytes behind each write from the
                page cache (extraction: :data:`DROP_BEHIND`; None: keep every page, as
                the seal does; module docstring).
        """
        self._fd = fd
        self._behind = drop_behind
        self._on = hasattr(os, "posix_fadvise")
        if self._on:
            with contextlib.suppress(OSError):
                self._on = not _memory_fs(os.fstat(fd).st_dev)
        self.piece = WRITE_PIECE if self._on else None

    def start(self, offset: int, length: int) -> None:
        """Begin writing ``[offset, offset + length)`` to the disk now (advice only).

        The range's pages stay cached: they are dirty when advised, and DONTNEED drops
        only clean ones. With ``drop_behind``, the same length that many bytes earlier,
        written back by now, is dropped (module docstring).
        """
        if self._on:
            with contextlib.suppress(OSError):
                os.posix_fadvise(self._fd, offset, length, os.POSIX_FADV_DONTNEED)
            behind = self._behind
            if behind is not None and offset >= behind:
                with contextlib.suppress(OSError):
                    os.posix_fadvise(self._fd, offset - behind, length, os.POSIX_FADV_DONTNEED)
