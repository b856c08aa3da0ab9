"""Reading one file entry of an opened container: seekable, or chunk by chunk without copies.

Every byte handed out comes from a chunk that authenticated as a whole (spec/format.md
§payload: a chunk's plaintext is released only after its tag verified).
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

from pycontainer._engine.pipeline import Buffers
from pycontainer.format.archive import Entry

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor


class EntryReader(io.RawIOBase):
    """A seekable, read-only view of one file entry; decrypts only the chunks it needs.

    ``read(n)`` returns ``n`` bytes unless the end of the entry is reached. The current
    chunk's plaintext is cached, so sequential small reads decrypt each chunk once.
    """

    def __init__(
        self,
        entry: Entry,
        chunk_log2: int,
        *,
        chunk: Callable[[int], bytes],
        chunk_into: Callable[[int, Buffers], memoryview],
        ahead: int = 1,
    ) -> None:
        """Internal: use :meth:`Container.open_entry`.

        The container's chunk readers are passed in rather than the container itself, so
        that this module does not refer back to the one that opens it (no import cycle:
        the contract in pyproject.toml).

        Args:
            entry: The file entry.
            chunk_log2: The container's chunk size, as a power of two.
            chunk: Decrypt (and authenticate) one chunk by index.
            chunk_into: The same into a pair of reusable buffers (for :meth:`views`).
            ahead: Chunks :meth:`views` reads ahead, each on a thread of its own.
        """
        super().__init__()
        self._chunk = chunk
        self._chunk_into = chunk_into
        self._ahead = max(1, ahead)
        self._log2 = chunk_log2
        self.entry = entry
        self._pos = 0
        self._cached_index = -1
        self._cached = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.entry.size + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def readinto(self, buffer: object) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        out = memoryview(buffer).cast("B")  # type: ignore[arg-type]
        log2 = self._log2
        written = 0
        while written < len(out) and self._pos < self.entry.size:
            absolute = self.entry.offset + self._pos
            index = absolute >> log2
            if index != self._cached_index:
                self._cached = self._chunk(index)
                self._cached_index = index
            within = absolute - (index << log2)
            k = min(
                len(out) - written,
                len(self._cached) - within,
                self.entry.size - self._pos,
            )
            out[written : written + k] = self._cached[within : within + k]
            written += k
            self._pos += k
        return written

    def views(self) -> Generator[memoryview, None, None]:
        """Yield the rest of the entry, chunk by chunk, without copying it.

        Each piece is a view of one chunk's plaintext, yielded only after that whole chunk
        authenticated. It is valid until the next piece is asked for: then it is released
        (using it raises ValueError) and its buffer takes the chunk after next, so write
        or copy each piece before asking for another, and keep no slice of it. The next
        chunk is read and decrypted on a helper thread into another buffer while the
        caller writes this one (``pread`` and AES-GCM release the GIL): ``rwc cat`` into a
        pipe then spends its time writing, not waiting for the cipher, and allocates
        nothing per chunk. With ``ahead`` > 1 that many chunks are read at once, each on a
        thread and into a buffer of its own: reads around the page cache (direct.py) wait
        for the disk with no kernel read-ahead behind them.
        """
        if self.closed:
            raise ValueError("I/O operation on closed file")
        if self._pos >= self.entry.size:
            return
        log2 = self._log2
        first = (self.entry.offset + self._pos) >> log2
        last = (self.entry.offset + self.entry.size - 1) >> log2
        ahead = self._ahead
        # Chunk k goes into ring[(k - first) % len(ring)]: while the caller holds chunk i,
        # chunks i+1 .. i+ahead are being read into the other buffers.
        ring = [Buffers(1 << log2) for _ in range(min(ahead, last - first) + 1)]
        pool: ThreadPoolExecutor | None = None
        pending: deque[Future[memoryview]] = deque()
        following = first
        try:
            for index in range(first, last + 1):
                if index == first == last:
                    # One chunk: the caller waits for it in any case. A small `rwc cat`
                    # starts no thread and imports no concurrent.futures (with logging, ~3
                    # ms of its start-up; issue 15).
                    plain = self._chunk_into(index, ring[0])
                else:
                    if pool is None:
                        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

                        pool = ThreadPoolExecutor(ahead, thread_name_prefix="rwc-read-ahead")
                    # The buffer of the piece before this one was released below.
                    while following <= min(index + ahead, last):
                        into = ring[(following - first) % len(ring)]
                        pending.append(pool.submit(self._chunk_into, following, into))
                        following += 1
                    plain = pending.popleft().result()
                within = self.entry.offset + self._pos - (index << log2)
                k = min(len(plain) - within, self.entry.size - self._pos)
                self._pos += k
                piece = plain[within : within + k]
                try:
                    yield piece
                finally:
                    piece.release()
                    plain.release()
        finally:
            if pool is not None:
                # Wait for read-aheads still writing into the buffers before they go away.
                pool.shutdown(wait=True, cancel_futures=True)
            for bufs in ring:
                bufs.close()

    def readall(self) -> bytes:
        """Read from the current position to the end of the entry in one allocation."""
        buf = bytearray(max(0, self.entry.size - self._pos))
        n = self.readinto(buf)
        del buf[n:]
        return bytes(buf)

    def close(self) -> None:
        self._cached = b""
        super().close()
