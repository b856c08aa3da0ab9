"""The key-server bench's scaling table prints the serial bound beside the ratio (issue 15).

The serial bound is 1 / (the chain head holder's CPU per release), as a multiple of one
worker's rate: the figure that does not move with the number of CPUs. Fed rows as the
bench builds them (figures made up, no load run, nothing timed); what is checked is the
arithmetic, the printed table, and that the target's verdict is still the ratio's.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """bench/keyserver_bench.py, imported as bench/run.py does (bench/ on sys.path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("keyserver_bench")


def _row(series: str, processes: int, rps: float, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"rwc PostgreSQL, {processes} {series}",
        "series": f"rwc PostgreSQL {series}",
        "processes": processes,
        "keepalive": True,
        "rps": rps,
        "p50_ms": 1.0,
        "p99_ms": 2.0,
        "errors": 0,
        "cpu_ms_per_release": 1.0,
        **extra,
    }


def _rows() -> list[dict[str, Any]]:
    return [
        _row("workers", 1, 1000.0, chain_head={"cpu": 0.2, "jobs_per_batch": 16.0}),
        # Head CPU 0.25 ms per release: 4,000 req/s, 4x the one worker's 1,000.
        _row(
            "workers",
            2,
            1500.0,
            chain_head={"cpu": 0.25, "jobs_per_batch": 8.0},
            cpu_parts={
                "server": 1.4,
                "backends": 0.4,
                "pg_shared": 0.1,
                "wrk": 0.1,
                "all": 2.0,
                "busy": 1.9,
            },
        ),
        # No head figures (the host committer's workers export none): no bound.
        _row("committer", 2, 1700.0),
    ]


def test_the_serial_bound_is_one_over_the_head_cpu_per_release(bench: ModuleType) -> None:
    scaled = {s["name"]: s for s in bench.scaling(_rows())}
    two = scaled["rwc PostgreSQL, 2 workers"]
    assert two["serial_ratio"] == pytest.approx(4.0)
    assert two["ceiling_ratio"] == pytest.approx((os.cpu_count() or 1) * 500 / 1000)
    assert scaled["rwc PostgreSQL, 2 committer"]["serial_ratio"] is None
    # The target is unchanged: judged on the measured ratio, not on the bound.
    assert two["ratio"] == pytest.approx(1.5)
    assert two["verdict"] == "MISSED"
    assert scaled["rwc PostgreSQL, 2 committer"]["verdict"] == "MET"


def test_the_scaling_table_prints_the_serial_bound(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _rows()
    bench._print(rows, bench.scaling(rows), [])
    out = capsys.readouterr().out
    table = out.split("-- Scaling out")[1].split("\n-- ")[0]
    assert "serial bound vs 1 worker" in table
    lines = {line.split("|")[1].strip(): line for line in table.splitlines() if "|" in line}
    cells = [c.strip() for c in lines["rwc PostgreSQL, 2 workers"].split("|")]
    # server, ratio, CPU ceiling, serial bound, target: the bound next to the other two.
    assert cells[1:6] == [
        "rwc PostgreSQL, 2 workers",
        "1.50x",
        f"{(os.cpu_count() or 1) * 0.5:.2f}x",
        "4.00x",
        "MISSED",
    ]
    committer = [c.strip() for c in lines["rwc PostgreSQL, 2 committer"].split("|")]
    assert committer[4:6] == ["n/a", "MET"]
