"""Positional I/O and open flags that also work where POSIX does not (Windows, some macOS).

City clerks mostly read containers on Windows, where ``os.pread``, ``os.pwrite``,
``os.preadv``, ``O_NOFOLLOW``, ``O_CLOEXEC``, ``O_NONBLOCK`` and ``O_DIRECTORY`` do not
exist, and where a file opened without ``O_BINARY`` is read in text mode (CRLF -> LF: a
container would come out corrupt). Every reader, extraction and writer path goes through
this module instead of calling those directly.

Availability is looked up at each call (``getattr(os, ...)``), not at import, so the test
suite can hide the POSIX calls and run the same reader and extraction tests on the
fallbacks (tests/portable/).

The fallbacks for positional I/O seek and read/write under one lock: chunk workers share a
file descriptor, and ``lseek`` + ``read`` is not atomic across threads.
"""

from __future__ import annotations

# The lock primitive itself (threading.Lock is this function): threading, with its classes
# and its registry of threads, is for the chunk workers, which a small `rwc cat` never
# starts; importing it cost every run ~2.8 M instructions (issue 15,
# bench/profiles/startup.md).
import _thread
import os
import stat
import sys

_SEEK_LOCK = _thread.allocate_lock()


def flag(name: str) -> int:
    """``os.<name>`` if this platform has that open flag, else 0."""
    value = getattr(os, name, 0)
    return value if isinstance(value, int) else 0


def read_flags() -> int:
    """Flags for reading a container or an input: binary, not inherited, no FIFO hang."""
    # O_NONBLOCK: opening a FIFO passed as "the container" must not hang (refused after
    # fstat); Windows has no FIFOs. O_BINARY: Windows would otherwise translate CRLF.
    return (
        os.O_RDONLY
        | flag("O_BINARY")
        | flag("O_CLOEXEC")
        | flag("O_NOINHERIT")
        | flag("O_NONBLOCK")
    )


def create_flags() -> int:
    """Flags for creating a new private file exclusively, never through a link.

    O_CREAT | O_EXCL already refuses an existing name, a symbolic link included (POSIX and
    Windows alike); O_NOFOLLOW, where it exists, says so twice.
    """
    return (
        os.O_WRONLY
        | os.O_CREAT
        | os.O_EXCL
        | flag("O_BINARY")
        | flag("O_CLOEXEC")
        | flag("O_NOINHERIT")
        | flag("O_NOFOLLOW")
    )


def check_regular(fd: int) -> os.stat_result:
    """Fstat ``fd`` and refuse anything but a regular file (the O_NOFOLLOW fallback).

    Raises:
        OSError: Not a regular file.
    """
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(f"not a regular file (mode {st.st_mode:o})")
    return st


def pread(fd: int, length: int, offset: int) -> bytes:
    """Up to ``length`` bytes at ``offset`` (fewer only at the end of the file)."""
    native = getattr(os, "pread", None)
    if native is not None:
        data: bytes = native(fd, length, offset)
        return data
    parts: list[bytes] = []
    with _SEEK_LOCK:
        os.lseek(fd, offset, os.SEEK_SET)
        while length > 0:
            part = os.read(fd, length)
            if not part:
                break
            parts.append(part)
            length -= len(part)
    return b"".join(parts)


def preadv(fd: int, view: memoryview, offset: int) -> int:
    """Read into ``view`` from ``offset``; return the bytes read (short only at the end)."""
    native = getattr(os, "preadv", None)
    if native is not None:
        count: int = native(fd, [view], offset)
        return count
    data = pread(fd, len(view), offset)
    view[: len(data)] = data
    return len(data)


def pwrite(fd: int, view: memoryview, offset: int) -> int:
    """Write some of ``view`` at ``offset``; return how many bytes were written."""
    native = getattr(os, "pwrite", None)
    if native is not None:
        count: int = native(fd, view, offset)
        return count
    with _SEEK_LOCK:
        os.lseek(fd, offset, os.SEEK_SET)
        return os.write(fd, view)


def pwrite_all(fd: int, view: memoryview, offset: int, *, piece: int | None = None) -> None:
    """Write all of ``view`` at ``offset``, at most ``piece`` bytes per call (None: all).

    Thread-safe: chunk workers write concurrently.
    """
    step = piece or len(view)
    while view:
        n = pwrite(fd, view[:step], offset)
        view, offset = view[n:], offset + n


if sys.platform == "win32":
    import msvcrt

    def lock_exclusive(fd: int) -> None:
        """Hold an exclusive lock on ``fd`` until it is closed (Windows: first byte)."""
        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)

else:
    import fcntl

    def lock_exclusive(fd: int) -> None:
        """Hold an exclusive lock on ``fd`` until it is closed (flock)."""
        fcntl.flock(fd, fcntl.LOCK_EX)


def fsync_directory(path: str | os.PathLike[str]) -> None:
    """Make a rename in ``path`` durable where directories can be opened (POSIX).

    Windows cannot open a directory as a file descriptor; NTFS journals the rename itself.
    """
    directory = flag("O_DIRECTORY")
    if not directory:
        return
    fd = os.open(path, os.O_RDONLY | directory)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
