"""One ``rwc`` run in this process, with the stages of its critical path timed.

Usage: ``python rwc_stages.py OUT.json RWC-ARGS...`` with the interpreter the ``rwc``
console script runs on. It runs what the console script runs (pycontainer.cli.entry: the
imports with the collector off, then the subcommand), and writes to OUT.json, in seconds
from the first line of this script (the interpreter's own start is not in them):

* ``imports``: the command line parsed and the subcommand's modules imported (the TLS
  context build, where a subcommand starts it early, runs beside these);
* ``tls``: how long the first request waited for its TLS context
  (``Connection._tls``: the whole build where nothing started it early, else the join);
* ``first_request``: when that request began to connect; ``total``: the run's end;
* ``main_cpu_tls_ready``: the CPU the main thread had used when the first request had its
  context (``time.thread_time``): what a loaded machine does not move, where the wall
  figures above mostly say how long the process waited for a CPU.

Timing wraps the real ``Connection._tls``; nothing else is changed. Used by
bench/https_small.py and for the before/after figures of bench/profiles/startup.md
(the wrapped method exists on both sides).
"""

from __future__ import annotations

import time

T0 = time.perf_counter()
CPU0 = time.thread_time()

import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402


def main() -> None:
    out, argv = sys.argv[1], sys.argv[2:]
    marks: dict[str, float] = {}
    gc.disable()  # as pycontainer.cli.entry does, until the imports are over
    from pycontainer.cli import main as cli  # noqa: PLC0415

    def after_imports() -> None:
        marks["imports"] = time.perf_counter() - T0
        from pycontainer.client import connection  # noqa: PLC0415

        real: Callable[[Any], Any] = connection.Connection._tls

        def timed(self: Any) -> Any:
            start = time.perf_counter()
            marks.setdefault("first_request", start - T0)
            try:
                return real(self)
            finally:
                marks.setdefault("tls", time.perf_counter() - start)
                marks.setdefault("main_cpu_tls_ready", time.thread_time() - CPU0)

        connection.Connection._tls = timed  # type: ignore[method-assign]
        gc.freeze()
        gc.enable()

    code = cli.run(argv, after_imports=after_imports)
    sys.stdout.flush()
    marks["total"] = time.perf_counter() - T0
    marks["exit_code"] = code
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(marks, fh)
    os._exit(code)


if __name__ == "__main__":
    main()
