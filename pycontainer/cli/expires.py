"""Parse `rwc seal --expires`: a duration (30d, 12h, 90m, 2w) or an ISO 8601 date/datetime.

Durations follow the key server's one grammar (keyserver/_domain/durations.py: a whole number
and one unit s, m, h, d or w; a bare number is refused as ambiguous). pycontainer cannot
import keyserver, so the grammar is repeated here and tests/keyserver/test_durations.py
holds both parsers to one table.

A bare date means the end of that day in UTC (the container is usable through that date).
A datetime without an offset is local time. The result must lie in the future.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from pycontainer.cli.exits import SaidUsageError

_DURATION = re.compile(r"([0-9]{1,9})([smhdw])")
_BARE = re.compile(r"[+-]?[0-9]+(?:\.[0-9]*)?")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_AHEAD = timedelta(days=100 * 366)  # beyond a century is a typo, not a policy


def parse_expires(text: str, now: datetime) -> datetime:
    """Return the expiry instant (timezone-aware, UTC) for ``--expires text``.

    Args:
        text: "30d", "12h", "90m", "2w", "2027-03-31", "2027-03-31T18:00:00+09:00" ...
        now: The current time (timezone-aware; injectable for tests).

    Raises:
        UsageError: Unparseable, not in the future, or absurdly far away.
    """
    text = text.strip()
    value = repr(text)
    match = _DURATION.fullmatch(text.lower())
    if _BARE.fullmatch(text):
        raise SaidUsageError("expires_no_unit", value=value)
    if match:
        try:
            when = now + timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        except OverflowError:
            raise SaidUsageError("expires_too_far", value=value) from None
    else:
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                when = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
            else:
                when = datetime.fromisoformat(text)
                if when.tzinfo is None:
                    when = when.astimezone()  # naive: the user's local time
        except ValueError:
            raise SaidUsageError("expires_unreadable", value=value) from None
    if when <= now:
        raise SaidUsageError("expires_past", value=value)
    if when - now > MAX_AHEAD:
        raise SaidUsageError("expires_too_far", value=value)
    return when.astimezone(UTC)
