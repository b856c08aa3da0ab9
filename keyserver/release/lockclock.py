"""The release batch's clock (split from batch.py, issue 9); bench/release_cpu.py reads it."""

from __future__ import annotations

import time

from keyserver.domain.metrics import Metrics


class LockClock:
    """Where a batch's time goes: waiting for the chain head, holding it, committing, flushing.

    Why: the head is the one thing every release of every instance passes through, so
    its hold time per release bounds the whole deployment's rate (issue 15). Exported
    as histograms per batch (spec §operations, /metrics); CPU is the committer
    thread's own (``time.thread_time``), so the difference between hold and CPU is
    time spent waiting for the database, the disk or the GIL while holding the head.
    The flush (keyserver/store/durability.py) comes after the head is released and is
    timed apart: it is the part of a durable commit that no longer holds the head.
    """

    __slots__ = ("_commit", "_cpu", "_cpu_done", "_hold", "_released", "_start")

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._hold = self._commit = self._released = self._start
        self._cpu = self._cpu_done = 0.0

    def waiting(self) -> None:
        """Waiting for the head starts (the reads before it are done)."""
        self._start = time.perf_counter()

    def locked(self) -> None:
        """The head is locked: holding starts."""
        self._hold = time.perf_counter()
        self._cpu = time.thread_time()

    def committing(self) -> None:
        """COMMIT is sent."""
        self._commit = time.perf_counter()

    def released(self) -> None:
        """COMMIT returned and the head is released (the flush, if any, follows)."""
        self._released = time.perf_counter()
        self._cpu_done = time.thread_time()

    def record(self, metrics: Metrics, jobs: int) -> None:
        """After the flush: observe the batch's figures."""
        done = time.perf_counter()
        released = self._released if self._released > self._hold else done
        cpu_done = self._cpu_done if self._released > self._hold else time.thread_time()
        metrics.observe("rwc_release_lock_wait_seconds", self._hold - self._start)
        metrics.observe("rwc_release_lock_hold_seconds", released - self._hold)
        metrics.observe("rwc_release_lock_cpu_seconds", cpu_done - self._cpu)
        metrics.observe("rwc_release_commit_seconds", released - self._commit)
        metrics.observe("rwc_release_flush_seconds", done - released)
        metrics.inc("rwc_release_batch_jobs_total", jobs)
