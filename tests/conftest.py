"""Suite-wide rules: under ``RWC_TEST_STRICT`` (set by .ci/run) a skipped test fails the run.

The summary also ends with the CPU seconds each test folder cost (see ``_cpu_now``): the
figure to compare runs by on a shared machine, where wall time says little. Under
``RWC_TEST_TIMELINE=DIR`` each test process also writes when each test ran (a timeline of the
run: which worker idled, what ended last; ``python bench/suite_timeline.py DIR`` reads it).

A skip in CI means a component the suite needs (PostgreSQL, a browser, an HSM library) was
missing, and a green run would then claim tests that never ran. Locally a skip stays a skip,
and the summary says once per reason how many tests it skipped and how to fix it. A test that
does not apply to a parameter must not be generated for it (parametrize only what applies)
rather than skip.
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from tests.support import postgres
from tests.support.requirements import STRICT_VARIABLE, strict


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Turn a skip into a failure when the run is strict (an expected failure stays one)."""
    report = yield
    if _collection_cpu:  # the process's first report carries its collection (COLLECTION)
        report.user_properties.append((_COLLECTION_CPU_PROPERTY, _collection_cpu.pop()))
    last = call.when == "teardown" and item.stash.get(_LAST_IN_PROCESS, False)
    spent = _cpu_since_last_report()
    report.user_properties.append((_END_CPU_PROPERTY if last else _CPU_PROPERTY, spent))
    if last:
        item.stash[_END_CPU] = spent  # the timeline keeps it apart too
    if report.skipped and strict() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under {STRICT_VARIABLE}=1, which makes a skip fail: {reason}"
    return report


# Hypothesis's default 200 ms deadline per example is a timing assertion: on a loaded
# machine tests/container/test_header_codec.py failed it (364 ms) with nothing wrong. Timings
# live in bench/; a hung example still fails by pytest's own means.
hypothesis_settings.register_profile("rwc", deadline=None)
hypothesis_settings.load_profile("rwc")

_CPU_PROPERTY = "cpu_seconds"
# The last test's teardown in a test process also tears down the session's fixtures: the
# kept browsers quit there (their CPU is counted when they are reaped), the shared servers
# stop. Counted apart (SESSION_END), or the summary names whatever test a worker happened
# to run last as the costliest and adds the browsers' CPU to its folder (CI named a 0.2 s
# test of tests/cli at 10.7 CPU-s).
_END_CPU_PROPERTY = "cpu_seconds_session_end"
SESSION_END = "(each process's end: session fixtures)"
_LAST_IN_PROCESS = pytest.StashKey[bool]()
_END_CPU = pytest.StashKey[float]()
# Collecting comes after the session's start: each process (every xdist worker) imports every
# test module there (FastAPI, SQLAlchemy, Selenium: ~6 CPU-s in CI), which its first test
# carried (a merge train named tests/bench's first test, an assertion on a string, at 6.9 s).
_COLLECTION_CPU_PROPERTY = "cpu_seconds_collection"
COLLECTION = "(each process's collection: the test modules' imports)"
_collection_cpu: list[float] = []
_cpu_mark: list[float] = []


def _cpu_now() -> float:
    """User + system CPU seconds of this process (all threads: the in-process servers) and of
    the processes it started and waited for (``rwc``, ``keyserver``, browsers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _cpu_since_last_report() -> float:
    """CPU spent since the previous phase's report (setup, call, teardown) in this process."""
    now = _cpu_now()
    spent = now - _cpu_mark[-1] if _cpu_mark else 0.0
    _cpu_mark[:] = [now]
    return spent


# Where pytest makes tmp_path when /dev/shm can hold a run: a tmpfs. The tests' SQLite key
# servers, sealed containers and extractions fsync what they write, and on this VM's disk an
# fsync waits ~7 ms (on tmpfs ~0.01 ms) with the core idle: that wait, not CPU, was part of
# why the two xdist workers kept a core busy only ~2/3 of a run. No test checks durability
# on power loss, which only a disk gives. The tests whose code takes another path on a
# disk (pycontainer/_engine/writeback.py: advice and 64 KiB pieces) use ``disk_tmp_path``.
MEMORY_TEMP_ROOT = Path("/dev/shm")
# Room a run needs there (its tmp_path files, three earlier runs kept by pytest and those of
# other runs at the same time; the largest test files are 64 MiB containers). A smaller
# /dev/shm (a container's default is 64 MiB) keeps pytest's default on the disk.
_MEMORY_TEMP_ROOM = 2 << 30
_TEMPROOT_VARIABLE = "PYTEST_DEBUG_TEMPROOT"


def _on_memory_fs(path: Path) -> bool:
    """True if ``path`` is on a memory file system, as the library itself decides it: no
    writeback advice and no 64 KiB pieces there (pycontainer/_engine/writeback.py)."""
    # Imported when used: the container library is not loaded for a run that does not need it.
    from pycontainer._engine.writeback import Writeback  # noqa: PLC0415

    with tempfile.TemporaryFile(dir=path) as probe:
        return Writeback(probe.fileno()).piece is None


def _memory_temp_root() -> Path | None:
    """MEMORY_TEMP_ROOT if it is a memory file system we may write with room for a run."""
    try:
        room = os.statvfs(MEMORY_TEMP_ROOT)
        usable = _on_memory_fs(MEMORY_TEMP_ROOT) and os.access(MEMORY_TEMP_ROOT, os.W_OK | os.X_OK)
    except OSError:
        return None
    return (
        MEMORY_TEMP_ROOT if usable and room.f_bavail * room.f_frsize >= _MEMORY_TEMP_ROOM else None
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Put pytest's temporary directories on tmpfs, unless told where (see MEMORY_TEMP_ROOT).

    pytest reads the root on first use, after configuration, and keeps its usual layout
    there (pytest-of-USER/pytest-N, the last three runs kept); xdist workers get their
    ``--basetemp`` under the controller's. ``--basetemp`` or the variable set by hand win.
    """
    if config.option.basetemp is None and _TEMPROOT_VARIABLE not in os.environ:
        root = _memory_temp_root()
        if root is not None:
            os.environ[_TEMPROOT_VARIABLE] = os.fspath(root)


@pytest.fixture
def disk_tmp_path() -> Iterator[Path]:
    """A fresh directory on a disk file system, for a test of what the code does on a disk.

    tmp_path may be on tmpfs (MEMORY_TEMP_ROOT); this one is under the system's temporary
    directory, or /var/tmp where that is in memory too. Removed afterwards.
    """
    for root in (tempfile.gettempdir(), "/var/tmp"):
        if Path(root).is_dir() and not _on_memory_fs(Path(root)):
            with tempfile.TemporaryDirectory(prefix="rwc-disk-", dir=root) as made:
                yield Path(made)
            return
    pytest.fail("no disk file system for temporary files: set TMPDIR to a directory on one")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start the CPU count per process (xdist workers too), before its collection."""
    del session
    _cpu_since_last_report()
    _timeline_write({"session_start": time.time()})


# A directory: each test process appends one JSON line per test to WORKER.jsonl there.
_TIMELINE_VARIABLE = "RWC_TEST_TIMELINE"
# A pytest run inside a test (tests/portable/test_hidden_posix.py reruns 400 tests) inherits
# the test process's variables, PYTEST_CURRENT_TEST among them, and wrote its tests and a
# second start into that worker's timeline as if the worker had run them.
_NESTED = "PYTEST_CURRENT_TEST" in os.environ


def _timeline_write(record: dict[str, object]) -> None:
    where = os.environ.get(_TIMELINE_VARIABLE)
    if where and not _NESTED:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        Path(where).mkdir(parents=True, exist_ok=True)
        with (Path(where) / f"{worker}.jsonl").open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Under RWC_TEST_TIMELINE: when the test ran (set-up to teardown) and its CPU seconds.

    Also marks the process's last test, whose teardown ends the session (SESSION_END).
    """
    item.stash[_LAST_IN_PROCESS] = nextitem is None
    if not os.environ.get(_TIMELINE_VARIABLE):
        return (yield)
    started, cpu = time.time(), _cpu_now()
    try:
        return (yield)
    finally:
        end = item.stash.get(_END_CPU, 0.0)
        record = {"test": item.nodeid, "start": started, "end": time.time()}
        _timeline_write(record | {"cpu_s": _cpu_now() - cpu - end, "session_end_cpu_s": end})


_cpu_by_folder: defaultdict[str, float] = defaultdict(float)
_cpu_by_test: defaultdict[str, float] = defaultdict(float)
# How many of the costliest tests the summary names (where to look next for CPU).
_TOP_TESTS = 15


def pytest_collection_finish(session: pytest.Session) -> None:
    """The CPU of this process's collection, for its first report to carry (COLLECTION)."""
    del session
    _collection_cpu[:] = [_cpu_since_last_report()]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Sum each phase's CPU by test folder (reports of xdist workers arrive here too)."""
    for key, value in report.user_properties:
        if key == _CPU_PROPERTY and isinstance(value, float):
            folder = report.nodeid.split("::")[0].rsplit("/", 1)[0]
            _cpu_by_folder[folder] += value
            _cpu_by_test[report.nodeid] += value
        elif key == _END_CPU_PROPERTY and isinstance(value, float):
            _cpu_by_folder[SESSION_END] += value
        elif key == _COLLECTION_CPU_PROPERTY and isinstance(value, float):
            _cpu_by_folder[COLLECTION] += value


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per skip reason (e.g. PostgreSQL is down: 400 tests, one fix), not per test."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if r.skipped]
    for reason, count in sorted(Counter(map(_skip_reason, skipped)).items()):
        terminalreporter.write_line(f"SKIPPED {count} test(s): {reason}", yellow=True)
    if _cpu_by_folder:
        ranked = sorted(_cpu_by_folder.items(), key=lambda kv: -kv[1])
        terminalreporter.write_line(
            f"CPU s by folder (tests, their threads, processes they waited for;"
            f" {sum(_cpu_by_folder.values()):.0f} s): "
            + ", ".join(f"{folder} {seconds:.1f}" for folder, seconds in ranked)
        )
        top = sorted(_cpu_by_test.items(), key=lambda kv: -kv[1])[:_TOP_TESTS]
        terminalreporter.write_line(
            "CPU s of the costliest tests (setup, call and teardown; a module's first test"
            " also carries its module fixtures): "
            + ", ".join(f"{nodeid} {seconds:.2f}" for nodeid, seconds in top)
        )


@pytest.fixture(scope="session", autouse=True)
def _test_databases_dropped() -> Iterator[None]:
    """At the end of each test process, wait for its test databases' background drops
    (``postgres.drop_later``) and fail if one is left on the server. Autouse, so set up
    first and torn down last: after every fixture that hands a database over."""
    yield
    left = postgres.finish_drops()
    assert not left, f"test databases left on {postgres.describe()}: {left}"


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A migrated PostgreSQL database per test process, or None when the server is down.

    Tests that need a migrated database, not a test of the migrations, take a copy
    (``postgres.create_database(conn, prefix, template=pg_template)``): the server copies
    files in a fraction of the time the migrations take. When it is None, the test calls
    ``postgres.admin()``, which skips (fails under RWC_TEST_STRICT) saying how to start it.
    """
    conn = postgres.try_connect()
    if conn is None:
        yield None
        return
    # Imported when first used: a run of the container or rwc tests alone does not load the
    # key server's store.
    from keyserver._domain.settings import Settings  # noqa: PLC0415
    from keyserver._store import init_database  # noqa: PLC0415

    try:
        name = postgres.create_database(conn, "ks_tpl")
        try:
            # Any master key: a migration writes no row keyed by it into an empty database
            # (0008_row_mac MACs the rows that exist), so one template serves every key.
            init_database(
                Settings(database_url=postgres.database_url(name), master_key_b64="A" * 43)
            )
            yield name
        finally:
            postgres.drop_database(conn, name)
    finally:
        conn.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the files that hold a ``slow`` test first, each file's tests in their own order.

    With xdist (``--dist worksteal``, pyproject.toml) an idle worker takes half of the other's
    queue, so the run ends when the last test does: a 15 s test collected late is 15 s of
    one worker alone at the end. Whole files move, so module fixtures are still set up once.
    """
    slow_files = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow_files)
