"""Drive ``wrk`` (a real HTTP load generator) and read its figures back as JSON.

The Lua script is generated per target: fixed method, headers and body, plus a ``done``
hook that prints requests, duration, p50/p99 latency and error counts as one JSON line,
so nothing depends on wrk's human-readable output format.

A figure is either a number of seconds (``wrk -d``) or a fixed number of requests
(:class:`Requests`, the smoke runs): wrk has no request count of its own, so each
thread's ``response`` hook stops the thread after its share and says so on stdout, and
once every thread has, SIGINT ends wrk's wait for the duration (its own Ctrl-C path:
the figures are printed and ``done`` runs). Its duration is then the time those
requests took, so the rate stays requests per second of load.
"""

from __future__ import annotations

import json
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools import require

_STOPPED = "WRKSTOPPED"  # what the script prints when a thread has made its share
# The longest a fixed-count run may take before wrk's own -d ends it (then it reports the
# requests it made in that time, as a timed run does).
_REQUESTS_CAP_SECONDS = 120


@dataclass(frozen=True)
class Requests:
    """A fixed number of requests per figure instead of a number of seconds.

    Why: a smoke run checks that a bench runs and produces every figure; a timed second
    of load costs whatever CPU the machine gives it (both cores when idle), a fixed count
    costs the same on a loaded machine as on a quiet one.
    """

    count: int


Length = int | Requests  # wrk seconds per figure, or a fixed number of requests


def describe(length: Length) -> str:
    """``10 s`` or ``300 requests``: a figure's length, as the tables' titles say it."""
    return f"{length.count:,} requests" if isinstance(length, Requests) else f"{length} s"


_DONE = """
local threads = {}
setup = function(thread) table.insert(threads, thread) end
statuses = {}
answered = 0
response = function(status, headers, body)
  if status >= 300 then statuses[status] = (statuses[status] or 0) + 1 end
  if limit then
    answered = answered + 1
    if answered == limit then
      io.write("WRKSTOPPED\\n"); io.flush(); wrk.thread:stop()
    end
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  local merged = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do merged[code] = (merged[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(merged) do table.insert(parts, string.format('"%d":%d', code, n)) end
  io.write(string.format(
    '\\nWRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"status_errors":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"statuses":{%s}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout, table.concat(parts, ",")))
end
"""


def _lua_string(value: str) -> str:
    # Lua long-bracket strings need no escaping as long as the closing bracket is absent.
    assert "]==]" not in value
    return f"[==[{value}]==]"


def lua_script(
    method: str,
    body: str,
    headers: dict[str, str],
    paths: list[str] | None = None,
    per_thread: int | None = None,
) -> str:
    """A wrk script sending the same request each time (round-robin over ``paths``).

    ``per_thread``: each thread stops after that many responses and prints a line saying
    so (:func:`run_wrk` ends wrk once every thread has).
    """
    lines = [f"wrk.method = {_lua_string(method)}", f"wrk.body = {_lua_string(body)}"]
    lines += [f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()]
    if paths:
        # Requests are formatted once per thread (init), not per request: formatting
        # in Lua per request costs the load generator CPU that, on a 2-CPU machine,
        # it takes from the server being measured.
        lines.append("local paths = {" + ", ".join(_lua_string(p) for p in paths) + "}")
        lines.append("local reqs = {}")
        lines.append("local n = 0")
        lines.append(
            "init = function(args) for i, p in ipairs(paths) do "
            "reqs[i] = wrk.format(nil, p) end end"
        )
        lines.append("request = function() n = n % #reqs + 1; return reqs[n] end")
    if per_thread is not None:
        lines.append(f"limit = {per_thread}")
    return "\n".join(lines) + "\n" + _DONE


@dataclass(frozen=True)
class WrkResult:
    """One wrk run."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    error_kinds: str = ""

    def row(self) -> list[str]:
        """Formatted cells: rate, p50, p99, errors."""
        return [f"{self.rps:,.0f}", f"{self.p50_ms:.1f}", f"{self.p99_ms:.1f}", str(self.errors)]


def run_wrk(
    url: str,
    *,
    method: str,
    body: str,
    headers: dict[str, str],
    connections: int = 16,
    threads: int = 2,
    duration: Length = 10,
    keepalive: bool = True,
    paths: list[str] | None = None,
) -> WrkResult:
    """Run wrk against ``url``; ``keepalive=False`` sends ``Connection: close`` each time.

    ``duration``: seconds, or :class:`Requests` (each thread makes its share of them).
    """
    wrk = require("wrk", "wrk")
    hdrs = dict(headers)
    if not keepalive:
        hdrs["Connection"] = "close"
    per_thread = -(-duration.count // threads) if isinstance(duration, Requests) else None
    seconds = _REQUESTS_CAP_SECONDS if isinstance(duration, Requests) else duration
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua_script(method, body, hdrs, paths, per_thread))
        script = Path(f.name)
    argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    try:
        out = _wrk_output([*argv, "-s", str(script), url], threads, seconds + 60)
    finally:
        script.unlink(missing_ok=True)
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    d = json.loads(line[len("WRKJSON ") :])
    errors = d["status_errors"] + d["connect"] + d["read"] + d["write"] + d["timeout"]
    ok = d["requests"] - d["status_errors"]
    return WrkResult(
        rps=ok / (d["duration_us"] / 1e6),
        p50_ms=d["p50_us"] / 1000,
        p99_ms=d["p99_us"] / 1000,
        requests=d["requests"],
        errors=errors,
        error_kinds=_kinds(d),
    )


def _wrk_output(argv: list[str], threads: int, timeout: float) -> str:
    """wrk's stdout; SIGINT once every thread has said it stopped (fixed-count runs).

    A timed run's script prints no such line, so it ends at its ``-d`` as always.
    """
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The hang guard of subprocess.run(timeout=...): a wrk that never ends is killed.
    guard = threading.Timer(timeout, proc.kill)
    guard.start()
    try:
        assert proc.stdout is not None and proc.stderr is not None
        lines, stopped = [], 0
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(_STOPPED):
                stopped += 1
                if stopped == threads:
                    proc.send_signal(signal.SIGINT)
        stderr = proc.stderr.read()
        code = proc.wait()
    finally:
        guard.cancel()
    if code != 0:
        raise subprocess.CalledProcessError(code, argv, "".join(lines), stderr)
    return "".join(lines)


def _kinds(d: dict[str, Any]) -> str:
    """Human summary of the failures: HTTP statuses and socket error classes."""
    kinds = [f"HTTP {code} x{n}" for code, n in sorted(d.get("statuses", {}).items())]
    kinds += [f"{k} x{d[k]}" for k in ("connect", "read", "write", "timeout") if d[k]]
    return ", ".join(kinds)
