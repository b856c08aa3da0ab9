"""How `rwc` shows an instant to a person: in their zone, with the offset (one way for all)."""

from __future__ import annotations

from typing import TYPE_CHECKING

# For the annotation only: `rwc seal`'s module imports this one, and every `rwc` run builds
# seal's parser; datetime costs a small `rwc cat` ~3.5 M instructions of start-up (issue 15,
# tests/cli/test_lazy_imports.py). The callers hand in their datetime.
if TYPE_CHECKING:
    from datetime import datetime


def local_time(when: datetime) -> str:
    """An instant in the person's zone (the machine's, ``TZ``) with its offset.

    ``2026-11-20 19:00:00 +09:00`` in Asia/Tokyo: the one way `rwc` shows a time (a
    server's refusal, the expiry `rwc seal` set), as the ``keyserver`` command shows times
    to officials.
    """
    local = when.astimezone()
    offset = local.utcoffset()
    minutes = 0 if offset is None else int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{local:%Y-%m-%d %H:%M:%S} {sign}{hours:02d}:{mins:02d}"
