"""The suite's timeline: what tests/conftest.py writes under RWC_TEST_TIMELINE, and what
bench/suite_timeline.py reads back from it (per worker: start, busy, gaps, last files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import suite_timeline
from tests import conftest


def test_timeline_written_per_worker_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    where = tmp_path / "timeline"
    monkeypatch.setenv("RWC_TEST_TIMELINE", str(where))
    timeline: dict[str, list[dict[str, object]]] = {
        "gw0": [
            {"session_start": 100.0},
            {"test": "tests/a/test_x.py::test_1", "start": 102.0, "end": 104.0, "cpu_s": 1.5},
            {"test": "tests/a/test_x.py::test_2", "start": 104.5, "end": 110.0, "cpu_s": 2.0},
        ],
        "gw1": [
            {"session_start": 101.0},
            {"test": "tests/b/test_y.py::test_3", "start": 103.0, "end": 104.0, "cpu_s": 0.5},
        ],
    }
    for worker, records in timeline.items():
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        for record in records:
            conftest._timeline_write(record)
    assert sorted(p.name for p in where.iterdir()) == ["gw0.jsonl", "gw1.jsonl"]

    suite_timeline.report(where)
    out = capsys.readouterr().out
    assert "3 tests, 10.0 s from the first process's start" in out
    assert (
        "gw0: started 0.0, first test 2.0, last ended 10.0; 2 tests, busy 7.5 s,"
        " between tests 0.5 s, CPU 3.5 s" in out
    )
    assert "gw1: started 1.0, first test 3.0, last ended 4.0; 1 tests" in out
    assert "      2.0-   10.0 s     2 tests  CPU   3.5 s  tests/a/test_x.py" in out
    assert out.index("tests/a/test_x.py\n", out.index("files by wall")) < out.index(
        "tests/b/test_y.py\n", out.index("files by wall")
    )


def test_no_timeline_is_said_clearly(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"no timeline in .*RWC_TEST_TIMELINE=DIR"):
        suite_timeline.report(tmp_path)
