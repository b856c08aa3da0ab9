"""Group commit: several concurrent requests share ONE durable transaction.

spec §evaluate requires the audit entry of a key release to be committed (fsync'd) before
the release is returned, and every append locks the one chain head. So without batching
the server releases at most one key per fsync (~200/s on an ordinary disk), whatever the
CPU. Here the requests that arrive while a transaction is committing are queued, and the
next transaction runs all of them: one head lock, one fsync, and every request still
returns only after the commit that contains its audit entry.

There is no background thread: the first waiting request whose job is not done yet runs
the next batch ("leader"), the others sleep on a condition. A thread leads at most until
its own job is done, so under sustained load no request is stuck serving others forever.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

J = TypeVar("J")
R = TypeVar("R")


class _Item(Generic[J, R]):
    __slots__ = ("done", "error", "job", "result")

    def __init__(self, job: J) -> None:
        self.job = job
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[J, R]):
    """Run jobs in batches through ``runner``, each caller waiting for its own result.

    Args:
        runner: Runs a batch of jobs in ONE transaction and returns one result (or
            exception) per job. If it raises, every job of the batch gets that exception.
        max_batch: Upper bound of jobs per transaction (bounds latency and lock time).
    """

    def __init__(
        self, runner: Callable[[Sequence[J]], Sequence[R | BaseException]], max_batch: int = 64
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self._runner = runner
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Item[J, R]] = []
        self._busy = False

    def submit(self, job: J) -> R:
        """Run ``job`` in the next batch; return its result once that batch committed."""
        item: _Item[J, R] = _Item(job)
        with self._cond:
            self._queue.append(item)
            while not item.done:
                if self._busy:
                    self._cond.wait()
                    continue
                self._busy = True
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                self._cond.release()
                try:
                    self._run(batch)
                finally:
                    self._cond.acquire()
                    self._busy = False
                    self._cond.notify_all()
        if item.error is not None:
            raise item.error
        return item.result  # type: ignore[return-value]

    def _run(self, batch: list[_Item[J, R]]) -> None:
        try:
            outcomes = self._runner([i.job for i in batch])
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
            for i in batch:
                i.error, i.done = exc, True
            return
        for i, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                i.error = outcome
            else:
                i.result = outcome
            i.done = True
