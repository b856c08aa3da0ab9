"""The suite's timeline: what tests/conftest.py writes under RWC_TEST_TIMELINE, and what
bench/suite_timeline.py reads back from it (per worker: start, busy, gaps, last files)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import suite_timeline
from tests import conftest

ROOT = Path(__file__).resolve().parents[2]


def test_timeline_written_per_worker_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    where = tmp_path / "timeline"
    monkeypatch.setenv("RWC_TEST_TIMELINE", str(where))
    timeline: dict[str, list[dict[str, object]]] = {
        "gw0": [
            {"session_start": 100.0},
            {"test": "tests/a/test_x.py::test_1", "start": 102.0, "end": 104.0, "cpu_s": 1.5},
            {
                "test": "tests/a/test_x.py::test_2",
                "start": 104.5,
                "end": 110.0,
                "cpu_s": 2.0,
                "session_end_cpu_s": 4.0,
            },
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
        " between tests 0.5 s, CPU 3.5 s, then 4.0 s at its end (session fixtures)" in out
    )
    assert "gw1: started 1.0, first test 3.0, last ended 4.0; 1 tests" in out
    assert "      2.0-   10.0 s     2 tests  CPU   3.5 s  tests/a/test_x.py" in out
    assert out.index("tests/a/test_x.py\n", out.index("files by wall")) < out.index(
        "tests/b/test_y.py\n", out.index("files by wall")
    )


def test_no_timeline_is_said_clearly(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"no timeline in .*RWC_TEST_TIMELINE=DIR"):
        suite_timeline.report(tmp_path)


# A run of its own: a test module whose import burns CPU, as FastAPI's and Selenium's do at
# collection, and a session fixture whose teardown burns CPU, as the kept browsers' quit
# does at the end of a worker (tests/console/conftest.py).
_SESSION_END_CONFTEST = "from tests.conftest import *  # noqa: F403\n"
_SESSION_END_TESTS = """
import time

import pytest

until = time.process_time() + 0.3
while time.process_time() < until:
    pass


@pytest.fixture(scope="session")
def costly_to_stop():
    yield
    until = time.process_time() + 0.3
    while time.process_time() < until:
        pass


def test_first(costly_to_stop):
    pass


def test_last(costly_to_stop):
    pass
"""


def test_collection_and_session_end_are_counted_apart_from_the_tests(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(_SESSION_END_CONFTEST)
    (tmp_path / "test_end.py").write_text(_SESSION_END_TESTS)
    # No plugins from entry points (xdist, hypothesis, anyio's): half the start-up's CPU.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    # As a run of its own (a run inside a test writes no timeline: see the next test).
    env.pop("PYTEST_CURRENT_TEST")
    env.pop("PYTEST_XDIST_WORKER", None)
    env["RWC_TEST_TIMELINE"] = str(tmp_path / "timeline")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    folders = re.search(r"CPU s by folder [^:]*: (.*)", run.stdout)
    assert folders is not None, run.stdout
    spent = dict(re.findall(r"(.+?) (\d+\.\d)(?:, |$)", folders.group(1)))
    assert float(spent[conftest.SESSION_END]) >= 0.3, folders.group(1)
    assert float(spent[conftest.COLLECTION]) >= 0.3, folders.group(1)
    tests = re.search(r"CPU s of the costliest tests [^:]*: (.*)", run.stdout)
    assert tests is not None, run.stdout
    for name in ("test_first", "test_last"):
        spent_in = re.search(rf"test_end\.py::{name} (\d+\.\d\d)", tests.group(1))
        assert spent_in is not None and float(spent_in.group(1)) < 0.3, tests.group(1)
    # The timeline too: the last test's CPU without the session's end, which it carries apart.
    lines = (tmp_path / "timeline" / "main.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r.get("test", "").rsplit("::")[-1] for r in records] == ["", "test_first", "test_last"]
    assert records[2]["cpu_s"] < 0.3 <= records[2]["session_end_cpu_s"], records
    assert records[1]["session_end_cpu_s"] == 0.0, records


def test_a_pytest_run_inside_a_test_writes_no_timeline(tmp_path: Path) -> None:
    """tests/portable/test_hidden_posix.py reruns 400 tests in a pytest of its own, which
    inherits RWC_TEST_TIMELINE and PYTEST_CURRENT_TEST from this process."""
    assert "PYTEST_CURRENT_TEST" in os.environ
    env = {**os.environ, "RWC_TEST_TIMELINE": str(tmp_path / "timeline")}
    check = "from tests import conftest; conftest._timeline_write({'session_start': 0.0})"
    subprocess.run([sys.executable, "-c", check], cwd=ROOT, env=env, timeout=120, check=True)
    assert not (tmp_path / "timeline").exists()
