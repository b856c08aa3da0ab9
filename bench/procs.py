"""Run a child process and measure its wall time and its own peak RSS.

The child is started through GNU ``/usr/bin/time`` (a small C launcher), which reports the
``wait4`` rusage of exactly that child. Why not ``os.wait4`` from here directly: Linux
carries the high-water RSS of the *forking* process over ``exec`` into the child's
``ru_maxrss``, so a child forked from this (large) benchmark process would report at least
our own RSS. Forked from ``time``, it reports its own peak.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tools import require


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
    gnu_time = require("time", "time")
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".rss") as rss,
    ):
        start = time.perf_counter()
        proc = subprocess.run(
            [gnu_time, "-f", "%M", "-o", rss.name, *argv],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            check=False,
        )
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        # On failure time writes "Command exited with non-zero status N" before the figure.
        figures = [x for x in rss.read().split() if x.isdigit()]
        result = ProcResult(
            seconds=seconds,
            max_rss_kib=int(figures[-1]) if figures else 0,  # KiB on Linux
            returncode=proc.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )
    if check and result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-5:]
        raise ChildFailedError(f"{argv[0]} exited {result.returncode}: " + " / ".join(tail))
    return result
