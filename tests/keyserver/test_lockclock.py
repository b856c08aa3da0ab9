"""The chain head's clock: its run-queue figure (keyserver/_release/lockclock.py, issue 15).

spec §operations: per release batch, ``rwc_release_lock_runq_seconds`` is the time the
committer thread was ready to run but waited for a CPU while holding the chain head
(Linux). The figure is checked against the kernel's own file, per batch against the
hold time it is part of, and its descriptor against a leak per committer thread.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from typing import Any

import pytest
from voprf import ristretto

from keyserver._domain.context import RequestContext
from keyserver._release import lockclock
from keyserver._release.jobs import bearer_job
from keyserver._service import KeyService
from tests.support.world import World, activate

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="/proc schedstat is Linux's")


def _kernel_run_delay_ns() -> int:
    with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
        return int(f.read().split()[1])


@linux_only
def test_run_queue_seconds_is_this_threads_wait_for_a_cpu() -> None:
    seen: list[tuple[int, float | None, int]] = []

    def read() -> None:
        for _ in range(3):
            before = _kernel_run_delay_ns()
            value = lockclock.run_queue_seconds()
            seen.append((before, value, _kernel_run_delay_ns()))

    for _ in range(2):  # each thread its own file (the path names the opening thread)
        worker = threading.Thread(target=read)
        worker.start()
        worker.join()
    read()
    for before, value, after in seen:
        assert value is not None
        assert before <= round(value * 1e9) <= after


@linux_only
def test_the_descriptor_is_closed_when_its_thread_ends() -> None:
    def fds() -> set[str]:
        return set(os.listdir("/proc/self/fd"))

    during: list[set[str]] = []

    def read() -> None:
        assert lockclock.run_queue_seconds() is not None
        during.append(fds())

    lockclock.run_queue_seconds()  # this thread's own, opened once
    start = fds()
    for _ in range(5):
        worker = threading.Thread(target=read)
        worker.start()
        worker.join()
    assert all(len(d - start) == 1 for d in during)  # each thread opened one
    assert fds() == start  # and each closed it when it ended


def _blinded() -> bytes:
    _, blinded = ristretto.Client.blind(b"rwc lock clock test")
    return bytes(blinded.serialize())


@linux_only
def test_each_batch_records_its_wait_for_a_cpu_within_its_hold(
    world: World, service: KeyService
) -> None:
    reg, _ = activate(world)
    auth = f"Bearer {world.tokens['reader']}"
    ctx = RequestContext(remote="192.0.2.7")
    metrics = service.metrics
    hold0, runq0 = (
        metrics.summary("rwc_release_lock_hold_seconds"),
        metrics.summary("rwc_release_lock_runq_seconds"),
    )
    for size in (1, 3, 2):
        jobs = [bearer_job(auth, reg["container_id"], _blinded(), ctx) for _ in range(size)]
        outcomes: list[Any] = service.releases._evaluate_batch(functools.partial(list, jobs))
        assert all(isinstance(o, dict) for o in outcomes)
    hold = metrics.summary("rwc_release_lock_hold_seconds")
    runq = metrics.summary("rwc_release_lock_runq_seconds")
    assert hold[0] - hold0[0] == 3 and runq[0] - runq0[0] == 3  # one figure per batch
    assert 0.0 <= runq[1] - runq0[1] <= hold[1] - hold0[1]
