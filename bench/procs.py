"""Run a child process and measure its wall time and its own peak RSS.

``os.wait4`` returns the rusage of exactly that child, so one benchmark
process can measure many children without RUSAGE_CHILDREN accumulating a
maximum across all of them.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcResult:
    """Outcome of one measured child process."""

    seconds: float
    max_rss_kib: int
    returncode: int
    stdout: str
    stderr: str


class ChildFailedError(Exception):
    """A measured child exited non-zero; message carries its stderr tail."""


def run_measured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> ProcResult:
    """Run argv to completion; return wall seconds and peak RSS (KiB) of that child."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = ProcResult(
            seconds=seconds,
            max_rss_kib=int(usage.ru_maxrss),  # Linux reports KiB
            returncode=proc.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )
    if check and result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-5:]
        raise ChildFailedError(f"{argv[0]} exited {result.returncode}: " + " / ".join(tail))
    return result
