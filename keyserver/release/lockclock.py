"""The release batch's clock (split from batch.py, issue 9); bench/release_cpu.py reads it."""

from __future__ import annotations

import time

from keyserver.domain.metrics import Metrics


class LockClock:
    """Where a batch's time goes: waiting for the chain head, holding it, committing.

    Why: the head is the one thing every release of every instance passes through, so
    its hold time per release bounds the whole deployment's rate (issue 15). Exported
    as histograms per batch (spec §operations, /metrics); CPU is the committer
    thread's own (``time.thread_time``), so the difference between hold and CPU is
    time spent waiting for the database, the disk or the GIL while holding the head.
    """

    __slots__ = ("_commit", "_cpu", "_hold", "_start")

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._hold = self._commit = self._start
        self._cpu = 0.0

    def locked(self) -> None:
        """The head is locked: holding starts."""
        self._hold = time.perf_counter()
        self._cpu = time.thread_time()

    def committing(self) -> None:
        """COMMIT is sent."""
        self._commit = time.perf_counter()

    def record(self, metrics: Metrics, jobs: int) -> None:
        """After COMMIT: observe the batch's figures."""
        done, cpu = time.perf_counter(), time.thread_time() - self._cpu
        metrics.observe("rwc_release_lock_wait_seconds", self._hold - self._start)
        metrics.observe("rwc_release_lock_hold_seconds", done - self._hold)
        metrics.observe("rwc_release_lock_cpu_seconds", cpu)
        metrics.observe("rwc_release_commit_seconds", done - self._commit)
        metrics.inc("rwc_release_batch_jobs_total", jobs)
