"""`make bench`'s order, its writeback wait and its summary (issue 15; bench/run.py).

Session 21: the key-server part measured right after the 10 GiB rows ran beside their ~40 GiB
of writeback, and its scaling figures fell. So the 10 GiB parts run last, each part waits
for the writeback before it starts (and says how long, or that it gave up), and the run ends
with one table of every verdict, the 10 GiB rows included. Nothing here is timed: the order
is the plan's, the wait is given a threshold it cannot meet or one it always meets, and the
summary is fed made-up figures.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> dict[str, ModuleType]:
    """bench/run.py and its modules, imported as run.py imports them (bench/ on sys.path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return {name: importlib.import_module(name) for name in ("run", "writeback", "summary")}


def _plan(run: ModuleType, *argv: str) -> list[str]:
    return list(run.schedule(run._arguments(list(argv))))


def test_the_big_rows_run_last(bench: dict[str, ModuleType]) -> None:
    run = bench["run"]
    keys = _plan(run, "--big")
    assert keys[:5] == ["container", "commands", "keyserver", "audit", "tlog"]
    assert keys[5:] == ["container_big", "commands_big"]
    # Without --big (the smoke runs) there are no 10 GiB parts at all.
    assert "commands_big" not in _plan(run) and "container_big" not in _plan(run)
    # The 10 GiB rows alone, as bench/README.md times them; with their group's 1 GiB part.
    assert _plan(run, "--only", "commands_big") == ["commands_big"]
    assert _plan(run, "--only", "commands", "--big") == ["commands", "commands_big"]
    assert _plan(run, "--only", "keyserver", "--big") == ["keyserver"]


def test_a_writeback_wait_that_cannot_end_says_it_timed_out(
    bench: dict[str, ModuleType],
) -> None:
    # No machine has fewer than 0 MiB dirty: the wait ends at its timeout, and says so.
    settled = bench["writeback"].settle(threshold_mib=0.0, timeout_s=0.3)
    assert settled.timed_out
    line = settled.line()
    assert "TIMED OUT" in line and "0 MiB" in line, line
    assert settled.as_dict()["timed_out"] is True
    if Path("/proc/meminfo").exists():
        assert settled.pending_mib is not None and settled.pending_mib >= 0


def test_a_writeback_wait_says_how_long_it_waited(bench: dict[str, ModuleType]) -> None:
    # Any amount is under an infinite threshold: the wait ends when the sync has, and says
    # how long that took (or, on a disk busy past the timeout, that it timed out).
    settled = bench["writeback"].settle(threshold_mib=math.inf, timeout_s=60)
    line = settled.line()
    assert ("TIMED OUT" in line) == settled.timed_out, line
    if not settled.timed_out and settled.pending_mib is not None:
        assert line.startswith("  waited ") and " s for writeback " in line, line


def _commands_figures(size: str) -> dict[str, object]:
    """commands.py's figures of one size on two storages, tmpfs skipped for want of room."""
    return {
        "sizes": {f"{size} tmpfs": {"skipped": "needs 31 GiB free in /dev/shm"}},
        "targets": [
            {
                "target": f"{size} disk: rwc seal IN -o OUT vs age -r R -o OUT IN",
                "ratio": 1.5,
                "goal": 1.5,
                "verdict": "MET",
                "vs_age_with_fsync": {"ratio": 1.43, "verdict": "MISSED"},
            }
        ],
    }


def test_the_summary_holds_every_verdict_and_the_10_gib_rows(
    bench: dict[str, ModuleType],
) -> None:
    results = {
        "commands": {
            **_commands_figures("1 GiB"),
            "small": {
                "startup": {"instructions": {"ratio": 4.53, "target_ratio": 4.8, "verdict": "MET"}}
            },
        },
        "keyserver": {
            "scaling": [
                {"name": "rwc SQLite, 2 worker(s)", "peak_ratio": 1.42, "verdict": "MISSED"}
            ],
            "suspend": [
                {
                    "db": "SQLite",
                    "containers": 100_000,
                    "suspend_s": 2.03,
                    "goal_s": 2.0,
                    "verdict": "MISSED",
                }
            ],
        },
        "container_big": {"skipped": "needs 22.0 GiB free in /var/tmp"},
        "commands_big": _commands_figures("10 GiB"),
        "writeback": {"commands_big": {"timed_out": True}},
    }
    parts = [
        ("commands", "command"),
        ("keyserver", "key-server"),
        ("audit", "audit verify"),
        ("container_big", "container at 10 GiB"),
        ("commands_big", "command at 10 GiB"),
    ]
    rows = bench["summary"].rows(results, parts)
    said = [" | ".join(row) for row in rows]
    big = [row[1:] for row in rows if row[0] == "command at 10 GiB"]
    assert big == [
        ["10 GiB tmpfs: skipped (needs 31 GiB free in /dev/shm)", "", "", ""],
        ["10 GiB disk: rwc seal IN -o OUT vs age -r R -o OUT IN", "1.50x", ">= 1.5x", "MET"],
        ["  the same vs age && sync (same durability)", "1.43x", ">= 1.5x", "MISSED"],
    ]
    assert any("start-up + imports in instructions | 4.53x" in line for line in said)
    assert any(
        "bulk suspend of 100,000, SQLite | 2.03 s | < 2.0 s | MISSED" in line for line in said
    )
    assert any(line.startswith("key-server | rwc SQLite, 2 worker(s)") for line in said)
    # A part without figures and a skipped part are rows of their own, never left out.
    assert any(line.startswith("audit verify | (no figures") for line in said)
    assert any(line.startswith("container at 10 GiB | (skipped: needs 22.0") for line in said)
