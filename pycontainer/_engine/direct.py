"""Reading big files that are not in the page cache around it (``O_DIRECT``, Linux).

A buffered read of a file that is not cached makes the kernel allocate page-cache pages,
fill them from the disk, then copy them into our buffer. Sealing 1 GiB from disk, and
``rwc cat``/``open`` of a 1 GiB container on disk, spent most of their CPU in that copy
(bench/profiles/seal.md): on the bench VM (Firecracker, free memory handed back to the host
through virtio-balloon free page reporting) the first touch of each freshly allocated page
cache page costs the guest ~6 us per 4 KiB page, 1.4-1.5 s of system time per GiB, where a
direct read of the same gigabyte into our reused buffers cost 0.05-0.08 s. On any machine a
direct read skips the copy, and a one-off pass over a big file no longer pushes the
caller's other files out of the page cache.

But a file that is already in the page cache (written a moment ago, read before) is read
faster from there than from the disk again, and a direct read of dirty pages first writes
them back. So a file is read directly only when it is big (:data:`MIN_SIZE`), on a file
system with a disk behind it (memory file systems have nothing to bypass:
``writeback._memory_fs``), and the page in its middle is not in the page cache, as
``mincore(2)`` tells without reading anything (:func:`_cached`). A file cached in its
middle is read through the cache, as every file was before.

Direct reads need the offset, the length and the buffer's address aligned to the device's
logical block size; :data:`ALIGN` (4 KiB) is a multiple of every common one. What cannot be
read aligned (a piece's unaligned head or tail) is read through the cache. Any refusal
(a file system without ``O_DIRECT``, ``EINVAL`` for an alignment it wants larger) turns
direct reads off for that file; nothing else changes: same bytes, same checks, same
errors. Coherence: a direct read writes back dirty cached pages of its range first, so it
sees what a buffered read would.

Advice only, like writeback.py: a platform without ``O_DIRECT`` (Windows, macOS) or
without ``/proc/self/fd`` reads through the cache.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os

from pycontainer import _portable

ALIGN = 4096
# Smaller files are read through the cache: they cost little either way, and a small
# file is the likeliest to be read again soon.
MIN_SIZE = 8 << 20


def _cached(fd: int, offset: int) -> bool | None:
    """Whether the page of byte ``offset`` of ``fd`` is in the page cache (None: unknown).

    ``mincore(2)`` on a one-page mapping of the file, which only looks. Why not an
    ``RWF_NOWAIT`` read of the byte (the ninth session's probe): for a page that is not
    cached, such a read starts reading it (and the read-ahead around it) before it
    fails, and a thread preempted in between finds the page there when it looks again
    and answers "cached" about a page it brought in itself (the race
    tests/container/test_direct_reads.py met under load), a gigabyte then read through
    the cache for nothing. Since Linux 5.2 mincore answers "in the cache" for every page
    of a file the caller neither owns nor may write (a side channel closed): such a file
    is read through the cache, as before direct reads existed; the answer is never
    wrong the other way.
    """
    try:
        import ctypes  # noqa: PLC0415 - only for big files on a disk (~2 ms to import)

        page = mmap.PAGESIZE
        libc = ctypes.CDLL(None, use_errno=True)
        # A private mapping that is never written: its pages are the file's cached ones
        # (and it is writable, which ctypes needs to take the mapping's address).
        with mmap.mmap(fd, page, offset=offset - offset % page, access=mmap.ACCESS_COPY) as m:
            anchor = ctypes.c_char.from_buffer(m)
            try:
                vec = ctypes.c_ubyte(0)  # one byte per page: one page asked
                done = libc.mincore(
                    ctypes.c_void_p(ctypes.addressof(anchor)),
                    ctypes.c_size_t(page),
                    ctypes.byref(vec),
                )
            finally:
                del anchor  # before the mapping closes
    except (OSError, ValueError, AttributeError):
        return None  # no mmap of this file, no libc or no mincore: read through the cache
    return bool(vec.value & 1) if done == 0 else None


class DirectReads:
    """An ``O_DIRECT`` twin of an open file, for its aligned reads (thread-safe).

    Attributes:
        fd: The twin's descriptor (the same inode as the file it was opened for).
    """

    def __init__(self, fd: int) -> None:
        """Internal: use :func:`open_direct`."""
        self.fd = fd
        self._on = True

    @property
    def on(self) -> bool:
        """False once the file system refused a direct read (then read buffered)."""
        return self._on

    def read(self, view: memoryview, offset: int) -> int:
        """Read into ``view`` from ``offset``, both aligned; return the bytes read.

        Fewer than ``len(view)`` only at the end of the file. Returns -1, and turns direct
        reads off for good, if the file system refuses the read (the caller then reads the
        same range buffered).

        Raises:
            OSError: Any other read error (the same a buffered read would give).
        """
        done = 0
        while done < len(view):
            try:
                n = os.preadv(self.fd, [view[done:]], offset + done)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self._on = False  # an alignment the device wants larger than ALIGN
                return -1
            if n == 0:
                break
            done += n
        return done

    def close(self) -> None:
        """Close the twin (the file it was opened for stays open)."""
        with contextlib.suppress(OSError):
            os.close(self.fd)


def open_direct(fd: int, size: int) -> DirectReads | None:
    """An ``O_DIRECT`` twin of ``fd`` if its reads should bypass the cache, else None.

    Args:
        fd: A regular file open for reading (already checked by the caller).
        size: Its size in bytes.
    """
    # The cache is asked about the middle of the file: its start may have been read
    # already (a container's header), and a file in the cache at all is in it there too.
    flag = _portable.flag("O_DIRECT")
    if not flag or size < MIN_SIZE:
        return None
    # Here, past the size: a small `rwc cat` has no use for the module (issue 15, ~0.5 M
    # instructions); an extraction or a seal has loaded it already.
    from pycontainer._engine.writeback import _memory_fs  # noqa: PLC0415

    try:
        st = os.fstat(fd)
        if _memory_fs(st.st_dev) or _cached(fd, size // 2) is not False:
            return None
        # The same open file through /proc (no path lookup: a file renamed or swapped
        # since the caller opened it cannot be the one reopened here), checked anyway.
        twin = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC | flag)
    except OSError:
        return None
    try:
        same = os.fstat(twin)
    except OSError:
        os.close(twin)
        return None
    if (same.st_dev, same.st_ino) != (st.st_dev, st.st_ino):
        os.close(twin)
        return None
    return DirectReads(twin)


def read_range(
    fd: int, direct: DirectReads | None, buf: memoryview, offset: int, length: int
) -> tuple[int, int]:
    """Read bytes ``[offset, offset + length)`` of a file into ``buf``; return where they are.

    With a twin, one aligned direct read of the blocks around the span (so ``buf`` must
    start page-aligned and hold ``length + 2 * ALIGN`` bytes: the bytes start where the
    span does within the first block); else, or if the twin was refused, one ``preadv``
    into the start of ``buf``. Returns ``(start, stop)`` in ``buf``; shorter than
    ``length`` only at the end of the file.
    """
    if direct is not None and direct.on:
        start = offset - offset % ALIGN
        end = -(-(offset + length) // ALIGN) * ALIGN
        got = direct.read(buf[: end - start], start)
        if got >= 0:
            lo = offset - start
            return lo, max(lo, min(lo + length, got))
    return 0, _portable.preadv(fd, buf[:length], offset)


def read_span(
    fd: int, direct: DirectReads | None, buf: memoryview, offset: int, length: int
) -> memoryview:
    """:func:`read_range`, as a view of the bytes read."""
    lo, hi = read_range(fd, direct, buf, offset, length)
    return buf[lo:hi]
