"""Suite-wide rules: under ``RWC_TEST_STRICT`` (set by .ci/run) a skipped test fails the run.

A skip in CI means a component the suite needs (PostgreSQL, a browser, an HSM library) was
missing, and a green run would then claim tests that never ran. Locally a skip stays a skip,
reported with its one-line reason (``-ra``). Tests that do not apply to a parameter must not
be generated for it (parametrize only what applies) rather than skip.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

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
