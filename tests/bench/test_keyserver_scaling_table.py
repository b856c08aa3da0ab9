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


def _parts(all_ms: float, busy: float = 1.9) -> dict[str, float]:
    return {
        "server": 0.6 * all_ms,
        "backends": 0.0,
        "pg_shared": 0.0,
        "wrk": 0.4 * all_ms,
        "all": all_ms,
        "busy": busy,
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


def _cpu_rows(two_all: float, two_rps: float) -> list[dict[str, Any]]:
    """One worker at 1.0 CPU ms per release (every process); two at ``two_all``."""
    return [
        _row("workers", 1, 1000.0, cpu_parts=_parts(1.0, busy=1.2)),
        _row("workers", 2, two_rps, cpu_parts=_parts(two_all, busy=1.3)),
    ]


def test_scaling_by_cpu_per_release_says_what_moved(bench: ModuleType) -> None:
    # Issue 15: 2 processes on twice the CPUs reach 2 x 1.0 / 1.1 = 1.82x: the code allows
    # the target; the measured 1.40x missed it, with 1.3 CPUs busy: the machine moved.
    (two,) = bench.scaling(_cpu_rows(1.1, 1400.0))
    assert two["cpu_ratio"] == pytest.approx(2 / 1.1)
    assert two["cpu_verdict"] == "MET"
    assert two["verdict"] == "MISSED"  # the measured ratio's verdict is still printed
    assert two["moved"].startswith("the machine: 1.30 CPUs busy")
    # 1.5 ms per release with two: 1.33x, the code's (CPU per release +50%).
    (worse,) = bench.scaling(_cpu_rows(1.5, 1400.0))
    assert worse["cpu_ratio"] == pytest.approx(2 / 1.5)
    assert (worse["cpu_verdict"], worse["moved"]) == ("MISSED", "the code: +50% CPU per release")
    # Both met: nothing moved.
    (fine,) = bench.scaling(_cpu_rows(1.1, 1700.0))
    assert (fine["cpu_verdict"], fine["moved"]) == ("MET", "neither")
    # Without the one worker's CPU figures there is no such ratio (no row printed).
    rows = _cpu_rows(1.1, 1400.0)
    del rows[0]["cpu_parts"]
    assert bench.scaling(rows)[0]["cpu_ratio"] is None


def test_the_cpu_verdict_row_is_printed_beside_the_measured_ratio(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _cpu_rows(1.1, 1400.0)
    bench._print(rows, bench.scaling(rows), [])
    out = capsys.readouterr().out
    table = out.split("-- Scaling judged by CPU per release")[1].split("\n-- ")[0]
    (line,) = [line for line in table.splitlines() if "2 workers" in line]
    cells = [c.strip() for c in line.split("|")][1:6]
    assert cells[1:4] == ["1.82x", "MET", "1.40x"]
    assert cells[4].startswith("the machine")
