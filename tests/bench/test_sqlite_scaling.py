"""bench/sqlite_scaling.py: the 2-worker rows beside 1 worker at half the connections.

Issue 15 (bench/README.md, "Session 19: scaling on SQLite"): a worker's batch is bounded
by the connections it serves, so 2 workers' extra CPU per release is the batch halving
times the second process's own cost; the bench runs the row that tells them apart.
Figures here are noise (1 s rows); what is checked is that the rows run and are printed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bench_scripts import run_script

pytestmark = pytest.mark.slow


def test_each_round_runs_one_worker_at_half_the_connections(tmp_path: Path) -> None:
    stdout, figures = run_script(
        tmp_path,
        "sqlite_scaling.py",
        *("--rounds", "1", "--duration", "1", "--containers", "5", "--connections", "4"),
    )
    rows = figures["rows"]
    # 1 worker at all the connections, at half of them (each worker's share), 2 workers.
    assert [(r["workers"], r["connections"]) for r in rows] == [(1, 4), (1, 2), (2, 4)]
    for r in rows:
        assert r["errors"] == 0 and r["rps"] > 0 and r["cpu_ms"] > 0, r
    assert "= batch halving " in stdout and " x second process " in stdout
