"""What a test does when a system component it needs is missing: skip locally, fail under CI.

`.ci/run` sets ``RWC_TEST_STRICT=1``. There a missing component (PostgreSQL, a browser, an
HSM library) must fail the run: a suite that silently skips what it could not reach would
report green on a machine that tested nothing. A developer's machine skips with one line
saying how to get the component, so that the rest of the suite stays useful.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

STRICT_VARIABLE = "RWC_TEST_STRICT"


def strict() -> bool:
    """True when a skipped test must fail the run (``RWC_TEST_STRICT=1``, set by .ci/run)."""
    return os.environ.get(STRICT_VARIABLE, "") not in {"", "0"}


def missing(component: str, fix: str) -> NoReturn:
    """Skip (locally) or fail (strict) a test because ``component`` is not available.

    Args:
        component: what is missing, e.g. "PostgreSQL at 127.0.0.1:5432".
        fix: the one command or setting that provides it.
    """
    message = f"{component} is not available; {fix}"
    if strict():
        pytest.fail(f"{message} ({STRICT_VARIABLE} is set: a missing component fails the run)")
    pytest.skip(message)
