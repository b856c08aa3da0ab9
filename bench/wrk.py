"""Drive ``wrk`` (a real HTTP load generator) and read its figures back as JSON.

The Lua script is generated per target: fixed method, headers and body, plus a ``done``
hook that prints requests, duration, p50/p99 latency and error counts as one JSON line,
so nothing depends on wrk's human-readable output format.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools import require

_DONE = """
local threads = {}
setup = function(thread) table.insert(threads, thread) end
statuses = {}
response = function(status, headers, body)
  if status >= 300 then statuses[status] = (statuses[status] or 0) + 1 end
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
    method: str, body: str, headers: dict[str, str], paths: list[str] | None = None
) -> str:
    """A wrk script sending the same request each time (round-robin over ``paths``)."""
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
    duration: int = 10,
    keepalive: bool = True,
    paths: list[str] | None = None,
) -> WrkResult:
    """Run wrk against ``url``; ``keepalive=False`` sends ``Connection: close`` each time."""
    wrk = require("wrk", "wrk")
    hdrs = dict(headers)
    if not keepalive:
        hdrs["Connection"] = "close"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua_script(method, body, hdrs, paths))
        script = Path(f.name)
    try:
        out = subprocess.run(
            [
                wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{duration}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=duration + 60,
        ).stdout
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


def _kinds(d: dict[str, Any]) -> str:
    """Human summary of the failures: HTTP statuses and socket error classes."""
    kinds = [f"HTTP {code} x{n}" for code, n in sorted(d.get("statuses", {}).items())]
    kinds += [f"{k} x{d[k]}" for k in ("connect", "read", "write", "timeout") if d[k]]
    return ", ".join(kinds)
