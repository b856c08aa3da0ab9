"""The disk rows' verdict against their floor (bench/diskdevice.py ``judge``, commands.py).

Issue 15: a disk row of seal or open -C that misses 1.5x age says whether the target is
below the floor the safety properties set (the disk alone, writing and fsyncing as many
bytes, plus rwc's start-up: the key release and Argon2id, both measured in the same run) or
above it, with the figures, rather than a bare MISSED. Fed the twenty-second session's
quiet figures (bench/README.md); nothing is run or timed here.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench(monkeypatch: pytest.MonkeyPatch, name: str) -> ModuleType:
    """A bench module, imported as bench/run.py does (bench/ on sys.path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module(name)


@pytest.fixture
def diskdevice(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return _bench(monkeypatch, "diskdevice")


def test_a_target_below_the_floor_is_missed_for_the_floor(diskdevice: ModuleType) -> None:
    # 1 GiB seal: raw age 1.39 s, so 1.5x asks for 0.93 s; the disk alone took 1.05 s.
    floor = diskdevice.Floor(disk_s=1.05, startup_s=0.26)
    assert floor.seconds == pytest.approx(1.31)
    said, why = diskdevice.judge(1.61, 1.39, 1.5, floor)
    assert said == "MISSED"
    assert why == (
        "below the floor: fsync before publish + key derivation = 1.31 s; 1.5x age needs 0.93 s"
    )


def test_a_target_above_the_floor_is_missed_as_ours(diskdevice: ModuleType) -> None:
    # Made-up: 1.5x age asks for 2.00 s, well above 1.05 + 0.30 s: reachable, rwc's to close.
    said, why = diskdevice.judge(2.40, 3.00, 1.5, diskdevice.Floor(1.05, 0.30))
    assert said == "MISSED"
    assert why == (
        "above the floor: fsync before publish + key derivation = 1.35 s;"
        " 1.5x age needs 2.00 s; rwc 2.40 s"
    )


def test_a_target_within_the_floors_spread_is_not_called_out_of_reach(
    diskdevice: ModuleType,
) -> None:
    # The 10 GiB seal of session 22: 1.5x age asks for 14.36 s against a floor of 13.42 +
    # 0.30 s, within 5% (diskdevice.SLACK) of figures measured minutes apart from rwc's
    # (the loaded 10 GiB run of session 23 had rwc open -C 10% under the disk alone).
    said, why = diskdevice.judge(14.93, 21.54, 1.5, diskdevice.Floor(13.42, 0.30))
    assert said == "MISSED"
    assert why == (
        "at the floor: fsync before publish + key derivation = 13.72 s;"
        " 1.5x age needs 14.36 s; rwc 14.93 s"
    )
    floor = diskdevice.Floor(1.05, 0.30)
    assert diskdevice.judge(1.67, 1.95, 1.5, floor)[1].startswith("at the floor: ")
    assert diskdevice.judge(1.67, 1.90, 1.5, floor)[1].startswith("below the floor: ")
    assert diskdevice.judge(1.67, 2.15, 1.5, floor)[1].startswith("above the floor: ")


def test_the_verdict_itself_is_the_ratio(diskdevice: ModuleType) -> None:
    floor = diskdevice.Floor(1.05, 0.30)
    # Met: no reason, whatever the floor (the 10 GiB open -C, 2.57x).
    assert diskdevice.judge(15.13, 38.87, 1.5, floor) == ("MET", "")
    # Exactly the goal meets it, as the ratio >= goal always did.
    assert diskdevice.judge(2.0, 3.0, 1.5, floor) == ("MET", "")
    # No floor measured (no O_DIRECT, or tmpfs): a bare MISSED, no reason made up.
    assert diskdevice.judge(2.0, 2.0, 1.5, None) == ("MISSED", "")
    # The fair reference names itself.
    _said, why = diskdevice.judge(1.67, 1.75, 1.5, floor, "age && sync")
    assert why.endswith("1.5x age && sync needs 1.17 s")


def _row(seconds: float, mib: float = 1024) -> dict[str, Any]:
    """One command's medians as commands.py keeps them (the per-GiB ones where it has any)."""
    row = {"seconds": seconds, "seconds_each": [seconds], "peak_rss_mib": 90.0, "cpu_s": 1.0}
    row |= {"read_mib": mib, "written_mib": mib}
    return row | ({"mib_s": mib / seconds, "cpu_s_per_gib": 1.0} if mib > 1 else {})


def _results() -> dict[str, Any]:
    """A 1 GiB disk run's figures: the twenty-second session's medians."""
    return {
        "sizes": {
            "1 GiB disk": {
                "rwc seal": _row(1.61),
                "age seal": _row(1.39),
                "age seal+sync": _row(1.74),
                "rwc open": _row(1.67),
                "age open": _row(2.09),
                "age open+sync": _row(1.74),
                "rwc cat": _row(0.90),
                "age cat": _row(2.02),
                "disk alone": _row(1.05),
                "rwc seal, 3 bytes": _row(0.26, mib=0),
                "rwc open, 3 bytes": _row(0.30, mib=0),
            }
        }
    }


def test_the_rows_print_their_floor_and_the_summary_its_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = _bench(monkeypatch, "commands")
    summary = _bench(monkeypatch, "summary")
    results = _results()
    targets = commands._print(results)
    printed = capsys.readouterr().out
    seal, opened, cat = targets
    assert seal["verdict"] == "MISSED"
    assert seal["verdict_reason"].startswith("below the floor: ")
    assert seal["floor"] == pytest.approx(
        {"seconds": 1.31, "disk_s": 1.05, "startup_s": 0.26, "needs_s": 1.39 / 1.5}
    )
    # open -C: 1.5x age asks for 1.39 s, within 5% of 1.05 + 0.30 s.
    assert opened["verdict_reason"].startswith("at the floor: ")
    assert opened["vs_age_with_fsync"]["verdict_reason"].startswith("below the floor: ")
    assert "floor" not in cat and "verdict_reason" not in cat  # cat writes nothing to wait for
    # The table says which side of the floor, the line under it the figures.
    assert "| MISSED: below the floor (age: no fsync) " in printed
    assert "| MISSED: at the floor (age: no fsync) " in printed
    assert (
        "the floor (fsync before publish + key derivation): the disk alone 1.05 s"
        " + rwc's start-up 0.26 s = 1.31 s; 1.5x raw age needs 0.93 s: MISSED, below the floor"
    ) in printed
    rows = summary.rows({"commands": {**results, "targets": targets}}, [("commands", "commands")])
    verdicts = {row[1]: row[4] for row in rows}
    assert verdicts["1 GiB disk: rwc seal IN -o OUT vs age -r R -o OUT IN"] == (
        "MISSED (below the floor: fsync before publish + key derivation = 1.31 s;"
        " 1.5x age needs 0.93 s)"
    )
    assert verdicts["1 GiB disk: rwc cat OUT NAME | cat vs age -d OUT | cat"] == "MET"
