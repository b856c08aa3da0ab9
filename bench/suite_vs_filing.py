"""The test suite side by side with the suite of the commit issue 9 was filed at (issue 9:
"the whole suite in half of today's wall time on the same machine, with no test lost").

In one run, on one machine:

1. clones the filing commit (8ebd598, from this repository) into a temporary directory,
   builds its venv with its own constraints (``make venv`` there) and runs its suite the
   way its Makefile did (``make test``: serial ``pytest -q``);
2. collects both suites' node ids and maps each old test to the current tests that carry
   it: the same node id, else the explicit table ``MOVED`` below (one reason per entry).
   A filing test with no current test fails the run before any suite runs;
3. runs the current tree's mapped tests as ``make test`` does (``-n auto``), then the whole
   current suite, and prints one table (tests, wall, CPU, ratio to the filing suite, the
   load average at the start of each part) and the verdict: the filing suite's tests in at
   most half of its wall time (MET / MISSED).

Usage (about 10 minutes on an idle two-core machine; it leaves nothing behind, even when stopped)::

    .venv/bin/python bench/suite_vs_filing.py
    .venv/bin/python bench/suite_vs_filing.py --map-only   # clone, venv, mapping: ~1 min

CPU seconds are the user + system time of each pytest and every process it waited for
(``getrusage(RUSAGE_CHILDREN)``), not the PostgreSQL server's own processes. Wall time on a
shared machine follows the neighbours: read it beside the load average and the CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Where issue 9 was filed (2026-11-26 18:00): its `make test` was a serial `pytest -q`.
FILING = "8ebd598"

# The filing suite's tests whose node id is gone, and where each went: old id -> (current
# id, why). A current id ending in "[" means every case of that parametrized test (at least
# one must be collected).
_GROUP = "tests/keyserver/test_group_commit.py::test_postgres_containers_leave_room_for_hot_updates"
_RACE = "tests/keyserver/test_race.py::test_two_instances_revocation_race"
_SETTINGS = "tests/keyserver/test_settings_db.py::"
_STRICT = "tests/keyserver/test_metrics_histogram.py::test_parser_is_strict["
MOVED: dict[str, tuple[str, str]] = {
    "tests/cli/test_cli.py::test_help_lists_exit_codes": (
        "tests/cli/test_cli.py::test_help_lists_exit_codes[",
        "one loop over the exit-code table became one case per code (parametrized)",
    ),
    "tests/e2e/test_lifecycle.py::test_expired_container": (
        "tests/cli/test_cli_process.py::test_installed_rwc_open_expired_container",
        "c15c4b6: a real 12 s wait on a serve process became a moved clock; same exit 9 checks",
    ),
    f"{_GROUP}[sqlite]": (
        f"{_GROUP}[postgres]",
        "was a skip on SQLite (a PostgreSQL storage parameter); now a PostgreSQL case only",
    ),
    f"{_RACE}[sqlite]": (
        f"{_RACE}[postgres]",
        "was a skip on SQLite (one server per SQLite file); now a PostgreSQL case only",
    ),
    f"{_SETTINGS}test_known_env_filters_foreign_variables": (
        f"{_SETTINGS}test_worker_factory_ignores_cli_variables_and_refuses_misspelled_settings",
        "f98f93f removed known_env; the one worker factory ignores the same foreign variables",
    ),
}
# test_parser_is_strict: each case's id now ends with the complaint it expects (same input).
for _bad, _complaint in (
    ("metric{a=b} 1\\n", "malformed sample line"),
    ("metric 1 2 3\\n", "malformed sample line"),
    ('metric{le="1"} one\\n', "malformed sample line"),
    ("# TYPE x counter\\n# TYPE x counter\\n", "duplicate TYPE for x"),
    ('a 1\\nb 1\\na{x="1"} 1\\n', "family a is not contiguous"),
    (
        (
            '# TYPE h histogram\\nh_bucket{le="1.0"} 2\\nh_bucket{le="+Inf"} 1\\n'
            "h_sum 1\\nh_count 1\\n"
        ),
        "buckets must be cumulative",
    ),
    ("metric 1", "output must end with a newline"),
):
    MOVED[f"{_STRICT}{_bad}]"] = (
        f"{_STRICT}{_bad}-{_complaint}]",
        "the case's id now names the complaint it expects (same input)",
    )


class LostTestsError(Exception):
    """A filing test maps to no current test, or the table names what does not exist."""


class RunError(Exception):
    """A step of the bench failed; the message says which and where its output is."""


def _split_into(test: str, current: set[str]) -> list[str]:
    """The one current id that carries ``test`` from a module split by concern, or [].

    A module over the house's length limit is split into ``<its stem>_<concern>.py`` in
    its folder with every test's name kept (tests/keyserver_cli/test_local.py became
    test_local_init.py, test_local_principals.py, ...): the test is the same one when
    exactly one such module holds its name.
    """
    path, _, name = test.partition("::")
    stem = path.removesuffix(".py") + "_"
    found = [t for t in current if t.startswith(stem) and t.partition("::")[2] == name]
    return found if len(found) == 1 else []


def map_ids(
    old: Sequence[str], new: Iterable[str], moved: Mapping[str, tuple[str, str]] = MOVED
) -> dict[str, list[str]]:
    """Each filing test id -> the current test ids that carry it; LostTestsError otherwise.

    The table is checked both ways: an entry for a test the filing suite does not have is
    a mistake in the table, and is refused too.
    """
    current = set(new)
    mapping: dict[str, list[str]] = {}
    lost: list[str] = []
    for test in old:
        if test in current:
            mapping[test] = [test]
            continue
        target = moved.get(test, (None, ""))[0]
        split = _split_into(test, current) if target is None else []
        if split:
            mapping[test] = split
        elif target is None:
            lost.append(f"{test}: not in the current suite and not in MOVED")
        elif target.endswith("["):
            cases = sorted(t for t in current if t.startswith(target))
            if cases:
                mapping[test] = cases
            else:
                lost.append(f"{test}: MOVED names {target}...], which has no case now")
        elif target in current:
            mapping[test] = [target]
        else:
            lost.append(f"{test}: MOVED names {target}, which is not in the current suite")
    stale = sorted(set(moved) - set(old))
    lost += [f"{test}: in MOVED, but not a test of the filing suite" for test in stale]
    if lost:
        raise LostTestsError(
            f"{len(lost)} filing test(s) not accounted for (fix MOVED in"
            " bench/suite_vs_filing.py, or bring the test back):\n  " + "\n  ".join(lost)
        )
    return mapping


def parse_ids(output: str) -> list[str]:
    """The node ids of ``pytest --collect-only -q`` (one a line, up to the blank line)."""
    ids: list[str] = []
    for line in output.splitlines():
        if not line.strip():
            break
        if "::" in line:
            ids.append(line.strip())
    return ids


_COUNT = re.compile(
    r"(\d+) (subtests \w+|passed|failed|skipped|deselected|errors?|xfailed|xpassed)"
)


def parse_summary(output: str) -> dict[str, int]:
    """The counts of pytest's last summary line ("817 passed, 2 skipped in 190.43s")."""
    for line in reversed(output.splitlines()):
        if re.search(r" in [\d.]+s\b", line) and _COUNT.search(line):
            counts = {word: int(n) for n, word in _COUNT.findall(line)}
            counts["errors"] = counts.pop("error", 0) + counts.get("errors", 0)
            return counts
    return {}


@dataclass
class Run:
    """One timed part: its command's counts, wall, CPU and the load when it began and
    ended (1-minute averages: on a shared machine the wall time follows them)."""

    name: str
    load: float
    load_end: float = 0.0
    wall: float = 0.0
    cpu: float = 0.0
    returncode: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    log: Path | None = None


def _env(*, strict: bool) -> dict[str, str]:
    env = dict(os.environ)
    # As both Makefiles' `make test` is run here (ours unsets it: bench/profiles/suite.md);
    # the filing commit's wrote bytecode unless the machine said otherwise.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # A pytest started from a test must not look nested to tests/conftest.py.
    for name in ("PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER", "RWC_TEST_TIMELINE"):
        env.pop(name, None)
    if strict:
        # A test that would skip for a missing component fails instead (as in CI): a skip
        # would make the current suite look faster than it is.
        env["RWC_TEST_STRICT"] = "1"
    return env


def _stop_on_sigterm() -> None:
    """SIGTERM (a CI timeout, ``kill``) and SIGHUP end the run as Ctrl-C does, exit 128 + N.

    Python's default skips ``finally``: the clone and its venv (~1 GB) were left behind.
    """

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)


def _child(args: Sequence[str], cwd: Path, env: Mapping[str, str], log: Path) -> int:
    """Run one step (output in ``log``) in a process group of its own; its exit status.

    The group is stopped whole if the wait is cut short (signal, Ctrl-C): subprocess.run
    kills the direct child only, and pytest's workers wrote on into the removed directory.
    """
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            list(args),
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            return proc.wait()
        except BaseException:
            _stop_group(proc)
            raise


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the group, then SIGKILL to what is left; back once the group is empty."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    deadline = time.monotonic() + 60  # SIGKILL waits out uninterruptible sleep (pip, busy disk)
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return  # no process left in the group
        time.sleep(0.05)
    proc.wait()


def _step(args: Sequence[str], cwd: Path, env: Mapping[str, str], log: Path) -> str:
    """An untimed step; its output goes to ``log``; RunError if it fails."""
    returncode = _child(args, cwd, env, log)
    text = log.read_text(encoding="utf-8", errors="replace")
    if returncode != 0:
        tail = "\n".join(text.splitlines()[-15:])
        raise RunError(f"`{' '.join(args)}` in {cwd} failed ({returncode}):\n{tail}")
    return text


def timed(name: str, args: Sequence[str], cwd: Path, env: Mapping[str, str], log: Path) -> Run:
    """Run one suite; wall by the monotonic clock, CPU of every process it waited for."""
    run = Run(name, load=os.getloadavg()[0], log=log)
    files = [a for a in args if a.startswith("tests/")]
    shown = [a.removeprefix(f"{ROOT}/") for a in args if a not in files]
    shown += [f"<{len(files)} test files>"] if files else []
    print(f"{name}: load average {run.load:.2f}; `{' '.join(shown)}`", flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    run.returncode = _child(args, cwd, env, log)
    run.wall = time.monotonic() - start
    run.load_end = os.getloadavg()[0]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    run.counts = parse_summary(log.read_text(encoding="utf-8", errors="replace"))
    print(f"  {_counts(run)} in {run.wall:.1f} s wall, {run.cpu:.1f} CPU-s", flush=True)
    return run


def _counts(run: Run) -> str:
    c = run.counts
    words = [f"{c.get('passed', 0)} passed"]
    words += [f"{c[k]} {k}" for k in ("skipped", "failed", "errors", "xfailed") if c.get(k)]
    if c.get("subtests passed"):
        words.append(f"{c['subtests passed']} subtests passed")
    return ", ".join(words)


# Loaded with `-p` into the current tree's run of the mapped tests: keeps exactly the listed
# node ids, and refuses to run if one of them was not collected (no test lost silently).
_SELECT_PLUGIN = """
import os
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config, items):
    wanted = set(Path(os.environ["RWC_SUITE_IDS"]).read_text(encoding="utf-8").splitlines())
    missing = wanted - {item.nodeid for item in items}
    if missing:
        raise pytest.UsageError(f"mapped tests not collected: {sorted(missing)[:5]}")
    config.hook.pytest_deselected(items=[i for i in items if i.nodeid not in wanted])
    items[:] = [i for i in items if i.nodeid in wanted]
"""


def clone_filing(work: Path, commit: str) -> Path:
    """A fresh clone of ``commit`` from this repository, with its own venv."""
    probe = subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        raise RunError(
            f"the filing commit {commit} is not in {ROOT} (a shallow clone?): run"
            " `git fetch --unshallow` and try again"
        )
    tree = work / "filing"
    _step(
        ["git", "clone", "-q", "--no-checkout", str(ROOT), str(tree)],
        work,
        os.environ,
        work / "clone.log",
    )
    _step(["git", "-C", str(tree), "checkout", "-q", commit], work, os.environ, work / "clone.log")
    print(f"building the filing commit's venv (`make venv` in {tree}) ...", flush=True)
    _step(["make", "venv"], tree, _env(strict=False), work / "filing-venv.log")
    return tree


def collect(tree: Path, log: Path) -> list[str]:
    """The node ids of ``tree``'s suite (this also writes its test modules' bytecode)."""
    out = _step(
        [
            str(tree / ".venv/bin/python"),
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        tree,
        _env(strict=False),
        log,
    )
    ids = parse_ids(out)
    if not ids:
        raise RunError(f"no tests collected in {tree} (see {log})")
    return ids


def _ratio(run: Run, filing: Run) -> str:
    return f"{run.wall / filing.wall:.2f}x wall, {run.cpu / filing.cpu:.2f}x CPU"


def report(filing: Run, mapped: Run, whole: Run | None, commit: str, expected: int) -> bool:
    """Print the table and the verdict; False if the verdict could not be made (a suite
    failed, or the mapped run did not run the ``expected`` number of tests)."""
    rows = [
        (f"filing suite ({commit}, its make test: serial)", filing),
        ("its tests today (-n auto)", mapped),
    ]
    if whole is not None:
        rows.append(("whole suite today (-n auto)", whole))
    print()
    print("| suite | tests (+ subtests) | wall s | CPU s | vs filing suite | load at start, end |")
    print("|---|---|---|---|---|---|")
    for name, run in rows:
        c = run.counts
        tests = f"{c.get('passed', 0)} (+{c.get('subtests passed', 0)})"
        print(
            f"| {name} | {tests} | {run.wall:.1f} | {run.cpu:.1f} | {_ratio(run, filing)}"
            f" | {run.load:.1f}, {run.load_end:.1f} |"
        )
    for name, run in rows:
        if run.returncode != 0 or any(run.counts.get(k) for k in ("failed", "errors")):
            print(f"{name}: exit status {run.returncode}, {_counts(run)}; the log ends:")
            if run.log is not None:
                print("\n".join(run.log.read_text(errors="replace").splitlines()[-20:]))
    ran = sum(mapped.counts.get(k, 0) for k in ("passed", "skipped", "failed", "errors"))
    if mapped.returncode != 0 or ran != expected:
        print(f"verdict: not measured: the mapped run ran {ran} of {expected} tests, or failed")
        return False
    busiest = max(max(run.load, run.load_end) for _, run in rows)
    if busiest > (os.cpu_count() or 1):
        # Wall time then measures the neighbours as much as the suites (CPU seconds grow
        # with load too, but far less): say so beside the verdict.
        print(
            f"the load average reached {busiest:.1f} on {os.cpu_count()} CPUs: the wall times"
            " depend on the other work on this machine; compare the CPU column"
        )
    half = filing.wall / 2
    print(
        f"verdict: the filing suite's tests in <= half its wall time ({mapped.wall:.1f} s"
        f" against {half:.1f} s): {'MET' if mapped.wall <= half else 'MISSED'}"
    )
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commit", default=FILING, help=f"the filing commit (default {FILING})")
    ap.add_argument("--map-only", action="store_true", help="clone, venv and mapping only")
    ap.add_argument("--no-whole", action="store_true", help="skip the whole current suite")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    _stop_on_sigterm()
    work: Path | None = None
    try:
        work = Path(tempfile.mkdtemp(prefix="rwc-suite-vs-filing-"))
        return _bench(args, work)
    except (RunError, LostTestsError) as exc:
        print(f"suite_vs_filing: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("suite_vs_filing: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:
        print(f"suite_vs_filing: stopped by a signal (exit {exc.code})", file=sys.stderr)
        raise
    finally:
        if work is None:
            pass
        elif args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _bench(args: argparse.Namespace, work: Path) -> int:
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs", flush=True)
    if not (ROOT / ".venv/bin/python").exists():
        raise RunError(f"no venv in {ROOT}: run `make venv` there first")
    tree = clone_filing(work, args.commit)
    old = collect(tree, work / "filing-collect.log")
    new = collect(ROOT, work / "current-collect.log")
    mapping = map_ids(old, new)
    selected = sorted({t for targets in mapping.values() for t in targets})
    same = sum(1 for test, targets in mapping.items() if targets == [test])
    print(
        f"no test lost: {len(old)} filing tests -> {len(selected)} current tests"
        f" ({same} by the same node id, {len(old) - same} by MOVED) of {len(new)}"
    )
    for test, (target, why) in MOVED.items():
        print(f"  {test} -> {target}{'...]' if target.endswith('[') else ''}: {why}")
    if args.map_only:
        return 0

    filing = timed("filing suite", ["make", "test"], tree, _env(strict=False), work / "filing.log")
    ids = work / "mapped-ids.txt"
    ids.write_text("\n".join(selected) + "\n", encoding="utf-8")
    (work / "rwc_select_ids.py").write_text(_SELECT_PLUGIN, encoding="utf-8")
    env = _env(strict=True)
    env["RWC_SUITE_IDS"] = str(ids)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(work), env.get("PYTHONPATH")]))
    files = sorted({t.split("::")[0] for t in selected})
    python = str(ROOT / ".venv/bin/python")
    mapped = timed(
        "its tests today",
        [python, "-m", "pytest", "-q", "-n", "auto", "-p", "rwc_select_ids", *files],
        ROOT,
        env,
        work / "mapped.log",
    )
    whole = None
    if not args.no_whole:
        whole = timed(
            "whole suite today",
            [python, "-m", "pytest", "-q", "-n", "auto"],
            ROOT,
            _env(strict=True),
            work / "whole.log",
        )
    return 0 if report(filing, mapped, whole, args.commit, len(selected)) else 1


if __name__ == "__main__":
    sys.exit(main())
