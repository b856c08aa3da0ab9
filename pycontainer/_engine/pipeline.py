"""The hot loops of the library: the STREAM cipher driven over files, chunk-parallel.

A chunk-parallel sealer for plaintexts of known length (each thread reads, seals and writes
whole chunks at their fixed offsets), an encrypting sink for streams of unknown length (the
writer fills page-aligned buffers in place with ``readinto``) and an ordered decrypting
iterator. All of them spread chunks over a few threads (AES-GCM in ``cryptography`` and file
I/O release the GIL) with a bounded number of buffers, so memory stays constant. The cipher
and the layout are :mod:`pycontainer.format.stream` (I/O-free).

Spec anchors: spec/format.md §payload.
"""

from __future__ import annotations

import _thread
import contextlib
import mmap
import os
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pycontainer._engine.direct import ALIGN, DirectReads, read_range
from pycontainer._engine.readahead import ReadAhead
from pycontainer.errors import PayloadError
from pycontainer.format import primitives as p
from pycontainer.format.stream import Layout, StreamCipher

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor


class Buffers:
    """A page-aligned plaintext buffer and a ciphertext buffer for one chunk in flight."""

    def __init__(self, chunk_size: int) -> None:
        # Anonymous mmap: page-aligned, never in the Python heap, released on close. The
        # ciphertext buffer holds a sealed chunk and the blocks around it (direct.read_span).
        self.plain = mmap.mmap(-1, chunk_size)
        self.sealed = mmap.mmap(-1, chunk_size + p.TAG_SIZE + 2 * ALIGN)

    def close(self) -> None:
        # Unmap eagerly to keep RSS flat; if a caller still holds a view, the mapping is
        # released by the garbage collector instead.
        for m in (self.plain, self.sealed):
            with contextlib.suppress(BufferError):
                m.close()


class _Ran:
    """A chunk run inline (workers=1), answering ``result()`` as a Future would."""

    __slots__ = ("_error", "_value")

    def __init__(self, fn: Callable[[], int]) -> None:
        self._value = 0
        self._error: Exception | None = None
        try:
            self._value = fn()
        except Exception as exc:  # noqa: BLE001 -- re-raised by result(), in order
            self._error = exc

    def result(self) -> int:
        if self._error is not None:
            raise self._error
        return self._value


class _Window:
    """An ordered pipeline: at most ``depth`` chunks in flight, results in submit order."""

    def __init__(self, workers: int) -> None:
        self.pool: ThreadPoolExecutor | None = None
        if workers > 1:
            # Imported here: concurrent.futures (with logging) is ~3 ms of a small open's
            # start-up, and one worker needs no pool (issue 15).
            from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

            self.pool = ThreadPoolExecutor(workers, "rwc-stream")
        self.depth = max(1, workers * p.WINDOW_PER_WORKER)
        self.pending: deque[tuple[Future[int] | _Ran, Buffers, object]] = deque()

    def submit(self, fn: Callable[[], int], bufs: Buffers, tag: object) -> None:
        ran = _Ran(fn) if self.pool is None else self.pool.submit(fn)
        self.pending.append((ran, bufs, tag))

    def full(self) -> bool:
        return len(self.pending) >= self.depth

    def pop(self) -> tuple[int, Buffers, object]:
        fut, bufs, tag = self.pending.popleft()
        return fut.result(), bufs, tag

    def close(self) -> None:
        if self.pool is not None:
            # Wait for running workers (they use our buffers) before the buffers go away.
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.pending.clear()


def _check_workers(workers: int) -> int:
    if workers < 1:
        raise ValueError("workers must be >= 1")
    return workers


class EncryptingSink:
    """Turns a plaintext byte stream into sealed STREAM chunks written at their offsets.

    Callers fill the current chunk buffer in place (``space()`` then ``commit(n)``, e.g. with
    ``readinto``) or copy bytes in with ``write()``. A full chunk is only sealed once more
    plaintext arrives, so the final chunk (flag 1) is known without knowing the total length
    in advance.

    Each worker seals a chunk and writes it at its own offset (``write_at``, e.g. pwrite), so
    encryption and output overlap with reading the next plaintext in the caller's thread.
    """

    def __init__(
        self,
        key: bytes,
        chunk_log2: int,
        write_at: Callable[[memoryview, int], None],
        *,
        workers: int = p.WORKERS_DEFAULT,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Create the sink.

        Args:
            key: The payload key.
            chunk_log2: log2 of the chunk size.
            write_at: Writes all of a ciphertext buffer at an offset in the payload. Called
                from worker threads, possibly out of order, so it must be thread-safe.
            workers: Threads sealing chunks (1 = seal inline, no threads).
            progress: Called with the plaintext bytes sealed so far, after each chunk.
        """
        self._cipher = StreamCipher(key)
        self._size = 1 << chunk_log2
        self._write_at = write_at
        self._progress = progress
        self._window = _Window(_check_workers(workers))
        self._free: list[Buffers] = []
        self._cur = self._take()
        self._fill = 0
        self._index = 0
        self._done = 0
        self.plaintext_length = 0

    def _take(self) -> Buffers:
        if self._free:
            return self._free.pop()
        if len(self._window.pending) + 1 > self._window.depth:
            self._drain_one()
            return self._free.pop()
        return Buffers(self._size)

    def _drain_one(self) -> None:
        _, bufs, plain_len = self._window.pop()
        self._free.append(bufs)
        self._done += int(plain_len)  # type: ignore[call-overload]
        if self._progress is not None:
            self._progress(self._done)

    def _emit(self, last: bool) -> None:
        bufs, n, index = self._cur, self._fill, self._index
        cipher, write_at = self._cipher, self._write_at
        offset = index * (self._size + p.TAG_SIZE)

        def job() -> int:
            sealed = memoryview(bufs.sealed)
            k = cipher.encrypt_into(index, last, memoryview(bufs.plain)[:n], sealed)
            write_at(sealed[:k], offset)
            return k

        self._window.submit(job, bufs, n)
        self._index += 1
        self._fill = 0
        if not last:
            self._cur = self._take()

    def space(self) -> memoryview:
        """Return the writable free part of the current chunk buffer (never empty)."""
        if self._fill == self._size:
            # More plaintext follows, so the full chunk is not the final one.
            self._emit(last=False)
        return memoryview(self._cur.plain)[self._fill :]

    def commit(self, n: int) -> None:
        """Record that ``n`` bytes were written into the view from ``space()``."""
        self._fill += n
        self.plaintext_length += n

    def write(self, data: bytes | memoryview) -> None:
        """Copy plaintext bytes into the stream."""
        view = memoryview(data)
        while view:
            room = self.space()
            k = min(len(room), len(view))
            room[:k] = view[:k]
            self.commit(k)
            view = view[k:]

    def close(self) -> None:
        """Seal the final chunk and write everything out."""
        self._emit(last=True)
        while self._window.pending:
            self._drain_one()
        self.abort()

    def abort(self) -> None:
        """Stop the workers and release the buffers (also after an error)."""
        self._window.close()
        for b in self._free:
            b.close()
        self._free.clear()


class _Shared:
    """State shared by the threads of :func:`_run_chunks` (guarded by ``lock``)."""

    def __init__(self) -> None:
        self.lock = _thread.allocate_lock()  # threading.Lock (see _run_chunks)
        self.next = 0
        self.done = 0
        self.error: BaseException | None = None


def _run_chunks(
    count: int,
    chunk_size: int,
    work: Callable[[int, Buffers], int],
    workers: int,
    progress: Callable[[int], None] | None,
) -> None:
    """Run ``work(position, buffers)`` for positions 0..count-1 on up to ``workers`` threads.

    The caller's thread is one of them (workers=1: no thread is started). Each thread owns
    one pair of buffers and takes the next position until none is left or one failed;
    ``work`` returns the plaintext bytes it handled, summed for ``progress``, which is called
    in the caller's thread after each of its positions and once at the end.

    Raises:
        Exception: The first error of any thread (the others stop at their next position).
    """
    import threading  # noqa: PLC0415 - not for a small cat, which starts no thread (issue 15)

    shared = _Shared()

    def run(report: Callable[[int], None] | None) -> None:
        bufs = Buffers(chunk_size)
        try:
            while True:
                with shared.lock:
                    if shared.error is not None or shared.next >= count:
                        return
                    position = shared.next
                    shared.next += 1
                n = work(position, bufs)
                with shared.lock:
                    shared.done += n
                    done = shared.done
                if report is not None:
                    report(done)
        except BaseException as exc:
            with shared.lock:
                if shared.error is None:
                    shared.error = exc
            raise
        finally:
            bufs.close()

    go = threading.Event()

    def helper(finished: threading.Event) -> None:
        try:
            go.wait()
            # The error is recorded in `shared` and re-raised by the caller's thread.
            with contextlib.suppress(BaseException):
                run(None)
        finally:
            finished.set()

    # Ctrl-C (or rwc's SIGTERM/SIGHUP) is raised in the caller's thread, wherever it is.
    # Had the caller given up waiting for the helpers, they would go on writing while its
    # clean-up runs: an extraction removed its staging tree while a helper created a file
    # in it (plaintext left behind), or closed descriptors a helper still wrote to (a
    # reused number: plaintext into another file). So no helper takes a chunk before
    # every helper is started (`go`; one interrupted while starting finds no chunk left),
    # and the caller leaves `finally` only when every started helper has finished its
    # chunk (each stops at its next position), re-raising the first interrupt after that.
    # Events, not Thread.join: a join interrupted by a signal marks a thread still running
    # as stopped (CPython 3.11 _wait_for_tstate_lock), so a second join returned at once.
    finished = [threading.Event() for _ in range(min(workers, count) - 1)]
    threads = [
        threading.Thread(target=helper, args=(event,), name="rwc-chunks", daemon=True)
        for event in finished
    ]
    started: list[threading.Event] = []
    try:
        for event, t in zip(finished, threads, strict=True):
            t.start()
            started.append(event)
        go.set()
        run(progress)
    finally:
        interrupted: BaseException | None = None
        while True:
            try:
                with shared.lock:
                    shared.next = count  # stop the helpers at their next position
                go.set()
                while started:
                    started[-1].wait()
                    started.pop()
                break
            except BaseException as exc:  # noqa: BLE001 - re-raised once all have finished
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted
    if shared.error is not None:
        raise shared.error
    if progress is not None and threads:
        progress(shared.done)  # the helpers may have done the last positions


def seal_chunks(
    key: bytes,
    chunk_log2: int,
    plaintext_length: int,
    fill: Callable[[int, memoryview], None],
    write_at: Callable[[memoryview, int], None],
    *,
    workers: int = p.WORKERS_DEFAULT,
    progress: Callable[[int], None] | None = None,
    read_ahead: int = 0,
) -> None:
    """Seal a plaintext whose length is known in advance, chunk-parallel.

    Every chunk's offsets are fixed (plaintext ``i*C``, ciphertext ``i*(C+16)``) and the
    final chunk is known from the length, so chunks need no ordering: each thread takes the
    next index, reads that chunk's plaintext, seals it and writes it, all on one thread and
    in one pair of buffers. Measured on the 2-vCPU bench VM (256 MiB on tmpfs, CPU time per
    MiB): handing a chunk from a reading thread to an encrypting or writing thread costs
    15-30% more CPU than keeping it on one thread (wake-ups, and 1 MiB moving between the
    cores' caches), so this layout is the cheapest way to use a second core.

    Args:
        key: The payload key.
        chunk_log2: log2 of the chunk size.
        plaintext_length: Total plaintext bytes (at least 1).
        fill: ``fill(offset, view)`` writes plaintext bytes ``[offset, offset + len(view))``
            into ``view``. Called from several threads at once.
        write_at: Writes all of a ciphertext buffer at an offset in the payload. Called from
            several threads at once, out of order (e.g. pwrite).
        workers: Threads, the caller's included (1 = everything in the caller's thread).
        progress: Called in the caller's thread with the plaintext bytes sealed so far,
            after each chunk the caller's thread sealed, and once at the end.
        read_ahead: Threads that only ``fill`` chunks ahead of the workers (0: each
            worker fills its own chunk). For plaintext read around the page cache, which
            has no kernel read-ahead (:class:`ReadAhead`).

    Raises:
        ValueError: ``plaintext_length`` < 1 or ``workers`` < 1.
        Exception: Whatever ``fill``, ``write_at`` or ``progress`` raised (the first error;
            the other threads stop at their next chunk).
    """
    if plaintext_length < 1:
        raise ValueError("the plaintext must not be empty")  # spec [F-PAYLOAD-EMPTY]
    _check_workers(workers)
    cipher = StreamCipher(key)
    size = 1 << chunk_log2
    count = -(-plaintext_length // size)

    def span(index: int) -> tuple[int, int]:
        start = index << chunk_log2
        return start, min(size, plaintext_length - start)

    def read(index: int, into: memoryview) -> tuple[int, int]:
        start, n = span(index)
        fill(start, into[:n])
        return 0, n

    def seal(index: int, plain: memoryview, sealed: memoryview) -> None:
        # spec §payload: the final chunk (flag 1) is the one that ends the plaintext.
        k = cipher.encrypt_into(index, index == count - 1, plain, sealed)
        write_at(sealed[:k], index * (size + p.TAG_SIZE))

    def work(index: int, bufs: Buffers) -> int:
        with memoryview(bufs.plain) as plain_all, memoryview(bufs.sealed) as sealed:
            lo, hi = read(index, plain_all)
            seal(index, plain_all[lo:hi], sealed)
        return hi - lo

    if read_ahead < 1:
        _run_chunks(count, size, work, workers, progress)
        return
    ahead = ReadAhead(count, size, read, threads=read_ahead, buffers=read_ahead + workers)

    def work_ahead(index: int, bufs: Buffers) -> int:
        buf, (lo, hi) = ahead.take(index)
        try:
            with memoryview(buf) as plain, memoryview(bufs.sealed) as sealed:
                seal(index, plain[lo:hi], sealed)
        finally:
            ahead.give_back(buf)
        return hi - lo

    try:
        _run_chunks(count, size, work_ahead, workers, progress)
    finally:
        ahead.close()


def open_chunks(
    fd: int,
    payload_offset: int,
    layout: Layout,
    key: bytes,
    indices: Sequence[int],
    *,
    consume: Callable[[int, memoryview], int],
    workers: int = p.WORKERS_DEFAULT,
    progress: Callable[[int], None] | None = None,
    direct: DirectReads | None = None,
    read_ahead: int = 0,
) -> None:
    """Read, authenticate, decrypt and consume chunks in any order, chunk-parallel.

    For consumers that need no order (extraction writes each piece at its known
    offset): each thread reads, decrypts and
    consumes whole chunks, so no chunk moves between threads (see :func:`seal_chunks`).

    Args:
        fd: File descriptor of the container (read with pread).
        payload_offset: Where the payload starts (the header length).
        layout: The payload geometry.
        key: The payload key.
        indices: The chunk indices to process.
        consume: ``consume(index, plaintext)`` returns the bytes it used (for
            ``progress``); called from several threads at once, and only with authenticated
            plaintext (valid only during the call).
        workers: Threads, the caller's included (1 = everything in the caller's thread).
        progress: Called in the caller's thread with the sum of ``consume``'s results.
        direct: Read the chunks around the page cache through this twin of ``fd``
            (direct.open_direct), else through the cache.
        read_ahead: With ``direct``, threads that only read chunks ahead of the workers
            (:class:`ReadAhead`; 0: each worker reads its own chunk).

    Raises:
        PayloadError: A chunk failed authentication or could not be read in full.
        Exception: Whatever ``consume`` or ``progress`` raised.
    """
    _check_workers(workers)
    cipher = StreamCipher(key)
    last_index = layout.chunk_count - 1
    if any(not 0 <= i <= last_index for i in indices):
        raise PayloadError

    def read(position: int, into: memoryview) -> tuple[int, int]:
        start, length = layout.span(indices[position])
        lo, hi = read_range(fd, direct, into, payload_offset + start, length)
        if hi - lo != length:
            raise PayloadError  # the file shrank under us: same as truncation
        return lo, hi

    def open_one(position: int, sealed: memoryview, plain_all: memoryview) -> int:
        index = indices[position]
        n = cipher.decrypt_into(index, index == last_index, sealed, plain_all)
        return consume(index, plain_all[:n])

    def work(position: int, bufs: Buffers) -> int:
        with memoryview(bufs.sealed) as sealed_all, memoryview(bufs.plain) as plain_all:
            lo, hi = read(position, sealed_all)
            return open_one(position, sealed_all[lo:hi], plain_all)

    if direct is None:
        with contextlib.suppress(OSError, AttributeError):
            # A hint only: ask the kernel for aggressive readahead on the container.
            os.posix_fadvise(fd, payload_offset, 0, os.POSIX_FADV_SEQUENTIAL)
    if not indices:
        return
    if direct is None or read_ahead < 1:
        _run_chunks(len(indices), layout.chunk_size, work, workers, progress)
        return
    size = layout.chunk_size + p.TAG_SIZE + 2 * ALIGN  # as Buffers.sealed
    ahead = ReadAhead(len(indices), size, read, threads=read_ahead, buffers=read_ahead + workers)

    def work_ahead(position: int, bufs: Buffers) -> int:
        buf, (lo, hi) = ahead.take(position)
        try:
            with memoryview(buf) as sealed_all, memoryview(bufs.plain) as plain_all:
                return open_one(position, sealed_all[lo:hi], plain_all)
        finally:
            ahead.give_back(buf)

    try:
        _run_chunks(len(indices), layout.chunk_size, work_ahead, workers, progress)
    finally:
        ahead.close()
