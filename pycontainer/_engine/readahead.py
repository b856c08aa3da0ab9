"""Reads queued ahead of the workers where they go around the page cache (direct.py).

The stage :func:`pycontainer._engine.pipeline.seal_chunks` and ``open_chunks`` put in front
of their workers when the input is read with ``O_DIRECT``: see :class:`ReadAhead`.
"""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import threading

# Reading threads of a ReadAhead where the input is read around the page cache: reads
# queued at the disk while the workers seal or decrypt (bench/profiles/disk.md, "What
# changed": 8 were no better than 4). Each holds one input buffer of a chunk's size, and
# the pool has one more per worker.
DIRECT_READ_AHEAD = 4


class ReadAhead:
    """Reads the inputs of chunk positions ahead of the workers, in order (direct reads).

    A read around the page cache (direct.py) has no kernel read-ahead behind it: a worker
    that reads its chunk, then seals or decrypts it, then writes it, has no read queued
    while it computes and writes, so with two workers at most two reads are ever queued,
    and none while the workers wait for a CPU on a busy machine (bench/profiles/disk.md,
    "Where the wall goes": each worker of a 1 GiB seal spent 62-64% of its time waiting
    for its own 1 MiB reads, 2.1 ms each). Here ``threads`` threads do nothing but read positions
    0, 1, 2, ... into a pool of ``buffers`` input buffers, so reads stay queued while the
    workers compute and write; a worker takes the input of its position (:meth:`take`),
    waiting only if it has not arrived yet, and gives the buffer back (:meth:`give_back`).

    Memory stays bounded: a thread claims the next position only with a free buffer in
    hand, so positions are read in order and the lowest position not yet taken always has
    a buffer (no deadlock); ``buffers`` >= ``threads`` + the workers keeps every reading
    thread busy while each worker holds one. The data of a direct read arrives by DMA, so
    handing it to another thread costs no cache traffic (what made hand-offs 15-30% dearer
    for reads through the cache, pipeline.seal_chunks). Only what ``read`` puts in a buffer
    moves; nothing is checked or used before the worker authenticates or seals it.
    """

    def __init__(
        self,
        count: int,
        size: int,
        read: Callable[[int, memoryview], tuple[int, int]],
        *,
        threads: int,
        buffers: int,
    ) -> None:
        """Start the reading threads.

        Args:
            count: Positions to read (0..count-1).
            size: Bytes per input buffer (page-aligned: anonymous mmap).
            read: ``read(position, buffer)`` fills the buffer with that position's input
                and returns where in the buffer it is (``start, stop``); called from the
                reading threads. An exception is raised to the worker taking that
                position, or any later one not read yet.
            threads: Reading threads (reads in flight).
            buffers: Input buffers (at least ``threads``).
        """
        # Imported here, where reading threads start: a small `rwc cat` starts none, and
        # threading cost it ~2.8 M instructions (issue 15, bench/profiles/startup.md).
        import threading  # noqa: PLC0415

        self._count = count
        self._read = read
        self._cond = threading.Condition()
        self._pool = [mmap.mmap(-1, size) for _ in range(max(buffers, threads))]
        self._free = list(self._pool)
        self._next = 0
        self._stop = False
        self._error: BaseException | None = None  # the first read that failed
        self._ready: dict[int, tuple[mmap.mmap, tuple[int, int]]] = {}
        # Events, not Thread.join (see pipeline._run_chunks: a join interrupted by a signal).
        # Only started threads are waited for: a thread that could not start (no memory
        # or thread left) raises here, after the ones started are stopped and waited for.
        self._finished: list[threading.Event] = []
        try:
            for _ in range(min(threads, count)):
                event = threading.Event()
                threading.Thread(
                    target=self._run, args=(event,), name="rwc-read-ahead", daemon=True
                ).start()
                self._finished.append(event)
        except BaseException:
            self.close()
            raise

    def _run(self, finished: threading.Event) -> None:
        try:
            while True:
                with self._cond:
                    while not self._stop and self._next < self._count and not self._free:
                        self._cond.wait()
                    if self._stop or self._next >= self._count:
                        return
                    # A buffer first, then the position: see the class docstring.
                    buf = self._free.pop()
                    position = self._next
                    self._next += 1
                try:
                    with memoryview(buf) as view:
                        span = self._read(position, view)
                except BaseException as exc:  # noqa: BLE001 - handed to the workers
                    with self._cond:
                        # Read no further: the worker waiting for this position, or for
                        # any later one not read yet, raises this error (take()).
                        self._error = self._error or exc
                        self._stop = True
                        self._free.append(buf)
                        self._cond.notify_all()
                    return
                with self._cond:
                    self._ready[position] = (buf, span)
                    self._cond.notify_all()
        finally:
            finished.set()

    def take(self, position: int) -> tuple[mmap.mmap, tuple[int, int]]:
        """The buffer holding the input of ``position`` once read, and where in it.

        The caller then owns the buffer until :meth:`give_back`.

        Raises:
            Exception: Whatever ``read`` raised for this position.
        """
        with self._cond:
            while position not in self._ready:
                if self._error is not None:
                    raise self._error
                self._cond.wait()
            return self._ready.pop(position)

    def give_back(self, buf: mmap.mmap) -> None:
        """Return a buffer from :meth:`take` to the pool."""
        with self._cond:
            self._free.append(buf)
            self._cond.notify_all()

    def close(self) -> None:
        """Stop reading and wait for every reading thread; then release the buffers.

        A reading thread finishes the read it is in (it only fills a buffer of ours), so no
        thread outlives this call: the caller's clean-up (closing the files read) cannot
        race a read. Interrupt-safe as pipeline._run_chunks' clean-up is.
        """
        interrupted: BaseException | None = None
        while True:
            try:
                with self._cond:
                    self._stop = True
                    self._cond.notify_all()
                for event in self._finished:
                    event.wait()
                break
            except BaseException as exc:  # noqa: BLE001 - re-raised once all have finished
                interrupted = interrupted or exc
        for buf in self._pool:
            with contextlib.suppress(BufferError):
                buf.close()
        if interrupted is not None:
            raise interrupted
