"""Argon2id in threads: several derivations at once, and a seal's derivation interrupted.

cryptography 50.0.2's Argon2id (on its OpenSSL 4.0.3 thread pool) deadlocked in
``ossl_crypto_thread_start`` or failed with a spurious MemoryError when two derivations ran at
once (3 runs out of 3 here, and the flaky tests/container/test_tamper.py), so the key schedule
keeps libargon2 (argon2-cffi's binding), which starts its own threads per call
(bench/profiles/startup.md).
This test guards that choice. The derivations run in a child process so that a deadlock fails
this test (by its timeout) instead of hanging the suite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from types import FrameType

import pytest

from pycontainer.format import keyschedule
from pycontainer.format.keyschedule import Argon2Memory
from pycontainer.format.primitives import Argon2Params
from pycontainer.writer import _header

CHILD = textwrap.dedent(
    """
    import os
    from concurrent.futures import ThreadPoolExecutor
    from pycontainer.format import keyschedule
    from pycontainer.format.primitives import Argon2Params

    def one(i):
        params = Argon2Params(m=1024, t=1, p=i % 8 + 1)
        return keyschedule.stretch(os.urandom(64), os.urandom(16), params)

    with ThreadPoolExecutor(2) as pool:
        out = list(pool.map(one, range(300)))
    assert len(out) == 300 and all(len(k) == 32 for k in out)
    print("ok")
    """
)


def test_concurrent_derivations_neither_deadlock_nor_fail() -> None:
    # With cryptography's Argon2id this hung or raised MemoryError in 3 runs out of 3.
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


def _waiting_for_stretch(thread: threading.Thread) -> bool:
    """``thread`` is blocked inside the threading module, called from a Stretch's wait."""
    frame = sys._current_frames().get(thread.ident or 0)  # no public API for another thread
    if frame is None or frame.f_code.co_filename != threading.__file__:
        return False
    while frame is not None:
        code = frame.f_code
        if code.co_filename == _header.__file__ and code.co_name in {"join", "kek"}:
            return True
        frame = frame.f_back
    return False


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="signals a thread (POSIX)")
@pytest.mark.parametrize("wait", ["kek", "join"])
def test_an_interrupt_waits_for_the_argon2_thread(
    wait: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (or rwc's SIGTERM) while a seal waits for its Argon2id: the thread ends first.

    ``kek`` is the seal's wait for the KEK, ``join`` its wait in ``finally`` after a failure
    elsewhere. A Thread.join interrupted by a signal returned at once and marked the
    running thread as stopped (CPython 3.11), so the derivation outlived the seal.
    """
    events: list[str] = []
    interrupted, left = threading.Event(), threading.Event()
    derive = keyschedule.derive_kek

    def gated(
        oprf_out: bytes, container_id: bytes, _params: Argon2Params, memory: Argon2Memory
    ) -> bytes:
        # Interrupt the caller once it waits for this thread, then go on deriving.
        deadline = time.monotonic() + 30
        while not _waiting_for_stretch(threading.main_thread()):
            assert time.monotonic() < deadline, "the caller never waited for the KEK"
            time.sleep(0.001)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR1)
        assert interrupted.wait(30)
        # Not a measurement: a caller that gave up waiting shows it here (it sets `left`).
        left.wait(1)
        kek = derive(oprf_out, container_id, Argon2Params(m=1024, t=1, p=1), memory)
        events.append("derivation finished")
        return kek

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        interrupted.set()
        raise KeyboardInterrupt

    monkeypatch.setattr(keyschedule, "derive_kek", gated)
    previous = signal.signal(signal.SIGUSR1, on_signal)
    try:
        stretch = _header.Stretch(os.urandom(64), os.urandom(16), Argon2Params(m=1024, t=1, p=1))
        with pytest.raises(KeyboardInterrupt):
            getattr(stretch, wait)()
        left.set()
        events.append("interrupt raised")
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert events == ["derivation finished", "interrupt raised"]
    # Once interrupted, the KEK is still there for a caller that asks again.
    assert len(stretch.kek()) == 32
