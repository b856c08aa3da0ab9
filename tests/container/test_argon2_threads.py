"""Argon2id from several threads at once: the library may be called from threads.

cryptography 50.0.2's Argon2id (on its OpenSSL 4.0.3 thread pool) deadlocked in
``ossl_crypto_thread_start`` or failed with a spurious MemoryError when two derivations ran at
once (3 runs out of 3 here, and the flaky tests/container/test_tamper.py), so the key schedule
keeps libargon2 (argon2-cffi's binding), which starts its own threads per call
(bench/profiles/startup.md).
This test guards that choice. The derivations run in a child process so that a deadlock fails
this test (by its timeout) instead of hanging the suite.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

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
