"""Reading the plaintext of the sealed files, chunk by chunk from several threads, checked.

A file that changes while it is sealed (grows, shrinks, is rewritten in place or swapped
for another file or a link) fails the seal instead of producing an index that lies.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import stat
from collections.abc import Sequence

from pycontainer import _portable
from pycontainer._engine.direct import ALIGN, DirectReads, open_direct
from pycontainer._engine.openfiles import OpenFiles
from pycontainer.errors import InputError
from pycontainer.writer._inputs import Source


class FileReader:
    """Reads plaintext ranges of ``data || tail`` from the source files, thread-safe.

    Each file is opened (and checked to be the file the walk saw) when the first chunk that
    needs it is read, and closed after the last one, when it is checked again: a file that
    grew, shrank or was rewritten in place fails the seal instead of producing an index that
    lies. At most one file per chunk in flight is open at a time, plus files that share a
    chunk, so many small files do not exhaust file descriptors.
    """

    def __init__(self, sources: Sequence[Source], tail: bytes, chunk_log2: int) -> None:
        self._files = [s for s in sources if s.entry.is_file and s.entry.size]
        self._empty = [s for s in sources if s.entry.is_file and not s.entry.size]
        self._starts: list[int] = []
        pos = 0
        for s in self._files:
            self._starts.append(pos)
            pos += s.entry.size
        self.data_length = pos
        self._tail = tail
        self.length = pos + len(tail)
        # Each file is opened (and checked) on its first chunk, closed after its last.
        self._open = OpenFiles(
            [(st, s.entry.size) for st, s in zip(self._starts, self._files, strict=True)],
            chunk_log2,
            self._open_file,
        )

    def _open_file(self, j: int) -> _Opened:
        fd = _open_source(self._files[j])
        # Direct reads need the file's offsets and our buffer's addresses aligned alike:
        # fill()'s views start page-aligned at a chunk's plaintext offset, so a file's
        # bytes land aligned iff the file starts at an ALIGN boundary of the plaintext
        # (the first file always does; a later one when the sizes before it add up).
        aligned = self._starts[j] % ALIGN == 0
        return _Opened(fd, open_direct(fd, self._files[j].entry.size) if aligned else None)

    def reads_around_cache(self) -> bool:
        """True if the largest file is read around the page cache (direct.py).

        Opens that file now (it stays open until its last chunk is read, as it would).
        """
        if not self._files:
            return False
        j = max(range(len(self._files)), key=lambda i: self._files[i].entry.size)
        return self._open.acquire(j).direct is not None

    def check_empty_files(self) -> None:
        """Open and check the empty files (they own no chunk)."""
        for src in self._empty:
            fd = _open_source(src)
            try:
                _check_unchanged(fd, src)
            finally:
                os.close(fd)

    def _release(self, j: int) -> None:
        opened = self._open.release(j)
        if opened is None:
            return
        try:
            _check_unchanged(opened.fd, self._files[j])
        finally:
            opened.close()

    def fill(self, offset: int, view: memoryview) -> None:
        """Write plaintext bytes ``[offset, offset + len(view))`` into ``view``.

        ``view`` should start at a page boundary when ``offset`` is a multiple of the
        chunk size (pipeline.seal_chunks' buffers are), for direct reads; any other
        view is read correctly, through the page cache.
        """
        end = offset + len(view)
        j = max(0, bisect.bisect_right(self._starts, offset) - 1)
        while offset < min(end, self.data_length):
            src, start = self._files[j], self._starts[j]
            n = min(end, start + src.entry.size) - offset
            _read_into(self._open.acquire(j), view[:n], offset - start, src)
            self._release(j)
            view, offset, j = view[n:], offset + n, j + 1
        if view:
            lo = offset - self.data_length
            view[:] = self._tail[lo : lo + len(view)]

    def close(self) -> None:
        """Close the files still open (after a failure)."""
        for opened in self._open.take_all():
            opened.close()


class _Opened:
    """A source file open for reading, with its direct-read twin if it has one."""

    __slots__ = ("direct", "fd")

    def __init__(self, fd: int, direct: DirectReads | None) -> None:
        self.fd = fd
        self.direct = direct

    def close(self) -> None:
        if self.direct is not None:
            self.direct.close()
        os.close(self.fd)


def _changed(path: str) -> InputError:
    return InputError(
        f"{path} changed while it was being sealed",
        hint="seal again when nothing is writing to the file",
    )


def _open_source(src: Source) -> int:
    path = src.fs_path
    assert path is not None
    try:
        # O_NOFOLLOW: a file swapped for a symlink after the walk is refused, not followed.
        # O_NONBLOCK: a file swapped for a FIFO must not hang the seal (refused below).
        # Without O_NOFOLLOW (Windows) the dev/ino check below still refuses a swapped file.
        fd = os.open(path, _portable.read_flags() | _portable.flag("O_NOFOLLOW"))
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror}",
            hint="check that it still exists and is readable",
        ) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != src.dev_ino:
        os.close(fd)
        raise _changed(path)
    with contextlib.suppress(OSError, AttributeError):
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)  # readahead hint only
    return fd


def _read_into(opened: _Opened, view: memoryview, offset: int, src: Source) -> None:
    """Fill ``view`` with the file's bytes from ``offset``: directly where aligned."""
    direct = opened.direct
    if direct is not None and direct.on and offset % ALIGN == 0 and len(view) >= ALIGN:
        n = len(view) - len(view) % ALIGN
        try:
            got = direct.read(view[:n], offset)
        except OSError as exc:
            raise InputError(
                f"reading {src.fs_path} failed: {exc.strerror}",
                hint="check the file and the disk",
            ) from None
        if got >= 0:
            if got < n:
                raise _changed(str(src.fs_path))  # shrank, as below
            view, offset = view[n:], offset + n
    _pread_into(opened.fd, view, offset, src)


def _pread_into(fd: int, view: memoryview, offset: int, src: Source) -> None:
    path = src.fs_path
    assert path is not None
    try:
        while view:
            n = _portable.preadv(fd, view, offset)
            if n == 0:
                raise _changed(path)  # shrank: the index would promise bytes we do not have
            view, offset = view[n:], offset + n
    except OSError as exc:
        raise InputError(
            f"reading {path} failed: {exc.strerror}", hint="check the file and the disk"
        ) from None


def _check_unchanged(fd: int, src: Source) -> None:
    path = src.fs_path
    assert path is not None
    after = os.fstat(fd)
    # Grew (extra bytes would be silently dropped), shrank, or same size but rewritten in
    # place (mtime moved: the bytes read may mix two versions).
    if after.st_size != src.entry.size or after.st_mtime_ns != src.entry.mtime_total_ns:
        raise _changed(path)
