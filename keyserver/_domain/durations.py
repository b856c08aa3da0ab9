"""The one duration grammar of the key server: flags, ``KEYSERVER_*`` variables and TOML.

A duration is a whole number followed by ONE unit: ``s`` seconds, ``m`` minutes, ``h``
hours, ``d`` days, ``w`` weeks (``90s``, ``30m``, ``72h``, ``7d``, ``2w``). ``0`` alone
means zero (it is zero in every unit, e.g. ``sweep_interval = 0`` switches the sweep off).

Why no bare numbers: ``loss_waiting_period = 72`` reads as 72 hours to an official and as
72 seconds to a program; a waiting period that silently shrinks from three days to a
minute destroys keys before anyone can restore them. So the unit is required and a bare
number is refused with a message that says how to write it. Fractions (``1.5h``) and
compound forms (``1h30m``) are refused too: ``90m`` says the same thing in one way.

``rwc seal --expires`` uses the same grammar for its durations (pycontainer/cli/expires.py;
tests/keyserver/test_durations.py holds both to one table).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

UNITS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Far beyond any TTL or waiting period, small enough that timedelta never overflows.
MAX_DURATION = timedelta(days=100 * 366)
_GRAMMAR = re.compile(r"([0-9]{1,9})([smhdw])")
_BARE = re.compile(r"[+-]?[0-9]+(?:\.[0-9]*)?")
EXAMPLES = "e.g. 90s, 30m, 72h, 7d or 2w"


class DurationError(ValueError):
    """A duration was refused; the message says how to write it."""


def parse_duration(value: Any, *, name: str = "duration") -> timedelta:
    """Parse a duration written by a person (flag, environment variable or TOML value).

    Args:
        value: The text (or a TOML integer/float, which is refused unless it is 0).
        name: What the value is for, used in the message (``--waiting-period``,
            ``loss_waiting_period``...).

    Returns:
        The duration (zero or positive).

    Raises:
        DurationError: The value does not follow the grammar above.
    """
    if isinstance(value, str):
        text = value.strip().lower()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = repr(value)  # a TOML number: refused below unless it is 0
    else:  # a TOML `true`, a table, a date...
        raise DurationError(f"{name}: {value!r} is not a duration; {EXAMPLES}")
    if text == "0":
        return timedelta(0)
    match = _GRAMMAR.fullmatch(text)
    if match is None:
        if _BARE.fullmatch(text):
            raise DurationError(
                f"{name}: {text!r} has no unit and is ambiguous (seconds? hours?); "
                f"write the unit, {EXAMPLES}"
            )
        raise DurationError(
            f"{name}: {text!r} is not a duration; write a whole number and one unit "
            f"s, m, h, d or w, {EXAMPLES}"
        )
    seconds = int(match.group(1)) * UNITS[match.group(2)]
    if seconds > MAX_DURATION.total_seconds():  # checked before timedelta() can overflow
        raise DurationError(f"{name}: {text!r} is more than a century")
    return timedelta(seconds=seconds)


def waiting_period_of(seconds: int | None) -> timedelta | None:
    """A loss report's waiting period from its whole seconds; None for the default.

    The one conversion of ``waiting_period_seconds`` (the API's body, and the ``keyserver
    report-loss`` command's local backend), so both refuse alike: the range is the
    service's to check and say (loss.check_loss: "between 0 seconds and N days"). Exact
    for every value a timedelta holds; a JSON integer beyond it becomes the largest or
    smallest timedelta, which that check refuses the same way. Never an OverflowError (an
    HTTP 500, a traceback), and never a clamp into the allowed range (an official's
    mistyped value must be refused, not shortened).
    """
    if seconds is None:
        return None
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        return timedelta.max if seconds > 0 else timedelta.min


def format_duration(value: timedelta) -> str:
    """Write a duration in the grammar above, in its largest exact unit (``72h``, ``5m``)."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0"
    for unit in ("w", "d", "h", "m"):
        if seconds % UNITS[unit] == 0:
            return f"{seconds // UNITS[unit]}{unit}"
    return f"{seconds}s"
