"""Parse `rwc seal --expires`: a duration (30d, 12h, 90m, 2w) or an ISO 8601 date/datetime.

Durations follow the key server's one grammar (keyserver/_domain/durations.py: a whole number
and one unit s, m, h, d or w; a bare number is refused as ambiguous). pycontainer cannot
import keyserver, so the grammar is repeated here and tests/keyserver/test_durations.py
holds both parsers to one table.

A date or datetime without an offset is the writer's local time (the machine's zone, ``TZ``),
one rule for both (:func:`_local`): a bare date means the end of that day there, so the
container is usable through that date where the writer is (``2027-03-31`` in Tokyo ends at
``2027-04-01 00:00:00 +09:00``; before, it ended at midnight UTC, 09:00 the next morning in
Tokyo). The result must lie in the future.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from pycontainer.cli.exits import SaidUsageError

_DURATION = re.compile(r"([0-9]{1,9})([smhdw])")
_BARE = re.compile(r"[+-]?[0-9]+(?:\.[0-9]*)?")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_AHEAD = timedelta(days=100 * 366)  # beyond a century is a typo, not a policy


def _local(naive: datetime, zone: tzinfo | None) -> datetime:
    """A date-time written without an offset, read in the writer's zone.

    ``zone`` None is the machine's own, with its daylight-saving rules for that date
    (``astimezone`` on a naive value); the tests name one.
    """
    return naive.astimezone() if zone is None else naive.replace(tzinfo=zone)


def parse_expires(text: str, now: datetime, zone: tzinfo | None = None) -> datetime:
    """Return the expiry instant (timezone-aware, UTC) for ``--expires text``.

    Args:
        text: "30d", "12h", "90m", "2w", "2027-03-31", "2027-03-31T18:00:00+09:00" ...
        now: The current time (timezone-aware; injectable for tests).
        zone: The writer's zone for a date or date-time without an offset (default: the
            machine's).

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
                # The end of that day: the midnight that starts the next one, local.
                day = date.fromisoformat(text)
                when = _local(datetime.combine(day + timedelta(days=1), time()), zone)
            else:
                when = datetime.fromisoformat(text)
                if when.tzinfo is None:
                    when = _local(when, zone)
        except ValueError:
            raise SaidUsageError("expires_unreadable", value=value) from None
        except OverflowError:  # 9999-12-31: the day after it is past the calendar's end
            raise SaidUsageError("expires_too_far", value=value) from None
    if when <= now:
        raise SaidUsageError("expires_past", value=value)
    if when - now > MAX_AHEAD:
        raise SaidUsageError("expires_too_far", value=value)
    return when.astimezone(UTC)
