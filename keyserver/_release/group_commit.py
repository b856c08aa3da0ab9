"""Group commit: several concurrent requests share ONE durable transaction.

spec §evaluate requires the audit entry of a key release to be committed (fsync'd) before
the release is returned, and every append locks the one chain head. So without batching
the server releases at most one key per fsync, whatever the CPU. Here requests queue, and
one committer thread runs everything queued as the next transaction: one head lock, one
fsync, and every request still returns only after the commit that contains its audit
entry.

Why one dedicated thread rather than a leader elected among the waiting request threads:
under load the HTTP server then has two busy threads (event loop and committer) instead
of one per open connection, so the GIL is handed over once per batch instead of once per
request, and an ``async`` route awaits its result without a worker-thread hop at all
(:meth:`GroupCommit.submit_async`). Synchronous callers (the local CLI, tests) use
:meth:`GroupCommit.submit`.

Why the runner *takes* its batch (``take()``) instead of being handed one, and may take
twice: the release runner takes what is queued, prepares it before the serialisation
point (the SQLite writer lock, the chain head's row lock: token and policy reads,
keyserver/_release/batch.py), then takes again once it holds that point. Every request
that arrived while another process held the lock still joins the transaction that gets
it next, instead of waiting one more whole lock cycle. With two server processes
sharing one database this is what keeps batches full and the lock's share of each
release small (bench/README.md: the lock is the resource two workers compete for).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

J = TypeVar("J")
R = TypeVar("R")

#: ``take()``: the jobs of the batch being run. A later call adds the jobs queued since
#: (up to ``max_batch`` in all) to the same list and returns it.
Take = Callable[[], Sequence[J]]


class _Item(Generic[J, R]):
    """One queued job and how to tell its caller (an Event, or a future on a loop)."""

    __slots__ = ("error", "event", "future", "job", "loop", "result")

    def __init__(
        self,
        job: J,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[None] | None = None,
    ) -> None:
        self.job = job
        self.result: R | None = None
        self.error: BaseException | None = None
        self.loop = loop
        self.future = future
        self.event = threading.Event() if loop is None else None

    def outcome(self) -> R:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class GroupCommit(Generic[J, R]):
    """Run jobs in batches through ``runner`` on one committer thread.

    Args:
        runner: Runs ONE transaction. Once it holds the lock that serialises writers it
            calls ``take()`` for the batch (every queued job, up to ``max_batch``) and
            returns one result (or exception) per taken job. If it raises, every job
            it took, or the queued batch if it took none, gets that exception.
        max_batch: Upper bound of jobs per transaction (bounds latency and lock time).
        name: Name of the committer thread (shown by debuggers and py-spy).
        on_idle: Called on the committer thread once no job has come for ``linger``
            seconds after a batch, and before the thread stops: the release batches keep
            their connection from one batch to the next until then (held.py).
        linger: See ``on_idle``.
    """

    def __init__(
        self,
        runner: Callable[[Take[J]], Sequence[R | BaseException]],
        max_batch: int = 64,
        name: str = "rwc-group-commit",
        on_idle: Callable[[], None] | None = None,
        linger: float = 0.1,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self._runner = runner
        self._max_batch = max_batch
        self._name = name
        self._on_idle = on_idle
        self._linger = linger
        self._cond = threading.Condition()
        self._queue: list[_Item[J, R]] = []
        self._thread: threading.Thread | None = None
        self._stopping = False

    def submit(self, job: J) -> R:
        """Run ``job`` in the next batch; return its result once that batch committed."""
        item: _Item[J, R] = _Item(job)
        self._enqueue(item)
        assert item.event is not None
        item.event.wait()
        return item.outcome()

    def submit_many(self, jobs: Sequence[J]) -> list[R | BaseException]:
        """Queue ``jobs`` together; return each one's result or error once committed.

        For the host committer (keyserver/_release/hostcommit.py): a worker's batch
        arrives as one message and joins whatever the other workers queued, so one
        transaction serves them all. The jobs are queued in their order, in one step, so
        they keep it in the batch (spec §consistency: decided in the order taken).
        """
        items: list[_Item[J, R]] = [_Item(job) for job in jobs]
        with self._cond:
            for item in items:
                self._enqueue_locked(item)
        out: list[R | BaseException] = []
        for item in items:
            assert item.event is not None
            item.event.wait()
            out.append(item.error if item.error is not None else item.result)  # type: ignore[arg-type]
        return out

    async def submit_async(self, job: J) -> R:
        """Like :meth:`submit`, awaiting the commit instead of blocking a thread.

        If the awaiting task is cancelled, the job still runs (it may already be in a
        committed batch); only its result is dropped.
        """
        loop = asyncio.get_running_loop()
        item: _Item[J, R] = _Item(job, loop, loop.create_future())
        self._enqueue(item)
        assert item.future is not None
        await item.future
        return item.outcome()

    def close(self, timeout: float = 10.0) -> None:
        """Run what is queued, then stop the committer thread (a later submit restarts it)."""
        with self._cond:
            thread = self._thread
            self._stopping = True
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _enqueue(self, item: _Item[J, R]) -> None:
        with self._cond:
            self._enqueue_locked(item)

    def _enqueue_locked(self, item: _Item[J, R]) -> None:
        """Queue ``item`` (the caller holds ``_cond``); start the committer if needed."""
        self._queue.append(item)
        if self._thread is None or not self._thread.is_alive():
            # Lazily, so that importing or building a service starts no thread, and
            # again after close() or in a forked child (threads do not survive fork).
            self._stopping = False
            self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
            self._thread.start()
        else:
            self._cond.notify()

    def _work(self) -> None:
        while True:
            if self._on_idle is not None:
                with self._cond:
                    if not self._queue and not self._stopping:
                        self._cond.wait(self._linger)
                    idle = not self._queue
                if idle:
                    self._on_idle()  # outside the lock: it may close a connection
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue:
                    self._thread = None
                    return
            _deliver(self._run())

    def _take(self, limit: int) -> list[_Item[J, R]]:
        with self._cond:
            batch = self._queue[:limit]
            del self._queue[:limit]
        return batch

    def _run(self) -> list[_Item[J, R]]:
        """Run one transaction; return the items it answered (results or errors set)."""
        batch: list[_Item[J, R]] = []
        jobs: list[J] = []
        taken = False

        def take() -> Sequence[J]:
            nonlocal taken
            taken = True
            more = self._take(self._max_batch - len(batch))
            batch.extend(more)
            jobs.extend(i.job for i in more)
            return jobs

        try:
            outcomes = self._runner(take)
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
            # Failed before taking (say, the database is down): the queued jobs get the
            # error rather than being retried for ever.
            items = batch if taken else self._take(self._max_batch)
            for i in items:
                i.error = exc
            return items
        if not taken:
            error = RuntimeError("group commit runner returned without taking its batch")
            batch = self._take(self._max_batch)
            outcomes = [error] * len(batch)
        for i, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                i.error = outcome
            else:
                i.result = outcome
        return batch


def _deliver(batch: Sequence[_Item[J, R]]) -> None:
    """Wake every caller of a finished batch: ONE wake-up per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for i in batch:
        if i.event is not None:
            i.event.set()
        elif i.loop is not None and i.future is not None:
            by_loop.setdefault(i.loop, []).append(i.future)
    for loop, futures in by_loop.items():
        # A closed loop raises RuntimeError: nobody is waiting there any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, futures)


def _resolve(futures: Sequence[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():  # a cancelled caller no longer wants it
            future.set_result(None)
