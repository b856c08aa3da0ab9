"""GroupCommit from asyncio: the evaluate route awaits its batch on the event loop.

spec §evaluate: concurrent evaluations share one transaction (group commit), and each
caller gets its answer only once the batch that holds its audit entry has committed.
keyserver/_release/group_commit.py runs the batches on ONE committer thread; these tests drive
``submit_async`` (and ``submit``) against real runners, synchronised with Events only.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence

import pytest

from keyserver._release.group_commit import GroupCommit

WAIT = 5.0  # an upper bound for waits; every test finishes far below a second


class Gate:
    """A runner that records its batches and can hold the first one until released."""

    def __init__(self, hold_first: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()
        self.entered = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()

    def __call__(self, take: Callable[[], Sequence[int]]) -> list[int | BaseException]:
        jobs = take()
        self.batches.append(list(jobs))
        self.threads.add(threading.current_thread().name)
        self.entered.set()
        assert self.release.wait(WAIT)
        return [ValueError(f"job {j}") if j < 0 else j * 10 for j in jobs]


async def _until(predicate: object, timeout: float = WAIT) -> None:
    """Yield to the loop until ``predicate()`` holds (a condition, not a timing)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.001)


def test_results_and_per_job_exceptions() -> None:
    gate = Gate()
    gc: GroupCommit[int, int] = GroupCommit(gate, name="rwc-test-commit")

    async def main() -> None:
        assert await gc.submit_async(4) == 40
        with pytest.raises(ValueError, match="job -1"):
            await gc.submit_async(-1)
        got = await asyncio.gather(
            *(gc.submit_async(j) for j in (1, -2, 3)), return_exceptions=True
        )
        assert got[0] == 10 and got[2] == 30
        assert isinstance(got[1], ValueError) and str(got[1]) == "job -2"

    try:
        asyncio.run(main())
    finally:
        gc.close()
    # The runner ran on the committer thread, never on the event loop's.
    assert gate.threads == {"rwc-test-commit"}


def test_a_failing_batch_fails_every_awaiter() -> None:
    calls: list[list[int]] = []

    def runner(take: Callable[[], Sequence[int]]) -> list[int | BaseException]:
        jobs = take()
        calls.append(list(jobs))
        if len(calls) == 1:
            raise RuntimeError("database down")
        return list(jobs)

    gc: GroupCommit[int, int] = GroupCommit(runner)

    async def main() -> None:
        got = await asyncio.gather(*(gc.submit_async(j) for j in range(5)), return_exceptions=True)
        failed = [g for g in got if isinstance(g, RuntimeError)]
        # Every job of the first batch got the batch's exception; later batches worked.
        assert len(failed) == len(calls[0]) >= 1
        assert all(str(f) == "database down" for f in failed)
        assert [g for g in got if not isinstance(g, BaseException)] == [
            j for batch in calls[1:] for j in batch
        ]
        assert await gc.submit_async(7) == 7  # the committer survived the failure

    try:
        asyncio.run(main())
    finally:
        gc.close()


def test_concurrent_awaiters_share_batches_while_the_runner_is_busy() -> None:
    gate = Gate(hold_first=True)
    gc: GroupCommit[int, int] = GroupCommit(gate, max_batch=64)
    n = 40

    async def main() -> list[int]:
        first = asyncio.ensure_future(gc.submit_async(0))
        await asyncio.get_running_loop().run_in_executor(None, gate.entered.wait, WAIT)
        rest = [asyncio.ensure_future(gc.submit_async(j)) for j in range(1, n)]
        await _until(lambda: len(gc._queue) == n - 1)  # all queued behind the busy runner
        gate.release.set()
        return list(await asyncio.gather(first, *rest))

    try:
        results = asyncio.run(main())
    finally:
        gc.close()
    assert results == [j * 10 for j in range(n)]
    assert gate.batches == [[0], list(range(1, n))]  # 40 jobs, 2 transactions


def test_max_batch_bounds_each_transaction() -> None:
    gate = Gate(hold_first=True)
    gc: GroupCommit[int, int] = GroupCommit(gate, max_batch=4)

    async def main() -> None:
        first = asyncio.ensure_future(gc.submit_async(0))
        await asyncio.get_running_loop().run_in_executor(None, gate.entered.wait, WAIT)
        rest = [asyncio.ensure_future(gc.submit_async(j)) for j in range(1, 11)]
        await _until(lambda: len(gc._queue) == 10)
        gate.release.set()
        assert await asyncio.gather(first, *rest) == [j * 10 for j in range(11)]

    try:
        asyncio.run(main())
    finally:
        gc.close()
    assert [len(b) for b in gate.batches] == [1, 4, 4, 2]


def test_a_cancelled_awaiter_does_not_break_the_others() -> None:
    gate = Gate(hold_first=True)
    gc: GroupCommit[int, int] = GroupCommit(gate)

    async def main() -> None:
        first = asyncio.ensure_future(gc.submit_async(0))
        await asyncio.get_running_loop().run_in_executor(None, gate.entered.wait, WAIT)
        a, b, c = (asyncio.ensure_future(gc.submit_async(j)) for j in (1, 2, 3))
        await _until(lambda: len(gc._queue) == 3)
        b.cancel()
        # The in-flight batch's own awaiter can be cancelled too.
        first.cancel()
        gate.release.set()
        assert await a == 10 and await c == 30
        with pytest.raises(asyncio.CancelledError):
            await b
        with pytest.raises(asyncio.CancelledError):
            await first
        # The cancelled jobs still ran (they may already be in a committed batch).
        assert gate.batches == [[0], [1, 2, 3]]
        assert await gc.submit_async(4) == 40

    try:
        asyncio.run(main())
    finally:
        gc.close()


def test_close_drains_stops_and_a_later_submit_restarts() -> None:
    gate = Gate(hold_first=True)
    gc: GroupCommit[int, int] = GroupCommit(gate, name="rwc-test-close")
    results: dict[int, int] = {}

    def call(j: int) -> None:
        results[j] = gc.submit(j)

    callers = [threading.Thread(target=call, args=(j,)) for j in range(4)]
    callers[0].start()
    assert gate.entered.wait(WAIT)
    committer = gc._thread
    assert committer is not None and committer.is_alive()
    for t in callers[1:]:
        t.start()
    deadline = threading.Event()
    while len(gc._queue) < 3:  # queued behind the running batch
        assert not deadline.wait(0.001) and committer.is_alive()
    closer = threading.Thread(target=gc.close)
    closer.start()
    gate.release.set()
    closer.join(WAIT)
    assert not closer.is_alive()
    # close() ran what was queued, then the committer thread ended.
    assert gate.batches == [[0], [1, 2, 3]]
    assert not committer.is_alive() and gc._thread is None
    for t in callers:
        t.join(WAIT)
    assert results == {0: 0, 1: 10, 2: 20, 3: 30}

    # A later submit, sync or async, starts a new committer thread.
    assert gc.submit(5) == 50
    second = gc._thread
    assert second is not None and second is not committer and second.name == "rwc-test-close"
    assert asyncio.run(gc.submit_async(6)) == 60
    gc.close()
    assert not second.is_alive()
    assert asyncio.run(gc.submit_async(7)) == 70
    gc.close()
    gc.close()  # idempotent


def test_sync_and_async_callers_mixed_in_one_batch() -> None:
    gate = Gate(hold_first=True)
    gc: GroupCommit[int, int] = GroupCommit(gate)
    sync_results: dict[int, int | BaseException] = {}

    def call(j: int) -> None:
        try:
            sync_results[j] = gc.submit(j)
        except ValueError as exc:
            sync_results[j] = exc

    async def main() -> list[int | BaseException]:
        first = asyncio.ensure_future(gc.submit_async(0))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, gate.entered.wait, WAIT)
        threads = [threading.Thread(target=call, args=(j,)) for j in (1, -2, 3)]
        for t in threads:
            t.start()
        awaited = [asyncio.ensure_future(gc.submit_async(j)) for j in (4, -5, 6)]
        await _until(lambda: len(gc._queue) == 6)
        gate.release.set()
        got = await asyncio.gather(first, *awaited, return_exceptions=True)
        for t in threads:
            await loop.run_in_executor(None, t.join, WAIT)
        return got

    try:
        got = asyncio.run(main())
    finally:
        gc.close()
    assert got[0] == 0 and got[1] == 40 and got[3] == 60
    assert isinstance(got[2], ValueError) and str(got[2]) == "job -5"
    assert sync_results[1] == 10 and sync_results[3] == 30
    assert isinstance(sync_results[-2], ValueError)
    assert len(gate.batches) == 2 and sorted(gate.batches[1]) == [-5, -2, 1, 3, 4, 6]


def test_awaiters_on_two_event_loops() -> None:
    # Each loop is woken for its own futures (one call_soon_threadsafe per loop).
    gate = Gate(hold_first=True)
    gc: GroupCommit[int, int] = GroupCommit(gate)
    queued = threading.Barrier(3, timeout=WAIT)
    out: dict[str, list[int]] = {}

    def loop_thread(tag: str, jobs: Sequence[int]) -> None:
        async def main() -> list[int]:
            futures = [asyncio.ensure_future(gc.submit_async(j)) for j in jobs]
            await asyncio.sleep(0)  # let the tasks enqueue
            await asyncio.get_running_loop().run_in_executor(None, queued.wait)
            return list(await asyncio.gather(*futures))

        out[tag] = asyncio.run(main())

    threads = [
        threading.Thread(target=loop_thread, args=("a", (1, 2))),
        threading.Thread(target=loop_thread, args=("b", (3, 4, 5))),
    ]
    first = threading.Thread(target=gc.submit, args=(0,))
    first.start()
    assert gate.entered.wait(WAIT)
    for t in threads:
        t.start()
    queued.wait()
    gate.release.set()
    for t in [first, *threads]:
        t.join(WAIT)
    gc.close()
    assert out == {"a": [10, 20], "b": [30, 40, 50]}
    assert gate.batches[0] == [0] and sorted(gate.batches[1]) == [1, 2, 3, 4, 5]
