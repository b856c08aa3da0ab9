"""The release batch's clock (split from batch.py, issue 9); bench/release_cpu.py reads it."""

from __future__ import annotations

import os
import sys
import threading
import time

from keyserver._domain.metrics import Metrics


class LockClock:
    """Where a batch's time goes: waiting for the chain head, holding it, committing, flushing.

    Why: the head is the one thing every release of every instance passes through, so
    its hold time per release bounds the whole deployment's rate (issue 15). Exported
    as histograms per batch (spec §operations, /metrics); CPU is the committer
    thread's own (``time.thread_time``), so the difference between hold and CPU is
    time spent waiting for the database, the disk, a CPU or the GIL while holding the
    head. Of that, the time the thread was ready to run but waited for a CPU is measured
    too where the kernel says (:func:`run_queue_seconds`): with it, hold = CPU + waiting
    for a CPU + sleeping (the database's answers; the GIL, measured to be rare:
    bench/profiles/keyserver.md, "The chain head's critical section vs the GIL").
    The flush (keyserver/_store/durability.py) comes after the head is released and is
    timed apart: it is the part of a durable commit that no longer holds the head.
    """

    __slots__ = ("_commit", "_cpu", "_cpu_done", "_hold", "_queued", "_released", "_start")

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._hold = self._commit = self._released = self._start
        self._cpu = self._cpu_done = 0.0
        self._queued: float | None = None

    def waiting(self) -> None:
        """Waiting for the head starts (the reads before it are done)."""
        self._start = time.perf_counter()

    def locked(self) -> None:
        """The head is locked: holding starts."""
        self._hold = time.perf_counter()
        self._cpu = time.thread_time()
        self._queued = run_queue_seconds()

    def committing(self) -> None:
        """COMMIT is sent."""
        self._commit = time.perf_counter()

    def released(self) -> None:
        """COMMIT returned and the head is released (the flush, if any, follows)."""
        # Read first (and at locked() last), so its window lies within the hold's.
        queued = run_queue_seconds()
        self._released = time.perf_counter()
        self._cpu_done = time.thread_time()
        # None (not Linux) at either end: nothing is observed rather than a made-up 0.
        self._queued = None if queued is None or self._queued is None else queued - self._queued

    def record(self, metrics: Metrics, jobs: int) -> None:
        """After the flush: observe the batch's figures."""
        done = time.perf_counter()
        released = self._released if self._released > self._hold else done
        cpu_done = self._cpu_done if self._released > self._hold else time.thread_time()
        metrics.observe("rwc_release_lock_wait_seconds", self._hold - self._start)
        metrics.observe("rwc_release_lock_hold_seconds", released - self._hold)
        metrics.observe("rwc_release_lock_cpu_seconds", cpu_done - self._cpu)
        if self._released > self._hold and self._queued is not None:
            metrics.observe("rwc_release_lock_runq_seconds", max(self._queued, 0.0))
        metrics.observe("rwc_release_commit_seconds", released - self._commit)
        metrics.observe("rwc_release_flush_seconds", done - released)
        metrics.inc("rwc_release_batch_jobs_total", jobs)


class _Fd:
    """An open descriptor, closed when nothing refers to it any more."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __del__(self) -> None:
        os.close(self.fd)


class _SchedStat(threading.local):
    """This thread's ``/proc/thread-self/schedstat``, opened once by the thread itself.

    Why kept open: the path names the opening thread for good, and a ``pread`` of the
    open file costs ~5 us where opening it anew costs ~70 us (twice per batch, under the
    head). The descriptor belongs to the thread's own local data, so it is closed when
    the thread ends (the committer thread restarts after ``close()`` or a fork), and it
    never crosses an ``exec`` (``O_CLOEXEC``).
    """

    def __init__(self) -> None:
        self.file: _Fd | None = None
        if sys.platform == "linux":
            try:
                fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:  # no /proc (a container without it), or before Linux 3.17
                return
            self.file = _Fd(fd)


_SCHED = _SchedStat()


def run_queue_seconds() -> float | None:
    """Seconds the calling thread has spent ready to run, waiting for a CPU; None if unknown.

    The second field of Linux's ``/proc/<pid>/task/<tid>/schedstat`` ("time spent waiting
    on a runqueue", in ns: https://docs.kernel.org/scheduler/sched-stats.html). Not
    available elsewhere, nor where the kernel was built without schedstats.
    """
    file = _SCHED.file
    if file is None:
        return None
    try:
        fields = os.pread(file.fd, 96, 0).split()
        return int(fields[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None
