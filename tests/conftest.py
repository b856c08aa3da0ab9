"""Suite-wide rules: under ``RWC_TEST_STRICT`` (set by .ci/run) a skipped test fails the run.

A skip in CI means a component the suite needs (PostgreSQL, a browser, an HSM library) was
missing, and a green run would then claim tests that never ran. Locally a skip stays a skip,
and the summary says once per reason how many tests it skipped and how to fix it. A test that
does not apply to a parameter must not be generated for it (parametrize only what applies)
rather than skip.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Iterator

import pytest

from tests.support import postgres
from tests.support.requirements import STRICT_VARIABLE, strict


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Turn a skip into a failure when the run is strict (an expected failure stays one)."""
    report = yield
    if report.skipped and strict() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under {STRICT_VARIABLE}=1, which makes a skip fail: {reason}"
    return report


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per skip reason (e.g. PostgreSQL is down: 400 tests, one fix), not per test."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if r.skipped]
    for reason, count in sorted(Counter(map(_skip_reason, skipped)).items()):
        terminalreporter.write_line(f"SKIPPED {count} test(s): {reason}", yellow=True)


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
    from keyserver.domain.settings import Settings  # noqa: PLC0415
    from keyserver.store import init_database  # noqa: PLC0415

    try:
        name = postgres.create_database(conn, "ks_tpl")
        try:
            # The schema does not depend on the master key (init_database only migrates).
            init_database(
                Settings(database_url=postgres.database_url(name), master_key_b64="A" * 43)
            )
            yield name
        finally:
            postgres.drop_database(conn, name)
    finally:
        conn.close()
