"""bench/suite_vs_filing.py's "no test lost" check, on id lists (no suite is run here), and
its table of moved tests against today's collected suite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import suite_vs_filing
from bench.suite_vs_filing import MOVED, LostTestsError, Run, map_ids
from tests.support.processes import clean_env

ROOT = Path(__file__).resolve().parents[2]

_KEPT = ["tests/a/test_x.py::test_same", "tests/a/test_x.py::test_case[1]"]
_EXIT_CODES = "tests/cli/test_cli.py::test_help_lists_exit_codes"


def _today() -> list[str]:
    """A current suite that carries every filing test: the kept ids and MOVED's targets."""
    ids = [*_KEPT, "tests/b/test_new.py::test_added"]
    for target, _ in MOVED.values():
        ids += (
            [f"{target}0-success]", f"{target}1-other error]"] if target.endswith("[") else [target]
        )
    return ids


def test_every_filing_test_maps_to_the_tests_that_carry_it() -> None:
    mapping = map_ids([*_KEPT, *MOVED], _today())
    assert len(mapping) == len(_KEPT) + len(MOVED) == len(_KEPT) + 12
    assert mapping[_KEPT[1]] == [_KEPT[1]]
    assert mapping[_EXIT_CODES] == [f"{_EXIT_CODES}[0-success]", f"{_EXIT_CODES}[1-other error]"]
    race = "tests/keyserver/test_race.py::test_two_instances_revocation_race"
    assert mapping[f"{race}[sqlite]"] == [f"{race}[postgres]"]


def test_a_test_missing_today_fails_the_check() -> None:
    today = [t for t in _today() if t != _KEPT[1]]
    with pytest.raises(LostTestsError, match=r"1 filing test\(s\) not accounted for") as lost:
        map_ids([*_KEPT, *MOVED], today)
    assert f"{_KEPT[1]}: not in the current suite and not in MOVED" in str(lost.value)


def test_a_moved_test_whose_target_is_gone_fails_the_check() -> None:
    old = "tests/e2e/test_lifecycle.py::test_expired_container"
    target = MOVED[old][0]
    with pytest.raises(LostTestsError, match="not in the current suite") as lost:
        map_ids([*_KEPT, *MOVED], [t for t in _today() if t != target])
    assert f"{old}: MOVED names {target}" in str(lost.value)
    # A parametrized target with no case left.
    with pytest.raises(LostTestsError, match="which has no case now"):
        map_ids([*_KEPT, *MOVED], [t for t in _today() if not t.startswith(_EXIT_CODES)])


def test_a_table_entry_for_no_filing_test_is_refused() -> None:
    moved = {**MOVED, "tests/a/test_x.py::test_typo": (_KEPT[0], "misspelled")}
    with pytest.raises(LostTestsError, match=r"test_typo: in MOVED, but not a test of the filing"):
        map_ids([*_KEPT, *MOVED], _today(), moved)


def test_collected_ids_and_summary_lines_are_read() -> None:
    collected = "tests/a/test_x.py::test_1\ntests/a/test_x.py::test_2[a b]\n\n2 tests collected\n"
    assert suite_vs_filing.parse_ids(collected) == [
        "tests/a/test_x.py::test_1",
        "tests/a/test_x.py::test_2[a b]",
    ]
    parse = suite_vs_filing.parse_summary
    assert parse("....\n817 passed, 2 skipped in 190.43s (0:03:10)\n") == {
        "passed": 817,
        "skipped": 2,
        "errors": 0,
    }
    assert parse("2181 passed, 815 subtests passed in 213.20s (0:03:33)") == {
        "passed": 2181,
        "subtests passed": 815,
        "errors": 0,
    }
    assert parse("1 failed, 3 passed, 5 deselected, 1 error in 2.00s") == {
        "failed": 1,
        "passed": 3,
        "deselected": 5,
        "errors": 1,
    }
    assert parse("no summary here") == {}


def test_the_moved_tests_are_in_todays_suite() -> None:
    """The table holds against the tree: a test it names that is renamed or removed fails
    here, not ten minutes into a bench run."""
    files = sorted({target.split("::")[0] for target, _ in MOVED.values()})
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert collected.returncode == 0, collected.stdout[-2000:] + collected.stderr
    today = suite_vs_filing.parse_ids(collected.stdout)
    mapping = map_ids(list(MOVED), today)
    assert len(mapping[_EXIT_CODES]) >= 10, mapping[_EXIT_CODES]


def test_the_table_and_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    filing = Run("filing", load=0.5, load_end=0.4, wall=190.4, cpu=140.0)
    filing.counts = {"passed": 817, "skipped": 2}
    mapped = Run("mapped", load=0.4, load_end=0.6, wall=64.0, cpu=105.0)
    mapped.counts = {"passed": 827, "subtests passed": 697}
    whole = Run("whole", load=0.6, load_end=0.3, wall=213.2, cpu=313.0)
    whole.counts = {"passed": 2181, "subtests passed": 815}
    assert suite_vs_filing.report(filing, mapped, whole, "8ebd598", expected=827)
    out = capsys.readouterr().out
    assert (
        "| its tests today (-n auto) | 827 (+697) | 64.0 | 105.0 | 0.34x wall, 0.75x CPU |" in out
    )
    assert "| whole suite today (-n auto) | 2181 (+815) | 213.2 | 313.0 | 1.12x wall," in out
    assert "(64.0 s against 95.2 s): MET" in out
    assert "load average reached" not in out

    mapped.wall, mapped.load_end = 95.3, 9.0
    assert suite_vs_filing.report(filing, mapped, None, "8ebd598", expected=827)
    out = capsys.readouterr().out
    assert "(95.3 s against 95.2 s): MISSED" in out
    assert "whole suite" not in out and "load average reached 9.0" in out

    # One mapped test not run (or a failure): no verdict, and the caller exits with 1.
    assert not suite_vs_filing.report(filing, mapped, None, "8ebd598", expected=828)
    assert "not measured: the mapped run ran 827 of 828 tests" in capsys.readouterr().out


def test_a_module_split_by_concern_keeps_its_tests() -> None:
    old = "tests/a/test_local.py::test_migrate"
    split = "tests/a/test_local_init.py::test_migrate"
    assert map_ids([old], [split, "tests/a/test_local_audit.py::test_other"], {}) == {old: [split]}
    # The name in two split modules, or in a module that is not a split of it: not the same.
    twice = [split, "tests/a/test_local_audit.py::test_migrate"]
    with pytest.raises(LostTestsError, match=r"test_local\.py::test_migrate: not in the current"):
        map_ids([old], twice, {})
    with pytest.raises(LostTestsError, match="not in the current suite"):
        map_ids([old], ["tests/a/test_localhost.py::test_migrate"], {})


def test_sigterm_stops_the_step_and_removes_the_temporary_directory(tmp_path: Path) -> None:
    """A CI timeout's SIGTERM used to end the run without its ``finally``: the clone of the
    filing commit and its venv stayed in the temporary directory. Now the running step's
    whole process group is stopped (``make venv``: make and pip) and the directory goes."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**clean_env(), "TMPDIR": str(tmp)}
    script = [sys.executable, str(ROOT / "bench/suite_vs_filing.py"), "--commit", "HEAD"]
    proc = subprocess.Popen(
        script, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        # Signalled once the clone is made and its venv is being built (the longest step:
        # a process group of make, python -m venv, pip).
        deadline = time.monotonic() + 120
        while not list(tmp.glob("rwc-suite-vs-filing-*/filing-venv.log")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the bench never reached `make venv`"
            time.sleep(0.05)
        [work] = tmp.iterdir()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, (out, err)
    assert err.endswith("suite_vs_filing: stopped by a signal (exit 143)\n"), err
    assert "Traceback" not in err
    assert list(tmp.iterdir()) == []  # the clone, its venv and the logs are gone
    left = [pid for pid in os.listdir("/proc") if pid.isdigit() and _runs_in(pid, work)]
    assert left == [], left  # nothing of the step runs on (make and pip ran in the clone)


def _runs_in(pid: str, work: Path) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/cwd").startswith(str(work))
    except OSError:  # gone meanwhile, or not ours to read
        return False
