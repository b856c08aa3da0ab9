"""Clocks the tests move by hand, for the key server's injectable clocks (``Settings.clock``,
``monotonic`` where a component takes one).

Expiry, deadlines and due dates are tested by moving one of these, never by sleeping.
"""

from __future__ import annotations

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
