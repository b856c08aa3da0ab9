"""Run a child process and measure its wall time and its own peak RSS.

The child is started through GNU ``/usr/bin/time`` (a small C launcher), which reports the
``wait4`` rusage of exactly that child. Why not ``os.wait4`` from here directly: Linux
carries the high-water RSS of the *forking* process over ``exec`` into the child's
``ru_maxrss``, so a child forked from this (large) benchmark process would report at least
our own RSS. Forked from ``time``, it reports its own peak.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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
    stdin: Path | None = None,
    pipe_to: Sequence[str] | None = None,
) -> ProcResult:
    """Run argv to completion; return wall seconds and peak RSS (KiB) of that child.

    ``stdin``: a file to read as standard input (default: none). ``pipe_to``: a consumer
    command reading the child's stdout through a pipe (``argv | pipe_to``, its own output
    discarded); the wall time then runs until both have exited, the RSS is argv's alone.
    """
    gnu_time = require("time", "time")
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".rss") as rss,
        contextlib.ExitStack() as stack,
    ):
        source = stack.enter_context(stdin.open("rb")) if stdin is not None else None
        start = time.perf_counter()
        child = subprocess.Popen(
            [gnu_time, "-f", "%M", "-o", rss.name, *argv],
            stdout=subprocess.PIPE if pipe_to is not None else out,
            stderr=err,
            stdin=source if source is not None else subprocess.DEVNULL,
            env=env,
        )
        consumer_rc = 0
        if pipe_to is not None:
            assert child.stdout is not None
            consumer = subprocess.Popen(
                list(pipe_to), stdin=child.stdout, stdout=subprocess.DEVNULL
            )
            child.stdout.close()  # the consumer holds the read end now
            consumer_rc = consumer.wait()
        returncode = child.wait()
        seconds = time.perf_counter() - start
        if returncode == 0 and consumer_rc != 0:
            returncode = consumer_rc
        out.seek(0)
        err.seek(0)
        # On failure time writes "Command exited with non-zero status N" before the figure.
        figures = [x for x in rss.read().split() if x.isdigit()]
        result = ProcResult(
            seconds=seconds,
            max_rss_kib=int(figures[-1]) if figures else 0,  # KiB on Linux
            returncode=returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )
    if check and result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-5:]
        raise ChildFailedError(f"{argv[0]} exited {result.returncode}: " + " / ".join(tail))
    return result


def _stat(pid: str) -> list[bytes] | None:
    """Fields 3.. of /proc/PID/stat (None if the process is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:  # exited meanwhile
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(b")") + 2 :].split()


def _cpu_ticks(fields: list[bytes]) -> int:
    # fields[0] is field 3 (state); utime, stime, cutime, cstime are fields 14-17.
    return sum(int(x) for x in fields[11:15])


def group_cpu_seconds(pgid: int) -> float:
    """CPU seconds (user + system) of every process in group ``pgid``, from /proc.

    A server started with ``start_new_session=True`` is the leader of its own group, and so
    are all its workers (uvicorn), forks (socat) and their children (tangd). Each live
    process counts its own time plus that of the children it has reaped (``cutime`` and
    ``cstime``), so a child that exited during the measurement is still counted, once: in
    its parent. Take the difference of two readings around a load test.
    """
    total = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat(entry.name)
            if fields is not None and int(fields[2]) == pgid:  # field 5: pgrp
                total += _cpu_ticks(fields)
    return total / os.sysconf("SC_CLK_TCK")


def pids_cpu_seconds(pids: Sequence[int]) -> float:
    """CPU seconds (user + system) of the given processes (e.g. PostgreSQL backends)."""
    total = 0
    for pid in pids:
        fields = _stat(str(pid))
        if fields is not None:
            total += _cpu_ticks(fields)
    return total / os.sysconf("SC_CLK_TCK")
