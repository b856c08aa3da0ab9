"""bench/thread_cpu.py: a release's CPU split by the server's threads, 1 and 2 workers.

Issue 15 (bench/profiles/keyserver.md, "Session 22"): where a second worker's extra CPU
per release goes (event loop, committer, short-lived threads, supervisor). Figures here
are noise (1 s points); what is checked is that every point runs, that each role is
read from the process it belongs to, and that the tables are printed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bench_scripts import run_script

pytestmark = pytest.mark.slow

# One round of 1 s points at 2 and 4 connections, on 5 containers per database.
SMOKE = ("--rounds", "1", "--duration", "1", "--containers", "5", "--connections", "2,4")


def test_every_thread_role_is_read_for_one_and_two_workers(tmp_path: Path) -> None:
    stdout, figures = run_script(tmp_path, "thread_cpu.py", *SMOKE)
    points = figures["points"]
    # 1 worker right before 2, at each connection count.
    assert [(p["workers"], p["connections"]) for p in points] == [(1, 2), (2, 2), (1, 4), (2, 4)]
    for p in points:
        assert p["errors"] == 0 and p["rps"] > 0 and p["jobs_per_batch"] > 0, p
        # The event loop and the committer run every release; the roles' sum is the
        # server's CPU, which is read from the same /proc.
        assert p["loop_ms"] > 0 and p["committer_ms"] > 0, p
        # With 1 worker the server is the group's only process: no supervisor.
        assert (p["supervisor_slices"] > 0) == (p["workers"] == 2), p
    assert [(m["workers"], m["connections"]) for m in figures["medians"]] == [
        (1, 2),
        (2, 2),
        (1, 4),
        (2, 4),
    ]
    assert "by thread" in stdout and "waiting for a CPU" in stdout
