"""Run a child process and measure its wall time, its own peak RSS, CPU and block I/O.

The child is started through GNU ``/usr/bin/time`` (a small C launcher), which reports the
``wait4`` rusage of exactly that child (and of the children it waited for, e.g. the
commands of a ``sh -c`` line). Why not ``os.wait4`` from here directly: Linux
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
    # What holds still when the wall time moves with the machine's load and the disk's
    # mood: CPU seconds (user + system) and the bytes the process read from and dirtied for
    # the block device (ru_inblock / ru_oublock, 512-byte units: /proc/PID/io read_bytes and
    # write_bytes; page-cache hits and memory file systems count nothing).
    cpu_s: float = 0.0
    read_bytes: int = 0
    written_bytes: int = 0


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
            [gnu_time, "-f", f"{_MARK} %M %U %S %I %O", "-o", rss.name, *argv],
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
        rss_kib, user, system, blocks_in, blocks_out = _time_figures(rss.read())
        result = ProcResult(
            seconds=seconds,
            max_rss_kib=rss_kib,
            returncode=returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            cpu_s=user + system,
            read_bytes=int(blocks_in) * 512,
            written_bytes=int(blocks_out) * 512,
        )
    if check and result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-5:]
        raise ChildFailedError(f"{argv[0]} exited {result.returncode}: " + " / ".join(tail))
    return result


_MARK = "rwc-bench-rusage"


def _time_figures(report: str) -> tuple[int, float, float, float, float]:
    """(peak RSS KiB, user s, system s, blocks in, blocks out) from GNU time's report.

    On failure time writes "Command exited with non-zero status N" before the figures,
    hence the marker; a report without it (killed launcher) gives zeros.
    """
    for line in report.splitlines():
        fields = line.split()
        if len(fields) == 6 and fields[0] == _MARK:
            rss, user, system, blocks_in, blocks_out = fields[1:]
            return int(rss), float(user), float(system), float(blocks_in), float(blocks_out)
    return 0, 0.0, 0.0, 0.0, 0.0


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
