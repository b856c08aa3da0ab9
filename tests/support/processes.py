"""What every test that starts one of the commands as a process needs: its environment, a port.

One of each for tests/support's e2e, keyserver_cli and console helpers and the tests
that start ``rwc``, ``keyserver`` or uvicorn themselves.
"""

from __future__ import annotations

import os
import socket
import subprocess
from typing import Any


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any RWC_*/KEYSERVER_* setting, plus ``extra``.

    A developer's own token or server in the environment must not leak into the tests, and
    no personal configuration (XDG_CONFIG_HOME) is read.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RWC_", "KEYSERVER_")) and k not in {"XDG_CONFIG_HOME"}
    }
    env.update(extra)
    return env


def stop(proc: subprocess.Popen[Any], timeout: float = 15) -> int:
    """Stop ``proc`` if it still runs: SIGTERM (a server finishes its requests), then SIGKILL
    if it has not exited within ``timeout`` seconds; reaped either way.

    Returns its exit status, so that a test which means a clean stop on SIGTERM asserts 0
    (a SIGKILL shows as -9). SIGTERM first also when a test failed half-way: a supervisor
    stops its workers and its committer on SIGTERM, while SIGKILL would leave them running.
    """
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    return int(proc.returncode)


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (the caller retries a lost race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
