"""Clocks the tests move by hand, for the key server's injectable clocks (``Settings.clock``,
``monotonic`` where a component takes one).

Expiry, deadlines and due dates are tested by moving one of these, never by sleeping.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta


class FakeClock:
    """A clock standing still at a fixed date until a test advances it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.t = start or datetime(2026, 11, 26, 9, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        """Move the clock forward by ``timedelta(**kw)``."""
        self.t += timedelta(**kw)


class FakeMonotonic:
    """A monotonic clock in seconds (``time.monotonic``'s stand-in) that a test moves."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self.t += seconds


class ShiftableClock:
    """Real time plus an offset a test may move forward (and the fixture puts back)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **kw: float) -> None:
        """Move the clock forward by ``timedelta(**kw)``."""
        self.offset += timedelta(**kw)

    def reset(self) -> None:
        """Back to real time."""
        self.offset = timedelta(0)


@contextlib.contextmanager
def local_zone(name: str) -> Iterator[None]:
    """The process's local zone (``TZ``, what ``astimezone()`` uses) set to ``name`` for a while.

    For code that reads the machine's zone itself, as `rwc` does; put back afterwards (and
    the C library told both times, ``time.tzset``).
    """
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()
