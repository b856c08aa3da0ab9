"""Clock-step guard of the sweep: no irreversible destroy on a clock that jumped.

The sweep destroys keys because a time passed (``not_after``, a loss report's waiting
period, an uncommitted registration). A wall clock stepped forward (a bad NTP source, a
VM restored with the wrong time, a typo by hand) would make all of those "pass" at once:
+400 days destroyed containers 30 days from expiry and lost media still inside their
waiting period, irreversibly (issue 14). Destroying is the one thing that cannot be taken
back, so the sweep refuses to destroy and raises an alarm when the clock is implausible:

- against the audit log: the last entry's time is when the server last did anything; a
  clock more than ``sweep_max_clock_jump`` ahead of it (default 30 days: longer than any
  holiday silence) or more than :data:`BACK_TOLERANCE` behind it has moved implausibly;
- against a monotonic clock (inside one server process): wall time that advanced
  differently from monotonic time since the last trusted sweep has been stepped.

The alarm repeats at every sweep until the clock is right again (the trusted reading is
not replaced by an implausible one). An operator who knows the jump is real (a server
switched off for months) runs ``keyserver sweep`` once with a larger
``sweep_max_clock_jump``. Pure: the caller supplies every reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Several instances write one audit log; their clocks may differ by this much.
BACK_TOLERANCE = timedelta(minutes=5)
# Wall and monotonic time may drift apart this much (NTP slewing) plus 1 % of the span.
MONOTONIC_TOLERANCE_S = 300.0


@dataclass(frozen=True)
class Reading:
    """A wall-clock time and the monotonic time taken with it."""

    wall: datetime
    mono: float


def clock_problem(
    now: Reading,
    last_audit_at: datetime | None,
    trusted: Reading | None,
    max_jump: timedelta,
) -> str | None:
    """Return why the clock is implausible, or None when the sweep may destroy.

    Args:
        now: The current readings (``now.mono`` is ignored when ``trusted`` is None).
        last_audit_at: Time of the newest audit entry (None: empty log).
        trusted: The readings of the last sweep that passed this check in this process.
        max_jump: ``sweep_max_clock_jump``.
    """
    if last_audit_at is not None:
        ahead = now.wall - last_audit_at
        if ahead > max_jump:
            return (
                f"the clock is {_days(ahead)} ahead of the last audit entry"
                f" (more than sweep_max_clock_jump = {_days(max_jump)})"
            )
        if ahead < -BACK_TOLERANCE:
            return f"the clock is {_days(-ahead)} behind the last audit entry"
    if trusted is not None:
        wall = (now.wall - trusted.wall).total_seconds()
        mono = now.mono - trusted.mono
        if abs(wall - mono) > MONOTONIC_TOLERANCE_S + 0.01 * abs(mono):
            return (
                f"the wall clock moved {wall:+.0f} s while {mono:.0f} s passed"
                " (the clock was stepped)"
            )
    return None


def _days(span: timedelta) -> str:
    days = span.total_seconds() / 86400
    return f"{days:.1f} days" if days >= 1 else f"{span.total_seconds():.0f} s"
